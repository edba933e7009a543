"""The `facecheck` command.

    facecheck scan PATH... [--csv OUT.csv] [--json OUT.json] [--model DIR | --server URL]
    facecheck serve [--host 127.0.0.1] [--port 8000]                   (server/serve.py)
    facecheck train --data MANIFEST_OR_FOLDER --out runs/NAME [...]     (training/train.py)
    facecheck evaluate --data MANIFEST_OR_FOLDER --out reports/NAME [...] (training/evaluate.py)

`facecheck COMMAND --help` explains every option.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import sys
from pathlib import Path

from facecheck.tfquiet import import_tensorflow

# The commands import what loads numpy, PIL, Flask or TensorFlow inside themselves, so that
# `facecheck --help` and argument errors answer at once instead of after seconds of start-up.

CSV_COLUMNS = ("path", "faces", "p_fake", "verdict", "error")


def scan_parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(
        prog="facecheck scan",
        description="Check every image under the given files and folders (recursive) and report, "
        "per image, the number of faces found, p_fake (calibrated probability that its most "
        "suspicious face is GAN-generated), and the verdict from the model's stored threshold and "
        "unsure band: fake (p_fake at or above the threshold), unsure (p_fake in the band just "
        "below it: neither claim is made), real (below the band), no-face (no face found: never a "
        "guess), too-small (faces too small to judge) or error (unreadable file, with the reason; "
        "the scan goes on).")
    ap.add_argument("paths", nargs="*", metavar="PATH", help="image files and/or folders")
    ap.add_argument("--csv", metavar="OUT.csv", help="write one row per image: " + ",".join(CSV_COLUMNS))
    ap.add_argument("--json", metavar="OUT.json",
                    help="write full detail (face boxes, probabilities, model) as JSON ('-' = stdout)")
    ap.add_argument("--model", metavar="DIR",
                    help="model folder with model.keras + contract.json (default: the shipped model, "
                    "or $FACECHECK_MODEL_DIR)")
    ap.add_argument("--server", metavar="URL",
                    help="judge the images on a running `facecheck serve` (e.g. http://127.0.0.1:8000) "
                    "instead of in this process; same CSV. $FACECHECK_TOKEN is sent as its token")
    ap.add_argument("--batch-size", type=int, default=64,
                    help="images per model call, or per request with --server (default 64)")
    ap.add_argument("--table", action="store_true",
                    help="also print the table on stdout (the default when no --csv/--json)")
    ap.add_argument("--quiet", action="store_true", help="no progress bar")
    _add_ray_options(ap)
    return ap


# Options only a scan on Ray takes (facecheck/rayscan.py), as argparse names them.
RAY_ONLY = ("address", "workers", "gpus_per_worker", "list", "parquet", "resume")


def _add_ray_options(ap: argparse.ArgumentParser) -> None:
    group = ap.add_argument_group("many machines (--engine ray; docs/scale.md)")
    group.add_argument("--engine", choices=("local", "ray"), default="local",
                       help="local: this process (default); ray: Ray Data workers on this machine or "
                       "a cluster (needs `pip install -e '.[scale]'`, writes --csv as batches finish)")
    group.add_argument("--address", metavar="ADDR",
                       help="join this Ray cluster (auto, HOST:PORT or ray://HOST:PORT) instead of "
                       "starting one on this machine")
    group.add_argument("--workers", type=int, metavar="N",
                       help="Ray workers, each loading the model once (default: one per CPU)")
    group.add_argument("--gpus-per-worker", type=float, default=0.0, metavar="G",
                       help="GPUs each worker takes (e.g. 1; default 0: CPU workers)")
    group.add_argument("--list", action="append", metavar="FILE",
                       help="also judge the paths this file lists: one per line (.txt), or a column "
                       "of a .csv or .parquet table; relative to its folder (repeatable)")
    group.add_argument("--column", default="path", help="the --list table's column of paths (default path)")
    group.add_argument("--parquet", metavar="DIR",
                       help="also write the full per-face detail as a Parquet folder (part-*.parquet)")
    group.add_argument("--resume", action="store_true",
                       help="skip the paths already in --csv (and --parquet) and append the rest")


def _parse_scan_args(argv) -> argparse.Namespace:
    ap = scan_parser()
    args = ap.parse_args(argv)
    if args.engine == "local":
        given = [name for name in RAY_ONLY if getattr(args, name)]
        if given:
            ap.error(", ".join("--" + n.replace("_", "-") for n in given) + " need(s) --engine ray")
        if not args.paths:
            ap.error("the following arguments are required: PATH")
    return args


def scan(argv=None) -> int:
    args = _parse_scan_args(argv)
    if args.engine == "ray":
        # Imported here so that only a scan on Ray imports Ray (and its pyarrow, its start-up).
        from facecheck.rayscan import scan_on_ray

        return scan_on_ray(args, csv_row=_csv_row, columns=CSV_COLUMNS, summary=summary)
    from tqdm import tqdm

    from facecheck.images import ImageError, error_result, iter_image_files, load_image
    from facecheck.predictor import Predictor

    missing = [p for p in args.paths if not os.path.exists(p)]
    if missing:
        print(f"facecheck scan: no such file or folder: {', '.join(missing)}", file=sys.stderr)
        return 2
    files = iter_image_files(args.paths)
    if args.server:
        if args.model:
            print("facecheck scan: --model and --server exclude each other (the server has its model)",
                  file=sys.stderr)
            return 2
        from server.client import ServerError, scan_files

        with tqdm(total=len(files), desc="scan", unit="img", file=sys.stderr, disable=args.quiet) as bar:
            try:
                rows, model = scan_files(args.server, files, batch_size=args.batch_size,
                                         progress=bar.update)
            except ServerError as e:
                print(f"facecheck scan: {e}", file=sys.stderr)
                return 1
        return _report(args, rows, model)
    predictor = Predictor.load(args.model, batch_size=args.batch_size)
    rows: list[dict] = []
    pending: list[tuple[int, object]] = []

    def flush():
        if pending:
            results = predictor.predict_many([img for _, img in pending])
            for (i, _), res in zip(pending, results, strict=False):
                rows[i].update(res)
            pending.clear()

    for path in tqdm(files, desc="scan", unit="img", file=sys.stderr, disable=args.quiet):
        rows.append({"path": str(path)})
        try:
            pending.append((len(rows) - 1, load_image(path)))
        except ImageError as e:
            rows[-1].update(error_result(str(e)))
        if len(pending) >= args.batch_size:
            flush()
    flush()
    return _report(args, rows, predictor.contract.brief())


def _report(args, rows: list[dict], model: dict) -> int:
    """Write the CSV / JSON / table of a scan, local or through a server alike."""
    if args.csv:
        Path(args.csv).parent.mkdir(parents=True, exist_ok=True)
        with open(args.csv, "w", newline="") as f:
            write_csv(f, rows)
    if args.json:
        doc = {"model": model, "results": rows}
        text = json.dumps(doc, indent=2) + "\n"
        if args.json == "-":
            sys.stdout.write(text)
        else:
            Path(args.json).parent.mkdir(parents=True, exist_ok=True)
            Path(args.json).write_text(text)
    if args.table or not (args.csv or args.json):
        print_table(rows)
    print(summary(rows, model), file=sys.stderr)
    return 0


# How the summary line names each verdict, in the order of facecheck.contract.VERDICTS.
SUMMARY_WORDS = {"fake": "likely generated", "unsure": "unsure", "real": "likely real",
                 "no-face": "no face found", "too-small": "too small to judge", "error": "unreadable"}


def summary(rows: list[dict], model: dict) -> str:
    """One line: how many images got each verdict (every verdict counted apart: an unsure, a
    face-free or a too-small picture is never counted as real), the threshold and the band."""
    from facecheck.contract import VERDICTS

    counts = {v: sum(r["verdict"] == v for r in rows) for v in VERDICTS}
    other = len(rows) - sum(counts.values())  # only from a server that speaks another vocabulary
    parts = [f"{counts[v]} {SUMMARY_WORDS[v]}" for v in VERDICTS]
    if other:
        parts.append(f"{other} other")
    band = model.get("unsure_from")
    rule = f"threshold {model['threshold']:.3f}"
    rule += f", unsure from {band:.3f}" if band is not None else ", no unsure band"
    return f"{len(rows)} image(s): {', '.join(parts)} ({rule}, model {model['model_version']})"


def _csv_row(r: dict) -> dict:
    p = r.get("p_fake")
    return {"path": r["path"], "faces": len(r.get("faces") or []),
            "p_fake": "" if p is None else f"{p:.4f}", "verdict": r["verdict"],
            "error": r.get("error", "")}


def write_csv(f, rows):
    w = csv.DictWriter(f, fieldnames=CSV_COLUMNS)
    w.writeheader()
    for r in rows:
        w.writerow(_csv_row(r))


def print_table(rows):
    width = min(70, max([4] + [len(r["path"]) for r in rows]))
    print(f"{'path':{width}s}  faces  p_fake  {'verdict':9s}  error")
    for r in map(_csv_row, rows):
        path = r["path"] if len(r["path"]) <= width else "..." + r["path"][-(width - 3):]
        print(f"{path:{width}s}  {r['faces']:5d}  {r['p_fake']:>6s}  {r['verdict']:9s}  {r['error']}")


COMMANDS = {
    "scan": ("check images and folders with the shipped model", scan),
    "serve": ("serve the API and the drop page on http://127.0.0.1:8000 (server/)", None),
    "train": ("train a model (python -m training.train)", None),
    "evaluate": ("evaluate a model on a folder or manifest (python -m training.evaluate)", None),
}


def main(argv=None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    through_server = argv[:1] == ["scan"] and any(a == "--server" or a.startswith("--server=") for a in argv)
    if argv and argv[0] in COMMANDS and not {"-h", "--help"} & set(argv) and not through_server:
        import_tensorflow()
    if not argv or argv[0] in ("-h", "--help") or argv[0] not in COMMANDS:
        print(__doc__.strip())
        print("\ncommands:")
        for name, (text, _) in COMMANDS.items():
            print(f"  {name:9s} {text}")
        return 0 if argv and argv[0] in ("-h", "--help") else 2
    cmd, rest = argv[0], argv[1:]
    if cmd == "train":
        from training.train import main as train_main

        train_main(rest)
        return 0
    if cmd == "evaluate":
        from training.evaluate import main as evaluate_main

        evaluate_main(rest)
        return 0
    if cmd == "serve":
        from server.serve import serve

        return serve(rest)
    return COMMANDS[cmd][1](rest)


if __name__ == "__main__":
    sys.exit(main())
