"""The README's headline table: models side by side on the same sets, from benchmarks/floors.py's
saved results (no model is run here).

    python benchmarks/headline.py facecheck-v1=benchmarks/results/floors-v1 \
        facecheck-v2=benchmarks/results/floors-v2 reference=benchmarks/results/floors-reference

Prints a markdown table: every real source's real-acc (a real photo called "unsure" is not
accused), every fake source's fake-acc (a fake called "unsure" is not caught), ROC AUCs and the
share of "unsure", on the `faces` test split and the cross-check set.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path


def pct(v):
    return "-" if v is None else f"{100 * v:.1f}%"


def rows(results: dict[str, dict]) -> list[tuple[str, list[str]]]:
    first = next(iter(results.values()))
    out = []
    for set_name in ("faces-test", "crosscheck"):
        for src, r in first["sets"][set_name]["sources"].items():
            for cls in ("real", "fake"):
                if cls not in r["by_class"]:
                    continue
                label = f"`{set_name}` {src} {cls}s: {'real' if cls == 'real' else 'fake'}-acc"
                out.append((label, [pct(m["sets"][set_name]["sources"][src]["by_class"][cls]["acc"])
                                    for m in results.values()]))
        overall = [m["sets"][set_name]["overall"] for m in results.values()]
        out.append((f"`{set_name}` balanced accuracy", [pct(o["balanced_accuracy"]) for o in overall]))
        out.append((f"`{set_name}` ROC AUC", [f"{o['auc']:.3f}" for o in overall]))
        out.append((f"`{set_name}` unsure", [pct(o["unsure_share"]) for o in overall]))
    for set_name, src in (("faces-test", "rvf10k"), ("crosscheck", "hardfakevsrealfaces")):
        aucs = [m["sets"][set_name]["sources"][src]["auc"] for m in results.values()]
        out.append((f"`{set_name}` {src} ROC AUC", [f"{v:.3f}" for v in aucs]))
    passed = [sum(f["status"] == "PASS" for f in m["floors"]) for m in results.values()]
    total = [len(m["floors"]) for m in results.values()]
    out.append(("floors of issue #15 passed", [f"{p} / {t}" for p, t in zip(passed, total, strict=True)]))
    return out


def main(argv=None):
    args = argv if argv is not None else sys.argv[1:]
    results = {}
    for item in args:
        name, folder = item.split("=", 1)
        results[name] = json.loads((Path(folder) / "floors.json").read_text())
    head = "| | " + " | ".join(f"{n} (`{r['model']['model_version']}`)" for n, r in results.items()) + " |"
    lines = [head, "|---" * (len(results) + 1) + "|"]
    lines += [f"| {label} | " + " | ".join(vals) + " |" for label, vals in rows(results)]
    print("\n".join(lines))


if __name__ == "__main__":
    main()
