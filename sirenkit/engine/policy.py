"""Device, precision and compile policy: what a run asks for, resolved on the machine it runs on."""

from __future__ import annotations

import importlib.util
import logging
import shutil
from collections.abc import Callable

import torch
from torch import nn

from sirenkit.engine.config import TrainConfig
from sirenkit.networks.family import family_of

logger = logging.getLogger("sirenkit")


def resolve_device(name: str) -> torch.device:
    """`auto` → CUDA when available, else CPU; anything else is checked."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        device = torch.device(name)
    except RuntimeError as error:
        raise ValueError(f"unknown device {name!r}; expected auto, cpu or cuda") from error
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ValueError("device cuda was asked for, but PyTorch sees no CUDA GPU here")
    if device.type not in ("cpu", "cuda"):
        raise ValueError(f"unsupported device {name!r}; expected auto, cpu or cuda")
    return device


def native_bfloat16(device: torch.device) -> bool:
    """Whether `device` multiplies bfloat16 matrices in hardware: a GPU from Ampere on, or a CPU
    with AVX-512 BF16 or AMX (elsewhere bfloat16 is emulated and slower than float32)."""
    if device.type == "cuda":
        return torch.cuda.get_device_capability(device)[0] >= 8
    try:
        with open("/proc/cpuinfo") as info:
            flags = next((line for line in info if line.startswith("flags")), "").split()
    except OSError:
        return False
    return "avx512_bf16" in flags or "amx_bf16" in flags


def warn_if_emulated(precision: str, device: torch.device) -> None:
    """A warning when bfloat16 was asked for where the hardware only emulates it: there a step is
    tens of times slower than in float32 (30 steps of camera 256²: 79 s against 1.5 s on a 2-core
    AVX2 EPYC), which `precision="auto"` would have chosen."""
    if precision == "bfloat16" and not native_bfloat16(device):
        where = "this GPU (before Ampere)" if device.type == "cuda" else "this CPU (no AVX-512 BF16 or AMX)"
        logger.warning("bfloat16 is emulated on %s: each step is tens of times slower than in float32; "
                       "precision auto (the default) would use float32 here", where)


def resolve_precision(config: TrainConfig, device: torch.device, model: nn.Module | None = None) -> str:
    """`float32` or `bfloat16`: the precision `config` asks for on `device`; `auto` keeps
    float32 for a family whose precision policy excludes bfloat16."""
    if config.precision == "auto":
        family = family_of(model) if model is not None else None
        allowed = family is None or family.bfloat16
        return "bfloat16" if allowed and native_bfloat16(device) else "float32"
    return config.precision


GPU_MEMORY_SHARE = 0.5
"""The most of a GPU's free memory a default recipe's batch may take for its activations."""


def gpu_points(points: int, bytes_per_point: int, device: torch.device, *,
               free_bytes: int | None = None) -> int | None:
    """Points per step of a default recipe on a GPU: every point (`None`) when their activations
    (`bytes_per_point` each) fit in `GPU_MEMORY_SHARE` of the free memory, else the largest
    power of two that does. A GPU runs a step of a few thousand points in about the time of one of
    a few hundred thousand, so the CPU's batch would leave it mostly idle. `None` too on a CPU,
    where the recipe's own batch holds (the caller keeps it)."""
    if device.type != "cuda":
        return None
    if free_bytes is None:
        free_bytes = torch.cuda.mem_get_info(device)[0]
    fitting = int(GPU_MEMORY_SHARE * free_bytes) // max(bytes_per_point, 1)
    if points <= fitting:
        return None
    return 1 << max(fitting, 1).bit_length() - 1


COMPILE_POINTS = 8192
"""Points per step from which `compile="auto"` compiles a run of values only (half as many with
derivatives)."""


COMPILE_SECONDS = 60.0
"""A time budget below this is not compiled by `compile="auto"`: compiling takes 10 to 40 s of it
on a CPU, more than a step 1.8 to 3.4 times faster repays in a short run (under pytest a 2.25 s
image fit ran 5 steps compiled)."""


def compiled(function: Callable, device: torch.device) -> Callable:
    """`torch.compile(function)`; on a CPU, its loops read the thread count when they run rather
    than when they were compiled, so that `sirenkit.engine.threads` can change it during a fit."""
    if device.type == "cpu":
        return torch.compile(function, options={"cpp.dynamic_threads": True})
    return torch.compile(function)


def compiler_available(device: torch.device) -> bool:
    """Whether `torch.compile`'s default backend can build kernels for `device` here."""
    if device.type == "cuda":
        return importlib.util.find_spec("triton") is not None
    return shutil.which("cc") is not None or shutil.which("gcc") is not None or shutil.which("g++") is not None


def _use_compile(config: TrainConfig, device: torch.device, points_per_step: int, *,
                 derivatives: bool = False, double_backward: bool = False) -> bool:
    if config.compile == "auto":
        # Compiling costs 10 to 40 seconds on a CPU; it repays itself on runs of a few hundred
        # steps of thousands of points (a compiled step is 1.8 to 3.4 times faster; see the bench).
        # A point with derivatives costs several plain ones, so half as many are enough: the
        # Laplacian's 4,096 pixels and 128 boxes per step ran 2,673 steps in 540 s compiled
        # against 1,954 eagerly (camera 256², 2-core Xeon, float32).
        # torch.compile cannot differentiate twice (aot_autograd): a derivative constraint on a
        # network that goes through autograd would only fail to compile and fall back.
        least = COMPILE_POINTS // 2 if derivatives else COMPILE_POINTS
        long_enough = config.time_budget is None or config.time_budget >= COMPILE_SECONDS
        return (compiler_available(device) and config.steps >= 200 and points_per_step >= least
                and not double_backward and long_enough)
    return bool(config.compile)
