import numpy as np
import pytest
import torch

from sirenkit.engine.config import TrainConfig
from sirenkit.signals.image.data import ImageSignal, coordinate_grid, grid_spacing, image_gradient
from sirenkit.signals.image.fit import image_network
from sirenkit.studies.fusion import composite_gradient, fuse_images, set_mean
from sirenkit.studies.poisson import align_constant, align_plane, derivative_targets, fit_poisson, restore_means

from conftest import smooth_image


def signal_of(pixels, name="smooth"):
    return ImageSignal(pixels=pixels, name=name, mode={1: "L", 3: "RGB"}[pixels.shape[2]],
                       original_shape=pixels.shape[:2])


def small(signal):
    # ω0 = 10: these test images are tiny and smooth; ω0 = 30 suits 256-pixel photos
    return image_network(signal, hidden_features=64, hidden_layers=3, first_omega=10.0)


def test_alignments_remove_exactly_what_the_derivatives_leave_free():
    reference = smooth_image(12, 16, channels=2)
    coords = coordinate_grid((12, 16), dtype=torch.float64).numpy().reshape(12, 16, 2)
    shifted = reference + np.array([0.1, -0.2])
    assert np.allclose(align_constant(shifted, reference), reference)
    ramp = reference + 0.3 + 0.2 * coords[..., :1] - 0.1 * coords[..., 1:]
    assert np.allclose(align_plane(ramp, reference), reference)
    # a plane is not a constant: the gradient alignment must not remove it
    assert not np.allclose(align_constant(ramp, reference), reference, atol=1e-3)


def test_restore_means_sets_each_channel():
    image = smooth_image(8, 8, channels=3)
    restored = restore_means(image, [0.1, 0.5, 0.9])
    assert np.allclose(restored.mean(axis=(0, 1)), [0.1, 0.5, 0.9])
    assert np.allclose(restored - restored.mean(axis=(0, 1)), image - image.mean(axis=(0, 1)))


@pytest.mark.parametrize("source, minimum", [("gradient", 35.0), ("laplacian", 20.0)])
def test_a_smooth_image_is_recovered_from_derivatives_only(source, minimum):
    signal = signal_of(smooth_image(24, 24, channels=1))
    fitted = fit_poisson(signal, source, network=small(signal),
                         train=TrainConfig(steps=300, learning_rate=1e-4, compile=False, log_every=100),
                         progress=False)
    assert fitted.metrics["psnr"] > minimum, fitted.metrics
    assert fitted.metrics["classical_psnr"] > 60.0  # the DCT solve of the same discrete problem is exact
    assert fitted.metrics["alignment"] == {"gradient": "constant", "laplacian": "plane"}[source]


def saved_reconstruction(run) -> np.ndarray:
    """The run folder's reconstruction.png as ``(H, W, C)`` in [0, 1]."""
    from PIL import Image

    pixels = np.asarray(Image.open(run / "reconstruction.png")).astype(np.float64) / 255
    return pixels[..., None] if pixels.ndim == 2 else pixels


def test_colour_reconstruction_is_per_channel(tmp_path):
    """Channels with different content: each is recovered from its own gradients."""
    base = smooth_image(20, 20, channels=1, seed=3)[..., 0]
    pixels = np.stack([base, base.T, 1.0 - base], axis=-1)  # three clearly different channels
    signal = signal_of(pixels)
    fit_poisson(signal, "gradient", network=small(signal), out=tmp_path / "run",
                train=TrainConfig(steps=300, learning_rate=1e-4, compile=False), progress=False)
    aligned = saved_reconstruction(tmp_path / "run")  # the mean difference removed per channel
    for channel in range(3):
        error = np.abs(aligned[..., channel] - pixels[..., channel]).mean()
        swapped = np.abs(aligned[..., channel] - pixels[..., (channel + 1) % 3]).mean()
        assert error < 0.03 and swapped > 4 * error, (channel, error, swapped)


def analytic_channels(shape):
    """Three channels ``0.5 + 0.3 sin(a x + φ) cos(b y)`` (a, b, φ differ per channel) sampled on the
    coordinate grid of ``shape``, with their exact gradients ``(H, W, 3, 2)`` and Laplacians."""
    coords = coordinate_grid(shape, dtype=torch.float64).numpy().reshape(*shape, 2)
    x, y = coords[..., 0], coords[..., 1]
    values, gradients, laplacians = [], [], []
    for a, b, phase in ((3.0, 2.0, 0.0), (1.5, 4.0, 0.7), (5.0, 1.0, 2.0)):
        wave, ripple = np.sin(a * x + phase), np.cos(b * y)
        values.append(0.5 + 0.3 * wave * ripple)
        gradients.append(np.stack([0.3 * a * np.cos(a * x + phase) * ripple, -0.3 * b * wave * np.sin(b * y)], -1))
        laplacians.append(-0.3 * (a * a + b * b) * wave * ripple)
    return (np.stack(values, 2).astype(np.float32), np.stack(gradients, 2), np.stack(laplacians, 2))


