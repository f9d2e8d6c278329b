"""CPU smoke runs of the shape commands at tiny sizes, and their bad inputs: one line, exit 2."""

import json

import numpy as np
import pytest
import trimesh

from conftest import assert_one_line_error
from conftest import run_cli as run

# a smooth shape needs no high frequencies: ω0 = 10 and Adam at 1e-3 settle on the sphere within 100
# steps (Chamfer-L1 0.13 to 0.15 % for seeds 0, 1, 2), where the defaults (ω0 = 30, 1e-4) find nothing yet
SETTLES = ["--steps", "100", "--width", "32", "--layers", "3", "--omega", "10", "--lr", "1e-3", "--device", "cpu",
           "--compile", "off", "--precision", "float32", "-q", "--surface-points", "1024", "--free-points", "1024"]


@pytest.fixture(scope="module")
def sphere_files(tmp_path_factory):
    folder = tmp_path_factory.mktemp("shapes")
    sphere = trimesh.creation.icosphere(subdivisions=3, radius=2.0)
    sphere.apply_translation([10.0, 0.0, -3.0])
    sphere.export(folder / "ball.obj")
    sphere.export(folder / "ball.stl")
    points, faces = trimesh.sample.sample_surface(sphere, 2000, seed=0)
    np.savetxt(folder / "ball.xyz", np.concatenate([points, sphere.face_normals[faces]], axis=1))
    return folder


def test_fit_sdf_then_mesh_then_eval_mesh(sphere_files, tmp_path, capsys):
    """A mesh input: the fit finds the sphere, measures itself against the input mesh, and its run
    folder feeds ``sirenkit mesh``, whose mesh ``sirenkit eval-mesh`` measures against the input."""
    out = tmp_path / "run"
    code, printed, err = run(["fit", "sdf", sphere_files / "ball.obj", *SETTLES, "--resolution", "24", "--out", out],
                             capsys)
    assert code == 0, err
    assert str(out / "mesh.ply") in printed
    for name in ("mesh.ply", "mesh.png", "slices.png", "loss.png", "metrics.json", "history.json",
                 "config.json", "model.safetensors", "model.json"):
        assert (out / name).is_file(), name
    metrics = json.loads((out / "metrics.json").read_text())
    assert {"chamfer_l1", "fscore", "normal_consistency", "conventions", "iou"} <= set(metrics)
    assert metrics["against"].startswith("the input mesh") and metrics["steps"] == 100
    # measured: Chamfer-L1 0.0014, F-score 1, IoU 0.99 (the sphere's diagonal is 6.9 units)
    assert metrics["chamfer_l1"] < 0.005 and metrics["fscore"] > 0.95 and metrics["iou"] > 0.95
    fitted = trimesh.load(out / "mesh.ply")
    assert np.allclose(fitted.bounds.mean(axis=0), [10.0, 0.0, -3.0], atol=0.1)  # the input's frame
    assert np.allclose(fitted.extents, 4.0, rtol=0.05)

    again = tmp_path / "again.obj"
    code, printed, err = run(["mesh", out, "--resolution", "32", "--out", again, "--device", "cpu"], capsys)
    assert code == 0, err
    radii = np.linalg.norm(trimesh.load(again).vertices - [10.0, 0.0, -3.0], axis=1)
    assert np.abs(radii - 2.0).max() < 0.05  # measured: 1.973 to 2.012
    code, printed, err = run(["eval-mesh", again, sphere_files / "ball.stl", "--samples", "20000",
                              "--json", tmp_path / "eval.json"], capsys)
    assert code == 0, err
    result = json.loads((tmp_path / "eval.json").read_text())
    # 20,000 samples set a floor of 0.0036 (the input against itself); measured 0.0037, F-score 0.998
    assert result["chamfer_l1"] < 0.005 and result["fscore"] > 0.95 and result["samples"] == 20000


