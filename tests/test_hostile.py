"""Files made to harm: each field of sirenkit's own files (a checkpoint, a model's description, a
`.sirk` header) set to what a damaged or hostile file could say, parseable and with a valid
checksum. Every one ends in one line naming the file and exit code 2, under a 4 GB address-space
cap, within seconds: sizes are checked before anything is built from them."""

from __future__ import annotations

import json
import shutil
import struct
import subprocess
import sys
import zlib
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from conftest import assert_one_line_error, run_cli, smooth_image

TINY = ["--size", "8", "--width", "8", "--layers", "1", "--compile", "off", "--device", "cpu", "-q"]

CAP = 4 * 2**30
"""The address-space cap (`ulimit -v`) each command runs under."""


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    """A finished tiny image run with its checkpoint."""
    from sirenkit.cli import main

    out = tmp_path_factory.mktemp("hostile") / "run"
    assert main([str(a) for a in ["fit", "image", "camera", *TINY, "--steps", "3", "--out", out]]) == 0
    return out


CAPPED_RUNNER = f"""
import contextlib, io, json, resource, sys
resource.setrlimit(resource.RLIMIT_AS, ({CAP}, {CAP}))
from sirenkit.cli import main
results = []
for argv in json.loads(sys.argv[1]):
    err = io.StringIO()
    with contextlib.redirect_stderr(err):
        try:
            code = main(argv)
        except SystemExit as exit:
            code = exit.code
    results.append([code, err.getvalue()])
print(json.dumps(results))
"""
"""Runs commands one after the other in one process under the cap (one import of torch for all):
prints each one's exit code and standard error."""


def run_capped(commands: list[list[str]], timeout: float = 300) -> list[tuple[int, str]]:
    """`sirenkit ARGV` for each of `commands`, in a new process under an address-space cap of `CAP`."""
    done = subprocess.run([sys.executable, "-c", CAPPED_RUNNER, json.dumps(commands)], capture_output=True,
                          text=True, timeout=timeout)
    assert done.returncode == 0, done.stderr
    return [(code, err) for code, err in json.loads(done.stdout.strip().splitlines()[-1])]


def assert_refused_in_one_line(result: tuple[int, str], *names: str) -> None:
    code, err = result
    assert code == 2, err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("sirenkit: error:") and "Traceback" not in err, err
    assert all(name in lines[0] for name in names), lines[0]


# --- a checkpoint that parses, with a valid checksum, and says what it should not ------------------

def _mutated(state: dict, change: str) -> dict:
    model = state["model"]
    first = sorted(model)[0]
    if change == "a tensor missing":
        del model[first]
    elif change == "a tensor of another shape":
        model[first] = torch.zeros(3, 3)
    elif change == "a tensor of another type":
        model[first] = model[first].double()
    elif change == "a weight that is not finite":
        model[first] = model[first].clone().fill_(float("nan"))
    elif change == "the step as text":
        state["step"] = "3"
    elif change == "a negative step":
        state["step"] = -1
    elif change == "seconds that are not a number":
        state["seconds"] = [1]
    elif change == "a history that is not rows":
        state["history"] = {"loss": 1}
    elif change == "an optimiser moment of another shape":
        moments = next(iter(state["optimizer"]["state"].values()))
        moments["exp_avg"] = torch.zeros(5)
    elif change == "an optimiser without its state":
        state["optimizer"] = {"param_groups": "x"}
    elif change == "a random state of another size":
        state["generator"] = torch.zeros(7, dtype=torch.uint8)
    elif change == "weights that are not a dictionary":
        state["model"] = [1, 2]
    return state


CHECKPOINT_CHANGES = ["a tensor missing", "a tensor of another shape", "a tensor of another type",
                      "a weight that is not finite", "the step as text", "a negative step",
                      "seconds that are not a number", "a history that is not rows",
                      "an optimiser moment of another shape", "an optimiser without its state",
                      "a random state of another size", "weights that are not a dictionary"]