def test_derivative_targets_are_the_ground_truth_derivatives_in_coordinate_units():
    """On a non-square colour image, away from the one-pixel border where the stencils are
    one-sided or mirrored: each channel's own gradient and Laplacian, in coordinate units (per
    unit of x and y, the longer side spanning [-1, 1]), to the stencils' O(h²) accuracy."""
    shape = (60, 90)
    pixels, gradient, laplacian = analytic_channels(shape)
    inner = (slice(2, -2), slice(2, -2))
    targets = {"gradient": derivative_targets(pixels, "gradient"), "laplacian": derivative_targets(pixels, "laplacian")}
    assert targets["gradient"].shape == (60, 90, 3, 2) and targets["laplacian"].shape == (60, 90, 3)

    def error(estimate, exact):
        return np.abs(estimate[inner] - exact[inner]).max() / np.abs(exact[inner]).max()

    # measured: 0.21 % and 0.10 % (h = 2/89; the stencils' errors are h²/6 f''' and h²/12 f'''')
    assert error(targets["gradient"], gradient) < 0.005
    assert error(targets["laplacian"], laplacian) < 0.005
    # negative controls: what the known mistakes would give is far outside those tolerances
    h = grid_spacing(shape)
    assert error(targets["gradient"] * h, gradient) > 0.5  # per pixel instead of per coordinate unit
    assert error(targets["gradient"] * (2 / 59) / h, gradient) > 0.3  # spacing of the shorter side
    assert error(targets["gradient"][..., ::-1], gradient) > 0.3  # x and y swapped
    assert error(targets["gradient"][:, :, [1, 2, 0]], gradient) > 0.3  # channels mixed up
    assert error(targets["laplacian"] * 4, laplacian) > 0.5  # Sobel's unstated factor
    assert error(targets["laplacian"] * h**2, laplacian) > 0.5


def test_a_constant_image_is_refused():
    signal = signal_of(np.full((8, 8, 1), 0.5, np.float32), "flat.png")
    with pytest.raises(ValueError, match="flat.png: the image is constant"):
        fit_poisson(signal, "gradient", train=TrainConfig(steps=1), progress=False)


def colour_pair(height=16, width=16):
    first = smooth_image(height, width, channels=3, seed=1)
    second = smooth_image(height, width, channels=3, seed=2)
    return first, second


def test_composites_match_channels_with_the_same_channel():
    """The known mistake: targets ordered [Rx, Gx, Bx, Ry, ...] against [Rx, Ry, Gx, ...]."""
    first, second = colour_pair()
    spacing = grid_spacing(first.shape[:2])
    ga, gb = image_gradient(first, spacing), image_gradient(second, spacing)
    average, _ = composite_gradient(first, second, "average")
    assert np.allclose(average, 0.5 * (ga + gb))
    mixed, _ = composite_gradient(first, second, "mixed")
    for channel in range(3):
        stronger_b = np.linalg.norm(gb[:, :, channel], axis=-1) > np.linalg.norm(ga[:, :, channel], axis=-1)
        assert np.allclose(mixed[:, :, channel][stronger_b], gb[:, :, channel][stronger_b])
        assert np.allclose(mixed[:, :, channel][~stronger_b], ga[:, :, channel][~stronger_b])


def test_clone_places_the_second_image_inside_the_mask():
    first, second = colour_pair(20, 24)
    patch, mask = second[:6, :8], np.zeros((6, 8), bool)
    mask[1:5, 2:6] = True
    composite, weights = composite_gradient(first, patch, "clone", mask=mask, at=(10, 4))
    spacing = grid_spacing(first.shape[:2])
    ga, gb = image_gradient(first, spacing), image_gradient(patch, spacing)
    assert np.allclose(composite[5:9, 12:16], gb[1:5, 2:6])
    assert np.allclose(composite[:4], ga[:4])
    assert weights[5:9, 12:16].sum() == 0 and weights[:4].all()
    with pytest.raises(ValueError, match="falls outside the first image"):
        composite_gradient(first, patch, "clone", mask=mask, at=(20, 4))


