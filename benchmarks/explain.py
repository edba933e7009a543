"""Is the evidence map faithful? Blur what it points at, and see p_fake fall.

For generated faces of the cross-check set (sources never trained on), each picture's evidence
map (facecheck/explain.py) ranks the pixels of its most suspicious judged face's square. Two
copies of the picture are judged again, on the same square:

- top: the 10% of the square's pixels that the map ranks highest, blurred;
- random: as many pixels, in random 16 px blocks of the square, blurred (mean of --draws draws).

The blur is a Gaussian of radius side/64 (side: the square's side in picture pixels, about 2
model-input pixels), applied to the picture itself (not the map's own fill). A faithful map makes
the top drop in p_fake at least twice the random drop.

    python benchmarks/explain.py [--per-source 20] [--fill blur] [--out benchmarks/results/explain.md]
    python benchmarks/explain.py --gallery docs/explain     # the maps of docs/explain.md

The gallery uses the test fixtures' faces only (tests/fixtures/faces), which the repository
already ships.
"""

from __future__ import annotations

import argparse
import csv
import random
import sys
import time
from pathlib import Path

import numpy as np
from PIL import Image, ImageFilter

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from facecheck.explain import FILLS, explain, overlay  # noqa: E402
from facecheck.images import load_image  # noqa: E402
from facecheck.predictor import Predictor  # noqa: E402
from facecheck.preprocess import model_input  # noqa: E402

FRACTION = 0.10
BLOCK = 16


