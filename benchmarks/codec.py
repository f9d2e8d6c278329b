"""sirenkit's image codec against JPEG, WebP, JPEG 2000 and AVIF (through Pillow), at equal rates.

For each photo and each target rate, every classical codec's quality setting is bisected to the
highest quality whose file is at most the target's bits per pixel; sirenkit compresses to at most
that rate (``sirenkit compress --bpp``). Rates are whole files (header included): ``8 × bytes /
pixels``. Quality: PSNR and MS-SSIM of the 8-bit RGB decoded image; encode and decode seconds
(sirenkit's decode: the file to pixels in memory, at the original size, in this process).

The photos (8, none of them used to tune the codec, which was tuned on chelsea and camera): the
colour photos that ship with scikit-image and matplotlib, and the terrier of ../shared/data, each
scaled so that its longer side is at most 768 pixels, as Kodak's 768×512.

    python benchmarks/codec.py [--rates 0.1,0.3,0.5,1.0] [--photos astronaut,...] [--time 150]
        [--codecs sirenkit,JPEG,...] [--json out.json] [--figures folder] [--also earlier.json,...]

Writes, with ``--figures``: ``rd.png`` (mean PSNR and MS-SSIM against bpp for every codec) and
``crops.png`` (a crop of every codec at the rate nearest 0.3 bpp, for the first photo).
"""

from __future__ import annotations

import argparse
import io
import json
import shutil
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parent))
from run import machine  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT / ".." / "shared" / "data"
PHOTOS = ("astronaut", "coffee", "rocket", "immunohistochemistry", "hubble_deep_field", "retina", "grace_hopper",
          "yorkshire_terrier")
LONGEST = 768


def load_photo(name: str) -> np.ndarray:
    """``(H, W, 3)`` uint8, the longer side at most :data:`LONGEST`."""
    if name == "grace_hopper":
        from matplotlib import cbook

        image = Image.open(cbook.get_sample_data("grace_hopper.jpg"))
    elif name == "yorkshire_terrier":
        image = Image.open(SHARED / "yorkshire_terrier.jpg")
    else:
        import skimage.data

        image = Image.fromarray(getattr(skimage.data, name)())
    image = image.convert("RGB")
    scale = LONGEST / max(image.size)
    if scale < 1:
        image = image.resize((round(image.width * scale), round(image.height * scale)), Image.LANCZOS)
    return np.asarray(image)


def measure(decoded: np.ndarray, original: np.ndarray) -> dict[str, float]:
    from sirenkit.metrics import ms_ssim, psnr

    a, b = decoded.astype(np.float64) / 255, original.astype(np.float64) / 255
    return {"psnr": psnr(a, b), "ms_ssim": ms_ssim(a, b)}


def pillow_codec(format_name: str, **fixed) -> Callable[[np.ndarray, int], bytes]:
    def encode(pixels: np.ndarray, quality: int) -> bytes:
        stream = io.BytesIO()
        Image.fromarray(pixels).save(stream, format_name, quality=quality, **fixed)
        return stream.getvalue()

    return encode


def jpeg2000(pixels: np.ndarray, quality: int) -> bytes:
    """JPEG 2000 at a compression ratio of ``quality`` / 10 : 1 (OpenJPEG through Pillow, a .jp2 file):
    the 9/7 wavelet and the colour transform (``mct``, off by default in Pillow: without it
    astronaut at 0.3 bpp loses 3.1 dB)."""
    stream = io.BytesIO()
    Image.fromarray(pixels).save(stream, "JPEG2000", quality_mode="rates", quality_layers=[quality / 10],
                                 irreversible=True, mct=1)
    return stream.getvalue()


CODECS: dict[str, tuple[Callable[[np.ndarray, int], bytes], int, int, bool]] = {
    # name: encoder, lowest and highest setting, whether a higher setting means a larger file
    "JPEG": (pillow_codec("JPEG", subsampling="4:2:0", optimize=True), 1, 95, True),
    "WebP": (pillow_codec("WEBP", method=6), 0, 100, True),
    "JPEG 2000": (jpeg2000, 20, 20_000, False),
    "AVIF": (pillow_codec("AVIF", speed=4), 0, 100, True),
}