def test_set_mean_matches_the_weighted_mean():
    image, reference = smooth_image(6, 6, 1), smooth_image(6, 6, 1, seed=5)
    weights = np.zeros((6, 6))
    weights[:3] = 1
    shifted = set_mean(image, reference, weights)
    assert np.isclose(shifted[:3].mean(), reference[:3].mean())


def test_fusion_of_two_colour_images_agrees_with_the_classical_solution(tmp_path):
    from PIL import Image

    first, second = colour_pair(20, 20)
    Image.fromarray((first * 255).astype(np.uint8)).save(tmp_path / "a.png")
    Image.fromarray((second * 255).astype(np.uint8)).save(tmp_path / "b.png")
    network = small(signal_of(first))
    fused = fuse_images(tmp_path / "a.png", tmp_path / "b.png", "average", network=network,
                        train=TrainConfig(steps=300, learning_rate=1e-4, compile=False), progress=False,
                        out=tmp_path / "run")
    assert fused.metrics["psnr_vs_classical"] > 30.0
    assert saved_reconstruction(tmp_path / "run").shape == (20, 20, 3)
    assert (tmp_path / "run" / "figure.png").is_file()


def test_fusion_input_errors(tmp_path):
    from PIL import Image

    Image.fromarray(np.zeros((10, 12), np.uint8)).save(tmp_path / "a.png")
    Image.fromarray(np.zeros((8, 8), np.uint8)).save(tmp_path / "b.png")
    grey_mask = (np.arange(64).reshape(8, 8) * 3).astype(np.uint8)
    Image.fromarray(grey_mask).save(tmp_path / "grey-mask.png")
    with pytest.raises(ValueError, match="pass --resize"):
        fuse_images(tmp_path / "a.png", tmp_path / "b.png", "average", progress=False)
    with pytest.raises(ValueError, match="grey-mask.png: the mask must be a binary image"):
        fuse_images(tmp_path / "a.png", tmp_path / "b.png", "clone", mask=tmp_path / "grey-mask.png",
                    progress=False)
    with pytest.raises(ValueError, match="clone needs a mask"):
        fuse_images(tmp_path / "a.png", tmp_path / "b.png", "clone", progress=False)
    with pytest.raises(ValueError, match="both images are constant"):
        fuse_images(tmp_path / "a.png", tmp_path / "b.png", "average", resize=True, progress=False)


@pytest.mark.parametrize("texture", [False, True])
def test_segments_carry_the_line_integrals_of_the_gradient(texture):
    """Φ(end) − Φ(start) = ∫ g · ds: the integral of the ground-truth gradient along a row or
    column recovers the image's difference between the ends exactly, for a smooth image as for
    pixel noise (the finest texture there is), whatever the segment's length."""
    from sirenkit.studies.poisson import GridSegments

    pixels = (np.random.default_rng(3).random((80, 100, 2)).astype(np.float32) if texture
              else smooth_image(80, 100, channels=2))
    coords = coordinate_grid((80, 100))
    segments = GridSegments(coords, derivative_targets(pixels, "gradient"), batch_size=400)
    points, data = segments.sample(torch.Generator().manual_seed(0))
    assert points.shape == (800, 2) and data["difference"].shape == (400, 2)
    flat = torch.from_numpy(pixels.reshape(-1, 2))
    index = {tuple(p): i for i, p in enumerate(coords.numpy().round(6).tolist())}
    start = [index[tuple(p)] for p in points[:400].numpy().round(6).tolist()]
    end = [index[tuple(p)] for p in points[400:].numpy().round(6).tolist()]
    exact = flat[end] - flat[start]
    assert torch.allclose(data["difference"], exact, atol=2e-5)
    moved = (points[400:] - points[:400]).abs()
    assert ((moved[:, 0] == 0) | (moved[:, 1] < 1e-6)).all()  # along a row or a column
    lengths = moved.max(dim=1).values / grid_spacing((80, 100))
    assert lengths.min() >= 0.99 and lengths.max() > 40  # from one pixel to most of the side


