"""Text from outside the program (file names, values read from files) made safe to show: on a
terminal, in a figure, in a file a person reads.

Two kinds of text cannot be shown as they come. A file name that is not valid UTF-8 reaches
Python as a `str` holding surrogate escapes (`'caf\\udce9.png'` for the bytes `b'caf\\xe9.png'`);
it cannot be encoded as UTF-8, so printing it, drawing it in a figure or writing it into a UTF-8
file fails. And a value read from a file may hold terminal control sequences (`ESC [ 2 J` clears
the screen, `ESC ] 0 ;` retitles the window). `printable` writes both as
backslash escapes; where a name is hashed, its own bytes are (`os.fsencode`), never its text.
"""

from __future__ import annotations

SURROGATE_ESCAPES = range(0xDC80, 0xDD00)
"""The code points Python gives the bytes 0x80..0xFF of a name that is not valid UTF-8
(`os.fsdecode`'s surrogate escapes)."""


def printable(text: object, *, lines: bool = False) -> str:
    """`str(text)` as it can be shown anywhere: each byte of a name that is not valid UTF-8 as
    `\\xNN` (as `os.fsencode(name).decode("utf-8", "backslashreplace")` writes it: `caf\\xe9.png`),
    and every other character that is not printable as its Python escape: ESC and the other C0 and
    C1 controls (`\\x1b`, `\\x9b`), DEL, tabs, line and paragraph separators, format characters such
    as a right-to-left override (`\\u202e`). Printable text, accented letters and symbols
    included, is kept as it is. With `lines`, newlines are kept (text meant to span lines)."""
    shown = str(text)
    if shown.isprintable():
        return shown
    return "".join(_escaped(character, lines) for character in shown)


def _escaped(character: str, lines: bool) -> str:
    if character.isprintable() or (lines and character == "\n"):
        return character
    if ord(character) in SURROGATE_ESCAPES:
        return f"\\x{ord(character) - 0xDC00:02x}"
    return character.encode("unicode_escape").decode("ascii")


def figure_text(text: object) -> str:
    """`text` as a figure draws it: `printable` (newlines kept), and
    plain, never mathtext (a name holding `$` signs is drawn as it is written)."""
    return printable(text, lines=True).replace("$", r"\$")


__all__ = ["figure_text", "printable"]