def at_rate(encode: Callable[[np.ndarray, int], bytes], pixels: np.ndarray, bpp: float, low: int, high: int,
            larger_when_higher: bool) -> tuple[int, bytes] | None:
    """The setting (bisected) whose file is the largest at most ``bpp``; None if even the smallest
    file is larger."""
    count = pixels.shape[0] * pixels.shape[1]

    def fits(setting: int) -> bool:
        return 8 * len(encode(pixels, setting)) <= bpp * count

    smallest = low if larger_when_higher else high
    if not fits(smallest):
        return None
    good, bad = smallest, (high if larger_when_higher else low)
    if fits(bad):
        return bad, encode(pixels, bad)
    while abs(bad - good) > 1:
        middle = (good + bad) // 2
        if fits(middle):
            good = middle
        else:
            bad = middle
    return good, encode(pixels, good)


def classical_row(name: str, pixels: np.ndarray, bpp: float) -> dict | None:
    encode, low, high, larger = CODECS[name]
    found = at_rate(encode, pixels, bpp, low, high, larger)
    if found is None:
        return None
    setting, data = found
    started = time.perf_counter()  # one encode at the chosen setting (the bisection's are not counted)
    encode(pixels, setting)
    encode_seconds = time.perf_counter() - started
    started = time.perf_counter()
    decoded = np.asarray(Image.open(io.BytesIO(data)).convert("RGB"))
    decode_seconds = time.perf_counter() - started
    return {"codec": name, "setting": setting, "bytes": len(data), "bpp": 8 * len(data) / pixels[..., 0].size,
            "encode_seconds": encode_seconds, "decode_seconds": decode_seconds, **measure(decoded, pixels),
            "decoded": decoded}


def sirenkit_row(name: str, pixels: np.ndarray, bpp: float, seconds: float, folder: Path) -> dict:
    from sirenkit.codec.weights import compress, decompress
    from sirenkit.signals.image.data import ImageSignal

    signal = ImageSignal(pixels=pixels.astype(np.float32) / 255, name=name, mode="RGB", bit_depth=8)
    path = folder / f"{name}-{bpp:g}.sirk"
    started = time.perf_counter()
    result = compress(signal, path, bpp=bpp, seconds=seconds, progress=False)
    encode_seconds = time.perf_counter() - started
    started = time.perf_counter()
    decoded = np.round(decompress(path) * 255).astype(np.uint8)
    decode_seconds = time.perf_counter() - started
    header = result.header
    return {"codec": "sirenkit", "setting": result.parameters, "bytes": len(result.data), "bpp": result.bpp,
            "encode_seconds": encode_seconds, "decode_seconds": decode_seconds, **measure(decoded, pixels),
            "stages": result.stages, "fixed_length_bytes": result.fixed_length_bytes,
            "width": header.hidden_features, "layers": header.hidden_layers, "decoded": decoded}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rates", default="0.3", help="Comma-separated bits per pixel.")
    parser.add_argument("--photos", default=",".join(PHOTOS))
    parser.add_argument("--time", type=float, default=150.0, help="sirenkit's seconds of fitting per image.")
    parser.add_argument("--codecs", default="sirenkit," + ",".join(CODECS))
    parser.add_argument("--json", type=Path, default=None)
    parser.add_argument("--figures", type=Path, default=None)
    parser.add_argument("--also", default="", help="Comma-separated JSON files of earlier runs (this machine) whose "
                                                   "rows join the table and the figures.")
    args = parser.parse_args()

    torch.manual_seed(0)
    print(f"machine: {machine()}, CPU capability {torch.backends.cpu.get_cpu_capability()}", flush=True)
    rates = [float(r) for r in args.rates.split(",")]
    codecs = [c for c in args.codecs.split(",") if c]
    folder = Path(tempfile.mkdtemp(prefix="sirenkit-codec-"))  # the .sirk files, read back to be decoded
    rows: list[dict] = []
    crops: dict[str, tuple[np.ndarray, str]] = {}
    photos = [photo for photo in args.photos.split(",") if photo]  # none: only redraw from --also
    for photo in photos:
        pixels = load_photo(photo)
        for bpp in rates:
            for codec in codecs:
                row = (sirenkit_row(photo, pixels, bpp, args.time, folder) if codec == "sirenkit"
                       else classical_row(codec, pixels, bpp))
                if row is None:
                    print(f"{photo} {pixels.shape[1]}×{pixels.shape[0]} {codec} at {bpp:g} bpp: "
                          "its smallest file is larger", flush=True)
                    continue
                decoded = row.pop("decoded")
                if photo == photos[0] and abs(bpp - 0.3) == min(abs(r - 0.3) for r in rates):
                    crops[codec] = decoded, f"{codec}\n{row['bpp']:.3f} bpp, {row['psnr']:.2f} dB"
                row.update(photo=photo, target=bpp, size=f"{pixels.shape[1]}×{pixels.shape[0]}")
                rows.append(row)
                print(f"{photo} {row['size']} {codec:<9} {row['bpp']:.4f} bpp  PSNR {row['psnr']:.2f}  "
                      f"MS-SSIM {row['ms_ssim']:.4f}  encode {row['encode_seconds']:.2f} s  "
                      f"decode {row['decode_seconds']:.3f} s", flush=True)
    shutil.rmtree(folder, ignore_errors=True)
    measured = list(rows)
    for earlier in filter(None, args.also.split(",")):
        rows += json.loads(Path(earlier).read_text())["rows"]
    rates = sorted({row["target"] for row in rows})
    print_table(rows, rates, codecs)
    if args.json:
        from sirenkit.io import write_json

        write_json(args.json, {"machine": machine(), "capability": torch.backends.cpu.get_cpu_capability(),
                               "time": args.time, "rates": sorted({r["target"] for r in measured}),
                               "rows": measured})
    if args.figures:
        args.figures.mkdir(parents=True, exist_ok=True)
        rd_figure(rows, codecs, args.figures / "rd.png")
        if crops:
            crop_figure(crops, load_photo(photos[0]), args.figures / "crops.png")