@pytest.mark.parametrize("change", CHECKPOINT_CHANGES)
def test_a_checkpoint_that_parses_but_is_wrong_is_refused_on_resume(run, change, tmp_path, capsys):
    from sirenkit.engine.checkpoint import CHECKPOINT_NAME, load_checkpoint_file, save_checkpoint_file

    folder = tmp_path / "run"
    shutil.copytree(run, folder)
    checkpoint = folder / CHECKPOINT_NAME
    save_checkpoint_file(checkpoint, _mutated(load_checkpoint_file(checkpoint), change))
    before = {path.name: path.read_bytes() for path in folder.iterdir()}
    code, _, err = run_cli(["fit", "image", "camera", *TINY, "--steps", "6", "--resume", "--out", folder], capsys)
    assert_one_line_error(code, err, str(checkpoint))
    assert "damaged checkpoint" in err or "another network" in err or "not a readable" in err, err
    assert {path.name: path.read_bytes() for path in folder.iterdir()} == before  # nothing written


def test_an_intact_checkpoint_still_resumes(run, tmp_path, capsys):
    """The checks above refuse what is wrong, not what is right (a negative control)."""
    folder = tmp_path / "run"
    shutil.copytree(run, folder)
    code, _, err = run_cli(["fit", "image", "camera", *TINY, "--steps", "6", "--resume", "--out", folder], capsys)
    assert code == 0, err
    assert json.loads((folder / "metrics.json").read_text())["steps"] == 6


# --- model descriptions of every family, sizes out of reach ------------------------------------------

@pytest.fixture(scope="module")
def families(tmp_path_factory):
    """Tiny saved models of the families whose sizes come from their own settings."""
    from sirenkit import ImageKind, NetworkConfig, build_network
    from sirenkit.engine.models import save_model

    kind = ImageKind(source="x.png", shape=(8, 8), channels=1, mode="L", extent=(1.0, 1.0))
    folders = {}
    for model, settings in {"grid": {"grid_resolution": 8, "hidden_features": 8, "hidden_layers": 1},
                            "rff": {"rff_features": 8, "hidden_features": 8, "hidden_layers": 1},
                            "hash-grid": {"grid_levels": 2, "grid_table_size": 8, "hidden_features": 8,
                                          "hidden_layers": 1}}.items():
        config = NetworkConfig(in_features=2, out_features=1, model=model, **settings)
        folder = tmp_path_factory.mktemp(model)
        save_model(folder, build_network(config, seed=0), config, kind)
        folders[model] = folder
    return folders


FAMILY_CHANGES = [("grid", "grid_resolution", 10**5), ("rff", "rff_features", 2**31),
                  ("hash-grid", "grid_levels", 10**9), ("hash-grid", "grid_table_size", 40),
                  ("hash-grid", "grid_features", 2**20), ("grid", "hidden_layers", 10**9)]


def _described_as(folder: Path, model: str, key: str, value: int) -> None:
    """Make the description inside the weights file and `model.json` beside it both say `key =
    value` (a file made to harm keeps them equal, its digest valid), so that nothing but the
    weights' own shapes can tell."""
    from safetensors.torch import load_file, save_file

    from sirenkit.engine.checkpoint import DIGEST, tensor_digest
    from sirenkit.networks.config import SHARED_FIELDS

    info = json.loads((folder / "model.json").read_text())
    (info["network"] if key in SHARED_FIELDS else info["network"][model])[key] = value
    (folder / "model.json").write_text(json.dumps(info))
    weights = load_file(str(folder / "model.safetensors"))
    save_file(weights, str(folder / "model.safetensors"),
              metadata={"format": "sirenkit-model", "info": json.dumps(info), DIGEST: tensor_digest(weights)})


# --- .sirk headers --------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def sirk(tmp_path_factory):
    from sirenkit.cli import main

    folder = tmp_path_factory.mktemp("sirk")
    Image.fromarray((smooth_image(16, 16, 1)[:, :, 0] * 255).astype(np.uint8)).save(folder / "photo.png")
    path = folder / "photo.sirk"
    assert main(["compress", str(folder / "photo.png"), "--params", "300", "--steps", "20", "--layers", "2",
                 "--out", str(path)]) == 0
    return path


def _with_field(data: bytes, offset: int, layout: str, *values) -> bytes:
    body = data[:offset] + struct.pack(layout, *values) + data[offset + struct.calcsize(layout):-4]
    return body + struct.pack("<I", zlib.crc32(body))


