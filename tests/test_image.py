import numpy as np
import pytest
import torch
from PIL import Image

from sirenkit.pictures import luminance
from sirenkit.signals.image.data import (
    BUNDLED_IMAGES,
    coordinate_grid,
    grid_spacing,
    image_extent,
    image_gradient,
    image_laplacian,
    load_image,
)

from conftest import smooth_image


def write(path, array, **options):
    Image.fromarray(array).save(path, **options)
    return path


@pytest.mark.parametrize(
    "name, array, mode, depth",
    [
        ("grey.png", (np.arange(48).reshape(6, 8) * 5).astype(np.uint8), "L", 8),
        ("rgb.png", np.random.default_rng(0).integers(0, 256, (6, 8, 3), dtype=np.uint8), "RGB", 8),
        ("rgba.png", np.random.default_rng(1).integers(0, 256, (6, 8, 4), dtype=np.uint8), "RGBA", 8),
        ("grey16.png", (np.arange(48).reshape(6, 8) * 1300).astype(np.uint16), "L", 16),
        ("rgb.tif", np.random.default_rng(2).integers(0, 256, (6, 8, 3), dtype=np.uint8), "RGB", 8),
    ],
)
def test_lossless_formats_load_exactly(tmp_path, name, array, mode, depth):
    signal = load_image(write(tmp_path / name, array))
    expected = array.astype(np.float32) / (255.0 if depth == 8 else 65535.0)
    assert signal.mode == mode and signal.bit_depth == depth
    assert signal.pixels.shape == (6, 8, 1 if array.ndim == 2 else array.shape[2])
    assert np.allclose(signal.pixels, expected.reshape(signal.pixels.shape), atol=1e-6)


def test_jpeg_palette_and_bilevel_images_load(tmp_path):
    rgb = np.random.default_rng(0).integers(0, 256, (10, 12, 3), dtype=np.uint8)
    jpeg = load_image(write(tmp_path / "a.jpg", rgb, quality=95))
    assert jpeg.mode == "RGB" and jpeg.shape == (10, 12)
    palette = Image.fromarray(rgb).convert("P")
    palette.save(tmp_path / "p.png")
    assert load_image(tmp_path / "p.png").mode == "RGB"
    Image.fromarray(rgb[:, :, 0] > 128).save(tmp_path / "b.png")
    bilevel = load_image(tmp_path / "b.png")
    assert set(np.unique(bilevel.pixels)) <= {0.0, 1.0}


def test_the_terrier_photo_loads_with_its_aspect_ratio(shared_data):
    signal = load_image(shared_data / "yorkshire_terrier.jpg")
    assert signal.shape == (375, 500) and signal.mode == "RGB"
    smaller = load_image(shared_data / "yorkshire_terrier.jpg", size=100)
    assert smaller.shape == (75, 100)
    assert abs(smaller.pixels.mean() - signal.pixels.mean()) < 0.01


def test_bundled_images_load_by_name():
    camera = load_image("camera")
    assert camera.shape == (512, 512) and camera.mode == "L"
    assert load_image("astronaut", size=64).pixels.shape == (64, 64, 3)
    assert load_image("coffee", size=60).shape == (40, 60)


@pytest.mark.parametrize("name", BUNDLED_IMAGES)
def test_every_bundled_name_loads_from_the_package_itself(name):
    """Each name in the list loads, as a float image in [0, 1] at the size asked for."""
    signal = load_image(name, size=16)
    assert max(signal.shape) == 16 and signal.pixels.dtype == np.float32
    assert 0.0 <= signal.pixels.min() <= signal.pixels.max() <= 1.0


def test_coordinate_convention_for_non_square_images():
    shape = (375, 500)
    coords = coordinate_grid(shape).reshape(375, 500, 2)
    spacing = grid_spacing(shape)
    x_extent, y_extent = image_extent(shape)
    assert x_extent == 1.0 and y_extent == pytest.approx(374 / 499)
    # x along columns, y along rows, the same spacing on both axes
    assert torch.allclose(coords[0, :, 0], torch.linspace(-1, 1, 500))
    assert torch.allclose(coords[:, 0, 1], torch.linspace(-y_extent, y_extent, 375))
    assert coords[0, 1, 0] - coords[0, 0, 0] == pytest.approx(spacing, rel=1e-5)
    assert coords[1, 0, 1] - coords[0, 0, 1] == pytest.approx(spacing, rel=1e-5)


def analytic_image(shape, a=3.0, b=2.0):
    """f = sin(a x) cos(b y) on the grid, with its exact gradient and Laplacian."""
    coords = coordinate_grid(shape, dtype=torch.float64).reshape(*shape, 2).numpy()
    x, y = coords[..., 0], coords[..., 1]
    value = np.sin(a * x) * np.cos(b * y)
    gradient = np.stack([a * np.cos(a * x) * np.cos(b * y), -b * np.sin(a * x) * np.sin(b * y)], -1)
    return value, gradient, -(a * a + b * b) * value


def test_ground_truth_derivatives_are_in_coordinate_units():
    shape = (150, 200)
    value, gradient, laplacian = analytic_image(shape)
    spacing = grid_spacing(shape)
    estimated_gradient = image_gradient(value, spacing)[:, :, 0, :]
    estimated_laplacian = image_laplacian(value, spacing)[:, :, 0]
    inner = (slice(2, -2), slice(2, -2))
    assert np.abs(estimated_gradient[inner] - gradient[inner]).max() < 2e-3 * np.abs(gradient).max()
    assert np.abs(estimated_laplacian[inner] - laplacian[inner]).max() < 2e-3 * np.abs(laplacian).max()


def test_derivatives_never_mix_colour_channels():
    pixels = smooth_image(20, 30, channels=3)
    spacing = grid_spacing((20, 30))
    gradient, laplacian = image_gradient(pixels, spacing), image_laplacian(pixels, spacing)
    for channel in range(3):
        alone = pixels[:, :, channel]
        assert np.allclose(gradient[:, :, channel], image_gradient(alone, spacing)[:, :, 0])
        assert np.allclose(laplacian[:, :, channel], image_laplacian(alone, spacing)[:, :, 0])


def test_luminance_is_linear_and_ignores_alpha():
    rgba = np.random.default_rng(0).random((4, 5, 4)).astype(np.float32)
    grey = luminance(rgba, "RGBA")
    assert np.allclose(grey, rgba[..., :3] @ np.array([0.299, 0.587, 0.114], dtype=np.float32))
    assert np.allclose(luminance(rgba[..., :1], "L"), rgba[..., 0])


@pytest.mark.parametrize(
    "make, message",
    [
        (lambda p: p / "missing.png", "no such file"),
        (lambda p: (p / "empty.png").touch() or p / "empty.png", "the file is empty"),
        (lambda p: (p / "text.png").write_text("hello") and p / "text.png", "not an image file"),
        (lambda p: p, "is a folder"),
    ],
)
def test_bad_image_input_names_the_file(tmp_path, make, message):
    path = make(tmp_path)
    with pytest.raises(ValueError, match=message) as error:
        load_image(path)
    assert str(path) in str(error.value)


def test_one_pixel_images_and_bad_sizes_are_refused(tmp_path):
    with pytest.raises(ValueError, match="at least 2×2"):
        load_image(write(tmp_path / "dot.png", np.zeros((1, 1), np.uint8)))
    with pytest.raises(ValueError, match="--size must be at least 2"):
        load_image("camera", size=1)
