"""The `facecheck` command.

    facecheck scan PATH... [--csv OUT.csv] [--json OUT.json] [--model DIR | --server URL]
    facecheck scan --reports REPORTS.csv   check again the pictures reported from the extension
    facecheck explain PATH... --out DIR   where in each face the model sees generation traces
    facecheck serve [--host 127.0.0.1] [--port 8000]
    facecheck train --data MANIFEST_OR_FOLDER --out runs/NAME [...]
    facecheck evaluate --data MANIFEST_OR_FOLDER --out reports/NAME [...]
    facecheck --version

`facecheck COMMAND --help` explains every option.
"""

from __future__ import annotations

import argparse
import csv
import difflib
import json
import os
import sys
from pathlib import Path

from facecheck import wording
from facecheck.tfquiet import import_tensorflow

# The commands import what loads numpy, PIL, Flask or TensorFlow inside themselves, so that
# `facecheck --help` and argument errors answer at once instead of after seconds of start-up, and
# `scan --server` never starts TensorFlow at all.

CSV_COLUMNS = ("path", "faces", "p_fake", "verdict", "error", "provenance", "provenance_detail")
# Exit status of `facecheck scan` (documented in its --help and docs/server.md).
EXIT_OK, EXIT_REFUSED, EXIT_USAGE, EXIT_UNREACHABLE = 0, 1, 2, 3
SERVER_HINT = "Start it with `facecheck serve` or check --server."


def scan_parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(
        prog="facecheck scan",
        description="Check every image under the given files and folders (recursive). The table "
        "says each result in words: Likely generated (with the probability), Unsure (no claim "
        "either way), Likely real, No face found (never a guess), Too small to judge, or Could not "
        "check (with the reason; the scan goes on), and the probability that the most suspicious "
        "face is generated. The CSV and JSON keep the codes: verdict fake (p_fake at or above the "
        "model's threshold), unsure (in the band just below it), real, no-face, too-small or "
        "error, and p_fake from 0 to 1.",
        epilog="Exit status: 0 when every image got a row (whatever its verdict; an unreadable "
        "file is a row too), 1 when the server refused a request, 2 for a wrong command line or "
        "a missing path, 3 when the server given with --server is not reachable.")
    ap.add_argument("paths", nargs="*", metavar="PATH", help="image files and/or folders")
    ap.add_argument("--reports", action="append", metavar="REPORTS.csv",
                    help="also check again the pictures of the extension's exported reports "
                    "(options page, Export as CSV) that are files on this machine (file:// URLs or "
                    "paths, relative to the CSV's folder); web addresses are skipped and counted. "
                    "Only regular files under the CSV's folder or a PATH given here are read (at "
                    "most 64 MiB each); any other path is that row's error. "
                    "The table shows what was reported beside the new result, --json the whole "
                    "report (repeatable)")
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
    ap.add_argument("--quiet", action="store_true", help="no progress bar, no \"Loading model...\"")
    _add_band_options(ap)
    _add_ray_options(ap)
    return ap


def _add_band_options(ap: argparse.ArgumentParser) -> None:
    group = ap.add_argument_group(
        "operating point (the options page's equivalents)",
        "The model's own threshold and unsure band were chosen so that no real source in validation "
        "has more than 5%% of its photos called generated. A lower threshold catches more generated "
        "faces and accuses more real people. The summary line and --json say the band used.")
    group.add_argument("--threshold", type=float, metavar="P",
                       help="call a face likely generated from this probability (0 < P < 1); the "
                       "unsure band keeps its width below it unless --unsure-from is given")
    group.add_argument("--unsure-from", type=float, metavar="P",
                       help="unsure from this probability up to the threshold (0 < P <= threshold)")


def check_band(threshold: float | None, unsure_from: float | None) -> None:
    """ValueError unless 0 < unsure_from <= threshold < 1 (either may be None: not known yet)."""
    for name, v in (("--threshold", threshold), ("--unsure-from", unsure_from)):
        if v is not None and not 0 < v < 1:
            raise ValueError(f"{name} must be between 0 and 1 (exclusive), not {v:g}")
    if threshold is not None and unsure_from is not None and unsure_from > threshold:
        raise ValueError(f"--unsure-from ({unsure_from:g}) must not be above the threshold ({threshold:g})")


def band(args, model: dict) -> tuple[float, float | None]:
    """The threshold and unsure start in force: the command line's over the model's own, as the
    extension's options do (extension/src/settings.js band()). ValueError when they disagree."""
    threshold = model["threshold"] if args.threshold is None else args.threshold
    own_from = model.get("unsure_from")
    if args.unsure_from is not None:
        unsure_from = args.unsure_from
    elif args.threshold is None or own_from is None:
        unsure_from = own_from
    else:  # the model's band, moved down with the threshold
        unsure_from = max(threshold - max(0.0, model["threshold"] - own_from), 1e-6)
    check_band(threshold, unsure_from)
    return threshold, unsure_from


