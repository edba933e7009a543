"""The README's headline table: models side by side on the same sets, from benchmarks/floors.py's
saved results (no model is run here).

    python benchmarks/headline.py [--readme README.md] facecheck-v1=benchmarks/results/floors-v1 \
        facecheck-v2=benchmarks/results/floors-v2 reference=benchmarks/results/floors-reference

Prints a markdown table: every real source's real-acc (a real photo called "unsure" is not
accused), every fake source's fake-acc (a fake called "unsure" is not caught), ROC AUCs and the
share of "unsure", on the `faces` test split and the cross-check set. With --readme, also writes
the table into that file below its `<!-- HEADLINE: ... -->` line (`make benchmark` does).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path


def pct(v):
    return "-" if v is None else f"{100 * v:.1f}%"


def _acc(doc: dict, set_name: str, src: str, cls: str):
    """A source's per-class accuracy, None where that model's run had no such source (an older
    run, measured before the data grew, shows "-")."""
    return doc["sets"][set_name]["sources"].get(src, {}).get("by_class", {}).get(cls, {}).get("acc")


def rows(results: dict[str, dict]) -> list[tuple[str, list[str]]]:
    out = []
    for set_name in ("faces-test", "crosscheck"):
        sources = {}
        for m in results.values():
            for src, r in m["sets"][set_name]["sources"].items():
                sources.setdefault(src, set()).update(r["by_class"])
        for src, classes in sources.items():
            for cls in ("real", "fake"):
                if cls not in classes:
                    continue
                label = f"`{set_name}` {src} {cls}s: {'real' if cls == 'real' else 'fake'}-acc"
                out.append((label, [pct(_acc(m, set_name, src, cls)) for m in results.values()]))
        overall = [m["sets"][set_name]["overall"] for m in results.values()]
        out.append((f"`{set_name}` balanced accuracy", [pct(o["balanced_accuracy"]) for o in overall]))
        out.append((f"`{set_name}` ROC AUC", [f"{o['auc']:.3f}" for o in overall]))
        out.append((f"`{set_name}` unsure", [pct(o["unsure_share"]) for o in overall]))
    for set_name, src in (("faces-test", "rvf10k"), ("crosscheck", "hardfakevsrealfaces")):
        aucs = [m["sets"][set_name]["sources"][src]["auc"] for m in results.values()]
        out.append((f"`{set_name}` {src} ROC AUC", [f"{v:.3f}" for v in aucs]))
    passed = [sum(f["status"] == "PASS" for f in m["floors"]) for m in results.values()]
    total = [len(m["floors"]) for m in results.values()]
    issues = [m.get("floors_issue", "15") for m in results.values()]
    if len(set(issues)) == 1:
        label = f"floors of issue #{issues[0]} passed"
        cells = [f"{p} / {t}" for p, t in zip(passed, total, strict=True)]
    else:
        label = "floors passed (of the issue named)"
        cells = [f"{p} / {t} (#{i})" for p, t, i in zip(passed, total, issues, strict=True)]
    out.append((label, cells))
    return out


def replace_table(readme: str, command: str, table: str) -> str:
    """The README with the table after its `<!-- HEADLINE: ... -->` line replaced (and the line's
    command brought up to date); ValueError when the README has no such line."""
    lines = readme.split("\n")
    starts = [i for i, line in enumerate(lines) if line.startswith("<!-- HEADLINE:")]
    if len(starts) != 1:
        raise ValueError("the README needs exactly one '<!-- HEADLINE: ... -->' line")
    start = end = starts[0] + 1
    while end < len(lines) and lines[end].startswith("|"):
        end += 1
    return "\n".join([*lines[: start - 1], f"<!-- HEADLINE: {command} -->", table, *lines[end:]])


def main(argv=None):
    args = list(argv if argv is not None else sys.argv[1:])
    readme = None
    if args[:1] == ["--readme"]:
        readme, args = Path(args[1]), args[2:]
    results = {}
    for item in args:
        name, folder = item.split("=", 1)
        results[name] = json.loads((Path(folder) / "floors.json").read_text())
    head = "| | " + " | ".join(f"{n} (`{r['model']['model_version']}`)" for n, r in results.items()) + " |"
    lines = [head, "|---" * (len(results) + 1) + "|"]
    lines += [f"| {label} | " + " | ".join(vals) + " |" for label, vals in rows(results)]
    table = "\n".join(lines)
    print(table)
    if readme:
        command = "python benchmarks/headline.py " + " ".join(args)
        readme.write_text(replace_table(readme.read_text(), command, table))


if __name__ == "__main__":
    main()