OPTION_CASES = {"width": ["--width", "100000"], "layers": ["--layers", "100000", "--width", "256"],
                "size": ["--size", "100000"]}
"""Options whose sizes no machine here could hold: refused before anything is allocated."""


@pytest.mark.parametrize("name", OPTION_CASES)
def test_an_option_asking_for_more_than_the_memory_is_one_line_under_a_cap(capped, name):
    results, commands, folder = capped
    assert_refused_in_one_line(results["option", name])
    assert not (folder / name / "model.safetensors").exists()


SIRK_CHANGES = [
    ("hidden width 65535", 10, "<H", (65535,)),
    ("4096 wide, 255 layers", 10, "<HB", (4096, 255)),
    ("65535 x 65535 pixels", 6, "<HH", (65535, 65535)),
    ("mode 9", 5, "<B", (9,)),
    ("an entropy model's scale of 0", 25 + 11, "<e", (0.0,)),
    ("an entropy model's scale NaN", 25 + 11, "<e", (float("nan"),)),
    ("an entropy model's location infinite", 25 + 9, "<e", (float("inf"),)),
    ("a step of 0", 25, "<f", (0.0,)),
    ("lowest above highest", 25 + 5, "<hh", (5, -5)),
]


def _sirk_with(data: bytes, change: tuple) -> bytes:
    from sirenkit.codec.format import _TENSOR

    field, offset, layout, values = change
    if "entropy model" in field:  # the first tensor coded under a Gaussian or a Laplacian
        codes = [_TENSOR.unpack_from(data, 25 + 13 * i) for i in range(6)]
        offset += 13 * next(i for i, code in enumerate(codes) if code[1] in (1, 2) and code[2] < code[3])
    return _with_field(data, offset, layout, *values)


@pytest.fixture(scope="module")
def capped(sirk, run, families, tmp_path_factory):
    """Every hostile file of this section made, and every command on them run in one capped
    process: `{case: (exit code, standard error)}`, and the folder they were made in."""
    folder = tmp_path_factory.mktemp("capped")
    commands = {}
    for change in SIRK_CHANGES:
        damaged = folder / f"{len(commands)}.sirk"
        damaged.write_bytes(_sirk_with(sirk.read_bytes(), change))
        commands[("decompress", change[0])] = ["decompress", str(damaged), "--out", str(folder / "out.png")]
        commands[("info", change[0])] = ["info", str(damaged)]
    for model, key, value in FAMILY_CHANGES:
        target = folder / f"{model}-{key}"
        shutil.copytree(families[model], target)
        _described_as(target, model, key, value)
        commands[("model", key)] = ["info", str(target)]
    for name, options in OPTION_CASES.items():
        commands[("option", name)] = ["fit", "image", "camera", "--size", "8", "--steps", "2", "--compile", "off",
                                      "-q", *options, "--out", str(folder / name)]
    commands[("intact", "sirk")] = ["decompress", str(sirk), "--out", str(folder / "intact.png")]
    commands[("intact", "run")] = ["info", str(run)]
    results = run_capped(list(commands.values()))
    return dict(zip(commands, results)), commands, folder


@pytest.mark.parametrize("change", SIRK_CHANGES, ids=[change[0] for change in SIRK_CHANGES])
@pytest.mark.parametrize("command", ["decompress", "info"])
def test_a_sirk_header_field_out_of_range_is_one_line_under_a_cap(capped, change, command):
    results, commands, folder = capped
    assert_refused_in_one_line(results[command, change[0]], commands[command, change[0]][1])
    assert not (folder / "out.png").exists()


@pytest.mark.parametrize("model, key, value", FAMILY_CHANGES)
def test_a_model_description_asking_for_more_than_its_weights_is_refused_under_a_cap(capped, model, key, value):
    results, commands, _ = capped
    assert_refused_in_one_line(results["model", key], commands["model", key][1])


def test_the_capped_commands_work_on_intact_files(capped):
    """Negative control: the cap itself leaves room for the commands above to succeed."""
    results, _, folder = capped
    assert results["intact", "sirk"][0] == 0 and results["intact", "run"][0] == 0, results
    assert (folder / "intact.png").is_file()