def parse_args(argv=None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", default=str(ROOT.parent / "shared" / "data" / "crosscheck"))
    ap.add_argument("--model", default=None, help="model folder (default: the shipped model)")
    ap.add_argument("--per-source", type=int, default=20, help="fakes per fake source")
    ap.add_argument("--draws", type=int, default=3, help="random-block draws per picture")
    ap.add_argument("--fill", choices=(*FILLS, "both"), default="both",
                    help="the map's occlusion fill to measure (default: both)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "explain.md"))
    ap.add_argument("--gallery", metavar="DIR", help="instead: write the gallery's maps to DIR")
    return ap.parse_args(argv)


def sample_fakes(data: Path, per_source: int, seed: int) -> list[tuple[str, Path]]:
    """(source, path) of `per_source` fakes of each fake source, drawn with `seed`."""
    by_source: dict[str, list[Path]] = {}
    with open(data / "manifest.csv", newline="") as f:
        for row in csv.DictReader(f):
            if row["label"] == "fake":
                by_source.setdefault(row["source"], []).append(data / row["path"])
    rng = random.Random(seed)
    out = []
    for source in sorted(by_source):
        paths = sorted(by_source[source])
        out += [(source, p) for p in rng.sample(paths, min(per_source, len(paths)))]
    return out


def top_mask(heat: np.ndarray, k: int) -> np.ndarray:
    """The k pixels of a square's map with the highest values (ties: first in row order)."""
    order = np.argsort(-heat.ravel(), kind="stable")[:k]
    mask = np.zeros(heat.size, bool)
    mask[order] = True
    return mask.reshape(heat.shape)


def random_block_mask(side: int, k: int, rng: np.random.Generator) -> np.ndarray:
    """k pixels of a side x side square made of random BLOCK px blocks (a random grid offset,
    blocks in random order, the last one cut short so that exactly k pixels are chosen)."""
    oy, ox = rng.integers(0, BLOCK, size=2)
    ys = range(-int(oy), side, BLOCK)
    xs = range(-int(ox), side, BLOCK)
    blocks = [(y, x) for y in ys for x in xs]
    mask = np.zeros((side, side), bool)
    chosen = 0
    for i in rng.permutation(len(blocks)):
        y, x = blocks[i]
        block = np.zeros((side, side), bool)
        block[max(y, 0):y + BLOCK, max(x, 0):x + BLOCK] = True
        new = block & ~mask
        n = int(new.sum())
        if chosen + n > k:
            new.ravel()[np.flatnonzero(new.ravel())[k - chosen:]] = False
            n = k - chosen
        mask |= new
        chosen += n
        if chosen >= k:
            break
    return mask


def blurred_judge(predictor, image: np.ndarray, square, masks: list[np.ndarray]) -> list[float]:
    """p_fake of the square with each mask's pixels blurred (one model call for all masks)."""
    x0, y0, side, _ = (int(v) for v in square)
    radius = max(1.0, side / 64)
    blurred = np.asarray(Image.fromarray(image).filter(ImageFilter.GaussianBlur(radius)))
    inputs = []
    for mask in masks:
        copy = image.copy()
        region = copy[y0:y0 + side, x0:x0 + side]
        region[mask] = blurred[y0:y0 + side, x0:x0 + side][mask]
        inputs.append(model_input(copy, predictor.contract, square)[0])
    return [float(p) for p in predictor.contract.probability(predictor.logits(np.stack(inputs)))]


def measure_one(predictor, image: np.ndarray, fill: str, draws: int,
                rng: np.random.Generator) -> dict | None:
    """One picture's p_fake, top drop and mean random drop; None when no face is judged."""
    result = explain(predictor, image, fill=fill)
    judged = [f for f in result["faces"] if f["heat"] is not None]
    if not judged:
        return None
    face = max(judged, key=lambda f: f["p_fake"])
    x0, y0, side, _ = (int(v) for v in face["crop"])
    heat = result["heat"][y0:y0 + side, x0:x0 + side]
    k = round(FRACTION * side * side)
    masks = [top_mask(heat, k)] + [random_block_mask(side, k, rng) for _ in range(draws)]
    probs = blurred_judge(predictor, image, face["crop"], masks)
    p0 = face["p_fake"]
    return {"p_fake": p0, "verdict": face["verdict"], "top": p0 - probs[0],
            "random": float(np.mean([p0 - p for p in probs[1:]]))}


def summarise(rows: list[dict]) -> dict:
    top = float(np.mean([r["top"] for r in rows]))
    rnd = float(np.mean([r["random"] for r in rows]))
    return {"n": len(rows), "top": top, "random": rnd, "ratio": top / rnd if rnd > 0 else float("inf"),
            "wins": float(np.mean([r["top"] > r["random"] for r in rows]))}


def measure(args, predictor, fakes) -> dict[str, dict]:
    """Per fill: the rows of every picture with a judged face, and the seconds taken."""
    out = {}
    fills = FILLS if args.fill == "both" else (args.fill,)
    for fill in fills:
        rng = np.random.default_rng(args.seed)
        start = time.perf_counter()
        rows = []
        for source, path in fakes:
            row = measure_one(predictor, load_image(path), fill, args.draws, rng)
            if row is not None:
                rows.append({"source": source, "path": path.name, **row})
        out[fill] = {"rows": rows, "seconds": time.perf_counter() - start}
        s = summarise(rows)
        print(f"fill {fill}: {s['n']} fakes, top drop {s['top']:.4f}, random drop {s['random']:.4f}, "
              f"ratio {s['ratio']:.2f}, top > random on {100 * s['wins']:.0f}%", flush=True)
    return out


def report(args, fakes, measured: dict[str, dict]) -> str:
    lines = ["# Evidence map faithfulness", "",
             "Generated faces of the cross-check set (never trained on): blurring the 10% of the "
             "face square's pixels that the evidence map ranks highest, against blurring as many "
             "pixels in random 16 px blocks of the same square (mean of "
             f"{args.draws} draws), then judging the same square again. Drop = p_fake before - "
             "after; ratio = mean top drop / mean random drop (target: at least 2).", "",
             f"    python benchmarks/explain.py --per-source {args.per_source} --draws {args.draws} "
             f"--fill {args.fill} --seed {args.seed}", "",
             f"{len(fakes)} fakes sampled ({args.per_source} per fake source, seed {args.seed}); a "
             "picture without a judged face is left out.", "",
             "| map fill | source | fakes | mean p_fake | top-10% drop | random-blocks drop | ratio "
             "| top > random |", "|---|---|---:|---:|---:|---:|---:|---:|"]
    for fill, m in measured.items():
        rows = m["rows"]
        groups = [(s, [r for r in rows if r["source"] == s]) for s in sorted({r["source"] for r in rows})]
        for source, group in [*groups, ("**all**", rows)]:
            s = summarise(group)
            mean_p = np.mean([r["p_fake"] for r in group])
            lines.append(f"| {fill} | {source} | {s['n']} | {mean_p:.3f} | {s['top']:.4f} "
                         f"| {s['random']:.4f} | {s['ratio']:.2f} | {100 * s['wins']:.0f}% |")
    lines += ["", "Seconds for the whole run per fill (maps and re-judging, this machine's CPU): " +
              ", ".join(f"{fill} {m['seconds']:.0f} s" for fill, m in measured.items()) + ".", ""]
    return "\n".join(lines)


def gallery(args, predictor) -> None:
    """Maps of fixture faces: per class, the most and the least suspicious face (right and wrong
    when the model gets one wrong), as small PNGs, and the table rows for docs/explain.md."""
    out = Path(args.gallery)
    out.mkdir(parents=True, exist_ok=True)
    for label in ("fake", "real"):
        scored = []
        for path in sorted((ROOT / "tests" / "fixtures" / "faces" / label).glob("*.jpg")):
            image = load_image(path)
            scored.append((explain(predictor, image, fill=args.fill if args.fill != "both" else "blur"),
                           image, path))
        scored.sort(key=lambda t: t[0]["p_fake"] if t[0]["p_fake"] is not None else -1)
        for result, image, path in (scored[0], scored[len(scored) // 2], scored[-1]):
            name = f"{label}-{path.stem}.png"
            picture = overlay(image, result, max_side=200).quantize(colors=128)
            picture.save(out / name, optimize=True)
            print(f"| {label} | {result['p_fake']:.3f} | {result['verdict']} | ![{label} {path.stem}]"
                  f"(explain/{name}) |")


def main(argv=None) -> int:
    args = parse_args(argv)
    predictor = Predictor.load(args.model)
    if args.gallery:
        gallery(args, predictor)
        return 0
    fakes = sample_fakes(Path(args.data), args.per_source, args.seed)
    measured = measure(args, predictor, fakes)
    text = report(args, fakes, measured)
    Path(args.out).write_text(text)
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
