"""sirenkit: sinusoidal representation networks (SIREN, Sitzmann et al. 2020).

One network is fitted per signal; its weights are the signal, as a continuous, differentiable
function of coordinates. Quick start:

```python
import sirenkit
fitted = sirenkit.fit_image("camera", size=256, out="runs/camera")  # the default recipe, about a minute
print(fitted.metrics["psnr"])
loaded = sirenkit.load("runs/camera")                  # loaded.kind: an ImageKind
big = loaded.render(size=(1024, 1024))                 # (H, W, C) in [0, 1]
```

Every command of the `sirenkit` tool is one call here: `fit image|audio|video|sdf` →
[`fit_image`][sirenkit.fit_image], [`fit_audio`][sirenkit.fit_audio], [`fit_video`][sirenkit.fit_video],
[`fit_sdf`][sirenkit.fit_sdf]; `poisson` → [`fit_poisson`][sirenkit.fit_poisson]; `fuse` →
[`fuse_images`][sirenkit.fuse_images]; `compare` → [`compare_models`][sirenkit.compare_models]; `render` →
[`render`][sirenkit.render.render]; `mesh` → [`extract_mesh`][sirenkit.extract_mesh]; `eval-mesh` →
[`compare_meshes`][sirenkit.compare_meshes] on [`load_mesh`][sirenkit.load_mesh]; `info` →
[`load`][sirenkit.load]; `example` → [`run_example`][sirenkit.run_example]. A problem of your own:
[`solve`][sirenkit.solve].
"""


from sirenkit import networks, signals  # noqa: F401  (every built-in family and kind registered)
from sirenkit.codec.weights import CodecError, Compressed, compress, decompress
from sirenkit.engine.config import TrainConfig
from sirenkit.engine.folders import ManyResult, fit_many
from sirenkit.engine.kinds import KINDS, Fitted, SignalKind, register_kind
from sirenkit.engine.loop import FitResult, TrainingDiverged, TrainingInterrupted
from sirenkit.engine.models import load, save_model
from sirenkit.engine.parallel import DataParallel, data_parallel
from sirenkit.engine.runs import FitPlan, fit_signal
from sirenkit.engine.schedule import learning_rate
from sirenkit.engine.single import fit
from sirenkit.engine.stacked import fit_batched
from sirenkit.metrics import Metric, compare_meshes, ms_ssim, psnr, ssim, texture_correlation
from sirenkit.networks.build import (
    MLP,
    FourierFeatures,
    PositionalEncoding,
    Siren,
    build_network,
    count_parameters,
    parameter_count,
)
from sirenkit.networks.config import MODEL_NAMES, NetworkConfig
from sirenkit.networks.derivatives import Derivatives, autograd_derivatives, derivatives
from sirenkit.networks.evaluate import evaluate_points
from sirenkit.networks.family import NetworkFamily, family_of
from sirenkit.networks.registry import FAMILIES, get_family, model_names, register_family
from sirenkit.networks.siren import adjoint_derivatives, forward_derivatives
from sirenkit.problems.adaptive import Adaptive
from sirenkit.problems.causal import causal
from sirenkit.problems.conditions import (
    FacingPairs,
    dirichlet,
    initial_value,
    initial_velocity,
    neumann,
    periodic,
    robin,
)
from sirenkit.problems.constraints import Constraint, Fields, Problem
from sirenkit.problems.domains import Box, BoxBoundary, GridSamples, PointSet, Sampler
from sirenkit.problems.geometry import Difference, Disk, Geometry, Intersection, Interval, Polygon, Rectangle, Union
from sirenkit.problems.spacetime import Boundary, Final, Initial, Interior, SpaceTime
from sirenkit.render import render
from sirenkit.signals.audio.fit import fit_audio
from sirenkit.signals.audio.kind import AudioKind
from sirenkit.signals.image.data import ImageSignal, coordinate_grid, image_gradient, image_laplacian, load_image
from sirenkit.signals.image.fit import ImageFit, fit_image, image_train_config
from sirenkit.signals.image.kind import ImageKind, render_image
from sirenkit.signals.problem import ProblemKind
from sirenkit.signals.shape.data import load_mesh, load_point_cloud
from sirenkit.signals.shape.fit import (
    extract_mesh,
    fit_sdf,
)
from sirenkit.signals.shape.kind import SdfConfig, ShapeKind
from sirenkit.signals.video.fit import fit_video
from sirenkit.signals.video.kind import VideoKind
from sirenkit.studies.compare import compare_models
from sirenkit.studies.examples import run_example
from sirenkit.studies.fusion import fuse_images
from sirenkit.studies.poisson import fit_poisson
from sirenkit.studies.recipe import Recipe, default_recipe
from sirenkit.studies.solve import Solution, solve
from sirenkit.version import __version__

LoadedModel = Fitted
"""The former name of [`Fitted`][sirenkit.Fitted], what [`load`][sirenkit.load] returns; kept so
that old code runs.
"""

__all__ = [
    "__version__", "FAMILIES", "KINDS", "MLP", "MODEL_NAMES", "Adaptive", "AudioKind", "Boundary", "Box",
    "BoxBoundary", "CodecError", "Compressed", "Constraint", "DataParallel", "Derivatives", "Difference", "Disk",
    "FacingPairs", "Fields", "Final", "FitPlan", "FitResult", "Fitted", "FourierFeatures", "Geometry", "GridSamples",
    "ImageFit", "ImageKind", "ImageSignal", "Initial", "Interior", "Intersection", "Interval", "LoadedModel",
    "ManyResult", "Metric", "NetworkConfig", "NetworkFamily", "PointSet", "Polygon", "PositionalEncoding", "Problem",
    "ProblemKind", "Recipe", "Rectangle", "Sampler", "SdfConfig", "ShapeKind", "SignalKind", "Siren", "Solution",
    "SpaceTime", "TrainConfig", "TrainingDiverged", "TrainingInterrupted", "Union", "VideoKind", "adjoint_derivatives",
    "autograd_derivatives", "build_network", "causal", "compare_meshes", "compare_models", "compress",
    "coordinate_grid", "count_parameters", "data_parallel", "decompress", "default_recipe", "derivatives", "dirichlet",
    "evaluate_points", "extract_mesh", "family_of", "fit", "fit_audio", "fit_batched", "fit_image", "fit_many",
    "fit_poisson", "fit_sdf", "fit_signal", "fit_video", "forward_derivatives", "fuse_images", "get_family",
    "image_gradient", "image_laplacian", "image_train_config", "initial_value", "initial_velocity", "learning_rate",
    "load", "load_image", "load_mesh", "load_point_cloud", "model_names", "ms_ssim", "neumann", "parameter_count",
    "periodic", "psnr", "register_family", "register_kind", "render", "render_image", "robin", "run_example",
    "save_model", "solve", "ssim", "texture_correlation",
]