def rejudge(rows: list[dict], model: dict, threshold: float, unsure_from: float | None) -> dict:
    """Every judged face and picture read again at this band (their probabilities are enough);
    returns the model summary with the band in force."""
    from facecheck.contract import verdict_at

    for row in rows:
        for face in row.get("faces") or []:
            if isinstance(face, dict) and face.get("p_fake") is not None:
                face["verdict"] = verdict_at(face["p_fake"], threshold, unsure_from)
        if row.get("p_fake") is not None and row.get("verdict") in ("fake", "unsure", "real"):
            row["verdict"] = verdict_at(row["p_fake"], threshold, unsure_from)
    changed = (threshold, unsure_from) != (model["threshold"], model.get("unsure_from"))
    if not changed:
        return model
    return {**model, "threshold": threshold, "unsure_from": unsure_from,
            "band_set_by": "command line",
            "model_band": {"threshold": model["threshold"], "unsure_from": model.get("unsure_from")}}


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
        if not args.paths and not args.reports:
            ap.error("the following arguments are required: PATH (or --reports REPORTS.csv)")
    elif args.reports:
        ap.error("--reports works with --engine local only")
    if args.engine == "ray" and (args.threshold is not None or args.unsure_from is not None):
        ap.error("--threshold and --unsure-from work with --engine local only")
    try:  # what can be checked before the model is known (band() checks the rest after)
        check_band(args.threshold, args.unsure_from)
    except ValueError as e:
        ap.error(str(e))
    return args


def scan(argv=None) -> int:
    args = _parse_scan_args(argv)
    if args.engine == "ray":
        import_tensorflow()  # facecheck.rayscan starts it: quietly, as every other path
        # Imported here so that only a scan on Ray imports Ray (and its pyarrow, its start-up).
        from facecheck.rayscan import scan_on_ray

        return scan_on_ray(args, csv_row=_csv_row, columns=CSV_COLUMNS, summary=summary)
    if args.model and args.server:
        print("facecheck scan: --model and --server exclude each other (the server has its model)",
              file=sys.stderr)
        return EXIT_USAGE
    missing = [p for p in args.paths if not os.path.exists(p)]
    if missing:
        print(f"facecheck scan: no such file or folder: {', '.join(missing)}", file=sys.stderr)
        return EXIT_USAGE
    gathered = _gather(args)
    if isinstance(gathered, int):
        return gathered
    files, reported = gathered
    # A reported picture is read through its report's checks (facecheck/reports.py), never by path.
    readers = {i: report.read for i, report in reported.items()}
    result = (_scan_on_server(args, files, readers) if args.server
              else _scan_here(args, files, readers))
    if isinstance(result, int):
        return result
    rows, model = result
    try:
        model = rejudge(rows, model, *band(args, model))
    except ValueError as e:  # e.g. --unsure-from above the model's own threshold
        print(f"facecheck scan: {e}", file=sys.stderr)
        return EXIT_USAGE
    for row in rows:
        _flat_provenance(row)
    for i, report in reported.items():
        rows[i]["reported"] = report.brief()
    return _report(args, rows, model)


def _gather(args) -> tuple[list[Path], dict] | int:
    """The files to check: those under PATH..., then the local pictures of --reports files; and
    {row index: Report} for the latter. Says how many reported web addresses are skipped."""
    from facecheck.images import iter_image_files
    from facecheck.reports import read_reports

    files = iter_image_files(args.paths)
    reported: dict = {}
    web = 0
    for name in args.reports or []:
        try:
            reports, skipped = read_reports(name, trusted=tuple(args.paths))
        except (OSError, ValueError, UnicodeDecodeError) as e:
            why = e.strerror if isinstance(e, OSError) and e.strerror else e
            print(f"facecheck scan: cannot read the reports {name}: {why}", file=sys.stderr)
            return EXIT_USAGE
        web += skipped
        for report in reports:
            reported[len(files)] = report
            files.append(report.path)
    if web:
        them = "them and scan the files" if web > 1 else "it and scan the file"
        print(f"skipped {web} web address{'es' if web > 1 else ''}: save {them}", file=sys.stderr)
    return files, reported