def test_box_fluxes_obey_the_divergence_theorem():
    """For a smooth network Φ, the flux of ∇Φ through a box equals the integral of ΔΦ over it:
    GridBoxes built from Φ's own Laplacian give residuals near zero, and a wrong Laplacian does not."""
    from sirenkit.networks.build import build_network
    from sirenkit.networks.config import NetworkConfig
    from sirenkit.networks.derivatives import derivatives
    from sirenkit.problems.constraints import Fields
    from sirenkit.studies.poisson import GridBoxes, flux_residual

    torch.manual_seed(0)
    net = build_network(NetworkConfig(in_features=2, out_features=1, hidden_features=32, hidden_layers=2,
                                      first_omega=3.0, hidden_omega=3.0)).double()
    shape = (64, 80)
    coords = coordinate_grid(shape, dtype=torch.float64)
    with torch.no_grad():
        laplacian = derivatives(net, coords, laplacian=True).laplacian.numpy().reshape(*shape, 1) / 2  # intensity units
    boxes = GridBoxes(coords, laplacian, boxes=64, points_per_side=64)
    points, data = boxes.sample(torch.Generator().manual_seed(1))
    with torch.no_grad():
        fields = derivatives(net, points.double(), jacobian=True)
        data = {key: value.double() for key, value in data.items()}
        residual = flux_residual(Fields(points, data, fields))
        wrong = flux_residual(Fields(points, {**data, "integral": data["integral"] * 1.5 + 0.01}, fields))
    scale = data["integral"].abs().mean() * 2
    assert residual.abs().mean() < 0.02 * scale
    assert wrong.abs().mean() > 0.2 * scale


def test_the_box_weight_decays_over_the_run_by_default():
    """From the Laplacian the box fluxes weigh 0.01 at the first step and 0.00001 at the last,
    log-linearly; a single weight stays constant; a decaying weight must stay positive."""
    from sirenkit.studies.poisson import BOX_WEIGHT, decaying_weight, derivative_problem

    assert BOX_WEIGHT == (0.01, 0.00001)
    start, factor = decaying_weight(BOX_WEIGHT)
    assert start == 0.01 and factor is not None
    assert factor(0.0) == 1.0 and np.isclose(factor(1.0), 0.001) and np.isclose(factor(0.5), 0.001**0.5)
    assert decaying_weight(0.5) == (0.5, None)
    with pytest.raises(ValueError, match="positive start and end"):
        decaying_weight((0.01, 0.0))
    target = derivative_targets(smooth_image(16, 16, channels=1), "laplacian")
    problem = derivative_problem(target, "laplacian", batch_size=64, device=torch.device("cpu"),
                                 box_weight=BOX_WEIGHT)
    boxes = next(c for c in problem.constraints if c.name == "boxes")
    h = grid_spacing((16, 16))
    assert np.isclose(boxes.weight, 0.01 / h**4) and boxes.schedule is not None
    assert np.isclose(problem.schedule_factors(1.0)["boxes"], 0.001)
    constant = derivative_problem(target, "laplacian", batch_size=64, device=torch.device("cpu"), box_weight=0.001)
    assert constant.schedule_factors(0.5) == {}


def test_the_network_from_gradients_starts_at_twice_the_image_frequencies(tmp_path, capsys):
    """From gradients (and for fusion) a SIREN's first ω0 defaults to POISSON_FIRST_OMEGA; from the
    Laplacian and for the baselines it stays the image default; ``--omega`` still decides."""
    import json

    from sirenkit.studies.poisson import POISSON_FIRST_OMEGA, poisson_network

    from conftest import run_cli

    signal = signal_of(smooth_image(12, 12, channels=1))
    assert POISSON_FIRST_OMEGA == 60.0
    assert poisson_network(signal).first_omega == POISSON_FIRST_OMEGA
    assert poisson_network(signal, source="laplacian").first_omega == 30.0
    assert poisson_network(signal, first_omega=12.0).first_omega == 12.0
    assert poisson_network(signal, "tanh").model == "tanh"
    tiny = ["--size", "12", "--steps", "2", "--width", "8", "--layers", "1", "--device", "cpu", "--compile", "off",
            "-q"]
    for argv, omega in ((["poisson", "camera", "--from", "gradient"], 60.0),
                        (["poisson", "camera", "--from", "gradient", "--omega", "20"], 20.0),
                        (["poisson", "camera", "--from", "laplacian"], 30.0),
                        (["fuse", "camera", "brick", "--mode", "average", "--resize"], 60.0)):
        out = tmp_path / f"run{len(list(tmp_path.iterdir()))}"
        code, _, err = run_cli([*argv, *tiny, "--out", out], capsys)
        assert code == 0, err
        assert json.loads((out / "model.json").read_text())["network"]["siren"]["first_omega"] == omega, argv
