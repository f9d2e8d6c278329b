"""Meta-learned initialisations for the image codec ([`sirenkit.codec.weights`][sirenkit.codec.weights]).

A `.sirk` file can hold the *difference* between its network and an initialisation that ships
with sirenkit, instead of the network itself. The initialisation is learned with Reptile (Nichol,
Achiam & Schulman 2018, "On first-order meta-learning algorithms"; the step Strümpler et al. 2022
found mattered most for a SIREN codec): starting from a SIREN's random initialisation `θ`, each
meta-step fits a copy to one *task* for a few Adam steps, reaching `φ`, and moves
`θ ← θ + ε (φ − θ)`, `ε` decaying to 0. The result is a starting point from which a photo is
reached in fewer steps and with smaller moves, so that the file's offsets are small and peaked.

The tasks are random crops of `TRAINING_PHOTOS` (photos that ship with scikit-image and
matplotlib, none of the codec benchmark's evaluation photos), flipped at random and resampled so
that their longer side is between `TASK_SIDES`, the sizes the codec meets; grey photos are
repeated into three channels for the colour initialisations.

An initialisation serves one architecture (channels, hidden width, hidden layers, ω0s). A set,
`INITIALISATION_SET`, is one safetensors file in `sirenkit/initialisations/` whose tensors
are named `c{channels}-w{width}-l{layers}.{parameter}`; `benchmarks/meta.py` trains one and
writes it there. A `.sirk` file names the set in its header; the architecture it states picks the
member.

**None ships**: neither what a 2-core CPU trained in minutes nor ~9,000 tasks on a GPU helped the
codec (docs, "Compression": a learned start is one to three dB ahead after 50 steps and level by
300; at 0.3 bpp and 3,000 steps the files were within ±0.1 dB of a random start's). Without a set,
[`sirenkit.compress`][sirenkit.compress] starts from a random initialisation, as it always did.
"""

from __future__ import annotations

import functools
import logging
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn

from sirenkit.networks.build import build_network
from sirenkit.networks.config import NetworkConfig
from sirenkit.pictures import luminance
from sirenkit.signals.image.data import ImageSignal, coordinate_grid, load_image
from sirenkit.signals.image.kind import ImageKind

logger = logging.getLogger("sirenkit")

INITIALISATION_SET = 1
"""The id of the initialisations this sirenkit ships (a file's header names the one it used; 0: none)."""
FOLDER = Path(__file__).parent / "initialisations"

TRAINING_PHOTOS = (
    "skimage:chelsea.png", "skimage:color.png", "skimage:motorcycle_left.png", "skimage:motorcycle_right.png",
    "matplotlib:Minduka_Present_Blue_Pack.png", "skimage:camera.png", "skimage:moon.png", "skimage:brick.png",
    "skimage:grass.png", "skimage:gravel.png", "skimage:coins.png", "skimage:cell.png", "skimage:page.png",
    "skimage:text.png", "skimage:clock_motion.png",
)
"""The photos the initialisations are learned from; none is among the codec benchmark's evaluation
photos (astronaut, coffee, rocket, immunohistochemistry, hubble_deep_field, retina, grace_hopper,
the terrier), nor the retinal crop `microaneurysms` (too close to `retina`)."""
TASK_SIDES = (256, 768)
"""The longer side of a task, in pixels: drawn uniformly from this range."""


@dataclass(frozen=True)
class MetaConfig:
    """Reptile's settings: `meta_steps` outer steps, each fitting `tasks_per_step` tasks at once
    (each for `inner_steps` steps of `inner_optimizer` at `inner_rate` on `batch` random pixels
    per step; Adam at 1e-3 is the codec's recipe) and moving the initialisation by `ε` times their mean move, `ε`
    decaying linearly from `meta_rate` to 0 over the steps (or over `seconds` where that comes first)."""

    meta_steps: int = 600
    inner_steps: int = 16
    inner_rate: float = 1e-3
    meta_rate: float = 0.1
    """At 1.0 with one task per step (Nichol et al.'s serial version) the hidden weights' task-specific
    moves add up as a random walk to 7× their initial spread, and the initialisation fits photos far
    worse than a random one (measured); averaging over `tasks_per_step` tasks shrinks that walk
    (with 8 tasks and Adam it still blew one layer up at 1.0; plain SGD inner steps did not)."""
    batch: int = 2048
    inner_optimizer: str = "adam"
    """`adam` (the codec's own) or `sgd` (plain gradient steps, as in the meta-learning papers)."""
    tasks_per_step: int = 1
    """The meta-batch (Nichol et al.'s batched Reptile): that many tasks fitted side by side (stacked
    weights, one optimiser over them, which is that many independent ones) per outer step."""
    seconds: float | None = None
    """A wall-clock budget for the whole run: the outer step decays by whichever of steps and
    seconds runs out first, and the run stops there."""
    seed: int = 0


