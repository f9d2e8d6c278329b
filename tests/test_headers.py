"""Sizes and lengths that sound and mesh files declare in their headers: checked before anything is
read or allocated (a FLAC header may claim 2^36 samples in a few bytes), and a file cut short of
what its header declares refused by name, in the library and on the command line."""

from __future__ import annotations

import struct
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile
import trimesh

from sirenkit.signals.audio.data import load_audio
from sirenkit.signals.shape.data import load_mesh, load_point_cloud

from conftest import assert_one_line_error, run_cli

TINY = ["--steps", "2", "--width", "8", "--layers", "1", "--device", "cpu", "--compile", "off", "-q"]

TONE = np.sin(np.linspace(0, 60, 800)).astype(np.float32)
"""800 samples: a 16-bit mono WAV of it holds a 1,600-byte data chunk at byte 36."""


@pytest.fixture
def small_machine(monkeypatch):
    """A machine with 2 GB available, as far as sirenkit can tell."""
    import sirenkit.resources as resources

    monkeypatch.setattr(resources, "available_memory", lambda: 2 * 10**9)


def flac_claiming(path: Path, total_samples: int) -> Path:
    """A valid FLAC file of `TONE` whose STREAMINFO says it holds `total_samples` samples.

    STREAMINFO is the first metadata block, after `fLaC` and the block's 4-byte header; its 34
    bytes are, big-endian: 16 bits minimum and 16 maximum block size, 24 bits minimum and 24
    maximum frame size, 20 bits sample rate, 3 bits channels − 1, 5 bits bits per sample − 1,
    36 bits total samples (0: unknown), 128 bits MD5. The total is the low 36 bits of bytes
    18 to 25 of the file."""
    soundfile.write(path, TONE, 8000, format="FLAC")
    data = bytearray(path.read_bytes())
    assert data[:4] == b"fLaC" and data[4] & 0x7F == 0  # STREAMINFO first
    field = int.from_bytes(data[18:26], "big")
    assert field & (2**36 - 1) == len(TONE)
    data[18:26] = ((field & ~(2**36 - 1)) | total_samples).to_bytes(8, "big")
    path.write_bytes(data)
    return path


def wav_declaring(path: Path, data_bytes: int, *, riff_bytes: int | None = None) -> Path:
    """A 16-bit WAV file of `TONE` whose `data` chunk (and RIFF size) declares other sizes."""
    soundfile.write(path, TONE, 8000, format="WAV", subtype="PCM_16")
    data = bytearray(path.read_bytes())
    assert data[36:40] == b"data" and struct.unpack("<I", data[40:44])[0] == 2 * len(TONE)
    data[40:44] = struct.pack("<I", data_bytes)
    if riff_bytes is not None:
        data[4:8] = struct.pack("<I", riff_bytes)
    path.write_bytes(data)
    return path


def load_under_a_small_address_space(path: Path) -> str:
    """`load_audio(path)` in a fresh Python whose address space may grow by 1 GiB only after its
    imports (`ulimit -v`): what it printed, `refused: <message>` or `loaded: <shape>`. A reader that
    believes a 256 GiB header fails here with a MemoryError, not a message."""
    script = f"""
import resource
import soundfile
from sirenkit.signals.audio.data import load_audio
size = int(open("/proc/self/status").read().split("VmSize:")[1].split()[0]) * 1024
resource.setrlimit(resource.RLIMIT_AS, (size + 2**30, resource.getrlimit(resource.RLIMIT_AS)[1]))
try:
    print("loaded:", load_audio({str(path)!r}).samples.shape)
except ValueError as error:
    print("refused:", error)
"""
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout.strip()


# --- declared lengths, checked before reading -------------------------------------------------


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="reads VmSize from /proc")
@pytest.mark.parametrize("name, message", [
    ("huge.flac", "huge.flac (68,719,476,735 frames × 1 channel, 99.4 days at 8,000 Hz, as its header declares) "
                  "needs ~"),
    ("huge.wav", "huge.wav: the WAV file is cut short: its data chunk declares 4,294,967,280 bytes, "
                 "the file holds 1,600"),
])
def test_a_header_claiming_a_huge_length_is_refused_before_any_large_allocation(tmp_path, name, message):
    path = tmp_path / name
    flac_claiming(path, 2**36 - 1) if name.endswith(".flac") else wav_declaring(path, 2**32 - 16, riff_bytes=2**32 - 8)
    printed = load_under_a_small_address_space(path)
    assert printed.startswith("refused: ") and message in printed, printed
    assert "\n" not in printed


