"""Face-detection benchmark: how often the predictor finds the face, and how rarely it invents one.

    python benchmarks/detection.py [--data ../shared/data] [--out benchmarks/results/detection.md]

Targets (the predictor issue): a face in >= 99 % of crosscheck images and >= 97 % of the pool's
test split per source; at most 1 face across the 20+ face-free pictures in tests/fixtures/noface;
wide studio portraits (a pool face in the middle of a 3:1 or 1:3 canvas) found and cropped to the
face. Writes a Markdown table.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections import defaultdict
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from facecheck.contract import Contract  # noqa: E402
from facecheck.detector import Detector  # noqa: E402
from facecheck.images import iter_image_files, load_image  # noqa: E402
from facecheck.predictor import SHIPPED_MODEL_DIR  # noqa: E402
from facecheck.preprocess import face_square  # noqa: E402
from training.data import list_samples  # noqa: E402


def found_rates(detector, samples, min_px):
    by = defaultdict(lambda: [0, 0])
    misses = []
    for start in range(0, len(samples), 128):
        chunk = samples[start : start + 128]
        faces = detector.detect_many([load_image(s.path) for s in chunk])
        for s, fs in zip(chunk, faces, strict=True):
            key = (s.source, "fake" if s.label else "real")
            ok = any(f["box"][2] >= min_px for f in fs)
            by[key][0] += ok
            by[key][1] += 1
            if not ok:
                misses.append(s.path)
    return by, misses


def wide_portraits(detector, samples, contract, n=40):
    """A face-centred pool image pasted in the middle of a wide (or tall) plain canvas."""
    rng = np.random.default_rng(0)
    ok = 0
    for i in rng.permutation(len(samples))[:n]:
        img = load_image(samples[i].path)
        s = img.shape[0]
        wide = i % 2 == 0
        canvas = np.full((s, 3 * s, 3) if wide else (3 * s, s, 3), 235, np.uint8)
        off = s
        if wide:
            canvas[:, off : off + s] = img
        else:
            canvas[off : off + s] = img
        faces = detector.detect(canvas)
        if not faces:
            continue
        x, y, w, h = face_square(faces[0]["box"], contract, *canvas.shape[:2])
        # The crop should land on the pasted picture: at least 60 % of it overlaps the picture.
        px, py = (off, 0) if wide else (0, off)
        ix = max(0, min(x + w, px + s) - max(x, px))
        iy = max(0, min(y + h, py + s) - max(y, py))
        ok += ix * iy >= 0.6 * w * h
    return ok, n


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data")
    ap.add_argument("--model", type=Path, default=SHIPPED_MODEL_DIR, help="model whose contract to use")
    ap.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "detection.md")
    args = ap.parse_args(argv)

    contract = Contract.load(args.model)
    if contract.crop_rule != "face-box":
        contract = Contract()
    cfg = contract.detector
    detector = Detector.load(settings=cfg)
    lines = ["# Face detection benchmark", "",
             f"`python benchmarks/detection.py` — detector {cfg.name}, score >= {cfg.score_threshold},"
             f" NMS IoU {cfg.nms_iou}, faces under {cfg.min_face_px} px wide count as not found.", "",
             "| set | source | class | images | face found | target |", "|---|---|---|---|---|---|"]
    t0 = time.time()
    for name, samples, target in (
            ("crosscheck", list_samples(args.data / "crosscheck" / "manifest.csv"), 0.99),
            ("faces test", list_samples(args.data / "faces" / "manifest.csv", "test"), 0.97)):
        by, misses = found_rates(detector, samples, cfg.min_face_px)
        for (src, lab), (k, n) in sorted(by.items()):
            lines.append(f"| {name} | {src} | {lab} | {n} | {k / n:.1%} | >= {target:.0%} |")
        k = sum(v[0] for v in by.values())
        n = sum(v[1] for v in by.values())
        lines.append(f"| **{name}** | all | both | {n} | **{k / n:.1%}** | >= {target:.0%} |")
        if misses:
            lines.append(f"| | missed e.g. | | | {', '.join(Path(m).name for m in misses[:3])} | |")
    noface = sorted(iter_image_files([ROOT / "tests" / "fixtures" / "noface"]))
    reported = [len(detector.detect(load_image(p))) for p in noface]
    lines.append(f"| face-free pictures | tests/fixtures/noface | - | {len(noface)} | "
                 f"{sum(reported)} face(s) reported | <= 1 in total |")
    faces_val = list_samples(args.data / "faces" / "manifest.csv", "val")
    ok, n = wide_portraits(detector, faces_val, contract)
    lines.append(f"| wide / tall portraits (pool face on a 3:1 canvas) | faces val | both | {n} | "
                 f"{ok / n:.1%} found, crop on the picture | all |")
    lines += ["", f"Took {time.time() - t0:.0f} s."]
    text = "\n".join(lines) + "\n"
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(text)
    print(text)


if __name__ == "__main__":
    main()
