"""Images per second of `facecheck scan` in this process against `--engine ray` with 1 and 2
workers, on the cross-check folder, in one run; and what the driver costs as the count grows.

    python benchmarks/ray_scan.py [--data ../shared/data/crosscheck] [--limit N]
                                  [--out benchmarks/results/ray-scan.md]

Every scan runs as the `facecheck` command in a fresh process, on the same files (a folder of links
to the first N cross-check pictures). Rates are after start-up: for the local scan, (N - 1) images
over the time a scan of N takes beyond a scan of one picture; for Ray, the scan's own summary line
(from the moment the first worker began judging to the last row back), with the start-up (Ray,
the model in every worker, shutting down) reported apart. The floor (issue #17): 2 Ray workers give at least
0.8x the local scan's images/s. From the measured rate per worker the report projects 8 and 64
workers, against the driver's own cost per image (listing the folder ten times over, and writing
the CSV and Parquet rows of ten times the folder), which caps how many workers one driver can feed.
Run it on an idle machine: on 2 cores every other process shows in the figures.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

import pyarrow.parquet as pq

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from facecheck.tfquiet import import_tensorflow  # noqa: E402

import_tensorflow()  # facecheck.rayscan loads it; quietly, as the CLI does

from facecheck.cli import CSV_COLUMNS, _csv_row  # noqa: E402
from facecheck.rayscan import ScanOutput, list_inputs  # noqa: E402
from facecheck.system import cpu_name  # noqa: E402

FACECHECK = [sys.executable, "-m", "facecheck.cli", "scan"]
RAY_SUMMARY = re.compile(r"([\d.]+) images/s on (\d+) Ray worker\(s\) after ([\d.]+) s of start-up")
FLOOR = 0.8
TIMES_LISTED = 10


def parse_args(argv=None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", default=str(ROOT.parent / "shared" / "data" / "crosscheck"))
    ap.add_argument("--limit", type=int, default=0, help="only the first N pictures (0: all)")
    ap.add_argument("--batch-size", type=int, default=64)
    ap.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "ray-scan.md"))
    return ap.parse_args(argv)


def link_folder(data: Path, limit: int, into: Path) -> Path:
    """A folder of links to the cross-check pictures (all, or the first `limit`)."""
    pictures = sorted(p for label in ("real", "fake") for p in (data / label).glob("*.jpg"))
    folder = into / "images"
    folder.mkdir()
    for p in pictures[: limit or None]:
        (folder / f"{p.parent.name}_{p.name}").symlink_to(p)
    return folder


def timed_scan(args: list[str]) -> tuple[float, str]:
    """Wall seconds of one `facecheck scan` process, and its summary line."""
    started = time.monotonic()
    done = subprocess.run([*FACECHECK, *args, "--quiet"], cwd=ROOT, capture_output=True, text=True)
    elapsed = time.monotonic() - started
    if done.returncode != 0:
        raise RuntimeError(f"facecheck scan {' '.join(args)} failed:\n{done.stderr[-2000:]}")
    return elapsed, done.stderr.strip().splitlines()[-1]


def local_rate(folder: Path, work: Path, batch_size: int) -> dict:
    one = work / "one"
    one.mkdir()
    first = sorted(folder.iterdir())[0]
    (one / first.name).symlink_to(first.resolve())
    n = len(list(folder.iterdir()))
    startup, _ = timed_scan([str(one), "--csv", str(work / "one.csv")])
    total, _ = timed_scan([str(folder), "--csv", str(work / "local.csv"), "--batch-size", str(batch_size)])
    return {"engine": "local", "images": n, "wall_s": total, "startup_s": startup,
            "rate": (n - 1) / max(total - startup, 1e-9)}


def ray_rate(folder: Path, work: Path, workers: int, batch_size: int) -> dict:
    detail = work / f"detail-{workers}"
    wall, line = timed_scan([str(folder), "--engine", "ray", "--workers", str(workers),
                             "--batch-size", str(batch_size), "--csv", str(work / f"ray-{workers}.csv"),
                             "--parquet", str(detail)])
    found = RAY_SUMMARY.search(line)
    if not found:
        raise RuntimeError(f"no rate in the summary line: {line}")
    rate, ray_startup = float(found[1]), float(found[3])
    n = len(list(folder.iterdir()))
    return {"engine": f"ray, {workers} worker(s)", "workers": workers, "images": n, "wall_s": wall,
            "startup_s": wall - n / rate, "ray_startup_s": ray_startup, "rate": rate, "detail": detail}


def driver_cost(folder: Path, detail: Path, work: Path) -> list[dict]:
    """Seconds the driver spends listing and writing, for 1x and TIMES_LISTED x the folder."""
    rows = pq.read_table(detail).to_pylist()
    out = []
    for times in (1, TIMES_LISTED):
        started = time.monotonic()
        items = list_inputs([str(folder)] * times)
        listing = time.monotonic() - started
        # What the workers send back: each row's path and its result as JSON.
        sent = [(f"{r.pop('path')}#{copy}", json.dumps(r)) for copy in range(times) for r in map(dict, rows)]
        for kind, parquet in (("csv", None), ("csv+parquet", str(work / f"pq-{times}"))):
            output = ScanOutput(str(work / f"write-{times}.csv"), parquet, False,
                                {"model_version": "benchmark"}, _csv_row, CSV_COLUMNS)
            started = time.monotonic()
            for start in range(0, len(sent), 64):  # batch by batch, as judged_rows yields them
                batch = sent[start : start + 64]
                output.add([{"path": path, **json.loads(result)} for path, result in batch])
            output.flush()
            out.append({"images": len(items), "listing_s": listing, "output": kind,
                        "writing_s": time.monotonic() - started})
    return out


def report(runs: list[dict], costs: list[dict], args) -> str:
    local = runs[0]
    two = next(r for r in runs if r.get("workers") == 2)
    command = "python benchmarks/ray_scan.py" + (f" --limit {args.limit}" if args.limit else "")
    lines = [
        "# `facecheck scan --engine ray` against the local scan",
        "",
        f"Measured {date.today()} by `{command}` on {os.cpu_count()} x {cpu_name()}, no GPU; "
        f"{local['images']} cross-check pictures (300x300 JPEG), batch size {args.batch_size}; "
        f"load average at the start {args.load:.2f}.",
        "",
        "| engine | images/s after start-up | x local | start-up s | of which Ray + workers' model s "
        "| wall s |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    lines += [f"| {r['engine']} | {r['rate']:.1f} | {r['rate'] / local['rate']:.2f} | "
              f"{r['startup_s']:.1f} | {r.get('ray_startup_s', 0):.1f} | {r['wall_s']:.1f} |" for r in runs]
    ratio = two["rate"] / local["rate"]
    lines += [
        "",
        "Start-up is the wall time not spent judging. Local: a whole scan of one picture (Python, "
        "TensorFlow, the model, exit). Ray: the wall time less images / rate (Python and TensorFlow "
        "in the driver, starting Ray, every worker loading the model, shutting Ray down, exit); the "
        "next column is the part the scan's summary reports: from starting Ray to the first worker "
        "judging.",
        f"Floor (2 workers >= {FLOOR}x the local images/s after start-up): {ratio:.2f}x, "
        f"{'met' if ratio >= FLOOR else 'NOT met'}.",
        "",
    ]
    return "\n".join(lines + scale_section(runs, costs)) + "\n"


def scale_section(runs: list[dict], costs: list[dict]) -> list[str]:
    """8 and 64 workers from the measured rate per worker, capped by the driver's cost."""
    per_worker = max(r["rate"] / r["workers"] for r in runs[1:])
    biggest = max(c["images"] for c in costs)
    driver_s = max(c["listing_s"] + c["writing_s"] for c in costs if c["images"] == biggest) / biggest
    ceiling = 1.0 / max(driver_s, 1e-12)
    lines = [
        "## More workers, and what the driver costs",
        "",
        f"Best measured rate per worker: {per_worker:.1f} images/s (one CPU each). The driver lists, "
        f"receives and writes in {driver_s * 1e6:.0f} us per image at {biggest} images (CSV and "
        f"Parquet), so one driver keeps up with about {ceiling:,.0f} images/s.",
        "",
        "| workers | projected images/s (rate per worker x workers, capped by the driver) |",
        "|---:|---:|",
    ]
    lines += [f"| {k} | {min(k * per_worker, ceiling):,.0f} |" for k in (8, 64)]
    lines += ["", "| images listed | listing s | output | receiving + writing s | us per image |",
              "|---:|---:|---|---:|---:|"]
    lines += [f"| {c['images']} | {c['listing_s']:.3f} | {c['output']} | {c['writing_s']:.3f} | "
              f"{(c['listing_s'] + c['writing_s']) / c['images'] * 1e6:.0f} |" for c in costs]
    lines += ["", "The projection assumes workers on CPUs of their own (more nodes), files read as "
              "fast as here, and no other shared bottleneck; Ray Data's own scheduling of each "
              "batch is not in the driver's figure."]
    return lines


def main(argv=None) -> int:
    args = parse_args(argv)
    args.load = os.getloadavg()[0]
    with tempfile.TemporaryDirectory(prefix="ray-scan-") as tmp:
        work = Path(tmp)
        folder = link_folder(Path(args.data), args.limit, work)
        runs = [local_rate(folder, work, args.batch_size)]
        runs += [ray_rate(folder, work, workers, args.batch_size) for workers in (1, 2)]
        costs = driver_cost(folder, runs[-1]["detail"], work)
        text = report(runs, costs, args)
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(text)
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