def test_the_declared_length_is_checked_against_the_memory_available(tmp_path, small_machine):
    """2^28 frames (12 bytes a sample read, 16 a frame fitted: 7.5 GB) on a 2 GB machine; the first
    second of the same file fits."""
    path = flac_claiming(tmp_path / "long.flac", 2**28)
    with pytest.raises(ValueError, match=r"long\.flac \(268,435,456 frames × 1 channel, 9\.3 hours at 8,000 Hz, "
                                         r"as its header declares\) needs ~7\.5 GB; this machine has 2\.0 GB "
                                         r"available; pass --seconds to fit only its beginning"):
        load_audio(path)
    assert load_audio(path, seconds=0.05).samples.shape == (400, 1)


def test_a_flac_that_does_not_state_its_length_is_refused_by_name(tmp_path):
    """Total samples 0 (a stream encoded from a pipe): libsndfile reports 2^63 − 1 frames, and
    soundfile cannot read the stream (it seeks after each read, and that seek fails)."""
    path = flac_claiming(tmp_path / "stream.flac", 0)
    with pytest.raises(ValueError, match=r"stream\.flac: the header does not state the length"):
        load_audio(path)


# --- a WAV file cut short ---------------------------------------------------------------------


def test_a_cut_wav_is_refused_naming_both_sizes(tmp_path):
    whole = wav_declaring(tmp_path / "whole.wav", 2 * len(TONE))
    cut = tmp_path / "cut.wav"
    cut.write_bytes(whole.read_bytes()[:44 + 800])
    assert soundfile.info(cut).frames == 400  # libsndfile reads what is left, as if that were all
    with pytest.raises(ValueError, match=r"cut\.wav: the WAV file is cut short: its data chunk declares 1,600 "
                                         r"bytes, the file holds 800$"):
        load_audio(cut)
    cut.write_bytes(whole.read_bytes()[:30])  # inside the fmt chunk
    with pytest.raises(ValueError, match=r"cut\.wav: the WAV file is cut short: its 'fmt ' chunk declares 16 "
                                         r"bytes, the file holds 10$"):
        load_audio(cut)


@pytest.mark.parametrize("make", ["stream of unknown size", "RF64", "odd length, padded", "odd length, unpadded"])
def test_wav_files_whose_data_is_all_there_load_whole(tmp_path, make):
    """Negative controls of the cut check: a stream written without its final size (data size
    all ones: libsndfile reads to the end of the file), an RF64 file (sizes in its ds64 chunk), a
    data chunk of odd length with its pad byte and without it."""
    path = tmp_path / "sound.wav"
    if make == "stream of unknown size":
        wav_declaring(path, 0xFFFFFFFF, riff_bytes=0xFFFFFFFF)
        expected = TONE[:, None]
    elif make == "RF64":
        soundfile.write(path, TONE, 8000, format="RF64", subtype="PCM_16")
        assert path.read_bytes()[:4] == b"RF64"
        expected = TONE[:, None]
    else:
        soundfile.write(path, TONE[:799], 8000, subtype="PCM_U8")  # 799 bytes of data, and a pad byte
        if make == "odd length, unpadded":
            path.write_bytes(path.read_bytes()[:-1])
        expected = soundfile.read(path, dtype="float32", always_2d=True)[0]
        assert len(expected) == 799
    loaded = load_audio(path)
    np.testing.assert_allclose(loaded.samples * loaded.scale, expected, atol=1 / 64)


# --- meshes -----------------------------------------------------------------------------------


def sphere_file(path: Path, *, encoding: str = "binary") -> Path:
    """An icosphere (42 vertices, 80 faces) in the format of `path`'s suffix (a PLY in `encoding`)."""
    sphere = trimesh.creation.icosphere(subdivisions=1)
    if path.suffix == ".ply":
        path.write_bytes(trimesh.exchange.ply.export_ply(sphere, encoding=encoding))
    else:
        sphere.export(path)
    return path


@pytest.mark.parametrize("cut, message", [
    (lambda text: text[:text.index("\n3 ") + 200], r"its header declares 42 vertices and 80 faces, "
                                                    r"the file holds 42 vertex and \d+ face lines$"),
    (lambda text: text[:text.rindex(" ")], r"its last face lists 2 of its 3 vertex indices$"),
    (lambda text: text[:300], r"its header declares 42 vertices and 80 faces, the file holds \d+ vertex and 0 face"),
], ids=["in the faces", "in the last face", "in the vertices"])
def test_a_cut_off_file_is_refused_by_name(tmp_path, cut, message):
    whole = sphere_file(tmp_path / "whole.off")
    path = tmp_path / "cut.off"
    path.write_text(cut(whole.read_text()))
    for load in (load_mesh, lambda p: load_point_cloud(p, samples=200)):
        with pytest.raises(ValueError, match=r"cut\.off: the OFF file is cut short: " + message):
            load(path)


