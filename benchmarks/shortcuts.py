"""Shortcut probe: does the verdict follow framing or background instead of the face?

    python benchmarks/shortcuts.py --data ../shared/data [--model DIR] [--n 300]

Takes real and generated faces that share one framing (FFHQ-aligned: rvf10k and realorfake reals,
rvf10k and omi fakes from the pool's test split, and the cross-check set) and re-frames them:
a tight crop (the centre 70 %, like UTKFace), zoomed-out copies on a blurred border (1.4x, and
2.5x: a small face in a larger picture; and 1.4x on a sharp, grey or mirrored border, against the
whole picture enlarged 1.4x with no border), and the same face with its background replaced by a plain
light backdrop (a passport-style photo). Then the backdrop swap of issue #27: studio-style
pictures (the CFD inversions, taiwanese_studio reals) with their flat backdrop replaced. Every
probe goes through the whole predictor (face detection, crop rule, classifier); images where no
face was judged are counted, not scored. A model that judges the face keeps its accuracy on both
classes; one that learned a shortcut swings one class.
Writes benchmarks/results/shortcuts.md.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import tensorflow as tf
from PIL import Image, ImageDraw, ImageFilter

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


def backdrop_mask(img, tolerance=18.0, least=0.15):
    """The flat backdrop of a studio-style picture: pixels near the border's median colour that
    connect to the border, cleaned by an opening; None when it is under `least` of the picture
    (nothing flat to swap)."""
    border = np.concatenate([img[0], img[-1], img[:, 0], img[:, -1]]).astype(np.float32)
    near = np.abs(img.astype(np.float32) - np.median(border, axis=0)).max(axis=-1) < tolerance
    flat = Image.fromarray(np.where(near, 255, 0).astype(np.uint8))
    flat = flat.filter(ImageFilter.MinFilter(5)).filter(ImageFilter.MaxFilter(5))
    h, w = img.shape[:2]
    edge = [(x, y) for x in range(w) for y in (0, h - 1)] + [(x, y) for y in range(h) for x in (0, w - 1)]
    for xy in edge:
        if flat.getpixel(xy) == 255:
            ImageDraw.floodfill(flat, xy, 128)
    mask = np.asarray(flat) == 128
    return mask if mask.mean() >= least else None


def swap_backdrop(img, mask, backdrop):
    """`img` with its masked backdrop replaced by `backdrop` (same size), edges softened."""
    soft = np.asarray(Image.fromarray((mask * 255).astype(np.uint8)).filter(ImageFilter.GaussianBlur(1.5)))
    a = (soft.astype(np.float32) / 255.0)[..., None]
    return np.clip(img * (1 - a) + backdrop * a, 0, 255).round().astype(np.uint8)


def photo_backdrop(donor, shape):
    """Another picture, heavily blurred: a busy, out-of-focus background."""
    h, w = shape[:2]
    out = Image.fromarray(donor).resize((w, h), Image.BILINEAR).filter(ImageFilter.GaussianBlur(8))
    return np.asarray(out).astype(np.float32)


def gradient_backdrop(shape, i):
    """A smooth two-colour vertical gradient, its colours fixed by the picture's index."""
    h, w = shape[:2]
    rng = np.random.default_rng(1000 + i)
    top, bottom = rng.uniform(20, 235, 3), rng.uniform(20, 235, 3)
    t = np.linspace(0, 1, h)[:, None, None]
    return np.broadcast_to(top * (1 - t) + bottom * t, (h, w, 3)).astype(np.float32)


def backdrop_swap_rows(predictor, data: Path, n: int) -> list[str]:
    """Issue #27's probe: the pool's only plain-backdrop fakes (omi_cfd_inversions, test split) and
    the cross-check's studio reals (taiwanese_studio) on their own backdrop, on a blurred photo and
    on a gradient. A model that reads the backdrop swings the inversions (caught only on white) or
    the studio reals; one that reads the face keeps both. Only pictures whose backdrop could be
    masked count (how many: the table's n)."""
    test = list_samples(data / "faces" / "manifest.csv", "test")
    cross = list_samples(data / "crosscheck" / "manifest.csv")
    groups = {"faces test omi_cfd_inversions (fake)": [s for s in test if s.source == "omi_cfd_inversions"],
              "crosscheck taiwanese_studio (real)": [s for s in cross if s.source == "taiwanese_studio"]}
    donors = [load_image(s.path) for s in test if s.source == "lfw"][:50]
    rows = []
    for name, samples in groups.items():
        kept = []
        for s in samples[:n]:
            img = load_image(s.path)
            mask = backdrop_mask(img)
            if mask is not None:
                kept.append((img, mask, s.label))
        label = kept[0][2] if kept else 0
        probes = {"own backdrop": lambda img, m, i: img,
                  "blurred photo backdrop": lambda img, m, i: swap_backdrop(
                      img, m, photo_backdrop(donors[i % len(donors)], img.shape)),
                  "gradient backdrop": lambda img, m, i: swap_backdrop(
                      img, m, gradient_backdrop(img.shape, i))}
        for probe, fn in probes.items():
            res = predictor.predict_many([fn(img, m, i) for i, (img, m, _) in enumerate(kept)])
            p = np.array([r["p_fake"] for r in res if r["p_fake"] is not None])
            called = float(np.mean(p >= predictor.contract.threshold)) if len(p) else float("nan")
            right = called if label == 1 else 1 - called
            rows.append(f"| {name} | {probe} | {len(kept)} | {len(p)} | {100 * called:.1f}% "
                        f"| {100 * right:.1f}% |")
    return rows


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", default=str(ROOT.parent / "shared" / "data"))
    ap.add_argument("--model", default=str(SHIPPED_MODEL_DIR))
    ap.add_argument("--n", type=int, default=300, help="images per class and set")
    ap.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "shortcuts.md"))
    ap.add_argument("--backdrop-only", action="store_true", help="only the backdrop swap (minutes less)")
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
             f"Command: `python benchmarks/shortcuts.py --data {args.data} --n {args.n} --model {args.model}"
             f"{' --backdrop-only' if args.backdrop_only else ''}`; model "
             f"{predictor.contract.model_version}, threshold {predictor.contract.threshold:.3f}.", "",
             "| set | probe | real-acc | fake-acc | mean p_fake real | mean p_fake fake | no face judged |",
             "|---|---|---|---|---|---|---|"]
    for name, samples in ({} if args.backdrop_only else sets).items():
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
    lines += ["", "## Backdrop swap (issue #27)", "",
              "Plain backdrops masked from the border's median colour and replaced "
              "(benchmarks/shortcuts.py backdrop_swap_rows): the inversions must stay caught, the "
              "studio reals must stay real, whatever the backdrop.", "",
              "| group | backdrop | n masked | judged | called generated | right |",
              "|---|---|---|---|---|---|"]
    lines += backdrop_swap_rows(predictor, data, args.n)
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
