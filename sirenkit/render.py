"""Rendering a fitted network at any sampling and writing what comes out (`sirenkit render`).

Because the network is a continuous function, an image can be rendered at any resolution
(super-resolution), a sound at any rate, a clip at any frame rate; the derivative maps come
exactly from the network, not from finite differences of the rendering. Each
signal kind says how it is rendered ([`sirenkit.SignalKind.render`][sirenkit.SignalKind.render]);
[`render`][sirenkit.render.render] is the one call that loads a run, renders it and writes the file
(`sirenkit render`).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from sirenkit.engine.kinds import Fitted


OPTION_NAMES = {"size": "--size", "what": "--what", "rate": "--rate", "fps": "--fps", "frames": "--frames"}
"""How the command line spells each rendering option, for messages."""


def render(source: str | Path | Fitted, out: str | Path, *, device: str = "auto", **sampling: Any) -> str:
    """Render a fitted signal at any sampling and write it to a file.

    This is `sirenkit render`. Options left `None` take the original's.

    Args:
        source: A run folder, its `model.safetensors` or `model.json`, or a
            [`Fitted`][sirenkit.Fitted].
        out: The file to write, with a suffix the kind writes (an image: `.png`; a sound: `.wav`;
            a clip: `.mp4` or `.gif`).
        device: Where to evaluate the network: `auto` (CUDA when available), `cpu` or `cuda`.
        **sampling: The kind's rendering options: an image's `size=(W, H)` and `what` (`value`,
            `gradient`, `laplacian`); a sound's `rate`; a clip's `fps` and `size`.

    Returns:
        A one-line summary of what was written.

    Raises:
        ValueError: The model cannot be read, its kind is not rendered to a file, `out` has the
            wrong suffix, or an option does not apply to the kind.

    Example:
        ```python
        import sirenkit

        sirenkit.render("runs/camera", "camera-2k.png", size=(2048, 2048))
        ```
    """
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
