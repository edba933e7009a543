"""What averaging several runs would buy: the mean of their calibrated logits, scored per source.

    python benchmarks/ensemble.py REPORT_DIR REPORT_DIR [...]

Each REPORT_DIR is the output of `facecheck evaluate` for one run on the same set
(`predictions.csv`: path, label, source, p_fake_clean). The average is taken in logit space and
judged at p = 0.5 (every run shipped so far has threshold 0.5). Images any run could not judge
(no face) are left out for all. Prints each run alone, then their average: a lead for
distillation, not a shipped model (an average of N runs costs N times as much per face).
Ensembles at an operating point chosen on val, as a shipped model would be: `benchmarks/sweep.py
A+B` (from cached crops) and `python -m training.ensemble` (merged into one model folder).
"""

from __future__ import annotations

import argparse
import csv
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from facecheck import metrics as M  # noqa: E402


def read(report: Path) -> dict[str, tuple[int, str, float]]:
    with open(report / "predictions.csv", newline="") as f:
        return {r["path"]: (int(r["label"] == "fake"), r["source"],
                            float(r["p_fake_clean"]) if r["p_fake_clean"] else np.nan)
                for r in csv.DictReader(f)}


def row(name, y, src, p) -> str:
    rep = M.binary_report(y, p, 0.5)
    per = ", ".join(f"{s} {M.binary_report(y[src == s], p[src == s], 0.5)['accuracy']:.1%}"
                    for s in sorted(set(src)))
    auc = f"{rep['auc']:.4f}" if rep["auc"] is not None else "-"
    return (f"| {name} | {rep['n']} | {rep['accuracy']:.1%} | {auc} | {rep['real_acc']:.1%} | "
            f"{rep['fake_acc']:.1%} | {per} |")


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("reports", nargs="+", type=Path)
    args = ap.parse_args(argv)
    runs = [read(r) for r in args.reports]
    paths = sorted(set.intersection(*(set(r) for r in runs)))
    if not paths:
        sys.exit("the reports share no images: were they made on the same set?")
    y = np.array([runs[0][p][0] for p in paths])
    src = np.array([runs[0][p][1] for p in paths])
    probs = np.array([[r[p][2] for p in paths] for r in runs])
    judged = ~np.isnan(probs).any(axis=0)
    y, src, probs = y[judged], src[judged], np.clip(probs[:, judged], 1e-7, 1 - 1e-7)
    print("| run | images | accuracy | AUC | real-acc | fake-acc | per source |")
    print("|---|---|---|---|---|---|---|")
    for report, p in zip(args.reports, probs, strict=True):
        print(row(report.name, y, src, p))
    mean_logit = M.logit(probs).mean(axis=0)
    print(row(f"logit average of {len(runs)}", y, src, M.sigmoid(mean_logit)))


if __name__ == "__main__":
    main()
