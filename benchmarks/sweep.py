"""Compare training runs per source, fast: for sweeps over recipes and seeds (issue #27).

    python benchmarks/sweep.py runs/v3/d128-s0 runs/v3/d128-s1 ... --out docs/sweep.md

Every run is scored on the pool's `faces` test split and on crosscheck, per source: ROC AUC where a
source has both classes, and at the run's own calibrated operating point the share of each fake
source caught and of each real source not accused (called real or unsure: what
`benchmarks/floors.py` counts as real-acc). The faces are cut by the contract's crop rule from
decoded pictures kept in the decode cache (training.data), so a sweep of ten runs costs minutes,
not the ten floors runs (every picture through `facecheck scan`) that confirm the one chosen.
Crosscheck pictures are decoded at 320 px (they are 256-300 px), the pool's at their native 160 px,
so each crop is cut from about the resolution the scanner sees. Runs named NAME-sN are also
summarised per NAME: the mean and the range over its seeds. `A+B` scores an ensemble of runs A and
B: the mean of their calibrated logits, its operating point chosen on the val split as training does
(`A@0.3+B@0.7` weights them); the val split's fakes caught at that point is reported, to choose by.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
from collections import defaultdict
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from facecheck import metrics as M  # noqa: E402
from facecheck.contract import Contract  # noqa: E402
from training.data import face_crops, list_samples, load_pixels  # noqa: E402

SETS = (("val", "faces/manifest.csv", "val", 160), ("faces", "faces/manifest.csv", "test", 160),
        ("crosscheck", "crosscheck/manifest.csv", None, 320))
TPDNE = "hardfakevsrealfaces"


def load_sets(data: Path, contract: Contract) -> dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """{set: (face crops at the model's input size, labels, sources)}."""
    out = {}
    for name, manifest, split, size in SETS:
        samples = list_samples(data / manifest, split)
        pixels, samples, failed = load_pixels(samples, size, progress=False)
        if failed:
            print(f"{name}: {len(failed)} undecodable pictures skipped", file=sys.stderr)
        crops, _ = face_crops(pixels, samples, contract, contract.input_size, progress=False)
        out[name] = (crops, np.array([s.label for s in samples]), np.array([s.source for s in samples]))
    return out


def probabilities(run: Path, sets) -> dict[str, np.ndarray]:
    """{set: the run's calibrated p_fake for every picture}: what `facecheck scan` would report."""
    import keras

    from facecheck.predictor import Predictor

    contract = Contract.load(run)
    predictor = Predictor(keras.models.load_model(run / "model.keras", compile=False), contract)
    return {name: M.sigmoid(predictor.logits(crops.astype(np.float32)) / contract.temperature)
            for name, (crops, _, _) in sets.items()}


def rows_at(ps: dict[str, np.ndarray], sets, threshold: float) -> dict:
    """{set/source: {auc, caught | called_real, n}} on the scored sets; of val (where the operating
    point was chosen), only the whole split's AUC and fakes caught: what a choice may be made by."""
    rows = {}
    for name, (_, y, src) in sets.items():
        p = ps[name]
        rows[f"{name}/all"] = {"auc": M.binary_report(y, p, threshold)["auc"], "n": len(y)}
        if name == "val":
            rows["val/all"]["caught"] = float((p[y == 1] >= threshold).mean())
            continue
        for s, r in M.per_source(y, p, src, threshold).items():
            row = rows[f"{name}/{s}"] = {"n": r["n"]}
            if r["fake_acc"] is not None:
                row["caught"] = r["fake_acc"]
            if r["real_acc"] is not None:
                row["called_real"] = r["real_acc"]  # not accused: unsure counts here
            if r["auc"] is not None:
                row["auc"] = r["auc"]
    return rows


def ensemble(members: list[dict[str, np.ndarray]], sets, weights=None) -> tuple[dict, float, float]:
    """Average the members' calibrated logits (weighted, weights normalised); choose the operating
    point on the val split as training.calibrate does (no val real source above 5% accused).
    Returns (ps, threshold, unsure_from)."""
    w = np.ones(len(members)) if weights is None else np.asarray(weights, float)
    w = w / w.sum()
    ps = {name: M.sigmoid(sum(wi * M.logit(m[name]) for wi, m in zip(w, members, strict=True)))
          for name in sets}
    _, y, src = sets["val"]
    threshold, unsure_from, _ = M.choose_operating_point(y, ps["val"], src)
    return ps, threshold, unsure_from


def columns(scores: dict) -> list[tuple[str, str]]:
    """(row key, measure) in a fixed order: AUCs, then fakes caught, then reals called real."""
    keys = sorted({k for s in scores.values() for k in s["rows"]})
    cols = [(k, "auc") for k in keys if all("auc" in s["rows"].get(k, {}) for s in scores.values())]
    cols += [(k, "caught") for k in keys if "caught" in next(iter(scores.values()))["rows"].get(k, {})]
    cols += [(k, "called_real") for k in keys
             if "called_real" in next(iter(scores.values()))["rows"].get(k, {})]
    return cols


def _fmt(measure: str, v: float) -> str:
    return f"{v:.3f}" if measure == "auc" else f"{100 * v:.1f}"


def render(scores: dict[str, dict], command: str) -> str:
    cols = columns(scores)
    groups = defaultdict(list)
    for run in scores:
        groups[re.sub(r"-s\d+$", "", run)].append(run)
    lines = [f"# Sweep: {len(scores)} runs, per source", "", f"Command: `{command}`", "",
             "AUC: ROC AUC. caught: % of a fake source called generated at the run's threshold. "
             "real: % of a real source not accused (below the threshold; unsure included, as in "
             "the floors). Per run, then per recipe (mean, min-max over its seeds).", ""]
    header = ["measure", *scores, *(f"{g} mean (min-max)" for g, runs in groups.items() if len(runs) > 1)]
    lines += ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    cells = [f"{s['threshold']:.3f}" for s in scores.values()] + [""] * (len(header) - 1 - len(scores))
    lines.append("| threshold | " + " | ".join(cells) + " |")
    for key, measure in cols:
        label = {"auc": "AUC", "caught": "caught", "called_real": "real"}[measure]
        vals = [scores[r]["rows"].get(key, {}).get(measure) for r in scores]
        cells = ["" if v is None else _fmt(measure, v) for v in vals]
        for runs in (r for r in groups.values() if len(r) > 1):
            vs = [scores[r]["rows"][key][measure] for r in runs]
            low, high = _fmt(measure, min(vs)), _fmt(measure, max(vs))
            cells.append(f"{_fmt(measure, float(np.mean(vs)))} ({low}-{high})")
        lines.append(f"| {key} {label} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def parse_spec(spec: str) -> list[tuple[Path, float]]:
    """"RUN" or "RUN[@W]+RUN[@W]...": the runs of an ensemble and their weights (default 1)."""
    members = []
    for part in spec.split("+"):
        path, _, weight = part.partition("@")
        members.append((Path(path), float(weight) if weight else 1.0))
    return members


def score(specs: list[str], data: Path) -> dict[str, dict]:
    """{name: {threshold, unsure_from, rows}} per spec (parse_spec): one run at its own operating
    point, or an ensemble of runs (their calibrated logits averaged, its operating point chosen
    on val)."""
    specs = {spec: parse_spec(spec) for spec in specs}
    sets_by_crop, probs = {}, {}
    for run in dict.fromkeys(r for members in specs.values() for r, _ in members):
        c = Contract.load(run)
        key = (c.input_size, c.crop_rule, c.crop_scale, c.crop_shift_y)
        if key not in sets_by_crop:
            sets_by_crop[key] = load_sets(data, c)
        probs[run] = probabilities(run, sets_by_crop[key])
        print(f"scored {run.name}", file=sys.stderr)
    sets = next(iter(sets_by_crop.values()))  # labels and sources are the same for every crop rule
    scores = {}
    for spec, members in specs.items():
        name = "+".join(Path(part).name for part in spec.split("+"))
        if len(members) == 1:
            c = Contract.load(members[0][0])
            ps, threshold, unsure_from = probs[members[0][0]], c.threshold, c.unsure_from
        else:
            ps, threshold, unsure_from = ensemble([probs[r] for r, _ in members], sets,
                                                  [w for _, w in members])
        scores[name] = {"threshold": threshold, "unsure_from": unsure_from,
                        "rows": rows_at(ps, sets, threshold)}
    return scores


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("runs", nargs="+", help="run folders (model.keras + contract.json); RUN+RUN scores "
                    "an ensemble of them (mean calibrated logit, operating point chosen on val), "
                    "RUN@W+RUN@W a weighted one")
    ap.add_argument("--data", default=str(ROOT.parent / "shared" / "data"))
    ap.add_argument("--out", help="markdown table to write (and a .json beside it)")
    args = ap.parse_args(argv)
    scores = score(args.runs, Path(args.data))
    text = render(scores, "python benchmarks/sweep.py " + " ".join(sys.argv[1:] if argv is None else argv))
    print(text)
    if args.out:
        Path(args.out).write_text(text)
        Path(args.out).with_suffix(".json").write_text(json.dumps(scores, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
