"""Shortcut probe: does the verdict follow framing or background instead of the face?

    python benchmarks/shortcuts.py --data ../shared/data [--model DIR] [--n 300]

Takes real and generated faces that share one framing (FFHQ-aligned: rvf10k and realorfake reals,
rvf10k and omi fakes from the pool's test split, and the cross-check set) and re-frames them:
a tight crop (the centre 70 %, like UTKFace), zoomed-out copies on a blurred border (1.4x, and
2.5x: a small face in a larger picture; and 1.4x on a sharp, grey or mirrored border, against the
whole picture enlarged 1.4x with no border), and the same face with its background replaced by a plain
light backdrop (a passport-style photo). Every probe goes through the whole predictor (face
detection, crop rule, classifier); images where no face was judged are counted, not scored. A model that
judges the face keeps its accuracy on both classes; one that learned a shortcut swings one class.
Writes benchmarks/results/shortcuts.md.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import tensorflow as tf
from PIL import Image, ImageFilter

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from facecheck import metrics as M  # noqa: E402
from facecheck.images import load_image  # noqa: E402
from facecheck.predictor import SHIPPED_MODEL_DIR, Predictor  # noqa: E402
from training.augment import _Draws, _flatten_background  # noqa: E402
from training.data import list_samples  # noqa: E402

FFHQ_FRAMED = {("rvf10k", 0), ("realorfake", 0), ("rvf10k", 1), ("omi", 1)}


def tight(img):
    h, w = img.shape[:2]
    s = int(min(h, w) * 0.7)
    y, x = (h - s) // 2, (w - s) // 2
    return img[y : y + s, x : x + s]


def zoom_out(img, factor=1.4, border="blur"):
    """The picture, unchanged, in the middle of a larger canvas: a blurred or sharp enlarged copy
    of itself, flat grey, or the picture mirrored outwards."""
    pil = Image.fromarray(img)
    w, h = pil.size
    if border == "mirror":
        pad = int(round((factor - 1) * min(w, h) / 2))
        return np.pad(img, ((pad, pad), (pad, pad), (0, 0)), mode="symmetric")
    if border == "grey":
        canvas = Image.new("RGB", (int(w * factor), int(h * factor)), (128, 128, 128))
    else:
        canvas = pil.resize((int(w * factor), int(h * factor)))
        if border == "blur":
            canvas = canvas.filter(ImageFilter.GaussianBlur(8))
    canvas.paste(pil, ((canvas.width - w) // 2, (canvas.height - h) // 2))
    return np.asarray(canvas)


def upscale(img, factor=1.4):
    """The whole picture enlarged: the face's crop still ends at the picture's own edge."""
    h, w = img.shape[:2]
    return np.asarray(Image.fromarray(img).resize((int(w * factor), int(h * factor)), Image.BICUBIC))


def plain_backdrop(img, seed):
    out = _flatten_background(tf.cast(img, tf.float32), _Draws(tf.constant([7, seed], tf.int64)))
    return np.clip(np.round(out.numpy()), 0, 255).astype(np.uint8)


PROBES = {"as is": lambda img, i: img, "tight crop (70 %)": lambda img, i: tight(img),
          "zoomed out (1.4x)": lambda img, i: zoom_out(img),
          "small in a wide scene (2.5x)": lambda img, i: zoom_out(img, 2.5),
          # Which part of the zoomed-out picture moves the verdict: the blur, or the crop no
          # longer ending at the picture's own edge?
          "zoomed out (1.4x), sharp border": lambda img, i: zoom_out(img, 1.4, "sharp"),
          "zoomed out (1.4x), grey border": lambda img, i: zoom_out(img, 1.4, "grey"),
          "zoomed out (1.4x), mirrored border": lambda img, i: zoom_out(img, 1.4, "mirror"),
          "enlarged 1.4x, no border": lambda img, i: upscale(img),
          "plain backdrop": plain_backdrop}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", default=str(ROOT.parent / "shared" / "data"))
    ap.add_argument("--model", default=str(SHIPPED_MODEL_DIR))
    ap.add_argument("--n", type=int, default=300, help="images per class and set")
    ap.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "shortcuts.md"))
    args = ap.parse_args()
    data = Path(args.data)
    predictor = Predictor.load(args.model)
    sets = {
        "faces test (FFHQ-framed sources)": [
            s for s in list_samples(data / "faces" / "manifest.csv", "test")
            if (s.source, s.label) in FFHQ_FRAMED],
        "crosscheck": list_samples(data / "crosscheck" / "manifest.csv"),
    }
    rng = np.random.default_rng(0)
    lines = ["# Shortcut probe", "",
             f"Command: `python benchmarks/shortcuts.py --data {args.data} --n {args.n}`; model "
             f"{predictor.contract.model_version}, threshold {predictor.contract.threshold:.3f}.", "",
             "| set | probe | real-acc | fake-acc | mean p_fake real | mean p_fake fake | no face judged |",
             "|---|---|---|---|---|---|---|"]
    for name, samples in sets.items():
        picked = []
        for label in (0, 1):
            pool = [s for s in samples if s.label == label]
            picked += [pool[i] for i in rng.permutation(len(pool))[: args.n]]
        images = [load_image(s.path) for s in picked]
        y = np.array([s.label for s in picked])
        for probe, fn in PROBES.items():
            p = np.array([np.nan if r["p_fake"] is None else r["p_fake"] for r in
                          predictor.predict_many([fn(img, i) for i, img in enumerate(images)])])
            ok = ~np.isnan(p)
            yy, pp = y[ok], p[ok]
            r = M.binary_report(yy, pp, predictor.contract.threshold)
            lines.append(f"| {name} | {probe} | {100 * r['real_acc']:.1f}% | "
                         f"{100 * r['fake_acc']:.1f}% | {pp[yy == 0].mean():.3f} | {pp[yy == 1].mean():.3f} "
                         f"| {(~ok).sum()} |")
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