def photo_path(entry: str) -> Path:
    """The file of a `TRAINING_PHOTOS` entry (`library:file`)."""
    library, _, name = entry.partition(":")
    if library == "skimage":
        import skimage.data

        return Path(skimage.data.data_dir) / name
    import matplotlib

    return Path(matplotlib.get_data_path()) / "sample_data" / name


def training_photos(channels: int, entries: Sequence[str] = TRAINING_PHOTOS) -> list[np.ndarray]:
    """The training photos as `(H, W, channels)` float32 arrays in [0, 1] (colour from grey by
    repetition, grey from colour by `luminance`; alpha dropped)."""
    photos = []
    for entry in entries:
        pixels = load_image(photo_path(entry)).pixels
        if pixels.shape[2] in (2, 4):  # grey or colour with alpha
            pixels = pixels[..., :-1]
        if channels == 3 and pixels.shape[2] == 1:
            pixels = np.repeat(pixels, 3, axis=2)
        elif channels == 1 and pixels.shape[2] == 3:
            pixels = luminance(pixels, "RGB")[..., None]
        photos.append(np.ascontiguousarray(pixels, dtype=np.float32))
    return photos


def random_task(photo: torch.Tensor, rng: np.random.Generator) -> torch.Tensor:
    """A random crop of `photo` (`(C, H, W)`; half to all of each side), flipped at random,
    resampled (bilinear, antialiased) so that its longer side is drawn from `TASK_SIDES`
    (never enlarged), on `photo`'s device."""
    _, height, width = photo.shape
    crop_h = int(rng.integers(max(2, height // 2), height + 1))
    crop_w = int(rng.integers(max(2, width // 2), width + 1))
    top, left = int(rng.integers(0, height - crop_h + 1)), int(rng.integers(0, width - crop_w + 1))
    task = photo[:, top:top + crop_h, left:left + crop_w]
    if rng.random() < 0.5:
        task = task.flip(2)
    side = min(int(rng.integers(TASK_SIDES[0], TASK_SIDES[1] + 1)), max(crop_h, crop_w))
    scale = side / max(crop_h, crop_w)
    if scale < 1:
        shape = (max(2, round(crop_h * scale)), max(2, round(crop_w * scale)))
        task = torch.nn.functional.interpolate(task[None], size=shape, mode="bilinear", antialias=True,
                                               align_corners=False)[0].clamp(0, 1)
    return task.contiguous()


def _packed(tasks: Sequence[torch.Tensor], to_network: Callable[[torch.Tensor], torch.Tensor]
            ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Tasks of different shapes as one padded batch: coordinates `(K, N, 2)` (each task's own
    grid, [`coordinate_grid`][sirenkit.coordinate_grid]), targets `(K, N, C)` in network units and the
    pixel count of each, `(K,)`."""
    counts = [task.shape[1] * task.shape[2] for task in tasks]
    device, channels = tasks[0].device, tasks[0].shape[0]
    coords = torch.zeros(len(tasks), max(counts), 2, device=device)
    targets = torch.zeros(len(tasks), max(counts), channels, device=device)
    for index, (task, count) in enumerate(zip(tasks, counts)):
        coords[index, :count] = coordinate_grid((task.shape[1], task.shape[2]), device=device)
        targets[index, :count] = to_network(task.permute(1, 2, 0).reshape(-1, channels))
    return coords, targets, torch.tensor(counts, device=device)


def reptile(network: NetworkConfig, photos: Sequence[np.ndarray], config: MetaConfig = MetaConfig(), *,
            device: torch.device | str = "cpu", progress: bool = False) -> nn.Module:
    """A SIREN of `network`'s architecture meta-learned on `photos` by Reptile (module
    docstring), `config.tasks_per_step` tasks per outer step, on `device`; returned on the CPU."""
    from tqdm.auto import tqdm

    torch.manual_seed(config.seed)
    rng = np.random.default_rng(config.seed)
    device = torch.device(device)
    model = build_network(network, seed=config.seed).float().to(device)
    slow = {name: parameter.detach().clone() for name, parameter in model.named_parameters()}
    pictures = [torch.from_numpy(photo).permute(2, 0, 1).contiguous().to(device) for photo in photos]
    to_network = ImageKind.describe(ImageSignal(photos[0], "task", {1: "L", 3: "RGB"}[photos[0].shape[2]])).to_network
    generator = torch.Generator(device).manual_seed(config.seed)
    started = time.perf_counter()
    bar, completed = tqdm(range(config.meta_steps), disable=not progress, desc="meta-learning", unit="step"), 0
    for step in bar:
        done = step / config.meta_steps
        if config.seconds is not None:
            done = max(done, (time.perf_counter() - started) / config.seconds)
            if done >= 1:
                break
        packed = _packed([random_task(pictures[int(rng.integers(len(pictures)))], rng)
                          for _ in range(config.tasks_per_step)], to_network)
        fast = adapt_together(model, slow, *packed, steps=config.inner_steps, rate=config.inner_rate,
                              batch=config.batch, generator=generator, optimizer=config.inner_optimizer)
        rate = config.meta_rate * (1 - done)
        with torch.no_grad():
            for name, value in slow.items():
                value.add_(fast[name].mean(0) - value, alpha=rate)
        completed += 1
    bar.close()
    logger.info("Reptile: %d outer steps of %d tasks in %.0f s", completed, config.tasks_per_step,
                time.perf_counter() - started)
    with torch.no_grad():
        for name, parameter in model.named_parameters():
            parameter.copy_(slow[name])
    return model.cpu()


def adapt_together(model: nn.Module, start: dict[str, torch.Tensor], coords: torch.Tensor, targets: torch.Tensor,
                   counts: torch.Tensor, *, steps: int, rate: float, batch: int,
                   generator: torch.Generator | None = None, optimizer: str = "adam") -> dict[str, torch.Tensor]:
    """K copies of `model` with the parameters `start` fitted side by side, copy k to the first
    `counts[k]` rows of `coords[k]`/`targets[k]` (`_packed`), for `steps` steps of
    `optimizer` (`adam` or `sgd`) at `rate` on `batch` random rows per step: the stacked
    parameters `(K, ...)` they end at.

    The weights are stacked and every layer is a batched product (`vmap` over `functional_call`);
    the loss is the sum of the copies' own mean squared errors, so each slice's gradient is its own
    fit's, and either optimiser, elementwise, is K independent ones (tested against K plain fits)."""
    from torch.func import functional_call, vmap

    def loss(weights: dict[str, torch.Tensor], points: torch.Tensor, wanted: torch.Tensor) -> torch.Tensor:
        return ((functional_call(model, weights, (points,)) - wanted) ** 2).mean()

    losses, tasks = vmap(loss), len(counts)
    fast = {name: value.expand(tasks, *value.shape).clone().requires_grad_() for name, value in start.items()}
    step = {"adam": torch.optim.Adam, "sgd": torch.optim.SGD}[optimizer](fast.values(), lr=rate)
    for _ in range(steps):
        draws = torch.rand(tasks, batch, device=coords.device, generator=generator)
        chosen = (draws * counts[:, None]).long().clamp_max(counts[:, None] - 1)
        step.zero_grad(set_to_none=True)
        losses(fast, coords.gather(1, chosen[..., None].expand(-1, -1, 2)),
               targets.gather(1, chosen[..., None].expand(-1, -1, targets.shape[2]))).sum().backward()
        step.step()
    return {name: value.detach() for name, value in fast.items()}


def adapt(model: nn.Module, coords: torch.Tensor, targets: torch.Tensor, *, steps: int, rate: float, batch: int,
          generator: torch.Generator | None = None) -> nn.Module:
    """`model` fitted in place for `steps` Adam steps at `rate` on `batch` random pixels per
    step (the probe that measures an initialisation: the codec's first steps)."""
    optimizer = torch.optim.Adam(model.parameters(), lr=rate)
    for _ in range(steps):
        chosen = torch.randint(len(coords), (min(batch, len(coords)),), generator=generator).to(coords.device)
        optimizer.zero_grad(set_to_none=True)
        ((model(coords[chosen]) - targets[chosen]) ** 2).mean().backward()
        optimizer.step()
    return model


def task_tensors(pixels: np.ndarray) -> tuple[torch.Tensor, torch.Tensor]:
    """A task's coordinates (the codec's grid for its shape) and targets (network units)."""
    signal = ImageSignal(pixels, "task", {1: "L", 3: "RGB"}[pixels.shape[2]])
    kind = ImageKind.describe(signal)
    coords = coordinate_grid(signal.shape)
    return coords, kind.to_network(torch.from_numpy(pixels.reshape(-1, pixels.shape[2])))


def key(network: NetworkConfig) -> str:
    """The name of `network`'s initialisation in a set's file."""
    return f"c{network.out_features}-w{network.hidden_features}-l{network.hidden_layers}"


def save_set(models: dict[str, nn.Module], path: Path, *, omegas: tuple[float, float], note: str) -> None:
    """Write initialisations (by `key`) into one safetensors file, float32, with `omegas`
    (first and hidden ω0, which every member shares) and `note` in its metadata."""
    from safetensors.torch import save_file

    tensors = {f"{name}.{parameter}": value.detach().float().contiguous()
               for name, model in models.items() for parameter, value in model.state_dict().items()}
    path.parent.mkdir(parents=True, exist_ok=True)
    save_file(tensors, str(path), metadata={"first_omega": repr(omegas[0]), "hidden_omega": repr(omegas[1]),
                                            "note": note})


@functools.lru_cache(maxsize=4)
def _read_set(path: Path) -> tuple[dict[str, torch.Tensor], dict[str, str]]:
    from safetensors import safe_open

    with safe_open(str(path), framework="pt") as handle:
        return {name: handle.get_tensor(name) for name in handle.keys()}, dict(handle.metadata() or {})


def set_path(identity: int = INITIALISATION_SET) -> Path:
    return FOLDER / f"set-{identity}.safetensors"


def available(identity: int = INITIALISATION_SET) -> bool:
    return set_path(identity).is_file()


def widths(channels: int, hidden_layers: int, identity: int = INITIALISATION_SET) -> list[int]:
    """The hidden widths set `identity` holds initialisations of, for `channels` and `hidden_layers`."""
    if not available(identity):
        return []
    tensors, _ = _read_set(set_path(identity))
    prefix = f"c{channels}-w"
    found = {int(name[len(prefix):].split("-")[0]) for name in tensors if name.startswith(prefix)
             and name.split(".")[0].endswith(f"-l{hidden_layers}")}
    return sorted(found)


def initialisation(network: NetworkConfig, identity: int = INITIALISATION_SET) -> list[torch.Tensor] | None:
    """The parameters (in the network's order) of `network`'s initialisation in set `identity`,
    or None where the set has none for its architecture (or its ω0s differ from the set's)."""
    if not available(identity):
        return None
    tensors, metadata = _read_set(set_path(identity))
    if not (math.isclose(float(metadata.get("first_omega", "nan")), network.first_omega, rel_tol=1e-6)
            and math.isclose(float(metadata.get("hidden_omega", "nan")), network.hidden_omega, rel_tol=1e-6)):
        return None
    template = build_network(network, seed=0)
    names = [f"{key(network)}.{name}" for name, _ in template.named_parameters()]
    if not all(name in tensors for name in names):
        return None
    values = [tensors[name] for name in names]
    if any(v.shape != p.shape for v, p in zip(values, template.parameters())):
        return None
    return [v.clone() for v in values]


__all__ = ["INITIALISATION_SET", "MetaConfig", "TRAINING_PHOTOS", "initialisation", "reptile", "save_set", "widths"]
