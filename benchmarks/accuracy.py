"""Accuracy benchmark: the shipped model (and the reference CNN, when its run folder exists) on the
pool's test split and on the cross-check set, clean and degraded; plus a `facecheck scan` pass over
the cross-check set that must agree with `evaluate`.

    python benchmarks/accuracy.py --data ../shared/data [--reference runs/reference | --reuse-reference]

Every image goes through the whole predictor (face detection, crop rule, classifier); accuracy,
AUC and the per-class figures are over the images where a face was judged, and the last column
counts the others (no face found, or too small) as errors.

Writes benchmarks/results/accuracy.md (the tables the README and model card quote) and
benchmarks/results/<model>-<set>/ (evaluate's full reports).
"""

from __future__ import annotations

import argparse
import csv
import json
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from facecheck.contract import verdict_is_right  # noqa: E402
from facecheck.predictor import SHIPPED_MODEL_DIR  # noqa: E402
from training.evaluate import main as evaluate  # noqa: E402

SETS = {
    "faces-test": ("faces/manifest.csv", "test"),
    "crosscheck": ("crosscheck/manifest.csv", None),
}


def pct(v):
    return "-" if v is None else f"{100 * v:.1f}%"


def row(name, r):
    auc = "-" if r["auc"] is None else f"{r['auc']:.3f}"
    return (f"| {name} | {r.get('n_total', r['n'])} | {r.get('not_judged', 0)} | {pct(r['accuracy'])} "
            f"| {pct(r['balanced_accuracy'])} | {auc} | {pct(r['real_acc'])} | {pct(r['fake_acc'])} "
            f"| {pct(r.get('accuracy_all'))} |")


HEAD = ("| | images | no face judged | accuracy | balanced acc | ROC AUC | real-acc | fake-acc "
        "| accuracy, unjudged = wrong |\n|---|---|---|---|---|---|---|---|---|")


def scan_accuracy(model_dir: Path, manifest: Path, out: Path) -> dict:
    """Run the real `facecheck scan` command over the set and score its CSV."""
    labels = {}
    with open(manifest, newline="") as f:
        for r in csv.DictReader(f):
            labels[str((manifest.parent / r["path"]).resolve())] = r["label"]
    exe = ROOT / ".venv" / "bin" / "facecheck"
    cmd = [str(exe)] if exe.exists() else [sys.executable, "-m", "facecheck.cli"]
    t = time.time()
    subprocess.run(cmd + ["scan", str(manifest.parent), "--csv", str(out), "--model", str(model_dir),
                          "--quiet"], check=True)
    seconds = time.time() - t
    right, total = score_scan_csv(out, labels)
    return {"images": total, "accuracy": right / total, "seconds": round(seconds, 1)}


def score_scan_csv(path: Path, labels: dict[str, str]) -> tuple[int, int]:
    """(right, total) over the scan CSV's labelled rows, counted as `evaluate` and the floors count
    (contract.verdict_is_right); a picture with no face judged is wrong."""
    right = total = 0
    with open(path, newline="") as f:
        for r in csv.DictReader(f):
            label = labels.get(str(Path(r["path"]).resolve()))
            if label:
                total += 1
                right += verdict_is_right(label, r["verdict"])
    return right, total


def parse_args():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", default=str(ROOT.parent / "shared" / "data"))
    ap.add_argument("--model", default=str(SHIPPED_MODEL_DIR))
    ap.add_argument("--reference", default=str(ROOT / "runs" / "reference"),
                    help="reference CNN run folder (skipped when absent)")
    ap.add_argument("--out", default=str(ROOT / "benchmarks" / "results"))
    ap.add_argument("--reuse-reference", action="store_true",
                    help="read the reference model's reports from OUT/reference-*/metrics.json "
                         "(written by an earlier run or by `facecheck evaluate`) instead of re-evaluating")
    return ap.parse_args()


def main():
    args = parse_args()
    data, out = Path(args.data), Path(args.out)
    models = {"shipped": Path(args.model)}
    reusable = args.reuse_reference and all(
        (out / f"reference-{s}" / "metrics.json").exists() for s in SETS)
    if reusable or (Path(args.reference) / "model.keras").exists():
        models["reference"] = Path(args.reference)
    else:
        print(f"no reference run at {args.reference}: reporting the shipped model only", file=sys.stderr)

    reports = evaluate_sets(models, data, out, args.reuse_reference)
    scan = scan_accuracy(models["shipped"], data / "crosscheck" / "manifest.csv",
                         out / "shipped-crosscheck-scan.csv")
    raw = evaluate_raw_pictures(models["shipped"], data, out)
    ev = reports[("shipped", "crosscheck")]["conditions"]["clean"]["overall"]["accuracy_all"]
    agree = abs(ev - scan["accuracy"]) < 1e-9
    command_args = args.data + (" --reuse-reference" if args.reuse_reference else "")
    lines = render(command_args, list(models), reports, raw, scan, agree)
    out.mkdir(parents=True, exist_ok=True)
    (out / "accuracy.md").write_text("\n".join(lines) + "\n")
    summary = {f"{m}/{s}": {c: r["overall"] for c, r in rep["conditions"].items()}
               for (m, s), rep in reports.items()}
    summary["scan_crosscheck"] = scan
    (out / "accuracy.json").write_text(json.dumps(summary, indent=2) + "\n")
    print("\n".join(lines))
    if not agree:
        sys.exit("scan and evaluate disagree")


