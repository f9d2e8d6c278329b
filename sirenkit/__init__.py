"""sirenkit: sinusoidal representation networks (SIREN, Sitzmann et al. 2020).

One network is fitted per signal; its weights are the signal, as a continuous, differentiable
function of coordinates. Quick start::

    import sirenkit
    fitted = sirenkit.fit_image("camera", size=256, out="runs/camera")  # the default recipe, about a minute
    print(fitted.metrics["psnr"])
    loaded = sirenkit.load("runs/camera")
    big = sirenkit.render_image(loaded, size=(1024, 1024))   # (H, W, C) in [0, 1]
"""

__version__ = "0.1.0"

from .config import MODEL_NAMES, NetworkConfig, TrainConfig  # noqa: E402
from .constraints import Box, BoxBoundary, Constraint, Fields, GridSamples, PointSet, Problem, Sampler  # noqa: E402
from .derivatives import Derivatives, autograd_derivatives, derivatives  # noqa: E402
from .families import FAMILIES, NetworkFamily, family_of, get_family, model_names, register_family  # noqa: E402
from .families.siren import adjoint_derivatives, forward_derivatives  # noqa: E402
from .image import (  # noqa: E402
    ImageSignal, coordinate_grid, image_gradient, image_laplacian, load_image,
)
from .io import LoadedModel, load, save_model  # noqa: E402
from .metrics import psnr, ssim  # noqa: E402
from .network import (  # noqa: E402
    MLP, FourierFeatures, PositionalEncoding, Siren, build_network, count_parameters, parameter_count,
)
from .render import evaluate_points, render_image  # noqa: E402
from .tasks.image import ImageFit, compare_models, fit_image, image_train_config  # noqa: E402
from .solve import Solution, solve  # noqa: E402
from .training import FitResult, TrainingDiverged, TrainingInterrupted, fit, learning_rate  # noqa: E402

__all__ = [
    "FAMILIES", "NetworkFamily", "family_of", "get_family", "model_names", "parameter_count", "register_family",
    "MLP", "MODEL_NAMES", "Box", "BoxBoundary", "Constraint", "Sampler", "Solution", "solve", "Derivatives", "Fields", "FitResult", "FourierFeatures",
    "ImageFit", "ImageSignal", "LoadedModel", "NetworkConfig", "GridSamples", "PointSet", "PositionalEncoding",
    "Problem", "Siren", "TrainConfig", "TrainingDiverged", "TrainingInterrupted",
    "adjoint_derivatives", "autograd_derivatives", "build_network", "compare_models", "coordinate_grid", "count_parameters",
    "derivatives", "evaluate_points", "fit", "fit_image", "forward_derivatives", "image_gradient",
    "image_laplacian", "image_train_config", "learning_rate", "load", "load_image", "psnr", "render_image", "save_model",
    "ssim",
]
