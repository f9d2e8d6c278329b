"""Figures and the library's manners: importing sirenkit and writing a run folder change no global
state (matplotlib's backend, the global random state) and print nothing."""

import subprocess
import sys
import textwrap

import numpy as np
import pytest
from PIL import Image

from sirenkit.figures import curve_figure, image_rows_figure

from conftest import smooth_image


def test_a_fit_leaves_the_backend_the_random_state_and_stdout_alone(tmp_path):
    script = textwrap.dedent(f"""
        import sys
        import matplotlib
        matplotlib.use("svg")
        import torch
        torch.manual_seed(123)
        state = torch.get_rng_state()
        import sirenkit as sk
        from conftest import smooth_image
        image = sk.ImageSignal(pixels=smooth_image(12, 12), name="smooth", mode="L")
        network = sk.NetworkConfig(in_features=2, out_features=1, hidden_features=16, hidden_layers=2)
        sk.fit_image(image, network=network, train=sk.TrainConfig(steps=3, compile=False, seed=4),
                     out=r"{tmp_path / 'run'}", progress=False)
        assert matplotlib.get_backend() == "svg", matplotlib.get_backend()
        assert "matplotlib.pyplot" not in sys.modules
        assert torch.equal(torch.get_rng_state(), state), "the global random state changed"
    """)
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          cwd=str(__import__("pathlib").Path(__file__).parent))
    assert done.returncode == 0, done.stderr
    assert done.stdout == ""  # the library returns values; it prints nothing
    assert_drawn(read_png(tmp_path / "run" / "figure.png"), least_colours=50)  # the fit's figure, drawn


def read_png(path) -> np.ndarray:
    """The PNG at ``path`` as RGB ``(H, W, 3)`` floats in [0, 255]."""
    with Image.open(path) as written:
        assert written.format == "PNG"
        return np.asarray(written.convert("RGB"), dtype=np.float64)


def inked(picture: np.ndarray) -> np.ndarray:
    """Where ``picture`` is not white paper."""
    return (picture < 245).any(axis=-1)


def assert_drawn(picture: np.ndarray, *, least_colours: int) -> None:
    """Not a blank canvas: ink over a share of it, several colours, a spread of grey levels."""
    assert inked(picture).mean() > 0.05, "almost nothing drawn"
    assert len(np.unique(picture.reshape(-1, 3), axis=0)) >= least_colours
    assert picture.std() > 20


def test_an_image_rows_figure_shows_its_rows_and_columns(tmp_path):
    """Two rows of (image, |∇|, Δ): the figure's size follows the images' aspect; the colour image
    is in colour, the Laplacian in red and blue; a row of black images is dark where the first row
    is not."""
    pixels = smooth_image(20, 30, channels=3)
    gradient, laplacian = pixels[:, :, 0], pixels[:, :, 1] - 0.5
    image_rows_figure([("a", pixels, gradient, laplacian), ("b", np.zeros_like(pixels), gradient, laplacian)],
                      tmp_path / "rows.png", title="two rows")
    picture = read_png(tmp_path / "rows.png")
    # 3 columns of 3.2 inches, rows of 3.2 × 20/30 inches plus 0.4 for the title, at 110 dpi (tight crop)
    height, width = picture.shape[:2]
    assert 0.8 * 9.6 * 110 <= width <= 1.05 * 9.6 * 110
    assert 0.7 * (2 * 3.2 * 20 / 30 + 0.4) * 110 <= height <= 1.05 * (2 * 3.2 * 20 / 30 + 0.4) * 110
    assert_drawn(picture, least_colours=50)
    red, green, blue = (picture[..., c] for c in range(3))
    assert ((red - blue > 60) & inked(picture)).mean() > 0.01  # the Laplacian's reds
    assert ((blue - red > 60) & inked(picture)).mean() > 0.01  # and blues
    # the image column: its upper half (row a) bright in colour, its lower half (row b) black
    left = picture[:, : width // 3]
    upper, lower = left[int(0.15 * height): height // 2], left[height // 2 + int(0.05 * height):]
    assert (upper.sum(axis=-1) < 60).mean() < 0.05 < 0.3 < (lower.sum(axis=-1) < 60).mean()


def test_a_curve_figure_draws_each_series_in_its_own_colour(tmp_path):
    curve_figure({"one": ([0, 1, 2], [1.0, 2.0, 4.0]), "two": ([0, 2], [3.0, 1.0])}, tmp_path / "curve.png",
                 xlabel="step", ylabel="value", log_y=True)
    picture = read_png(tmp_path / "curve.png")
    height, width = picture.shape[:2]
    assert 0.8 * 6 * 110 <= width <= 1.05 * 6 * 110 and 0.8 * 3.6 * 110 <= height <= 1.05 * 3.6 * 110
    assert inked(picture).mean() > 0.02 and picture.std() > 10
    # matplotlib's first two colours, tab:blue (31, 119, 180) and tab:orange (255, 127, 14)
    for colour in ((31, 119, 180), (255, 127, 14)):
        near = (np.abs(picture - np.array(colour)).max(axis=-1) < 30).sum()
        assert near > 100, colour


def test_the_content_checks_fail_for_a_blank_or_wrong_figure(tmp_path):
    """Negative control: a white canvas of the right size, and a curve figure of one series, fail
    the checks above."""
    Image.new("RGB", (1056, 500), "white").save(tmp_path / "blank.png")
    with pytest.raises(AssertionError):
        assert_drawn(read_png(tmp_path / "blank.png"), least_colours=50)
    curve_figure({"one": ([0, 1, 2], [1.0, 2.0, 4.0])}, tmp_path / "one.png", xlabel="step", ylabel="value")
    picture = read_png(tmp_path / "one.png")
    orange = (np.abs(picture - np.array((255, 127, 14))).max(axis=-1) < 30).sum()
    assert orange <= 100


def test_figures_leave_no_temporary_file(tmp_path):
    pixels = smooth_image(20, 30, channels=3)
    image_rows_figure([("a", pixels, pixels[:, :, 0], pixels[:, :, 1] - 0.5)], tmp_path / "rows.png")
    curve_figure({"one": ([0, 1], [1.0, 2.0])}, tmp_path / "curve.png", xlabel="step", ylabel="value")
    assert sorted(path.name for path in tmp_path.iterdir()) == ["curve.png", "rows.png"]
