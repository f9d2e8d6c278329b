"""Audio: reading and writing every format, the time axis and resampling on an exact function,
fits of a chord, a chirp and real speech, the CLI and its bad inputs."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
import soundfile
import torch
from torch import nn

from sirenkit.engine.config import TrainConfig
from sirenkit.engine.frequency import RATIOS
from sirenkit.engine.models import load
from sirenkit.signals.audio.data import AudioSignal, load_audio, snr, time_coordinates, waveform_psnr, write_audio
from sirenkit.signals.audio.fit import audio_network, fit_audio, render_audio
from sirenkit.signals.audio.kind import AudioKind

from conftest import assert_one_line_error, run_cli

SPEECH = Path(__file__).parent / "data" / "speech.wav"


def chord(seconds: float = 0.25, rate: int = 8000) -> np.ndarray:
    t = np.arange(int(seconds * rate)) / rate
    return (0.5 * np.sin(2 * np.pi * 220 * t) + 0.3 * np.sin(2 * np.pi * 277.2 * t)
            + 0.2 * np.sin(2 * np.pi * 329.6 * t)).astype(np.float32)


def chirp(seconds: float = 0.25, rate: int = 8000) -> np.ndarray:
    t = np.arange(int(seconds * rate)) / rate
    return (0.8 * np.sin(2 * np.pi * (100 * t + 0.5 * 1600 * t**2 / seconds))).astype(np.float32)


def signal_of(samples: np.ndarray, rate: int) -> AudioSignal:
    samples = samples.reshape(len(samples), -1)
    scale = float(np.abs(samples).max())
    return AudioSignal(samples / scale, rate, scale, "synthetic")


def short_fit(signal: AudioSignal, steps: int, **network):
    train = TrainConfig(steps=steps, learning_rate=1e-3, precision="float32", compile=False, device="cpu",
                        log_every=steps)
    return fit_audio(signal, network=audio_network(signal, **network), train=train, progress=False)


@pytest.mark.parametrize("suffix", [".wav", ".flac", ".ogg"])
@pytest.mark.parametrize("channels", [1, 2])
def test_every_format_round_trips_with_its_scale(tmp_path, suffix, channels):
    samples = np.stack([chord(), chirp()][:channels], axis=1) * 0.5  # peak below 1: the scale is kept
    path = write_audio(tmp_path / f"sound{suffix}", samples, 8000)
    signal = load_audio(path)
    assert signal.rate == 8000 and signal.channels == channels and len(signal.samples) == len(samples)
    assert np.abs(signal.samples).max() == pytest.approx(1.0)
    restored = signal.samples * signal.scale
    tolerance = 0.05 if suffix == ".ogg" else 1e-4  # Vorbis is lossy, 16-bit PCM is not far off
    assert np.abs(restored - samples).mean() < tolerance
    assert not list(tmp_path.glob(".*part*"))


def test_the_first_seconds_only(tmp_path):
    path = write_audio(tmp_path / "a.wav", chord(1.0), 8000)
    assert len(load_audio(path, seconds=0.5).samples) == 4000


def test_the_bundled_chirp_goes_by_its_name_where_no_file_has_it(tmp_path, monkeypatch, capsys):
    """``chirp`` is made, not read: the 16-bit samples of its formula (tested against soundfile's own
    WAV of it); the fit records it by name; a file called ``chirp`` wins."""
    signal = load_audio("chirp")
    assert (signal.name, signal.rate, signal.samples.shape) == ("chirp", 16000, (48000, 1))
    assert np.abs(signal.samples).max() == 1.0 and len(load_audio("chirp", seconds=0.5).samples) == 8000
    t = np.arange(48000) / 16000
    formula = 0.3 * np.sin(2 * np.pi * 440 * t) + 0.2 * np.sin(2 * np.pi * (200 * t + 300 * t**2))
    soundfile.write(tmp_path / "tones.wav", formula.astype(np.float32), 16000)
    assert np.array_equal(load_audio(tmp_path / "tones.wav").samples, signal.samples)
    monkeypatch.chdir(tmp_path)
    code, _, err = run_cli(["fit", "audio", "chirp", "--seconds", "0.05", *TINY], capsys)
    assert code == 0, err
    config = json.loads((tmp_path / "runs" / "audio-chirp" / "config.json").read_text())
    assert config["inputs"]["source"] == {"name": "chirp"}
    code, _, err = run_cli(["fit", "audio", "chrip", *TINY], capsys)
    assert_one_line_error(code, err, "chrip: no such file, and not a bundled sound name (chirp)")
    soundfile.write(tmp_path / "chirp", chord(0.1), 8000, format="WAV")
    assert load_audio("chirp").rate == 8000  # the file, not the bundled sound


def test_time_coordinates_span_minus_one_to_one():
    coords = time_coordinates(5)
    assert coords.shape == (5, 1) and torch.allclose(coords[:, 0], torch.tensor([-1.0, -0.5, 0.0, 0.5, 1.0]))


class ExactTone(nn.Module):
    """``sin(2π f s)`` where ``s`` is the time in seconds that a coordinate stands for."""

    def __init__(self, frequency: float, samples: int, rate: int) -> None:
        super().__init__()
        self.frequency, self.samples, self.rate = frequency, samples, rate
        self.dummy = nn.Parameter(torch.zeros(1))

    def forward(self, coords: torch.Tensor) -> torch.Tensor:
        seconds = (coords + 1) / 2 * (self.samples - 1) / self.rate
        return torch.sin(2 * np.pi * self.frequency * seconds) + 0 * self.dummy


def test_rendering_at_another_rate_keeps_the_timing():
    samples, rate = 8000, 8000
    kind = AudioKind(source="tone", rate=rate, samples=samples, channels=1, scale=1.0)
    for new_rate in (8000, 22050, 3000):
        rendered = kind.render(ExactTone(440.0, samples, rate), rate=new_rate)
        assert len(rendered) == round(samples * new_rate / rate)
        expected = np.sin(2 * np.pi * 440.0 * np.arange(len(rendered)) / new_rate)
        assert np.abs(rendered[:, 0] - expected).max() < 1e-3, new_rate


def test_metrics_on_known_errors():
    reference = np.ones((100, 1), np.float32) * 0.5
    assert snr(reference * 1.1, reference) == pytest.approx(20.0)  # error 10 % of the amplitude
    assert waveform_psnr(reference + 0.01, reference) == pytest.approx(40.0)


@pytest.mark.parametrize("make, steps, expected", [(chord, 300, 40.0), (chirp, 300, 40.0)])
def test_a_chord_and_a_chirp_are_fitted(make, steps, expected):
    fitted = short_fit(signal_of(make(), 8000), steps, hidden_features=64, hidden_layers=3)
    assert fitted.metrics["snr"] > expected, fitted.metrics["snr"]


def test_stereo_gets_one_output_per_channel():
    signal = signal_of(np.stack([chord(0.1), chirp(0.1)], axis=1), 8000)
    fitted = short_fit(signal, 5, hidden_features=16, hidden_layers=2)
    assert fitted.network.out_features == 2
    assert render_audio(fitted).shape == (800, 2)


def test_real_speech_is_fitted():
    signal = load_audio(SPEECH, seconds=0.5)
    assert signal.rate == 22050
    fitted = short_fit(signal, 400, hidden_features=128, hidden_layers=3)
    assert fitted.metrics["snr"] > 17.0, fitted.metrics["snr"]  # 21.7 dB measured


@pytest.mark.skipif(shutil.which("espeak-ng") is None,
                    reason="espeak-ng is not installed (Debian package espeak-ng); tests/data/speech.wav "
                           "is the recording that always runs")
def test_speech_synthesised_now_by_espeak_ng(tmp_path):
    path = tmp_path / "said.wav"
    subprocess.run(["espeak-ng", "-w", str(path), "Hello"], check=True, capture_output=True)
    signal = load_audio(path, seconds=0.3)
    fitted = short_fit(signal, 300, hidden_features=128, hidden_layers=3)
    assert fitted.metrics["snr"] > 12.0, fitted.metrics["snr"]


TINY = ["--steps", "4", "--width", "16", "--layers", "2", "--device", "cpu", "--compile", "off", "-q"]


def test_cli_fit_audio_then_render_at_another_rate(tmp_path, capsys):
    out = tmp_path / "run"
    code, printed, err = run_cli(["fit", "audio", SPEECH, "--seconds", "0.2", *TINY, "--out", out], capsys)
    assert code == 0, err
    for name in ("reconstruction.wav", "audio.png", "snr.png", "metrics.json", "history.json", "config.json",
                 "model.safetensors", "model.json"):
        assert (out / name).is_file(), name
    metrics = json.loads((out / "metrics.json").read_text())
    assert {"snr", "psnr", "snr_convention", "first_omega"} <= set(metrics)
    rule = 1000 * 4410 / 22050  # ω0 per second of sound; the default chooses around it from the spectrum
    assert metrics["first_omega"] == pytest.approx(metrics["frequency_choice"]["value"])
    assert any(metrics["first_omega"] == pytest.approx(rule * ratio) for ratio in RATIOS)
    written, rate = soundfile.read(out / "reconstruction.wav")
    assert rate == 22050 and len(written) == 4410
    code, printed, err = run_cli(["render", out, "--rate", "44100", "--out", tmp_path / "up.flac"], capsys)
    assert code == 0, err
    info = soundfile.info(tmp_path / "up.flac")
    assert info.samplerate == 44100 and info.frames == 8820
    assert load(out).kind.name == "audio" and load(out).kind.rate == 22050


def test_cli_bad_audio_inputs(tmp_path, capsys):
    (tmp_path / "notes.txt").write_text("not a sound")
    soundfile.write(tmp_path / "empty.wav", np.zeros((0, 1)), 8000)
    soundfile.write(tmp_path / "silent.wav", np.zeros(100), 8000)
    soundfile.write(tmp_path / "nan.wav", np.array([0.1, np.nan, 0.2]), 8000, subtype="FLOAT")
    cases = [
        (tmp_path / "notes.txt", "not an audio file"),
        (tmp_path / "empty.wav", "no samples"),
        (tmp_path / "silent.wav", "silent"),
        (tmp_path / "nan.wav", "NaN"),
        (tmp_path / "missing.wav", "no such file"),
    ]
    for path, message in cases:
        code, _, err = run_cli(["fit", "audio", path, *TINY, "--out", tmp_path / "r"], capsys)
        assert_one_line_error(code, err, message)
        assert str(path) in err


def test_cli_render_rejects_options_of_another_kind(tmp_path, capsys):
    out = tmp_path / "run"
    assert run_cli(["fit", "audio", SPEECH, "--seconds", "0.05", *TINY, "--out", out], capsys)[0] == 0
    code, _, err = run_cli(["render", out, "--fps", "10", "--out", tmp_path / "x.wav"], capsys)
    assert_one_line_error(code, err, "--fps does not apply to an audio model")
    code, _, err = run_cli(["render", out, "--out", tmp_path / "x.png"], capsys)
    assert_one_line_error(code, err, "an audio is written as .wav or .flac or .ogg")


def test_long_clips_are_evaluated_less_often_so_evaluations_stay_a_small_share_of_the_wait():
    """The audio recipe logs the SNR every 100 steps; a minute at 44.1 kHz renders 2.6M samples per
    evaluation (about 54 steps of 16,384), so there it logs every 300 steps."""
    from sirenkit.engine.kinds import EVALUATION_SHARE

    def recipe(seconds):
        return AudioKind(source="clip", rate=44_100, samples=int(44_100 * seconds), channels=1,
                         scale=1.0).train_config()

    assert recipe(0.1).log_every == recipe(3).log_every == recipe(10).log_every == 100
    assert recipe(60).log_every == 300
    for seconds in (30, 60, 300):
        chosen = recipe(seconds)
        samples = int(44_100 * seconds)
        assert chosen.log_every % 100 == 0 and samples / 3 / chosen.batch_size / chosen.log_every <= EVALUATION_SHARE
        assert samples / 3 / chosen.batch_size / (chosen.log_every - 100) > EVALUATION_SHARE  # the shortest such