def _scan_on_server(args, files: list[Path], readers: dict) -> tuple[list[dict], dict] | int:
    """Rows judged by a running `facecheck serve` (no TensorFlow in this process)."""
    from tqdm import tqdm

    from server.client import Client, ServerError, ServerUnreachable, scan_files

    client = Client(args.server)
    try:
        # Asked first, so that a server that is not there is one line, not a broken progress bar.
        info = client.model()
        with tqdm(total=len(files), desc="scan", unit="img", file=sys.stderr, disable=args.quiet) as bar:
            return scan_files(client, files, batch_size=args.batch_size, progress=bar.update, info=info,
                              readers=readers)
    except ServerUnreachable as e:
        print(f"{e}. {SERVER_HINT}", file=sys.stderr)
        return EXIT_UNREACHABLE
    except ServerError as e:
        print(f"facecheck scan: {e}", file=sys.stderr)
        return EXIT_REFUSED


def _scan_here(args, files: list[Path], readers: dict) -> tuple[list[dict], dict]:
    """Rows judged in this process, a batch of decoded images per model call. `readers`: {row
    index: a function giving that file's bytes} for the files to read through it, not by path."""
    if not args.quiet:
        print("Loading model...", file=sys.stderr, flush=True)
    import_tensorflow()
    from tqdm import tqdm

    from facecheck.images import ImageError, error_result, load_image
    from facecheck.predictor import Predictor
    from facecheck.provenance import read_provenance

    predictor = Predictor.load(args.model, batch_size=args.batch_size)
    rows: list[dict] = []
    pending: list[tuple[int, object]] = []

    def flush():
        if pending:
            results = predictor.predict_many([img for _, img in pending])
            for (i, _), res in zip(pending, results, strict=False):
                rows[i].update(res)
            pending.clear()

    for i, path in enumerate(tqdm(files, desc="scan", unit="img", file=sys.stderr, disable=args.quiet)):
        rows.append({"path": str(path)})
        try:
            data = readers[i]() if i in readers else _file_bytes(path)
            # Beside the verdict, from the same bytes (read once); never an input to it.
            p = read_provenance(data)
            rows[-1].update(provenance=p.kind, provenance_detail=p.detail)
            pending.append((i, load_image(data)))
        except ImageError as e:
            rows[-1].update(error_result(e))
        if len(pending) >= args.batch_size:
            flush()
    flush()
    return rows, predictor.contract.brief()


def _file_bytes(path) -> bytes:
    """The file's bytes, or ImageError in load_image's own words."""
    from facecheck.images import ImageError

    try:
        return Path(path).read_bytes()
    except OSError as e:
        raise ImageError(f"cannot read file: {e.strerror or e}") from None


def _flat_provenance(row: dict) -> None:
    """A server's {"provenance": {kind, detail, ...}} as a local row has it: provenance (the kind)
    and provenance_detail."""
    p = row.get("provenance")
    if isinstance(p, dict):
        row.update(provenance=p.get("kind", ""), provenance_detail=p.get("detail", ""))


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
    return EXIT_OK


def summary(rows: list[dict], model: dict) -> str:
    """One line: how many images got each result, in the words of facecheck/wording.py (every
    verdict counted apart: an unsure, a face-free or a too-small picture is never counted as
    real), then the model's threshold and band, then how many pictures' Content Credentials say
    each kind (facecheck/provenance.py), where the rows have them."""
    from facecheck.contract import VERDICTS
    from facecheck.provenance import KINDS as PROVENANCE_KINDS

    counts = {v: sum(r["verdict"] == v for r in rows) for v in VERDICTS}
    other = len(rows) - sum(counts.values())  # only from a server that speaks another vocabulary
    parts = [f"{wording.HEADLINES[v]}: {counts[v]}" for v in VERDICTS]
    if other:
        parts.append(f"other: {other}")
    said = [r["provenance"] for r in rows if r.get("provenance")]
    # Content Credentials are counted apart from the verdicts, after them: they never change one.
    credentials = (". Content Credentials: " + ", ".join(f"{k} {said.count(k)}" for k in PROVENANCE_KINDS)
                   if said else "")
    band = model.get("unsure_from")
    rule = f"likely generated from {wording.rule_percent(model['threshold'])}"
    rule += f", unsure from {wording.rule_percent(band)}" if band is not None else ", no unsure band"
    return (f"{len(rows)} image{'s' if len(rows) != 1 else ''} checked. {', '.join(parts)}. "
            f"Model {model['model_version']}: {rule}{credentials}")


def _csv_row(r: dict) -> dict:
    p = r.get("p_fake")
    return {"path": r["path"], "faces": len(r.get("faces") or []),
            "p_fake": "" if p is None else f"{p:.4f}", "verdict": r["verdict"],
            "error": r.get("error", ""), "provenance": r.get("provenance", ""),
            "provenance_detail": r.get("provenance_detail", "")}


def write_csv(f, rows):
    w = csv.DictWriter(f, fieldnames=CSV_COLUMNS)
    w.writeheader()
    for r in rows:
        w.writerow(_csv_row(r))


