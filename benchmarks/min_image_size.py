"""How small a picture can be and still be judged safely: the cross-check set downscaled.

A page scan skips pictures below a minimum size (the extension's `minImageSize`). Comment avatars,
the typical fake-profile picture, are 40-96 px, so the minimum should be as low as the model
allows, and no lower: this script measures where it stops allowing. Every cross-check picture
(300x300 face photos) is downscaled to S x S (Lanczos, as an image server makes a thumbnail), saved
as JPEG q90 and judged by the shipped predictor, per size S:

- real-acc: reals called real or unsure (not accused), the costly error's complement;
- fake-acc: fakes called fake (caught);
- judged: pictures where a face was found and judged (not no-face / too-small).

    python benchmarks/min_image_size.py [--per-class 200] [--out benchmarks/results/min-image-size.md]

The lowest size where every source's real-acc stays within 1 point of the full-size figure and
most faces are still judged is the one to use as the default.
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import random
import sys
from collections import defaultdict
from pathlib import Path

import numpy as np
from PIL import Image

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from facecheck.images import load_image  # noqa: E402
from facecheck.predictor import Predictor  # noqa: E402

SIZES = (24, 32, 40, 48, 56, 64, 80, 96, 128, 0)  # 0 = the file as it is (300 px)


def parse_args(argv=None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", default=str(ROOT.parent / "shared" / "data" / "crosscheck"))
    ap.add_argument("--model", default=None, help="model folder (default: the shipped model)")
    ap.add_argument("--per-class", type=int, default=200, help="pictures per source and class")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "min-image-size.md"))
    return ap.parse_args(argv)


def sample(data: Path, per_class: int, seed: int) -> list[dict]:
    """Up to `per_class` rows of each (source, label), the same ones for every size."""
    groups = defaultdict(list)
    with open(data / "manifest.csv") as f:
        for row in csv.DictReader(f):
            groups[(row["source"], row["label"])].append(row)
    rng = random.Random(seed)
    return [r for key in sorted(groups) for r in rng.sample(groups[key], min(per_class, len(groups[key])))]


def thumbnail(path: Path, size: int) -> np.ndarray:
    """The picture as a site would serve it at `size` px: Lanczos downscale, JPEG q90, decoded."""
    if not size:
        return load_image(path)
    img = Image.open(path).convert("RGB").resize((size, size), Image.LANCZOS)
    buf = io.BytesIO()
    img.save(buf, "JPEG", quality=90)
    return load_image(buf.getvalue())


def judge(predictor: Predictor, rows: list[dict], data: Path, size: int) -> dict:
    """Per source and class: n, accused/caught counts and judged counts at one size."""
    results = predictor.predict_many([thumbnail(data / r["path"], size) for r in rows])
    table: dict = defaultdict(lambda: {"n": 0, "judged": 0, "right": 0})
    for r, res in zip(rows, results, strict=True):
        cell = table[f"{r['source']} {r['label']}"]
        cell["n"] += 1
        cell["judged"] += res["verdict"] in ("fake", "unsure", "real")
        right = res["verdict"] != "fake" if r["label"] == "real" else res["verdict"] == "fake"
        cell["right"] += right
    return dict(table)


def markdown(by_size: dict[int, dict], model: str, per_class: int) -> str:
    keys = sorted(next(iter(by_size.values())))
    head = "| size | " + " | ".join(f"{k}: {'real-acc' if k.endswith('real') else 'fake-acc'} "
                                    "(judged)" for k in keys) + " |"
    lines = [f"# Judging small pictures ({model})", "",
             f"`python benchmarks/min_image_size.py --per-class {per_class}`: cross-check pictures "
             "downscaled to S x S (Lanczos, JPEG q90). real-acc = reals not accused (real or unsure); "
             "fake-acc = fakes caught; judged = a face was found and judged (not no-face or too-small). "
             "Every share is of all pictures of that source and class.", "",
             head, "|" + "---|" * (len(keys) + 1)]
    for size, table in by_size.items():
        cells = [f"{table[k]['right'] / table[k]['n']:.1%} ({table[k]['judged'] / table[k]['n']:.0%})"
                 for k in keys]
        lines.append(f"| {size or 'full (300)'} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def main(argv=None) -> int:
    args = parse_args(argv)
    data = Path(args.data)
    predictor = Predictor.load(args.model)
    rows = sample(data, args.per_class, args.seed)
    by_size = {}
    for size in SIZES:
        by_size[size] = judge(predictor, rows, data, size)
        print(f"size {size or 'full'}: {json.dumps(by_size[size])}", file=sys.stderr)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    model = predictor.contract.model_version
    out.write_text(markdown(by_size, model, args.per_class))
    out.with_suffix(".json").write_text(json.dumps({"model": model, "by_size": by_size}, indent=1) + "\n")
    print(out.read_text())
    return 0


if __name__ == "__main__":
    sys.exit(main())
