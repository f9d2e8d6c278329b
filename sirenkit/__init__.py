"""sirenkit: sinusoidal representation networks (SIREN, Sitzmann et al. 2020).

One network is fitted per signal; its weights are the signal, as a continuous, differentiable
function of coordinates. Quick start::

    import sirenkit
    fitted = sirenkit.fit_image("camera", size=256, out="runs/camera")  # the default recipe, about a minute
    print(fitted.metrics["psnr"])
    loaded = sirenkit.load("runs/camera")                  # loaded.kind: an ImageKind
    big = loaded.render(size=(1024, 1024))                 # (H, W, C) in [0, 1]

Every command of the ``sirenkit`` tool is one call here: ``fit image|audio|video|sdf`` →
:func:`fit_image`, :func:`fit_audio`, :func:`fit_video`, :func:`fit_sdf`; ``poisson`` →
:func:`fit_poisson`; ``fuse`` → :func:`fuse_images`; ``compare`` → :func:`compare_models`;
``render`` → :func:`render`; ``mesh`` → :func:`extract_mesh`; ``eval-mesh`` →
:func:`compare_meshes` on :func:`load_mesh`; ``info`` → :func:`load`; ``example`` →
:func:`run_example`. A problem of your own: :func:`solve`.
"""

__version__ = "0.1.0"  # the one place the version is written: pyproject.toml reads it ([tool.setuptools.dynamic])

from .batched import fit_batched  # noqa: E402
from .codec import CodecError, Compressed, compress, decompress  # noqa: E402
from .config import MODEL_NAMES, NetworkConfig, TrainConfig  # noqa: E402
from .constraints import Box, BoxBoundary, Constraint, Fields, GridSamples, PointSet, Problem, Sampler  # noqa: E402
from .derivatives import Derivatives, autograd_derivatives, derivatives  # noqa: E402
from .examples import run_example  # noqa: E402
from .families import FAMILIES, NetworkFamily, family_of, get_family, model_names, register_family  # noqa: E402
from .families.siren import adjoint_derivatives, forward_derivatives  # noqa: E402
from .fitting import fit_signal  # noqa: E402
from .image import ImageSignal, coordinate_grid, image_gradient, image_laplacian, load_image  # noqa: E402
from .io import load, save_model  # noqa: E402
from .kinds import KINDS, Fitted, SignalKind, register_kind  # noqa: E402
from .kinds.audio import AudioKind  # noqa: E402
from .kinds.image import ImageKind, render_image  # noqa: E402
from .kinds.problem import ProblemKind  # noqa: E402
from .kinds.shape import SdfConfig, ShapeKind  # noqa: E402
from .kinds.video import VideoKind  # noqa: E402
from .many import ManyResult, fit_many  # noqa: E402
from .mesh import extract_mesh  # noqa: E402
from .metrics import compare_meshes, ms_ssim, psnr, ssim, texture_correlation  # noqa: E402
from .network import (  # noqa: E402
    MLP,
    FourierFeatures,
    PositionalEncoding,
    Siren,
    build_network,
    count_parameters,
    parameter_count,
)
from .parallel import DataParallel, data_parallel  # noqa: E402
from .pointcloud import load_mesh, load_point_cloud  # noqa: E402
from .render import evaluate_points, render  # noqa: E402
from .solve import Solution, solve  # noqa: E402
from .tasks.audio import fit_audio  # noqa: E402
from .tasks.fusion import fuse_images  # noqa: E402
from .tasks.image import ImageFit, compare_models, fit_image, image_train_config  # noqa: E402
from .tasks.poisson import fit_poisson  # noqa: E402
from .tasks.sdf import fit_sdf  # noqa: E402
from .tasks.video import fit_video  # noqa: E402
from .training import FitResult, TrainingDiverged, TrainingInterrupted, fit, learning_rate  # noqa: E402

LoadedModel = Fitted
"""The former name of what :func:`load` returns."""

__all__ = [
    "FAMILIES", "KINDS", "MLP", "MODEL_NAMES", "AudioKind", "Box", "BoxBoundary", "CodecError", "Compressed",
    "Constraint", "DataParallel", "Derivatives", "Fields", "FitResult", "Fitted", "FourierFeatures", "GridSamples",
    "ImageFit", "ImageKind", "ImageSignal", "LoadedModel", "ManyResult", "NetworkConfig", "NetworkFamily", "PointSet",
    "PositionalEncoding", "Problem", "ProblemKind", "Sampler", "SdfConfig", "ShapeKind", "SignalKind", "Siren",
    "Solution", "TrainConfig", "TrainingDiverged", "TrainingInterrupted", "VideoKind", "adjoint_derivatives",
    "autograd_derivatives", "build_network", "compare_meshes", "compare_models", "compress", "coordinate_grid",
    "count_parameters", "data_parallel", "decompress", "derivatives", "evaluate_points", "extract_mesh", "family_of",
    "fit", "fit_audio", "fit_batched", "fit_image", "fit_many", "fit_poisson", "fit_sdf", "fit_signal", "fit_video",
    "forward_derivatives", "fuse_images", "get_family", "image_gradient", "image_laplacian", "image_train_config",
    "learning_rate", "load", "load_image", "load_mesh", "load_point_cloud", "model_names", "ms_ssim", "parameter_count",
    "psnr", "register_family", "register_kind", "render", "render_image", "run_example", "save_model", "solve", "ssim",
    "texture_correlation",
]