def evaluate_sets(models: dict[str, Path], data: Path, out: Path, reuse_reference: bool) -> dict:
    """evaluate's report of every model on every set: {(model name, set name): report}."""
    reports = {}
    for mname, mdir in models.items():
        for sname, (manifest, split) in SETS.items():
            saved = out / f"{mname}-{sname}" / "metrics.json"
            if mname == "reference" and reuse_reference and saved.exists():
                reports[(mname, sname)] = json.loads(saved.read_text())
                continue
            argv = ["--data", str(data / manifest), "--model", str(mdir),
                    "--out", str(out / f"{mname}-{sname}"), "--quiet"]
            if split:
                argv += ["--split", split]
            reports[(mname, sname)] = evaluate(argv)
    return reports


def evaluate_raw_pictures(model_dir: Path, data: Path, out: Path) -> dict:
    """The same model on the raw pictures (the whole centred square, no detector): the full
    pipeline must not do worse on the cross-check set than this."""
    with tempfile.TemporaryDirectory() as tmp:
        for name in ("model.keras", "contract.json"):
            shutil.copy(model_dir / name, tmp)
        contract = json.loads((Path(tmp) / "contract.json").read_text())
        contract["crop_rule"] = "centre-square"
        (Path(tmp) / "contract.json").write_text(json.dumps(contract))
        return evaluate(["--data", str(data / "crosscheck" / "manifest.csv"), "--model", tmp,
                         "--out", str(out / "shipped-crosscheck-raw"), "--conditions", "clean", "--quiet"])


def render(data_arg: str, model_names: list[str], reports: dict, raw: dict, scan: dict,
           agree: bool) -> list[str]:
    """accuracy.md's lines."""
    lines = ["# Accuracy benchmark", "",
             f"Command: `python benchmarks/accuracy.py --data {data_arg}` (`make benchmark`).", ""]
    for mname in model_names:
        version = reports[(mname, "crosscheck")]["model_version"]
        thr = reports[(mname, "crosscheck")]["threshold"]
        lines += [f"## {mname} model ({version}, threshold {thr:.3f})", ""]
        lines += _older_data_note(reports, mname)
        for sname in SETS:
            lines += _set_section(sname, reports[(mname, sname)])
    ev = reports[("shipped", "crosscheck")]["conditions"]["clean"]["overall"]["accuracy_all"]
    lines += ["## Full pipeline vs the raw pictures (shipped model, cross-check set, clean)", "", HEAD,
              row("face detection + crop rule (the predictor)",
                  reports[("shipped", "crosscheck")]["conditions"]["clean"]["overall"]),
              row("whole picture (centred square, no detector)", raw["conditions"]["clean"]["overall"]),
              ""]
    lines += ["## `facecheck scan` over the cross-check folder (shipped model)", "",
              f"{scan['images']} images, accuracy {pct(scan['accuracy'])}, "
              f"{scan['seconds']} s wall including start-up.", ""]
    lines.append(f"`scan` and `evaluate` agree: {'yes' if agree else 'NO'} "
                 f"(evaluate {pct(ev)}, scan {pct(scan['accuracy'])}).")
    return lines


def _older_data_note(reports: dict, mname: str) -> list[str]:
    """A line when this model's reports cover other pictures than the shipped model's (reports
    reused with --reuse-reference from before the data grew): compare such tables per source."""
    def count(m, sname):
        overall = reports[(m, sname)]["conditions"]["clean"]["overall"]
        return overall.get("n_total", overall["n"])
    differ = [f"{sname} {count(mname, sname)} vs {count('shipped', sname)}" for sname in SETS
              if count(mname, sname) != count("shipped", sname)]
    if mname == "shipped" or not differ:
        return []
    return [f"These reports were reused from an earlier run over an older, smaller version of the "
            f"data (images: {', '.join(differ)}): compare them with the shipped model per source, "
            "not overall.", ""]


def _set_section(sname: str, rep: dict) -> list[str]:
    clean = rep["conditions"]["clean"]
    lines = [f"### {sname}: clean, overall and per source", "", HEAD, row("**all**", clean["overall"])]
    lines += [row(src, r) for src, r in clean["per_source"].items()]
    lines += ["", f"### {sname}: robustness (all sources)", "", HEAD]
    lines += [row(c, res["overall"]) for c, res in rep["conditions"].items()]
    if "calibration" in rep:
        lines += ["", f"Expected calibration error (clean): {rep['calibration']['ece']:.3f}"]
    lines.append("")
    return lines


if __name__ == "__main__":
    main()
