"""Video as a signal: reading (GIF, MP4 and other ffmpeg formats, or a folder of frames), writing
(MP4, GIF), the (t, y, x) coordinates, per-frame PSNR and the figures.

Frames are intensities in [0, 1]; a clip whose frames are grey in every pixel is kept as one
channel. Coordinates are `(t, y, x)`, each from -1 (first frame, top row, left column) to 1
(last frame, bottom row, right column).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from sirenkit.io import atomic_write_path

FRAME_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff")
VIDEO_OUT_FORMATS = (".mp4", ".gif")
BUNDLED_VIDEO = "no_time_for_that_tiny.gif"
"""scikit-image's sample clip (24 colour frames of 25×14), the default input."""


@dataclass(frozen=True)
class VideoSignal:
    """A clip: `frames (T, H, W, C)` float32 in [0, 1] at `fps` frames per second."""

    frames: np.ndarray
    fps: float
    name: str

    @property
    def shape(self) -> tuple[int, int, int]:
        return self.frames.shape[:3]

    @property
    def channels(self) -> int:
        return self.frames.shape[3]


def bundled_video_path() -> Path:
    import skimage.data

    return Path(skimage.data.__file__).parent / BUNDLED_VIDEO


def load_video(source: str | Path | None = None, *, size: int | None = None, frames: int | None = None) -> VideoSignal:
    """Read a GIF, an MP4 (or another format ffmpeg reads) or a folder of numbered frames; the
    bundled clip when `source` is None or its name. `size` resamples every frame so that its
    longer side has `size` pixels, frame by frame as they are decoded (the full-size clip never
    sits in memory); `frames` keeps only the first ones. The memory the clip needs is checked
    before it is read. Raises `ValueError` naming the file for anything that is not a usable clip."""
    path = bundled_video_path() if source in (None, BUNDLED_VIDEO) else Path(source)
    count: int | None
    if path.is_dir():
        files = frame_files(path)
        stream, fps, count = ((file.name, _read_frame(file)) for file in files), 25.0, len(files)
    elif path.is_file():
        stream, fps, count = _video_file_frames(path)
    else:
        raise ValueError(f"{path}: no such file or folder")
    pixels = _collect_frames(stream, path, size=size, limit=frames, count=count)
    if len(pixels) < 2:
        raise ValueError(f"{path}: a video needs at least 2 frames, this has {len(pixels)}")
    if pixels.shape[3] == 3 and (pixels[..., :1] == pixels).all():
        pixels = pixels[..., :1]  # grey in every pixel: one channel
    return VideoSignal(np.ascontiguousarray(pixels, dtype=np.float32), float(fps), str(path))


def _collect_frames(stream: Any, path: Path, *, size: int | None, limit: int | None, count: int | None) -> np.ndarray:
    """Frames `(label, array)` from `stream` as `(T, H, W, C)` float32 in [0, 1], alpha
    dropped, each resampled as it arrives; the memory of the whole clip is checked at the first."""
    from sirenkit.resources import check_memory

    kept: list[np.ndarray] = []
    first: tuple[str, tuple[int, ...]] | None = None
    target: tuple[int, int] = (0, 0)
    for label, frame in stream:
        if limit is not None and len(kept) >= limit:
            break
        frame = np.asarray(frame)
        frame = frame[..., None] if frame.ndim == 2 else frame
        if frame.ndim != 3 or frame.shape[2] not in (1, 2, 3, 4):
            raise ValueError(f"{path}: {label} has an unsupported layout {frame.shape}")
        if frame.shape[2] in (2, 4):  # drop alpha
            frame = frame[..., :-1]
        if first is None:
            first = (label, frame.shape)
            target = _longer_side(frame.shape[:2], size) if size is not None else frame.shape[:2]
            total = min(count, limit) if count and limit else count or limit
            if total:
                check_memory(total * target[0] * target[1] * frame.shape[2] * 4 * 3,
                             f"{path} ({total} frames of {target[1]}×{target[0]})",
                             "pass --size to fit smaller frames" + (", or fewer frames" if limit is None else ""))
        elif frame.shape != first[1]:
            raise ValueError(f"{path}: {label} is {frame.shape[1]}×{frame.shape[0]}, but {first[0]} is "
                             f"{first[1][1]}×{first[1][0]}; every frame must have the same size")
        pixels = _to_unit_range(frame, path)
        kept.append(resample_frames(pixels[None], target)[0] if size is not None else pixels)
    if not kept:
        raise ValueError(f"{path}: the file holds no frames")
    return np.stack(kept)