def table_cells(r: dict) -> dict[str, str]:
    """One row of the table: the result in words (facecheck/wording.py), the probability that
    the face is generated, and, for a reported picture, what the extension said then."""
    p = r.get("p_fake")
    cells = {"path": r["path"], "faces": str(len(r.get("faces") or [])),
             "result": wording.headline(r["verdict"], p),
             "probability generated": "" if p is None else f"{wording.pct(p)}%",
             "provenance": r.get("provenance", ""), "error": r.get("error", "")}
    if "reported" in r:
        old = r["reported"]
        said = wording.headline(old["verdict"], old["p_fake"])
        if old["p_fake"] is not None and old["verdict"] != "fake":
            said += f" ({wording.pct(old['p_fake'])}%)"
        cells["reported"] = said
    return cells


def print_table(rows):
    """The table on stdout: path, faces, result, probability generated[, provenance][, reported],
    error; columns apart by at least two spaces (a header may have one)."""
    cells = [table_cells(r) for r in rows]
    columns = ["path", "faces", "result", "probability generated"]
    if any(c["provenance"] for c in cells):
        columns.append("provenance")
    if any("reported" in c for c in cells):
        columns.append("reported")
    width = {c: max([len(c)] + [len(x.get(c, "")) for x in cells]) for c in columns}
    width["path"] = min(70, width["path"])

    def line(values: dict[str, str]) -> str:
        out = []
        for c in columns:
            text = values.get(c, "")
            if c == "path" and len(text) > width[c]:
                text = "..." + text[-(width[c] - 3):]
            numbers = c in ("faces", "probability generated")
            out.append(text.rjust(width[c]) if numbers else text.ljust(width[c]))
        return "  ".join(out + [values.get("error", "")]).rstrip()

    print(line({c: c for c in columns} | {"error": "error"}))
    for c in cells:
        print(line(c))


COMMANDS = {
    "scan": ("check images and folders (or the extension's reports) with the shipped model", scan),
    "explain": ("map where in each face the model sees traces of generation", None),
    "serve": ("serve the API and the drop page on http://127.0.0.1:8000", None),
    "train": ("train a model", None),
    "evaluate": ("evaluate a model on a folder or manifest", None),
}


def version() -> str:
    """`facecheck --version`: the package and the model it uses (without starting TensorFlow)."""
    from facecheck import __version__
    from facecheck.contract import Contract
    from facecheck.paths import SHIPPED_MODEL_DIR, default_model_dir

    def model_id(folder: Path) -> str:
        try:
            return Contract.load(folder).model_version or "(unnamed)"
        except (OSError, ValueError) as e:
            return f"(unreadable: {type(e).__name__})"

    text = f"facecheck {__version__}, model {model_id(SHIPPED_MODEL_DIR)}"
    chosen = default_model_dir()
    if chosen.resolve() != SHIPPED_MODEL_DIR.resolve():
        text += f" (FACECHECK_MODEL_DIR: model {model_id(chosen)})"
    return text


def usage(unknown: str | None = None) -> int:
    """The overview (exit 0 when asked for), or why the command line is wrong (exit 2)."""
    if unknown is not None:
        near = difflib.get_close_matches(unknown, [*COMMANDS, "--help", "--version"], n=1, cutoff=0.5)
        hint = f" Did you mean `facecheck {near[0]}`?" if near else ""
        print(f"facecheck: unknown command {unknown!r}.{hint} Commands: {', '.join(COMMANDS)} "
              "(`facecheck --help` says more).", file=sys.stderr)
        return EXIT_USAGE
    print(__doc__.strip())
    print("\ncommands:")
    for name, (text, _) in COMMANDS.items():
        print(f"  {name:9s} {text}")
    return EXIT_OK


def main(argv=None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv:
        usage()
        return EXIT_USAGE
    cmd, rest = argv[0], argv[1:]
    if cmd in ("-h", "--help"):
        return usage()
    if cmd in ("-V", "--version"):
        print(version())
        return EXIT_OK
    if cmd not in COMMANDS:
        return usage(cmd)
    if cmd == "scan":
        return scan(rest)  # starts TensorFlow only when it judges images itself
    if cmd == "explain":
        from facecheck.explain import main as explain_main

        return explain_main(rest)  # starts TensorFlow after its arguments are read
    if not {"-h", "--help"} & set(rest):
        import_tensorflow()
    if cmd == "train":
        from training.train import main as train_main

        train_main(rest)
        return EXIT_OK
    if cmd == "evaluate":
        from training.evaluate import main as evaluate_main

        evaluate_main(rest)
        return EXIT_OK
    from server.serve import serve

    return serve(rest)


if __name__ == "__main__":
    sys.exit(main())
