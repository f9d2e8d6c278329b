"""Images as signals: loading, the coordinate convention, and ground-truth derivatives.

Coordinate convention (any size and aspect ratio): pixel centres lie on a grid with the same
spacing `h` along both axes. The longer side spans [-1, 1] (`h = 2 / (L - 1)` for `L` pixels);
the shorter side of `S` pixels spans `[-(S-1)/(L-1), (S-1)/(L-1)]`. `coords[..., 0]` is `x`
(columns, left to right) and `coords[..., 1]` is `y` (rows, top to bottom), so a 500×375 image
lives on [-1, 1] × [-0.749, 0.749]. Derivatives are in these coordinate units, the same along
both axes, so gradient and Laplacian maps are isotropic.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from scipy import ndimage

BUNDLED_IMAGES = (
    "camera", "astronaut", "coffee", "chelsea", "cat", "brick", "grass", "gravel", "rocket",
    "moon", "text", "coins", "horse", "page", "clock", "colorwheel", "checkerboard",
    "immunohistochemistry", "logo", "hubble_deep_field", "retina",
)
"""scikit-image sample images that ship with the package (no download needed)."""


@dataclass
class ImageSignal:
    """An image ready to fit, as [`load_image`][sirenkit.load_image] returns it."""

    pixels: np.ndarray
    """`(H, W, C)` float32 intensities in [0, 1]."""
    name: str
    """File path or bundled image name it came from."""
    mode: str
    """Channel layout: `L` (grey), `LA`, `RGB` or `RGBA`."""
    bit_depth: int = 8
    """Bits per channel of the file (8 or 16)."""
    original_shape: tuple[int, int] = (0, 0)
    """`(H, W)` before any resampling."""
    extra: dict = field(default_factory=dict)
    """Anything a reader keeps beside the pixels."""

    @property
    def shape(self) -> tuple[int, int]:
        """`(H, W)`"""
        return self.pixels.shape[0], self.pixels.shape[1]

    @property
    def channels(self) -> int:
        """Number of channels `C`."""
        return self.pixels.shape[2]


_MODES_BY_CHANNELS = {1: "L", 2: "LA", 3: "RGB", 4: "RGBA"}


def _open_unlimited(path: Path):
    """`Image.open` without Pillow's decompression-bomb limit: sirenkit checks the size itself,
    against `MAX_PIXELS` and the memory the machine has, with a message that says what to do."""
    from PIL import Image

    limit = Image.MAX_IMAGE_PIXELS
    Image.MAX_IMAGE_PIXELS = None
    try:
        return Image.open(path)
    finally:
        Image.MAX_IMAGE_PIXELS = limit


def _from_array(array: np.ndarray, name: str) -> ImageSignal:
    """Normalise an integer, boolean or float array to `(H, W, C)` float32 in [0, 1]."""
    if array.ndim == 2:
        array = array[:, :, None]
    if array.ndim != 3 or array.shape[2] not in _MODES_BY_CHANNELS:
        raise ValueError(f"{name}: unsupported image layout {array.shape}")
    if array.shape[0] == 0 or array.shape[1] == 0:
        raise ValueError(f"{name}: the image is empty ({array.shape[1]}×{array.shape[0]} pixels)")
    if array.dtype == bool:
        pixels, depth = array.astype(np.float32), 1
    elif array.dtype == np.uint8:
        pixels, depth = array.astype(np.float32) / 255.0, 8
    elif array.dtype in (np.uint16, np.int32, np.uint32, np.int64) :
        if array.min() < 0 or array.max() > 65535:
            raise ValueError(f"{name}: integer pixel values outside 0..65535 are not supported")
        pixels, depth = array.astype(np.float32) / 65535.0, 16
    elif np.issubdtype(array.dtype, np.floating):
        pixels, depth = array.astype(np.float32), 32
        if not np.isfinite(pixels).all():
            raise ValueError(f"{name}: the image holds NaN or infinite values")
        if pixels.min() < 0.0 or pixels.max() > 1.0:
            raise ValueError(f"{name}: floating-point pixels must lie in [0, 1]")
    else:
        raise ValueError(f"{name}: unsupported pixel type {array.dtype}")
    return ImageSignal(
        pixels=np.ascontiguousarray(pixels), name=name, mode=_MODES_BY_CHANNELS[pixels.shape[2]],
        bit_depth=depth, original_shape=(pixels.shape[0], pixels.shape[1]),
    )


MAX_PIXELS = 2**31
"""The largest image (width × height) sirenkit opens: past it, even the decoded 8-bit pixels are
gigabytes. Below it, the memory the decode needs is checked against what the machine has."""


def _read_file(path: Path, size: int | None = None) -> tuple[np.ndarray, tuple[int, int]]:
    """Decode `path`: its pixels and its `(H, W)` as stored. With `size`, a large image is
    reduced while it is decoded (JPEG's DCT scaling) or right after (an integer box reduction to no
    less than twice `size`), so that the full-size float pixels never exist. The size is checked
    from the header, before decoding."""
    from PIL import Image, ImageOps, UnidentifiedImageError

    from sirenkit.resources import check_memory

    try:
        with _open_unlimited(path) as image:
            width, height = image.size
            if width * height > MAX_PIXELS:
                raise ValueError(f"{path}: {width}×{height} pixels is more than sirenkit opens "
                                 f"({MAX_PIXELS:,} pixels); reduce it with an image tool first")
            bands = len(image.getbands())
            if size is not None and image.format == "JPEG":
                scale = size / max(width, height)
                image.draft(image.mode, (max(1, round(2 * width * scale)), max(1, round(2 * height * scale))))
            decoded = image.size[0] * image.size[1] * bands * (4 if image.mode in ("I", "F") else 2)
            floats = 0 if size is not None else width * height * bands * 4 * 3  # pixels, and copies while fitting
            check_memory(decoded + floats, f"{path} ({width}×{height})",
                         "pass --size to fit it smaller" if size is None else "reduce it with an image tool first")
            before = image.size
            image = ImageOps.exif_transpose(image)  # photos upright, as viewers show them
            image.load()
            if image.size != before and image.size == before[::-1]:
                width, height = height, width  # turned a quarter: the upright size
            array = _pixels_of(image, reduce_to=size)
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, Image.DecompressionBombError) as error:
        if isinstance(error, ValueError) and str(error).startswith(str(path)):
            raise
        detail = "not an image file Pillow can read" if isinstance(error, UnidentifiedImageError) else str(error)
        raise ValueError(f"{path}: {detail}") from None
    return array, (height, width)


def _pixels_of(image, reduce_to: int | None = None) -> np.ndarray:
    """The decoded image as an array of its own type; with `reduce_to`, first box-reduced by
    the largest integer factor that keeps the longer side at least twice `reduce_to`."""
    if reduce_to is not None and max(image.size) // (2 * reduce_to) >= 2:
        if image.mode not in ("L", "LA", "RGB", "RGBA", "I", "F"):
            image = image.convert("L" if image.mode == "1" else "I" if image.mode.startswith("I;16") else
                                  "RGBA" if "A" in image.mode or "transparency" in image.info else "RGB")
        image = image.reduce(max(image.size) // (2 * reduce_to))
    if image.mode in ("I;16", "I;16L", "I;16B", "I;16N"):
        return np.asarray(image, dtype=np.uint16)
    if image.mode == "1":
        return np.asarray(image, dtype=bool)
    if image.mode in ("L", "LA", "RGB", "RGBA", "I", "F"):
        return np.asarray(image)
    if image.mode == "P" or image.mode == "PA":
        has_alpha = "transparency" in image.info or image.mode == "PA"
        return np.asarray(image.convert("RGBA" if has_alpha else "RGB"))
    if image.mode == "La":
        return np.asarray(image.convert("LA"))
    return np.asarray(image.convert("RGBA" if "A" in image.mode else "RGB"))  # CMYK, YCbCr, ...


def load_image(source: str | Path, *, size: int | None = None) -> ImageSignal:
    """Load an image file or a bundled image.

    Args:
        source: An image file (anything Pillow reads: PNG, JPEG, TIFF, 8 or 16 bit, grey, RGB,
            RGBA) or a bundled scikit-image sample by name (`camera`, `astronaut`, `coffee`,
            `chelsea`, `cat`, ...).
        size: Scale the longer side to this many pixels (at least 2), keeping the aspect ratio;
            `None` keeps the image's size.

    Returns:
        The image, its pixels `(H, W, C)` float32 in [0, 1].

    Raises:
        ValueError: No such file and no such bundled name, an empty or unreadable file, an image
            too large to open or smaller than 2×2 pixels, or a size below 2.
    """
    if size is not None and size < 2:
        raise ValueError(f"--size must be at least 2 pixels, got {size}")
    path = Path(source)
    if path.is_file():
        if path.stat().st_size == 0:
            raise ValueError(f"{path}: the file is empty")
        array, stored_shape = _read_file(path, size)
        signal = _from_array(array, str(path))
        signal.original_shape = stored_shape
    elif path.is_dir():
        raise ValueError(f"{path}: is a folder, not an image file")
    elif str(source) in BUNDLED_IMAGES:
        import skimage.data

        signal = _from_array(getattr(skimage.data, str(source))(), str(source))
    else:
        raise ValueError(
            f"{source}: no such file, and not a bundled image name "
            f"(try {', '.join(BUNDLED_IMAGES[:5])}, ...)"
        )
    if min(signal.shape) < 2:
        raise ValueError(f"{signal.name}: the image must be at least 2×2 pixels, "
                         f"got {signal.shape[1]}×{signal.shape[0]}")
    if size is not None:
        signal.pixels = resize_longer_side(signal.pixels, size)
    return signal


def resize_longer_side(pixels: np.ndarray, size: int) -> np.ndarray:
    """Resample `(H, W, C)` pixels so that the longer side has `size` pixels."""
    from skimage.transform import resize

    height, width = pixels.shape[:2]
    scale = size / max(height, width)
    shape = (max(2, round(height * scale)), max(2, round(width * scale)))
    if shape == (height, width):
        return pixels
    resized = resize(pixels, shape + pixels.shape[2:], order=3, anti_aliasing=scale < 1, mode="reflect")
    return np.clip(resized, 0.0, 1.0).astype(np.float32)


def grid_spacing(shape: tuple[int, int]) -> float:
    """Distance between neighbouring pixel centres in coordinate units."""
    return 2.0 / (max(shape) - 1)


def image_extent(shape: tuple[int, int]) -> tuple[float, float]:
    """Half-widths `(x_extent, y_extent)` of the area an `(H, W)` image covers."""
    height, width = shape
    longer = max(height, width) - 1
    return (width - 1) / longer, (height - 1) / longer


def coordinate_grid(
    shape: tuple[int, int],
    extent: tuple[float, float] | None = None,
    *,
    device: torch.device | str | None = None,
    dtype: torch.dtype = torch.float32,
    rows: tuple[int, int] | None = None,
) -> torch.Tensor:
    """The coordinates of the pixel centres of an `(H, W)` grid, in row-major order.

    The longer side spans [-1, 1]; the shorter one keeps the aspect ratio.

    Args:
        shape: `(H, W)`.
        extent: Half-widths along x and y; `None` is the convention above. Pass an image's extent
            to sample the same area at another resolution.
        device: Where to create the tensor.
        dtype: Its type.
        rows: `(first, stop)`: only those rows of the grid (a band, for rendering in pieces).

    Returns:
        `(H*W, 2)` coordinates `(x, y)`.
    """
    height, width = shape
    x_extent, y_extent = image_extent(shape) if extent is None else extent
    xs = torch.linspace(-x_extent, x_extent, width, device=device, dtype=dtype)
    ys = torch.linspace(-y_extent, y_extent, height, device=device, dtype=dtype)
    if rows is not None:
        ys = ys[rows[0] : rows[1]]
    grid_y, grid_x = torch.meshgrid(ys, xs, indexing="ij")  # (H, W) each
    return torch.stack([grid_x, grid_y], dim=-1).reshape(-1, 2)


def image_gradient(pixels: np.ndarray, spacing: float) -> np.ndarray:
    """The ground-truth gradient of an image: central differences inside, one-sided at the border,
    divided by the grid spacing.

    Args:
        pixels: `(H, W, C)` or `(H, W)` intensities.
        spacing: Distance between neighbouring pixel centres in coordinate units.

    Returns:
        `(H, W, C, 2)`: `∂/∂x`, `∂/∂y` of each channel, in coordinate units.
    """
    if pixels.ndim == 2:
        pixels = pixels[:, :, None]
    d_dy, d_dx = np.gradient(pixels.astype(np.float64), spacing, axis=(0, 1))
    return np.stack([d_dx, d_dy], axis=-1).astype(np.float32)


def image_laplacian(pixels: np.ndarray, spacing: float) -> np.ndarray:
    """The ground-truth Laplacian of an image: the 5-point stencil with mirrored borders, divided by
    the squared grid spacing. Never mixes channels.

    Args:
        pixels: `(H, W, C)` or `(H, W)` intensities.
        spacing: Distance between neighbouring pixel centres in coordinate units.

    Returns:
        `(H, W, C)`: the Laplacian of each channel, in coordinate units.
    """
    if pixels.ndim == 2:
        pixels = pixels[:, :, None]
    values = pixels.astype(np.float64)
    channels = [ndimage.laplace(values[:, :, c], mode="nearest") for c in range(values.shape[2])]
    return (np.stack(channels, axis=-1) / spacing**2).astype(np.float32)
