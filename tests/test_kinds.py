"""Signal kinds: typed specs in model.json, and a new kind defined in one place (this file), fitted,
saved, loaded and rendered through the public API."""

from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import pytest
import torch

import sirenkit as sk
from sirenkit.engine.kinds import KINDS


@dataclass(frozen=True)
class Volume:
    """A scalar field sampled on an ``(D, H, W)`` grid over [-1, 1]³."""

    values: np.ndarray
    name: str


@sk.register_kind
@dataclass(frozen=True, kw_only=True)
class VolumeKind(sk.SignalKind):
    """A new kind in one module: a 3D scalar field, fitted on its grid, rendered at any resolution."""

    name: ClassVar[str] = "volume-test"
    in_features: ClassVar[int] = 3
    suffixes: ClassVar[tuple[str, ...]] = (".npy",)
    render_options: ClassVar[tuple[str, ...]] = ("size",)

    shape: tuple[int, int, int]

    @property
    def out_features(self) -> int:
        return 1

    def train_config(self) -> sk.TrainConfig:
        return sk.TrainConfig(steps=200, learning_rate=1e-3, compile=False, log_every=50)

    def problem(self, signal: Volume, *, batch_size: int | None, device: torch.device) -> sk.Problem:
        domain = sk.GridSamples(self.shape, {"target": torch.from_numpy(signal.values.reshape(-1, 1)).to(device)},
                                batch_size=batch_size)
        return sk.Problem([sk.Constraint("volume", lambda f: f.value - f.data["target"], domain)])

    def render(self, model: torch.nn.Module, *, size: tuple[int, int, int] | None = None) -> np.ndarray:
        shape = self.shape if size is None else tuple(size)
        grid = sk.GridSamples(shape)
        coords = grid.coordinates(torch.arange(grid.size))
        return sk.evaluate_points(model, coords).numpy().reshape(shape)

    def measure(self, rendered: np.ndarray, signal: Volume, *, final: bool = True) -> dict[str, Any]:
        return {"rmse": float(np.sqrt(np.mean((rendered - signal.values) ** 2)))}

    def write_run(self, fitted: sk.Fitted, signal: Volume, out: Path) -> None:
        np.save(out / "reconstruction.npy", fitted.products["reconstruction"])

    def write_rendering(self, rendered: np.ndarray, path: Path, **sampling: Any) -> str:
        np.save(path, rendered)
        return f"{rendered.shape} values"


def ball(shape=(8, 8, 8)) -> Volume:
    axes = [np.linspace(-1, 1, n) for n in shape]
    z, y, x = np.meshgrid(*axes, indexing="ij")
    return Volume(np.exp(-2 * (x**2 + y**2 + z**2)).astype(np.float32), "ball")


def test_a_kind_defined_in_a_test_fits_saves_loads_and_renders(tmp_path):
    volume = ball()
    kind = VolumeKind(source=volume.name, shape=volume.values.shape)
    network = kind.network(hidden_features=32, hidden_layers=2, first_omega=5.0)
    fitted = sk.fit_signal(kind, volume, network=network, out=tmp_path / "run", progress=False)
    assert fitted.metrics["rmse"] < 0.02, fitted.metrics
    assert [row["rmse"] for row in fitted.history][-1] < fitted.history[0]["rmse"]  # the kind's own progress
    loaded = sk.load(tmp_path / "run")
    assert loaded.kind == kind  # typed, from model.json
    assert np.allclose(loaded.render(), np.load(tmp_path / "run" / "reconstruction.npy"), atol=1e-6)
    summary = sk.render(tmp_path / "run", tmp_path / "fine.npy", size=(15, 15, 15))
    fine = np.load(tmp_path / "fine.npy")
    assert fine.shape == (15, 15, 15) and "values" in summary
    assert np.abs(fine[::2, ::2, ::2] - loaded.render()).max() < 1e-5  # the same continuous function
    with pytest.raises(ValueError, match="--rate does not apply to a volume-test model"):
        sk.render(tmp_path / "run", tmp_path / "x.npy", rate=10)


def test_every_built_in_kind_survives_its_json_round_trip():
    specs = [
        sk.ImageKind(source="a.png", shape=(3, 5), channels=3, mode="RGB", extent=(1.0, 0.5)),
        sk.AudioKind(source="a.wav", rate=8000, samples=100, channels=2, scale=0.5),
        sk.VideoKind(source="a.gif", shape=(4, 3, 5), channels=1, fps=12.5),
        sk.ShapeKind(source="a.obj", center=(1.0, 2.0, 3.0), scale=0.25, normals_estimated=True),
        sk.ProblemKind(source="wave", title="wave", terms=("pde", "walls"), outputs=1, settings={"k": 10.0}),
    ]
    import json

    from sirenkit.engine.kinds import kind_from_json

    for spec in specs:
        assert spec.name in KINDS
        assert kind_from_json(json.loads(json.dumps(spec.to_json()))) == spec, spec.name


def test_a_problem_written_before_kinds_still_loads_its_name_and_settings():
    from sirenkit.engine.kinds import kind_from_json

    old = {"kind": "problem", "name": "helmholtz", "wavenumber": 10.0, "source_width": 0.04}
    spec = kind_from_json(old)
    assert isinstance(spec, sk.ProblemKind) and spec.title == "helmholtz"
    assert spec.settings == {"wavenumber": 10.0, "source_width": 0.04}