def test_an_off_file_with_comments_and_the_counts_on_its_keyword_line_loads(tmp_path):
    """Negative control: the header's variants (comments, counts after `OFF`, blank lines, a quad)
    and more lines than declared are no cut."""
    path = tmp_path / "square.off"
    path.write_text("# a comment\nOFF 5 2 0 # counts here\n\n0 0 0\n1 0 0\n1 1 0\n0 1 0\n0 0 1\n"
                    "4 0 1 2 3\n3 0 1 4\n# the end\n")
    assert len(load_mesh(path).faces) == 3  # the quad as two triangles


@pytest.mark.parametrize("encoding", ["binary", "ascii"])
def test_a_cut_ply_file_is_refused_by_name(tmp_path, encoding):
    """A binary PLY cut right after its vertices loaded as a point cloud of them (trimesh drops an
    element with no data at all; `load_mesh`, which asks trimesh for a mesh, found no faces); an
    ASCII PLY cut anywhere in its faces loaded the faces left."""
    whole = sphere_file(tmp_path / "whole.ply", encoding=encoding)
    data = whole.read_bytes()
    end = data.index(b"end_header\n") + len(b"end_header\n")
    path = tmp_path / "cut.ply"
    if encoding == "binary":
        path.write_bytes(data[:end + 42 * 12])  # the vertices: 3 float32 each
        message = r"its header declares 42 vertex, 80 face elements, and it holds no face elements$"
    else:
        path.write_bytes(data[:len(data) - 200])
        message = r"its header declares 42 vertex, 80 face elements, a line each; the file holds 1\d\d lines$"
    with pytest.raises(ValueError, match=r"cut\.ply: the PLY file is cut short: " + message):
        load_point_cloud(path, samples=200)
    mesh_message = "the mesh has no faces" if encoding == "binary" else "the PLY file is cut short: " + message
    with pytest.raises(ValueError, match=r"cut\.ply: " + mesh_message):
        load_mesh(path)
    path.write_bytes(data[:-3])  # the last face's last index ("3 32 24 28\n" in ASCII)
    last_index = {"binary": r"not a readable PLY mesh \(PLY is unexpected length!\)",  # trimesh's own check
                  "ascii": r"the PLY file is cut short: its last face element lists 3 of its 4 values$"}
    with pytest.raises(ValueError, match=r"cut\.ply: " + last_index[encoding]):
        load_mesh(path)


def test_a_cut_binary_stl_is_refused_by_name(tmp_path):
    """Its header states the triangle count (50 bytes each); trimesh checks the length."""
    whole = sphere_file(tmp_path / "whole.stl")
    path = tmp_path / "cut.stl"
    path.write_bytes(whole.read_bytes()[:84 + 50 * 40])
    with pytest.raises(ValueError, match=r"cut\.stl"):
        load_mesh(path)


# --- on the command line ----------------------------------------------------------------------


@pytest.mark.parametrize("name, argv, message", [
    ("huge.flac", ["fit", "audio"], "huge.flac (68,719,476,735 frames × 1 channel"),
    ("cut.wav", ["fit", "audio"], "cut.wav: the WAV file is cut short: its data chunk declares 1,600 bytes, "
                                  "the file holds 800"),
    ("cut.off", ["fit", "sdf"], "cut.off: the OFF file is cut short: its header declares 42 vertices and 80 faces"),
])
def test_a_file_cut_or_claiming_too_much_on_the_command_line_is_one_line(tmp_path, capsys, small_machine, name,
                                                                          argv, message):
    path = tmp_path / name
    if name == "huge.flac":
        flac_claiming(path, 2**36 - 1)
    elif name == "cut.wav":
        path.write_bytes(wav_declaring(tmp_path / "whole.wav", 2 * len(TONE)).read_bytes()[:44 + 800])
    else:
        text = sphere_file(tmp_path / "whole.off").read_text()
        path.write_text(text[:text.index("\n3 ") + 200])  # in its faces: the faces left loaded
    code, _, err = run_cli([*argv, path, *TINY, "--out", tmp_path / "run"], capsys)
    assert_one_line_error(code, err, message)
    assert not (tmp_path / "run").exists()