def _video_file_frames(path: Path) -> tuple[Any, float, int | None]:
    """A lazy stream of `(label, frame)`, the frame rate and the number of frames where the
    file says it."""
    import imageio.v3 as iio

    plugin: Any = None if path.suffix.lower() == ".gif" else "FFMPEG"  # None: imageio picks the GIF reader
    try:
        meta = iio.immeta(path, plugin=plugin)
    except Exception as error:  # imageio raises OSError, ValueError or plugin errors for bad data
        raise ValueError(f"{path}: not a video imageio can read ({_last_line(error)})") from None
    if "fps" in meta and np.isfinite(meta["fps"]) and meta["fps"] > 0:
        fps = float(meta["fps"])
    elif meta.get("duration"):  # GIF: milliseconds per frame
        fps = 1000.0 / float(meta["duration"])
    else:
        fps = 25.0
    count = None
    if plugin == "FFMPEG" and meta.get("duration") and np.isfinite(meta["duration"]):
        count = max(1, round(float(meta["duration"]) * fps))

    def stream() -> Any:
        try:
            for index, frame in enumerate(iio.imiter(path, plugin=plugin)):
                yield f"frame {index + 1}", frame
        except ValueError as error:
            if str(error).startswith(str(path)):
                raise
            raise ValueError(f"{path}: not a video imageio can read ({_last_line(error)})") from None
        except Exception as error:
            raise ValueError(f"{path}: not a video imageio can read ({_last_line(error)})") from None

    return stream(), fps, count


def _last_line(error: Exception) -> str:
    return (str(error).strip().splitlines() or [type(error).__name__])[-1]


def frame_files(path: Path) -> list[Path]:
    """The frames of a folder in the order of the numbers in their names (`2.png` before
    `10.png`); duplicate numbers (`1.png` and `01.png`) are an error, gaps are reported."""
    import logging
    import re

    files = [p for p in path.iterdir() if p.suffix.lower() in FRAME_SUFFIXES and not p.name.startswith(".")]
    if not files:
        raise ValueError(f"{path}: the folder holds no frames ({', '.join(FRAME_SUFFIXES)})")

    def key(file: Path) -> list[Any]:
        return [(0, int(part), "") if part.isdigit() else (1, 0, part.lower())
                for part in re.split(r"(\d+)", file.stem) if part]

    files.sort(key=key)
    numbers = [re.findall(r"\d+", file.stem) for file in files]
    if all(numbers):
        last = [int(found[-1]) for found in numbers]
        seen: dict[int, Path] = {}
        for number, file in zip(last, files):
            if number in seen:
                raise ValueError(f"{path}: {seen[number].name} and {file.name} carry the same frame number {number}")
            seen[number] = file
        missing = sorted(set(range(min(last), max(last) + 1)) - set(last))
        if missing:
            shown = ", ".join(map(str, missing[:10])) + (", ..." if len(missing) > 10 else "")
            logging.getLogger("sirenkit").warning("%s: frame numbers missing (%s); the frames are fitted one after "
                                                  "another as they are", path, shown)
    return files


def _read_frame(file: Path) -> np.ndarray:
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(file) as image:
            return np.asarray(image.convert("RGB" if image.mode not in ("L", "I;16") else image.mode))
    except (UnidentifiedImageError, OSError, Image.DecompressionBombError) as error:
        raise ValueError(f"{file}: not an image ({error})") from None


def _to_unit_range(stack: np.ndarray, path: Path) -> np.ndarray:
    if stack.dtype == np.uint8:
        return stack.astype(np.float32) / 255.0
    if stack.dtype == np.uint16:
        return stack.astype(np.float32) / 65535.0
    if np.issubdtype(stack.dtype, np.floating):
        if not np.isfinite(stack).all():
            raise ValueError(f"{path}: frames contain NaN or infinity")
        return np.clip(stack, 0.0, 1.0).astype(np.float32)
    raise ValueError(f"{path}: unsupported pixel type {stack.dtype}")


def _longer_side(shape: tuple[int, int], size: int) -> tuple[int, int]:
    height, width = shape
    scale = size / max(height, width)
    return max(1, round(height * scale)), max(1, round(width * scale))


