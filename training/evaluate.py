"""Evaluate a model on any folder or manifest, overall, per source, and under degradations.

    python -m training.evaluate --data ../shared/data/faces/manifest.csv --split test --out reports/faces-test
    python -m training.evaluate --data ../shared/data/crosscheck/manifest.csv --out reports/crosscheck
    (the same as `facecheck evaluate ...`; --model defaults to the shipped model)

Every image goes through the same path as `facecheck scan`: facecheck.images.load_image, then the
Predictor (face detection, the crop rule, the classifier). Accuracy, AUC and calibration are over
the images where a face was judged; `not_judged` counts the rest (no face found or too small) and
`accuracy_all` counts them as errors. Writes metrics.json (accuracy, balanced accuracy, ROC AUC,
real-acc, fake-acc, overall and per source, for each condition), predictions.csv, roc.png and
confusion.png, and prints the tables. Conditions: the clean images, then the same images
re-encoded as JPEG at quality 90/70/50, downscaled to 0.5x and 0.25x and back, and blurred.
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import os
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np
from matplotlib.figure import Figure
from PIL import Image, ImageFilter
from sklearn.metrics import roc_curve
from tqdm import tqdm

from facecheck import metrics as M
from facecheck.images import ImageError, load_image
from training.data import list_samples

CONDITIONS = ("clean", "jpeg90", "jpeg70", "jpeg50", "down0.5", "down0.25", "blur1")


def degrade(image: np.ndarray, condition: str) -> np.ndarray:
    """Apply one web-like degradation with PIL (what a re-upload or a thumbnailer does)."""
    if condition == "clean":
        return image
    img = Image.fromarray(image)
    if condition.startswith("jpeg"):
        buf = io.BytesIO()
        img.save(buf, "JPEG", quality=int(condition[4:]))
        return np.asarray(Image.open(buf).convert("RGB"))
    if condition.startswith("down"):
        f = float(condition[4:])
        small = img.resize((max(1, round(img.width * f)), max(1, round(img.height * f))),
                           Image.BICUBIC)
        return np.asarray(small.resize(img.size, Image.BICUBIC))
    if condition.startswith("blur"):
        return np.asarray(img.filter(ImageFilter.GaussianBlur(radius=float(condition[4:]))))
    raise ValueError(f"unknown condition {condition!r}")


def parse_args(argv=None):
    ap = argparse.ArgumentParser(prog="facecheck evaluate", description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", required=True, help="manifest CSV, Kaggle 140k root, or real/fake folder")
    ap.add_argument("--split", help="split to use from a manifest/Kaggle layout (e.g. test)")
    ap.add_argument("--model", help="model folder (default: the shipped model)")
    ap.add_argument("--out", required=True, help="report folder to write")
    ap.add_argument("--conditions", default=",".join(CONDITIONS),
                    help="comma list of conditions (default: all: %(default)s)")
    ap.add_argument("--threshold", type=float, help="override the model's stored threshold")
    ap.add_argument("--limit", type=int, default=0, help="evaluate at most N images (seeded sample)")
    ap.add_argument("--batch-size", type=int, default=64)
    ap.add_argument("--quiet", action="store_true")
    return ap.parse_args(argv)


def main(argv=None) -> dict:
    args = parse_args(argv)
    # facecheck.predictor starts TensorFlow: imported here, so that `facecheck evaluate --help`
    # and the users of degrade() (benchmarks/floors.py) do not wait for it.
    from facecheck.predictor import Predictor, default_model_dir

    conditions = [c.strip() for c in args.conditions.split(",") if c.strip()]
    for c in conditions:
        degrade(np.zeros((32, 32, 3), np.uint8), c)  # reject unknown names before the long part
    samples = list_samples(args.data, args.split)
    if args.limit and args.limit < len(samples):
        rng = np.random.default_rng(0)
        samples = [samples[i] for i in sorted(rng.permutation(len(samples))[: args.limit])]
    predictor = Predictor.load(args.model, batch_size=args.batch_size)
    threshold = predictor.contract.threshold if args.threshold is None else args.threshold
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    kept, failures = load_images(samples, args.quiet)
    y = np.array([s.label for s, _ in kept])
    sources = np.array([s.source for s, _ in kept])

    model_dir = Path(args.model) if args.model else default_model_dir()
    report = {"data": str(args.data), "split": args.split, "model": str(model_dir),
              "model_version": predictor.contract.model_version, "threshold": threshold,
              "n_images": len(kept), "failures": failures, "conditions": {}}
    p_by_condition = {}
    for cond in conditions:
        p = p_by_condition[cond] = predict_degraded(predictor, [img for _, img in kept], cond,
                                                    args.batch_size, args.quiet)
        report["conditions"][cond] = {
            "overall": scored_report(y, p, threshold),
            "per_source": {src: scored_report(y[sources == src], p[sources == src], threshold)
                           for src in sorted(set(sources))},
        }
    if "clean" in p_by_condition:
        p = p_by_condition["clean"]
        judged = ~np.isnan(p)
        report["calibration"] = {"ece": M.expected_calibration_error(y[judged], p[judged])}
        _plots(y[judged], p[judged], sources[judged], threshold, out)
    _write_predictions(out / "predictions.csv", [s for s, _ in kept], conditions, p_by_condition)
    (out / "metrics.json").write_text(json.dumps(report, indent=2) + "\n")
    print(format_report(report))
    return report


def _load(sample):
    try:
        return load_image(sample.path), None
    except ImageError as e:
        return None, str(e)


def load_images(samples, quiet: bool) -> tuple[list, list]:
    """(sample, decoded image) for every readable file, and (path, error) for the others."""
    with ThreadPoolExecutor(os.cpu_count()) as pool:
        loaded = list(tqdm(pool.map(_load, samples), total=len(samples), desc="decode",
                           file=sys.stderr, disable=quiet))
    failures = [(s.path, err) for s, (img, err) in zip(samples, loaded, strict=False) if img is None]
    kept = [(s, img) for s, (img, _) in zip(samples, loaded, strict=False) if img is not None]
    return kept, failures


def predict_degraded(predictor, images, condition: str, batch_size: int, quiet: bool) -> np.ndarray:
    """p_fake of every image under one condition; NaN where no face was judged."""
    p = []
    for start in tqdm(range(0, len(images), batch_size), desc=condition, file=sys.stderr,
                      disable=quiet):
        chunk = [degrade(img, condition) for img in images[start : start + batch_size]]
        p.extend(np.nan if r["p_fake"] is None else r["p_fake"] for r in predictor.predict_many(chunk))
    return np.array(p, np.float64)


def _write_predictions(path: Path, samples, conditions, p_by_condition: dict):
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["path", "label", "source"] + [f"p_fake_{c}" for c in conditions])
        for i, s in enumerate(samples):
            w.writerow([s.path, "fake" if s.label else "real", s.source]
                       + [f"{p_by_condition[c][i]:.5f}" for c in conditions])


def scored_report(y, p, threshold) -> dict:
    """binary_report over the images where a face was judged, plus how many were not judged
    (no face found, or too small) and the accuracy counting those as errors."""
    judged = ~np.isnan(p)
    rep = M.binary_report(y[judged], p[judged], threshold)
    rep["n_total"] = int(len(y))
    rep["not_judged"] = int((~judged).sum())
    acc = rep.get("accuracy")
    rep["accuracy_all"] = None if acc is None or not len(y) else acc * judged.sum() / len(y)
    return rep


def _pct(v):
    return "   -  " if v is None else f"{100 * v:5.1f}%"


def format_report(report: dict) -> str:
    lines = [f"{report['data']} (split={report['split']}), {report['n_images']} images, "
             f"{len(report['failures'])} unreadable; model {report['model_version']}, "
             f"threshold {report['threshold']:.3f}"]
    head = (f"{'':28s} {'n':>5s} {'acc':>6s} {'b-acc':>6s} {'AUC':>6s} {'real':>6s} {'fake':>6s}"
            f" {'no face':>7s}")
    clean = report["conditions"].get("clean")
    if clean:
        lines += ["", "clean images, by source:", head]
        rows = [("ALL", clean["overall"])] + list(clean["per_source"].items())
        for name, r in rows:
            auc = "   -  " if r["auc"] is None else f"{r['auc']:.4f}"
            lines.append(f"{name:28s} {r['n']:5d} {_pct(r['accuracy'])} "
                         f"{_pct(r['balanced_accuracy'])} {auc} {_pct(r['real_acc'])} "
                         f"{_pct(r['fake_acc'])} {r.get('not_judged', 0):7d}")
    lines += ["", "robustness (all sources):", head]
    for cond, res in report["conditions"].items():
        r = res["overall"]
        auc = "   -  " if r["auc"] is None else f"{r['auc']:.4f}"
        lines.append(f"{cond:28s} {r['n']:5d} {_pct(r['accuracy'])} {_pct(r['balanced_accuracy'])}"
                     f" {auc} {_pct(r['real_acc'])} {_pct(r['fake_acc'])} {r.get('not_judged', 0):7d}")
    if "calibration" in report:
        lines.append(f"\nexpected calibration error (clean): {report['calibration']['ece']:.4f}")
    return "\n".join(lines)


def _plots(y, p, sources, threshold, out: Path):
    fig = Figure(figsize=(5, 5))
    ax = fig.subplots()
    if len(set(y)) == 2:
        fpr, tpr, _ = roc_curve(y, p)
        ax.plot(fpr, tpr, label=f"all (AUC {M.roc_auc(y, p):.3f})", lw=2)
    ax.plot([0, 1], [0, 1], "k:", lw=1)
    ax.set_xlabel("false positive rate (real called generated)")
    ax.set_ylabel("true positive rate (generated caught)")
    ax.legend(loc="lower right")
    fig.tight_layout()
    fig.savefig(out / "roc.png", dpi=100)

    pred = (p >= threshold).astype(int)
    cm = np.array([[np.sum((y == t) & (pred == q)) for q in (0, 1)] for t in (0, 1)])
    fig = Figure(figsize=(4, 4))
    ax = fig.subplots()
    ax.imshow(cm, cmap="Blues")
    for t in (0, 1):
        for q in (0, 1):
            ax.text(q, t, str(cm[t, q]), ha="center", va="center",
                    color="white" if cm[t, q] > cm.max() / 2 else "black")
    ax.set_xticks([0, 1], ["pred real", "pred fake"])
    ax.set_yticks([0, 1], ["real", "fake"])
    ax.set_title(f"threshold {threshold:.2f}")
    fig.tight_layout()
    fig.savefig(out / "confusion.png", dpi=100)


if __name__ == "__main__":
    main()
