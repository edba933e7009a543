"""Acceptance-floor benchmark (issues #15 and #27), measured through the real `facecheck scan` command.

    python benchmarks/floors.py --data ../shared/data [--model DIR] [--out benchmarks/results/floors]
                                [--limit N] [--strict] [--floors 27|15]

Scans, in one `facecheck scan ... --json` run: the `faces` test split, the cross-check set (clean,
re-encoded as JPEG quality 50, and rescaled to 0.5x and back: training.evaluate.degrade's `jpeg50`
and `down0.5`, written losslessly to a temporary folder), and UTKFace's val+test images (fairness).

Counting rules, per the six verdicts (fake / unsure / real / no-face / too-small / error):
- a real photo called `unsure` is not an accusation: it counts as right for real-acc;
- a fake called `unsure` is not caught: it counts as wrong for fake-acc;
- no-face, too-small and error pictures are not judged: they are counted apart, and every accuracy
  and AUC is over the judged pictures only. The unsure share is over all pictures of a set.

Writes OUT/floors.md (the tables, also printed), OUT/floors.json (every number) and
OUT/predictions.csv (one row per scanned picture and set). Exits 0 even when floors fail (it is a
report); with --strict it exits 1 when any floor is not PASS (a floor that cannot be measured,
e.g. for lack of images under --limit, is `n/a` and counts as not passed).
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import random
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from PIL import Image  # noqa: E402

from facecheck import metrics as M  # noqa: E402
from facecheck.contract import verdict_is_right  # noqa: E402
from facecheck.images import ImageError, load_image  # noqa: E402
from training.evaluate import CONDITIONS, degrade  # noqa: E402

# The acceptance floors of issue #15: the one place they are written down.
FLOORS = {
    # faces test split, per real source: real-acc (unsure counts as right) >= this
    "faces_real_acc": {"default": 0.95, "rvf10k": 0.88, "realorfake": 0.90},
    # faces test split, per fake source: fake-acc (unsure counts as wrong) >= this
    "faces_fake_acc": {"default": 0.85},
    # faces test split ROC AUC (from p_fake, judged pictures): overall, and per source
    "faces_auc": {"overall": 0.95, "rvf10k": 0.93},
    # cross-check set, clean, per source
    "crosscheck": {
        "hardfakevsrealfaces": {"real_acc": 0.92, "fake_acc": 0.88, "auc": 0.97},
        "taiwanese_studio": {"real_acc": 0.95},
    },
    # cross-check hardfakevsrealfaces: balanced-accuracy drop vs clean, at most (fraction: 0.04 = 4 pts)
    "degraded_max_drop": {"source": "hardfakevsrealfaces", "crosscheck-jpeg50": 0.04,
                          "crosscheck-down0.5": 0.04},
    # UTKFace real faces (val+test): no group of >= min_group judged faces with an accusation rate
    # over max(times_average x average, average + plus_points)
    "fairness": {"min_group": 30, "times_average": 2.0, "plus_points": 0.05},
    # unsure share of the pictures of every faces-test source and every cross-check source, at most
    "unsure_share_max": 0.15,
}

# Issue #27's floors (facecheck-v3), stricter: every real source >= 95 % (none excepted), every
# fake source >= 90 %, the grown crosscheck's generators, higher AUCs, and no UTKFace group above
# 5 % accused ("max_rate", on top of the relative limit). `--floors 15` measures against the old.
FLOORS_27 = {
    **FLOORS,
    "faces_real_acc": {"default": 0.95},
    "faces_fake_acc": {"default": 0.90},
    "faces_auc": {"overall": 0.98, "rvf10k": 0.97},
    "crosscheck": {
        "hardfakevsrealfaces": {"real_acc": 0.95, "fake_acc": 0.90, "auc": 0.99},
        "taiwanese_studio": {"real_acc": 0.95},
        "generated_photos": {"fake_acc": 0.95},
        "stylegan3": {"fake_acc": 0.75},
    },
    "fairness": {**FLOORS["fairness"], "max_rate": 0.05},
}
FLOOR_SETS = {"15": FLOORS, "27": FLOORS_27}

# The degraded cross-check conditions (names from training.evaluate.CONDITIONS).
DEGRADED = ("jpeg50", "down0.5")
UNJUDGED = ("no-face", "too-small", "error")
AGE_BANDS = ((0, 12, "0-12"), (13, 19, "13-19"), (20, 39, "20-39"), (40, 59, "40-59"), (60, 10_000, "60+"))
GENDERS = {"0": "male", "1": "female"}
RACES = {"0": "White", "1": "Black", "2": "Asian", "3": "Indian", "4": "other"}


# ----------------------------------------------------------------------------- pure counting


def _div(a, b):
    return a / b if b else None


def roc_auc(labels, scores):
    """ROC AUC (fake = positive) with ties counted half (facecheck.metrics.roc_auc); None unless
    both classes are present."""
    if not ({"fake", "real"} <= set(labels)):
        return None
    return M.roc_auc([lab == "fake" for lab in labels], scores)


def _class_counts(rows) -> dict:
    n = len(rows)
    out = {"n": n, "judged": 0, "right": 0, "unsure": 0,
           "no_face": 0, "too_small": 0, "error": 0}
    for r in rows:
        v = r["verdict"]
        if v in UNJUDGED:
            out[v.replace("-", "_")] += 1
            continue
        out["judged"] += 1
        out["unsure"] += v == "unsure"
        out["right"] += verdict_is_right(r["label"], v)
    out["unjudged"] = out["no_face"] + out["too_small"] + out["error"]
    out["acc"] = _div(out["right"], out["judged"])
    out["unsure_share"] = _div(out["unsure"], n)
    return out


def score_set(rows) -> dict:
    """Score one set (or one source) of scan rows: dicts with `label` (real|fake), `verdict` (one of
    the six) and `p_fake` (None when not judged).

    Returns n, judged / unjudged counts (no_face, too_small, error), unsure count and share (of all
    pictures), real_acc, fake_acc, balanced_accuracy, accuracy (judged pictures), ROC AUC (judged
    pictures, both classes needed) and the same counts per class under `by_class`."""
    by_class = {c: _class_counts([r for r in rows if r["label"] == c]) for c in ("real", "fake")}
    overall = _class_counts(rows)
    real_acc, fake_acc = by_class["real"]["acc"], by_class["fake"]["acc"]
    judged = [r for r in rows if r["verdict"] not in UNJUDGED and r.get("p_fake") is not None]
    out = {k: overall[k] for k in ("n", "judged", "unjudged", "no_face", "too_small", "error",
                                   "unsure", "unsure_share")}
    out.update({
        "n_real": by_class["real"]["n"], "n_fake": by_class["fake"]["n"],
        "real_acc": real_acc, "fake_acc": fake_acc,
        "balanced_accuracy": None if real_acc is None or fake_acc is None else (real_acc + fake_acc) / 2,
        "accuracy": overall["acc"],
        "auc": roc_auc([r["label"] for r in judged], [float(r["p_fake"]) for r in judged]),
        "by_class": {c: v for c, v in by_class.items() if v["n"]},
    })
    return out


def score_by_source(rows) -> dict:
    """{"overall": score_set(rows), "sources": {source: score_set(its rows)}}."""
    groups = defaultdict(list)
    for r in rows:
        groups[r["source"]].append(r)
    return {"overall": score_set(rows), "sources": {s: score_set(g) for s, g in sorted(groups.items())}}


def utk_groups(name: str) -> dict:
    """{'age': band, 'gender': ..., 'race': ...} from a UTKFace file name `age_gender_race_date...`
    (a path or bare name); a part that is missing or malformed is left out."""
    parts = os.path.basename(name).split("_")
    out = {}
    if parts and parts[0].isdigit():
        age = int(parts[0])
        out["age"] = next(b for lo, hi, b in AGE_BANDS if lo <= age <= hi)
    if len(parts) > 1 and parts[1] in GENDERS:
        out["gender"] = GENDERS[parts[1]]
    if len(parts) > 2 and parts[2] in RACES:
        out["race"] = RACES[parts[2]]
    return out


def fairness(rows, min_group=None, times_average=None, plus_points=None, max_rate=None) -> dict:
    """Accusation rates (real faces called `fake`; unsure is not an accusation) by age band, gender
    and race, over judged UTKFace real faces. Rows: dicts with `name` (the UTKFace file name or its
    origin path), `verdict`. Flags each group of >= min_group judged faces whose rate exceeds
    max(times_average x average, average + plus_points), or max_rate where that is lower."""
    cfg = FLOORS["fairness"]
    min_group = cfg["min_group"] if min_group is None else min_group
    times_average = cfg["times_average"] if times_average is None else times_average
    plus_points = cfg["plus_points"] if plus_points is None else plus_points
    judged = [r for r in rows if r["verdict"] not in UNJUDGED]
    accused = sum(r["verdict"] == "fake" for r in judged)
    average = _div(accused, len(judged))
    limit = None if average is None else max(times_average * average, average + plus_points)
    if limit is not None and max_rate is not None:
        limit = min(limit, max_rate)
    groups = []
    order = {"age": [b for *_, b in AGE_BANDS], "gender": list(GENDERS.values()),
             "race": list(RACES.values())}
    counts = defaultdict(lambda: {"n": 0, "judged": 0, "accused": 0})
    for r in rows:
        for attr, value in utk_groups(r["name"]).items():
            c = counts[(attr, value)]
            c["n"] += 1
            if r["verdict"] not in UNJUDGED:
                c["judged"] += 1
                c["accused"] += r["verdict"] == "fake"
    for attr, values in order.items():
        for value in values:
            if (attr, value) not in counts:
                continue
            c = counts[(attr, value)]
            rate = _div(c["accused"], c["judged"])
            flagged = bool(c["judged"] >= min_group and rate is not None and limit is not None
                           and rate > limit)
            groups.append({"attribute": attr, "group": value, **c, "rate": rate, "flagged": flagged})
    return {"n": len(rows), "judged": len(judged), "accused": accused, "average": average,
            "limit": limit, "min_group": min_group, "groups": groups,
            "flagged": [f"{g['attribute']} {g['group']}" for g in groups if g["flagged"]]}


def _floor(name, value, floor, kind, op=">=", detail=""):
    if value is None:
        status = "n/a"
    else:
        ok = value >= floor if op == ">=" else value <= floor
        status = "PASS" if ok else "FAIL"
    return {"name": name, "value": value, "floor": floor, "op": op, "kind": kind, "status": status,
            "detail": detail}


def check_floors(results: dict, floors: dict = FLOORS) -> list[dict]:
    """Every floor of `floors` against `results` ({"sets": {set: score_by_source(...)},
    "fairness": fairness(...)}); a list of {name, value, floor, op, kind, status (PASS|FAIL|n/a)}."""
    sets = results["sets"]
    out = []
    faces = sets.get("faces-test", {"overall": {}, "sources": {}})
    for src, s in faces["sources"].items():
        if s["n_real"]:
            floor = floors["faces_real_acc"].get(src, floors["faces_real_acc"]["default"])
            out.append(_floor(f"faces test {src} real-acc", s["real_acc"], floor, "pct"))
    for src, s in faces["sources"].items():
        if s["n_fake"]:
            floor = floors["faces_fake_acc"].get(src, floors["faces_fake_acc"]["default"])
            out.append(_floor(f"faces test {src} fake-acc", s["fake_acc"], floor, "pct"))
    for src, floor in floors["faces_auc"].items():
        s = faces["overall"] if src == "overall" else faces["sources"].get(src, {})
        out.append(_floor(f"faces test {src} ROC AUC", s.get("auc"), floor, "auc"))
    cc = sets.get("crosscheck", {"overall": {}, "sources": {}})
    for src, metrics in floors["crosscheck"].items():
        s = cc["sources"].get(src, {})
        for metric, floor in metrics.items():
            label = {"real_acc": "real-acc", "fake_acc": "fake-acc", "auc": "ROC AUC"}[metric]
            out.append(_floor(f"crosscheck {src} {label}", s.get(metric), floor,
                              "auc" if metric == "auc" else "pct"))
    drop_cfg = floors["degraded_max_drop"]
    src = drop_cfg["source"]
    clean = cc["sources"].get(src, {}).get("balanced_accuracy")
    for name, max_drop in drop_cfg.items():
        if name == "source":
            continue
        deg = sets.get(name, {"sources": {}})["sources"].get(src, {}).get("balanced_accuracy")
        drop = None if clean is None or deg is None else clean - deg
        out.append(_floor(f"{name.removeprefix('crosscheck-')} {src} balanced-acc drop vs clean", drop,
                          max_drop, "points", "<=",
                          "" if drop is None else f"clean {100 * clean:.1f}% -> {100 * deg:.1f}%"))
    fair = results.get("fairness")
    if fair is not None:
        big = [g for g in fair["groups"] if g["judged"] >= fair["min_group"] and g["rate"] is not None]
        worst = max(big, key=lambda g: g["rate"], default=None)
        detail = "" if worst is None or fair["limit"] is None else (
            f"average {100 * fair['average']:.1f}%, limit {100 * fair['limit']:.1f}%, worst "
            f"{worst['attribute']} {worst['group']} {100 * worst['rate']:.1f}%"
            + (f"; over: {', '.join(fair['flagged'])}" if fair["flagged"] else ""))
        value = None if fair["average"] is None else len(fair["flagged"])
        out.append(_floor("fairness: UTKFace groups over the limit", value, 0, "count", "<=", detail))
    for set_name in ("faces-test", "crosscheck"):
        for src, s in sets.get(set_name, {"sources": {}})["sources"].items():
            out.append(_floor(f"{set_name} {src} unsure share", s["unsure_share"],
                              floors["unsure_share_max"], "pct", "<="))
    return out


def stratified_limit(items: list[dict], limit: int, seed: int = 0) -> list[dict]:
    """At most `limit` items, spread round-robin over the (source, label) strata (each shuffled with
    `seed`), so every stratum is present whenever limit >= the number of strata. Order kept."""
    if not limit or limit >= len(items):
        return list(items)
    strata = defaultdict(list)
    for i, it in enumerate(items):
        strata[(it["source"], it["label"])].append(i)
    rng = random.Random(seed)
    queues = []
    for key in sorted(strata):
        idx = strata[key][:]
        rng.shuffle(idx)
        queues.append(idx)
    chosen: list[int] = []
    while len(chosen) < limit:
        for q in queues:
            if q and len(chosen) < limit:
                chosen.append(q.pop())
    return [items[i] for i in sorted(chosen)]


# ----------------------------------------------------------------------------- report


def _pct(v):
    return "-" if v is None else f"{100 * v:.1f}%"


def _fmt(kind, v):
    if v is None:
        return "-"
    if kind == "points":
        return f"{round(100 * v, 1) + 0.0:.1f} pts"  # + 0.0: no "-0.0"
    return {"pct": _pct, "auc": lambda x: f"{x:.3f}", "count": lambda x: str(int(x))}[kind](v)


def render_markdown(report: dict) -> str:
    m = report["model"]
    band = "no unsure band" if m.get("unsure_from") is None else f"unsure from {m['unsure_from']}"
    lines = [f"# Acceptance floors (issue #{report.get('floors_issue', '15')})", "",
             f"Model `{m.get('model_version')}` (threshold {m.get('threshold')}, {band}), measured "
             f"through `facecheck scan`. Command: `{report['command']}`; "
             f"{report['seconds']['total']:.0f} s wall ({report['seconds']['scan']:.0f} s in the scan, "
             f"{report['images_scanned']} pictures).", "",
             "Real photos called `unsure` count as right (not an accusation), fakes called `unsure` as "
             "wrong (not caught). Accuracies and AUC are over judged pictures; no-face, too-small and "
             "unreadable pictures are counted apart. Unsure % is of all the pictures of the row.", ""]
    if report.get("limit"):
        lines += [f"**--limit {report['limit']}: a sample of at most {report['limit']} pictures per set; "
                  "not the acceptance figures.**", ""]
    lines += ["## Sets", "",
              "| set | n | judged | real-acc | fake-acc | balanced acc | accuracy | ROC AUC | unsure "
              "| no-face | too-small | error |", "|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for name, res in report["sets"].items():
        s = res["overall"]
        lines.append(f"| {name} | {s['n']} | {s['judged']} | {_pct(s['real_acc'])} | {_pct(s['fake_acc'])} "
                     f"| {_pct(s['balanced_accuracy'])} | {_pct(s['accuracy'])} | {_fmt('auc', s['auc'])} "
                     f"| {_pct(s['unsure_share'])} | {s['no_face']} | {s['too_small']} | {s['error']} |")
    lines += ["", "## Per source and class", "",
              "| set | source | class | n | judged | real-acc / fake-acc | unsure | no-face | too-small "
              "| error | ROC AUC (source) |", "|---|---|---|---|---|---|---|---|---|---|---|"]
    for name, res in report["sets"].items():
        for src, s in res["sources"].items():
            for cls, c in s["by_class"].items():
                lines.append(f"| {name} | {src} | {cls} | {c['n']} | {c['judged']} | {_pct(c['acc'])} "
                             f"| {_pct(c['unsure_share'])} | {c['no_face']} | {c['too_small']} "
                             f"| {c['error']} | {_fmt('auc', s['auc'])} |")
    fair = report["fairness"]
    lines += ["", "## Fairness: UTKFace real faces (val+test) called `fake`", "",
              f"{fair['judged']} judged of {fair['n']}; average accusation rate {_pct(fair['average'])}; "
              f"limit max(2 x average, average + 5 pts) = {_pct(fair['limit'])}, applied to groups of "
              f">= {fair['min_group']} judged faces.", "",
              "| attribute | group | n | judged | called fake | rate | over the limit |",
              "|---|---|---|---|---|---|---|"]
    for g in fair["groups"]:
        small = g["judged"] < fair["min_group"]
        mark = "**YES**" if g["flagged"] else (f"(under {fair['min_group']})" if small else "no")
        lines.append(f"| {g['attribute']} | {g['group']} | {g['n']} | {g['judged']} | {g['accused']} "
                     f"| {_pct(g['rate'])} | {mark} |")
    n_fail = sum(f["status"] != "PASS" for f in report["floors"])
    lines += ["", f"## Floors: {len(report['floors']) - n_fail} of {len(report['floors'])} pass", "",
              "| floor | value | floor | result | |", "|---|---|---|---|---|"]
    for f in report["floors"]:
        status = f"**{f['status']}**" if f["status"] != "PASS" else "PASS"
        lines.append(f"| {f['name']} | {_fmt(f['kind'], f['value'])} "
                     f"| {f['op']} {_fmt(f['kind'], f['floor'])} | {status} | {f['detail']} |")
    return "\n".join(lines) + "\n"


# ----------------------------------------------------------------------------- the run


def read_sets(data: Path, limit: int = 0) -> dict[str, list[dict]]:
    """The pictures of each clean set: dicts with path (absolute), label, source, name."""
    faces_manifest = data / "faces" / "manifest.csv"
    cc_manifest = data / "crosscheck" / "manifest.csv"

    def items(manifest, keep):
        with open(manifest, newline="") as f:
            return [{"path": str((manifest.parent / r["path"]).resolve()), "label": r["label"],
                     "source": r["source"], "name": os.path.basename(r.get("origin_path") or r["path"])}
                    for r in csv.DictReader(f) if keep(r)]

    return {
        "faces-test": stratified_limit(items(faces_manifest, lambda r: r["split"] == "test"), limit),
        "crosscheck": stratified_limit(items(cc_manifest, lambda r: True), limit),
        "utkface-valtest": stratified_limit(
            items(faces_manifest, lambda r: r["source"] == "utkface" and r["split"] in ("val", "test")),
            limit),
    }


def run_scan(folders: list[Path], out_json: Path, model: str | None) -> dict:
    exe = ROOT / ".venv" / "bin" / "facecheck"
    cmd = [str(exe)] if exe.exists() else [sys.executable, "-m", "facecheck.cli"]
    cmd += ["scan", *map(str, folders), "--json", str(out_json), "--quiet"]
    if model:
        cmd += ["--model", str(model)]
    subprocess.run(cmd, check=True, cwd=ROOT)
    return json.loads(out_json.read_text())


def parse_args(argv=None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", default=str(ROOT.parent / "shared" / "data"))
    ap.add_argument("--model", help="model folder (default: the shipped model)")
    ap.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "floors"))
    ap.add_argument("--limit", type=int, default=0,
                    help="at most N pictures per set, spread over its sources and classes (development)")
    ap.add_argument("--strict", action="store_true", help="exit 1 when any floor is not PASS")
    ap.add_argument("--floors", choices=sorted(FLOOR_SETS), default="27",
                    help="which issue's floors to check: 27 (facecheck-v3, default) or 15 (v1/v2's)")
    return ap.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    t0 = time.time()
    data, out = Path(args.data), Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    missing = [c for c in DEGRADED if c not in CONDITIONS]
    if missing:
        sys.exit(f"training.evaluate has no condition {missing}")
    clean_sets = read_sets(data, args.limit)

    with tempfile.TemporaryDirectory(prefix="facecheck-floors-") as tmp:
        tmp = Path(tmp)
        link_of = link_originals(clean_sets, tmp / "clean")
        deg_file, pre_errors = write_degraded(clean_sets["crosscheck"], tmp)
        t_scan = time.time()
        doc = run_scan([tmp / "clean", *(tmp / c for c in DEGRADED)], tmp / "scan.json", args.model)
        scan_seconds = time.time() - t_scan
    results = {os.path.abspath(r["path"]): r for r in doc["results"]}
    for path, err in pre_errors.items():
        results.setdefault(path, {"path": path, "p_fake": None, "verdict": "error", "error": err})

    def rows_of(name, file_of):
        return scan_rows(clean_sets[name], file_of, results)

    set_rows = {"faces-test": rows_of("faces-test", lambda it: link_of[it["path"]]),
                "crosscheck": rows_of("crosscheck", lambda it: link_of[it["path"]])}
    for cond in DEGRADED:
        set_rows[f"crosscheck-{cond}"] = rows_of("crosscheck", lambda it, c=cond: deg_file[(c, it["path"])])
    utk_rows = rows_of("utkface-valtest", lambda it: link_of[it["path"]])

    report = {
        "command": "python benchmarks/floors.py " + " ".join(argv if argv is not None else sys.argv[1:]),
        "model": doc["model"], "data": str(data), "limit": args.limit,
        "images_scanned": len(doc["results"]),
        "sets": {name: score_by_source(rows) for name, rows in set_rows.items()},
        "fairness": fairness(utk_rows, **FLOOR_SETS[args.floors]["fairness"]),
        "floors_issue": args.floors, "floors_config": FLOOR_SETS[args.floors],
    }
    report["floors"] = check_floors(report, FLOOR_SETS[args.floors])
    report["seconds"] = {"scan": round(scan_seconds, 1), "total": round(time.time() - t0, 1)}
    text = render_markdown(report)
    (out / "floors.md").write_text(text)
    (out / "floors.json").write_text(json.dumps(report, indent=2) + "\n")
    write_predictions(out / "predictions.csv", {**set_rows, "utkface-valtest": utk_rows}, data)
    print(text)
    failed = [f["name"] for f in report["floors"] if f["status"] != "PASS"]
    if args.strict and failed:
        print(f"{len(failed)} floor(s) not met: {', '.join(failed)}", file=sys.stderr)
        return 1
    return 0


def link_originals(clean_sets: dict[str, list[dict]], folder: Path) -> dict[str, str]:
    """One symlink in `folder` per distinct original (UTKFace test pictures are in two sets):
    {original path: link}."""
    folder.mkdir()
    link_of: dict[str, str] = {}
    for items in clean_sets.values():
        for it in items:
            if it["path"] not in link_of:
                link = folder / f"{len(link_of):05d}{Path(it['path']).suffix.lower()}"
                link.symlink_to(it["path"])
                link_of[it["path"]] = str(link)
    return link_of


def write_degraded(items: list[dict], tmp: Path) -> tuple[dict[tuple[str, str], str], dict[str, str]]:
    """Each picture under every DEGRADED condition, as PNG in tmp/CONDITION/ (lossless: the scan
    sees exactly degrade()'s pixels): {(condition, original path): file}, and {file: error} for
    the pictures that could not be read."""
    deg_file: dict[tuple[str, str], str] = {}
    pre_errors: dict[str, str] = {}
    for cond in DEGRADED:
        (tmp / cond).mkdir()
    for i, it in enumerate(items):
        try:
            img = load_image(it["path"])
        except ImageError as e:
            for cond in DEGRADED:
                pre_errors[str(tmp / cond / f"{i:05d}.png")] = str(e)
                deg_file[(cond, it["path"])] = str(tmp / cond / f"{i:05d}.png")
            continue
        for cond in DEGRADED:
            f = tmp / cond / f"{i:05d}.png"
            Image.fromarray(degrade(img, cond)).save(f, compress_level=1)
            deg_file[(cond, it["path"])] = str(f)
    return deg_file, pre_errors


def scan_rows(items: list[dict], file_of, results: dict[str, dict]) -> list[dict]:
    """Each picture with its scan verdict, p_fake and error; `file_of(item)` is the file scanned."""
    rows = []
    for it in items:
        r = results.get(os.path.abspath(file_of(it)))
        if r is None:
            r = {"p_fake": None, "verdict": "error", "error": "not in the scan's output"}
        rows.append({**it, "p_fake": r.get("p_fake"), "verdict": r["verdict"], "error": r.get("error", "")})
    return rows


def write_predictions(path: Path, rows_by_set: dict[str, list[dict]], data: Path):
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["set", "source", "label", "path (under --data)", "p_fake", "verdict", "error"])
        for name, rows in rows_by_set.items():
            for r in rows:
                p = r["p_fake"]
                w.writerow([name, r["source"], r["label"], os.path.relpath(r["path"], data.resolve()),
                            "" if p is None else f"{p:.5f}", r["verdict"], r["error"]])


if __name__ == "__main__":
    sys.exit(main())
