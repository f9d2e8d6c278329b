"""Figures and the library's manners: importing sirenkit and writing a run folder change no global
state (matplotlib's backend, the global random state) and print nothing."""

import subprocess
import sys
import textwrap

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
    assert (tmp_path / "run" / "figure.png").is_file()


def test_figures_are_written_as_png(tmp_path):
    pixels = smooth_image(20, 30, channels=3)
    gradient, laplacian = pixels[:, :, 0], pixels[:, :, 1] - 0.5
    image_rows_figure([("a", pixels, gradient, laplacian), ("b", pixels, gradient, laplacian)], tmp_path / "rows.png",
                      title="two rows")
    curve_figure({"one": ([0, 1, 2], [1.0, 2.0, 4.0]), "two": ([0, 2], [3.0, 1.0])}, tmp_path / "curve.png",
                 xlabel="step", ylabel="value", log_y=True)
    for name in ("rows.png", "curve.png"):
        with Image.open(tmp_path / name) as written:
            assert written.format == "PNG" and min(written.size) > 100
    assert not list(tmp_path.glob(".*part*"))  # no temporary file left behind
