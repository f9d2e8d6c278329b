"""A sound rendered at another sample rate

A second of plucked notes, synthesised at 16 kHz, is fitted by a SIREN of one input (time) and one
output (the waveform). The fitted network is a function of continuous time, so it can be played
back at any rate: here at 44.1 kHz, drawn between the original samples. The folder also holds both
sounds as WAV files to listen to.
"""

import argparse
import wave
from pathlib import Path

import numpy as np
from matplotlib.figure import Figure

import sirenkit as sk

parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
parser.add_argument("--out", type=Path, default=Path("runs/gallery") / Path(__file__).stem, help="output folder")
parser.add_argument("--tiny", action="store_true", help="tiny sizes and steps: a check that runs in seconds")
args = parser.parse_args()


def write_wav(path: Path, samples: np.ndarray, rate: int) -> None:
    """Mono 16-bit WAV of `samples (N,)` in [-1, 1]."""
    with wave.open(str(path), "wb") as file:
        file.setnchannels(1)
        file.setsampwidth(2)
        file.setframerate(rate)
        file.writeframes((np.clip(samples, -1, 1) * 32767).astype("<i2").tobytes())


rate, seconds, new_rate = 16_000, 0.1 if args.tiny else 1.0, 44_100
time = np.arange(int(rate * seconds)) / rate
sound = np.zeros_like(time)
for start, pitch in zip(np.linspace(0, seconds, 5)[:-1], [220.0, 277.2, 329.6, 440.0]):  # A major, plucked
    after = np.clip(time - start, 0, None)
    sound += (time >= start) * np.exp(-6 * after) * sum(np.sin(2 * np.pi * k * pitch * after) / k**1.5
                                                      for k in range(1, 6))
sound /= np.abs(sound).max()
args.out.mkdir(parents=True, exist_ok=True)
write_wav(args.out / "original.wav", sound, rate)

train = sk.TrainConfig(steps=5 if args.tiny else 3000, time_budget=None if args.tiny else 55.0,
                       learning_rate=3e-4, precision="auto", log_every=250)  # the audio recipe, cut to 55 s
fitted = sk.fit_audio(args.out / "original.wav", train=train)
rendered = fitted.render(rate=new_rate)[:, 0]  # (M,) in [-1, 1]: the network at 44.1 kHz
write_wav(args.out / f"rendered-{new_rate}.wav", rendered, new_rate)

figure = Figure(figsize=(12, 8), layout="constrained")
grid = figure.add_gridspec(3, 2)
whole, zoom = figure.add_subplot(grid[0, :]), figure.add_subplot(grid[1, :])
rendered_time = np.arange(len(rendered)) / new_rate
whole.plot(time, sound, color="0.6", linewidth=0.6, label=f"synthesised, {rate / 1000:g} kHz")
whole.plot(rendered_time, rendered, color="C3", linewidth=0.3, label=f"network at {new_rate / 1000:g} kHz")
whole.set(xlabel="seconds", xlim=(0, seconds), title=f"the whole sound (SNR {fitted.metrics['snr']:.1f} dB)")
whole.legend(loc="upper right")
first, last = 0.3 * seconds, 0.3 * seconds + 0.006  # 6 ms of the second note
shown = (time >= first) & (time <= last)
zoom.plot(rendered_time, rendered, color="C3", linewidth=1, label=f"network at {new_rate / 1000:g} kHz")
zoom.plot(time[shown], sound[shown], "o", color="0.3", markersize=3, label="the samples it was fitted to")
zoom.set(xlabel="seconds", xlim=(first, last), title="6 ms: the network between the samples")
zoom.legend(loc="upper right")
for column, (samples, samples_rate, name) in enumerate([(sound, rate, "synthesised"), (rendered, new_rate, "network")]):
    ax = figure.add_subplot(grid[2, column])
    ax.specgram(samples, NFFT=512, Fs=samples_rate, noverlap=384, cmap="magma", vmin=-120, vmax=-20)
    ax.set(xlabel="seconds", ylabel="Hz", xlim=(0, seconds), ylim=(0, rate / 2),
           title=f"spectrogram: {name}, {samples_rate / 1000:g} kHz")
figure.savefig(args.out / "figure.png", dpi=110)
print(f"{args.out / 'figure.png'}: SNR {fitted.metrics['snr']:.2f} dB after {fitted.metrics['steps']} steps")