def test_the_shape_commands_on_a_fitted_sphere(sphere_files, tmp_path, capsys):
    out = tmp_path / "run"
    argv = ["fit", "sdf", sphere_files / "ball.xyz", "--steps", "300", "--width", "32", "--layers", "3",
            "--omega", "10", "--lr", "1e-3", "--device", "cpu", "--compile", "off", "-q", "--surface-points", "1024",
            "--free-points", "1024", "--resolution", "32", "--out", out]
    code, printed, err = run(argv, capsys)
    assert code == 0, err
    pieces = trimesh.load(out / "mesh.ply").split(only_watertight=False)
    mesh = max(pieces, key=lambda piece: piece.area)  # short fits leave small stray pieces too
    assert np.allclose(mesh.bounds.mean(axis=0), [10.0, 0.0, -3.0], atol=0.2)  # the input's frame
    assert np.allclose(mesh.extents, 4.0, rtol=0.1)
    code, printed, _ = run(["mesh", out, "--resolution", "40", "--out", tmp_path / "again.obj", "--device", "cpu"],
                           capsys)
    assert code == 0 and "vertices" in printed
    assert trimesh.load(tmp_path / "again.obj").faces.shape[0] > 100
    code, printed, _ = run(["eval-mesh", tmp_path / "again.obj", sphere_files / "ball.stl", "--samples", "20000",
                            "--json", tmp_path / "eval.json"], capsys)
    assert code == 0 and "chamfer_l1" in printed
    result = json.loads((tmp_path / "eval.json").read_text())
    assert result["chamfer_l1"] < 0.02 and result["fscore"] > 0.5


def bad_shape_files(folder):
    (folder / "empty.xyz").touch()
    (folder / "nan.xyz").write_text("0 0 0\n1 nan 0\n" + "0.5 0.5 0.5\n" * 20)
    (folder / "four.xyz").write_text("0 0 0 1\n" * 20)
    (folder / "words.xyz").write_text("a b c\n" * 20)
    (folder / "points.obj").write_text("v 0 0 0\nv 1 0 0\nv 0 1 0\n")
    (folder / "zero.xyz").write_text("0 0 0 0 0 0\n1 0 0 0 0 0\n0 1 0 1 0 0\n" * 5)
    (folder / "cloud.las").write_text("x")
    return folder


@pytest.mark.parametrize(
    "argv, message",
    [
        (["fit", "sdf", "{tmp}/missing.xyz"], "missing.xyz: no such file"),
        (["fit", "sdf", "{tmp}/empty.xyz"], "empty.xyz: the file is empty"),
        (["fit", "sdf", "{tmp}/nan.xyz"], "nan.xyz: 1 row(s) hold NaN"),
        (["fit", "sdf", "{tmp}/four.xyz"], "expected 3 (x y z) or 6"),
        (["fit", "sdf", "{tmp}/words.xyz"], "words.xyz: not a point file"),
        (["fit", "sdf", "{tmp}/points.obj"], "points.obj: the mesh has no faces"),
        (["fit", "sdf", "{tmp}/zero.xyz"], "normal(s) have zero length"),
        (["fit", "sdf", "{tmp}/cloud.las"], "unsupported file type"),
        (["fit", "sdf", "{tmp}/four.xyz", "--weights", "1,2"], "--weights needs four"),
        (["mesh", "{tmp}", "--out", "{tmp}/x.ply"], "model.safetensors: missing"),
        (["eval-mesh", "{tmp}/points.obj", "{tmp}/points.obj"], "the mesh has no faces"),
    ],
)
def test_bad_shape_input_gives_one_line_and_exit_code_2(tmp_path, capsys, argv, message):
    bad_shape_files(tmp_path)
    code, _, err = run([a.replace("{tmp}", str(tmp_path)) for a in argv], capsys)
    assert_one_line_error(code, err, message)
    assert not (tmp_path / "x.ply").exists()