def resample_frames(frames: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """`(T, H, W, C)` frames resampled to `shape = (H', W')` (anti-aliased when shrinking)."""
    from skimage.transform import resize

    if tuple(frames.shape[1:3]) == tuple(shape):
        return frames
    return np.stack([resize(frame, shape, order=3, anti_aliasing=True, mode="edge") for frame in frames]).clip(0, 1)


def axis_coordinates(count: int) -> torch.Tensor:
    """`(count,)` positions from -1 to 1 (0 for a single position)."""
    return torch.linspace(-1.0, 1.0, count) if count > 1 else torch.zeros(1)


def frame_coordinates(time: float, shape: tuple[int, int], *, device: torch.device | str | None = None) -> torch.Tensor:
    """`(H*W, 3)` coordinates `(t, y, x)` of one frame at time `t` in [-1, 1], row-major."""
    height, width = shape
    ys, xs = torch.meshgrid(axis_coordinates(height), axis_coordinates(width), indexing="ij")  # (H, W) each
    ts = torch.full_like(ys, float(time))
    return torch.stack([ts, ys, xs], dim=-1).reshape(-1, 3).to(device)


def frame_times(count: int, *, fps: float | None = None, original: tuple[int, float] | None = None) -> torch.Tensor:
    """Times in [-1, 1] of `count` frames spanning the clip; with `original = (frames, fps)` and
    `fps`, frame `j` is at `j / fps` seconds, the original's frame `i` at `i / its fps`."""
    if original is None or fps is None:
        return axis_coordinates(count)
    frames, original_fps = original
    seconds = torch.arange(count, dtype=torch.float64) / fps
    return (-1 + 2 * seconds * original_fps / max(frames - 1, 1)).float()


def frame_psnrs(estimate: np.ndarray, reference: np.ndarray) -> np.ndarray:
    """`(T,)` PSNR in dB of each frame, intensities in [0, 1], estimate clipped."""
    error = (np.clip(estimate, 0, 1).astype(np.float64) - reference) ** 2
    mse = error.reshape(len(error), -1).mean(axis=1)
    with np.errstate(divide="ignore"):
        return -10 * np.log10(mse)


def to_uint8(frames: np.ndarray) -> np.ndarray:
    return np.round(np.clip(frames, 0, 1) * 255).astype(np.uint8)


def write_video(path: str | Path, frames: np.ndarray | Iterable[np.ndarray], fps: float) -> Path:
    """Write frames in [0, 1] (`(T, H, W, C)`, or any iterable of `(H, W, C)` frames) as MP4
    (H.264, through imageio's ffmpeg) or GIF, atomically. An MP4 is written frame by frame as the
    frames come, so an iterable of rendered frames never has to be held whole; a GIF's 8-bit
    frames are collected first. H.264 needs even sides: an odd last row or column is repeated."""
    import imageio.v2 as iio2
    import imageio.v3 as iio

    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in VIDEO_OUT_FORMATS:
        raise ValueError(f"{path}: unsupported video format; expected one of {', '.join(VIDEO_OUT_FORMATS)}")
    if fps <= 0:
        raise ValueError(f"frame rate must be positive, got {fps}")

    def pixels_of(frame: np.ndarray) -> np.ndarray:
        pixels = to_uint8(frame)
        if pixels.shape[2] == 1:
            pixels = np.repeat(pixels, 3, axis=2) if suffix == ".mp4" else pixels[..., 0]
        if suffix == ".mp4":
            pixels = np.pad(pixels, ((0, pixels.shape[0] % 2), (0, pixels.shape[1] % 2), (0, 0)), mode="edge")
        return pixels

    if suffix == ".mp4":
        def write(temporary: Path) -> None:
            with iio2.get_writer(temporary, format="FFMPEG", fps=fps, codec="libx264", quality=8,
                                 macro_block_size=1) as writer:
                for frame in frames:
                    writer.append_data(pixels_of(frame))  # type: ignore[attr-defined]

        atomic_write_path(path, write)
    else:
        pixels = np.stack([pixels_of(frame) for frame in frames])
        atomic_write_path(path, lambda temporary: iio.imwrite(temporary, pixels, extension=".gif",
                                                              duration=1000.0 / fps, loop=0))
    return path


def frame_strip_figure(reference: np.ndarray, estimate: np.ndarray, path: str | Path, *, count: int = 6,
                       title: str | None = None) -> None:
    """Ground truth (top row) over fit (bottom row) at `count` evenly spaced frames, each
    labelled with its frame number and PSNR."""
    from sirenkit.figures import _show_image, new_figure, save_figure
    from sirenkit.text import figure_text

    index = np.unique(np.linspace(0, len(reference) - 1, min(count, len(reference))).round().astype(int))
    psnrs = frame_psnrs(estimate[index], reference[index])
    height, width = reference.shape[1:3]
    panel = 2.2
    figure, axes = new_figure(2, len(index), figsize=(len(index) * panel, 2 * panel * height / width + 0.7),
                                squeeze=False)
    for column, frame in enumerate(index):
        _show_image(axes[0, column], reference[frame])
        _show_image(axes[1, column], estimate[frame])
        axes[0, column].set_title(f"frame {frame}", fontsize=9)
        axes[1, column].set_title(f"{psnrs[column]:.1f} dB", fontsize=9)
        for row in range(2):
            axes[row, column].set_xticks([])
            axes[row, column].set_yticks([])
    axes[0, 0].set_ylabel("ground truth")
    axes[1, 0].set_ylabel("fit")
    if title:
        figure.suptitle(figure_text(title), fontsize=10)
    figure.tight_layout()
    save_figure(figure, path)
