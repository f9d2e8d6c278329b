"""Rendering a fitted network at any sampling and writing what comes out (``sirenkit render``).

Because the network is a continuous function, an image can be rendered at any resolution
(super-resolution), a sound at any rate, a clip at any frame rate; the derivative maps come
exactly from the network (DESIGN.md §2), not from finite differences of the rendering. Each
signal kind says how it is rendered (:meth:`sirenkit.engine.kinds.SignalKind.render`); :func:`render`
is the one call that loads a run, renders it and writes the file (``sirenkit render``).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from sirenkit.engine.kinds import Fitted


OPTION_NAMES = {"size": "--size", "what": "--what", "rate": "--rate", "fps": "--fps", "frames": "--frames"}
"""How the command line spells each rendering option, for messages."""


def render(source: str | Path | Fitted, out: str | Path, *, device: str = "auto", **sampling: Any) -> str:
    """Load a fitted signal (a run folder, ``model.safetensors`` or ``model.json``, or a
    :class:`~sirenkit.engine.kinds.Fitted`), render it with its kind's ``sampling`` options (an image:
    ``size=(W, H)``, ``what``; a sound: ``rate``; a clip: ``fps``, ``size``) and write ``out``.
    Options left ``None`` take the original's. Returns a one-line summary of what was written."""
    from sirenkit.engine.kinds import article
    from sirenkit.engine.models import load
    from sirenkit.engine.policy import resolve_device

    fitted = source if not isinstance(source, (str, Path)) else load(source, device=resolve_device(device))
    kind, out = fitted.kind, Path(out)
    name = f"{article(kind.name)} {kind.name}"
    if not kind.suffixes:
        hint = f" ({kind.render_hint})" if kind.render_hint else ""
        raise ValueError(f"{source}: {name} model is not rendered to a file{hint}")
    if out.suffix.lower() not in kind.suffixes:
        raise ValueError(f"{out}: {name} is written as {' or '.join(kind.suffixes)}")
    given = {key: value for key, value in sampling.items() if value is not None}
    for key in given:
        if key not in kind.render_options:
            raise ValueError(f"{OPTION_NAMES.get(key, key)} does not apply to {name} model")
    return kind.render_file(fitted.model, out, **given)


def __getattr__(name: str) -> Any:
    if name == "render_image":  # the image kind's own now; the old import keeps working
        from sirenkit.signals.image.kind import render_image

        return render_image
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