def print_table(rows: list[dict], rates: list[float], codecs: list[str]) -> None:
    print("\n| target bpp | codec | photos | mean bpp | mean PSNR | PSNR − JPEG's | mean MS-SSIM | encode s | "
          "decode s |")
    print("|---|---|---|---|---|---|---|---|---|")
    for bpp in rates:
        at = [r for r in rows if r["target"] == bpp]
        jpeg = {r["photo"]: r["psnr"] for r in at if r["codec"] == "JPEG"}
        for codec in codecs:
            mine = [r for r in at if r["codec"] == codec and r["photo"] in jpeg]
            if not mine:
                continue
            gain = np.mean([r["psnr"] - jpeg[r["photo"]] for r in mine])
            print(f"| {bpp:g} | {codec} | {len(mine)} | {np.mean([r['bpp'] for r in mine]):.4f} | "
                  f"{np.mean([r['psnr'] for r in mine]):.2f} | {gain:+.2f} | "
                  f"{np.mean([r['ms_ssim'] for r in mine]):.4f} | {np.mean([r['encode_seconds'] for r in mine]):.2f} | "
                  f"{np.mean([r['decode_seconds'] for r in mine]):.3f} |")


def rd_figure(rows: list[dict], codecs: list[str], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(1, 2, figsize=(10, 4))
    targets = sorted({r["target"] for r in rows})
    # the photos measured at every rate, so that each point is a mean over the same photos
    photos = set.intersection(*({r["photo"] for r in rows if r["target"] == t} for t in targets))
    for codec in codecs:
        points = []
        for target in targets:
            mine = [r for r in rows if r["codec"] == codec and r["target"] == target and r["photo"] in photos]
            if len(mine) == len(photos):  # a codec that cannot reach a rate on some photo has no point there
                points.append([np.mean([r[key] for r in mine]) for key in ("bpp", "psnr", "ms_ssim")])
        if points:
            bpp, quality, structure = np.array(points).T
            axes[0].plot(bpp, quality, "o-", label=codec)
            axes[1].plot(bpp, structure, "o-", label=codec)
    for axis, label in zip(axes, ("PSNR (dB)", "MS-SSIM"), strict=True):
        axis.set_xlabel("bits per pixel (whole file)")
        axis.set_ylabel(label)
        axis.grid(alpha=0.3)
    axes[0].legend()
    named = ", ".join(sorted(photos)) if len(photos) <= 3 else f"{len(photos)} photos"
    figure.suptitle(f"mean over {named} (longer side ≤ {LONGEST} px); a codec has a point where it reaches the "
                    "rate on every photo", fontsize=10)
    figure.tight_layout()
    figure.savefig(path, dpi=120)
    plt.close(figure)


def crop_figure(crops: dict[str, tuple[np.ndarray, str]], original: np.ndarray, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    height, width = original.shape[:2]
    size = min(192, height, width)
    top, left = (height - size) // 2, (width - size) // 2
    panels = [(original, "original\n")] + list(crops.values())
    figure, axes = plt.subplots(1, len(panels), figsize=(2.4 * len(panels), 2.9))
    for axis, (image, title) in zip(np.atleast_1d(axes), panels, strict=True):
        axis.imshow(image[top:top + size, left:left + size], interpolation="nearest")
        axis.set_title(title, fontsize=9)
        axis.axis("off")
    figure.tight_layout()
    figure.savefig(path, dpi=120)
    plt.close(figure)


if __name__ == "__main__":
    main()
