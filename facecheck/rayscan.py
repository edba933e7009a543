"""`facecheck scan --engine ray`: the scan on Ray Data, on this machine or across a cluster.

    facecheck scan PHOTOS/ --engine ray --csv scan.csv [--parquet detail/] [--resume]
    facecheck scan --list paths.txt --engine ray --address auto --workers 8 --csv scan.csv

The driver (this process) lists the files and streams their paths through Ray Data to a pool of
actors (`Judge`), each holding one facecheck.predictor.Predictor loaded once: a worker reads and
decodes each file with facecheck.images.load_image and judges the batch with `predict_many`,
exactly as the local scan does. Finished rows come back to the driver, which writes them to the
CSV (and the Parquet folder) every FLUSH_SECONDS, so a killed job continues with --resume. The
CLI's own row helpers format the CSV (the CLI hands them in: it imports this module, which must
not import it back). Ray is imported here only; the plain CLI, the server and the extension never
load it. docs/scale.md has the cluster recipe.
"""

from __future__ import annotations

import csv
import io
import json
import logging
import os
import sys
import time
import warnings
from collections import Counter
from collections.abc import Callable, Iterable
from pathlib import Path

# Ray sends usage statistics to its developers by default; nothing of a FaceCheck job leaves the
# machine. The variable must be set before Ray is imported and before it starts a cluster (whose
# processes inherit it). A cluster started by `ray start` decides for itself (docs/scale.md).
os.environ["RAY_USAGE_STATS_ENABLED"] = "0"
# No Prometheus metrics either: nothing reads them without the dashboard, and a busy machine
# makes the exporter's connection time out with an error on the terminal.
os.environ.setdefault("RAY_enable_metrics_collection", "0")

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import ray
import ray.data
import tensorflow as tf
from tqdm import tqdm

from facecheck.contract import Contract
from facecheck.images import ImageError, error_result, iter_image_files, load_image
from facecheck.predictor import Predictor, default_model_dir
from facecheck.provenance import read_provenance

# The driver writes what has come back at least this often (and at the end): what a kill loses.
FLUSH_SECONDS = 2.0
FLUSH_ROWS = 4096
# A batch whose worker died this many times fails the job (the rows written so far stay; --resume
# continues), instead of restarting workers forever on a file that crashes its decoder.
MAX_BATCH_RETRIES = 3
PART_GLOB = "part-*.parquet"
LIST_SUFFIXES = {".txt": "text", ".lst": "text", ".csv": "csv", ".parquet": "parquet"}

# --parquet: one row per image, every face with its box, crop square, score, p_fake and verdict.
FACE_TYPE = pa.struct([("box", pa.list_(pa.float64())), ("score", pa.float64()),
                       ("p_fake", pa.float64()), ("verdict", pa.string()),
                       ("crop", pa.list_(pa.int64()))])
PARQUET_SCHEMA = pa.schema([("path", pa.string()), ("faces", pa.list_(FACE_TYPE)),
                            ("p_fake", pa.float64()), ("verdict", pa.string()), ("error", pa.string())])


# ---- listing -----------------------------------------------------------------------------------
def read_path_list(list_file: str | os.PathLike, column: str = "path") -> list[str]:
    """The image paths a list file names: one per line (.txt, .lst), or the `column` of a .csv or
    .parquet table. Relative paths are relative to the list's folder (as in a data set manifest)."""
    list_file = Path(list_file)
    kind = LIST_SUFFIXES.get(list_file.suffix.lower())
    if kind is None:
        raise ValueError(f"{list_file}: a list is a .txt/.lst, .csv or .parquet file")
    if kind == "text":
        names = [line.strip() for line in list_file.read_text().splitlines()]
        names = [n for n in names if n and not n.startswith("#")]
    elif kind == "csv":
        with open(list_file, newline="") as f:
            reader = csv.DictReader(f)
            if column not in (reader.fieldnames or []):
                raise ValueError(f"{list_file}: no column {column!r} (has {reader.fieldnames})")
            names = [row[column] for row in reader]
    else:
        table = pq.read_table(list_file)
        if column not in table.column_names:
            raise ValueError(f"{list_file}: no column {column!r} (has {table.column_names})")
        names = [str(n) for n in table.column(column).to_pylist()]
    return [str(list_file.parent / n) for n in names]


def list_inputs(paths: Iterable[str], lists: Iterable[str] = (), column: str = "path") -> list[dict]:
    """What to judge, in order: files and folders as the local scan lists them, then the lists'
    entries. Each item keeps the path as given (the CSV's `path`, as in the local scan) and the
    absolute file the workers read (their working folder is not the driver's)."""
    found = [str(p) for p in iter_image_files(list(paths))]
    for list_file in lists:
        found.extend(read_path_list(list_file, column))
    return [{"path": p, "file": os.path.abspath(p)} for p in found]


# ---- the Ray side ------------------------------------------------------------------------------
def connect(address: str | None = None, num_cpus: int | None = None) -> bool:
    """Join the cluster at `address`, or start a local one; True when this call started Ray.

    A local cluster is this scan's own: it listens on 127.0.0.1 only (no other machine, and no
    other driver, can join it) and has no dashboard. Ray's own logs go to its session folder
    (/tmp/ray), not to this terminal."""
    if ray.is_initialized():
        return False
    options = {"log_to_driver": False, "logging_level": logging.WARNING}
    if address is None:
        # "local": a new Ray even where `ray start` runs one (which ray.init() would join).
        address = "local"
        options.update(num_cpus=num_cpus, include_dashboard=False, _node_ip_address="127.0.0.1")
    with warnings.catch_warnings():
        # A notice about a future default for GPU visibility, printed on every start.
        warnings.simplefilter("ignore", FutureWarning)
        ray.init(address=address, **options)
    _quiet_ray_data()
    return True


def _quiet_ray_data() -> None:
    """Ray Data's own progress bars and INFO lines off the terminal (its log file keeps them):
    the scan draws one progress bar over images."""
    context = ray.data.DataContext.get_current()
    context.enable_progress_bars = False
    context.print_on_execution_start = False
    for handler in logging.getLogger("ray.data").handlers:
        if type(handler).__name__ != "SessionFileHandler":
            handler.setLevel(logging.ERROR)


class Judge:
    """Ray Data actor: loads the Predictor once, then reads, decodes and judges batches of files.
    Each row's result travels as JSON, the same dict the local scan builds, so the driver formats
    both alike.

    The worker reads the files itself rather than through `ray.data.read_binary_files`: that
    reader drops a missing file or fails the whole job on an unreadable one, where the scan owes
    each a row with load_image's reason; and a separate read stage would wait for CPUs that the
    actor pool holds (on a 2-CPU machine, for ever)."""

    def __init__(self, model_dir: str, batch_size: int, threads: int):
        # One worker per CPU: TensorFlow's default thread pools would each take the whole node.
        tf.config.threading.set_intra_op_parallelism_threads(threads)
        tf.config.threading.set_inter_op_parallelism_threads(threads)
        self.predictor = Predictor.load(model_dir, batch_size=batch_size)

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        began = time.time()
        results: list[dict | None] = []  # None: decoded, waiting for the model
        said: list[dict] = []  # each file's provenance, beside its verdict (never an input to it)
        images = []
        for file in batch["file"]:
            said.append({})
            try:
                data = _file_bytes(file)
                p = read_provenance(data)
                said[-1] = {"provenance": p.kind, "provenance_detail": p.detail}
                images.append(load_image(data))
                results.append(None)
            except ImageError as e:
                results.append(error_result(e))
        judged = iter(self.predictor.predict_many(images))
        results = [{**(next(judged) if r is None else r), **extra}
                   for r, extra in zip(results, said, strict=True)]
        return {"path": batch["path"], "result": np.array([json.dumps(r) for r in results], dtype=object),
                "began": np.full(len(results), began)}


def _file_bytes(path) -> bytes:
    """The file's bytes, or ImageError in load_image's own words (as the local scan reads them)."""
    try:
        return Path(path).read_bytes()
    except OSError as e:
        raise ImageError(f"cannot read file: {e.strerror or e}") from None


def judged_rows(items: list[dict], model_dir: Path, workers: int, batch_size: int,
                gpus_per_worker: float = 0.0) -> Iterable[tuple[list[dict], float]]:
    """Stream the scan's rows, one list per finished block of batches, in the order they finish,
    each with the wall-clock time its worker began judging it."""
    dataset = ray.data.from_items(items, override_num_blocks=max(1, -(-len(items) // batch_size)))
    dataset = dataset.map_batches(
        Judge, batch_size=batch_size, compute=ray.data.ActorPoolStrategy(size=workers),
        fn_constructor_kwargs={"model_dir": str(model_dir), "batch_size": batch_size, "threads": 1},
        num_cpus=1, num_gpus=gpus_per_worker or None,
        # A worker that dies (a lost node, a killed process) is replaced and its batch re-run.
        max_restarts=-1, max_task_retries=MAX_BATCH_RETRIES)
    for block in dataset.iter_batches(batch_size=None, batch_format="numpy"):
        results = zip(block["path"], block["result"], strict=True)
        rows = [{"path": str(path), **json.loads(result)} for path, result in results]
        yield rows, float(block["began"].min())


def workers_room(gpus_per_worker: float) -> int:
    """How many workers the cluster has room for now: one per CPU (per GPU share with
    --gpus-per-worker, each also taking a CPU)."""
    resources = ray.cluster_resources()
    room = int(resources.get("CPU", 0))
    if gpus_per_worker:
        room = min(room, int(resources.get("GPU", 0) // gpus_per_worker))
    return room


def choose_workers(asked: int | None, gpus_per_worker: float) -> int:
    """--workers, or as many as fit. Asking for more than fit is allowed (an autoscaling cluster
    grows); the rest wait for room, which this says on the terminal."""
    room = workers_room(gpus_per_worker)
    if asked and asked > room:
        print(f"facecheck scan: the cluster has room for {room} of the {asked} workers now; "
              "the others start when it grows", file=sys.stderr)
    return asked or max(1, room)


# ---- output ------------------------------------------------------------------------------------
class ScanOutput:
    """The CSV (and the Parquet folder) of a scan, written as rows come back and read back by
    --resume. The Parquet part of a flush is written before its CSV rows, so a part whose rows are
    not all in the CSV is the one a kill interrupted: --resume deletes it and judges its rows again."""

    def __init__(self, csv_path: str, parquet_dir: str | None, resume: bool, model: dict,
                 csv_row: Callable[[dict], dict], columns: tuple[str, ...]):
        self.csv_path = Path(csv_path)
        self.parquet_dir = Path(parquet_dir) if parquet_dir else None
        self.model = model
        self.csv_row, self.columns = csv_row, columns
        self.done = self._resume() if resume else self._start_afresh()
        parts = self._parts()
        self.next_part = int(parts[-1].stem.split("-")[1]) + 1 if parts else 0
        self.pending: list[dict] = []
        self.last_flush = time.monotonic()

    def _start_afresh(self) -> set[str]:
        self.csv_path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.csv_path, "w", newline="") as f:
            csv.DictWriter(f, fieldnames=self.columns).writeheader()
        for part in self._parts():
            part.unlink()
        return set()

    def _resume(self) -> set[str]:
        if not self.csv_path.exists() or self.csv_path.stat().st_size == 0:
            return self._start_afresh()
        _drop_partial_last_line(self.csv_path)
        with open(self.csv_path, newline="") as f:
            done = {row["path"] for row in csv.DictReader(f)}
        for part in self._parts():
            if not set(pq.read_table(part, columns=["path"]).column("path").to_pylist()) <= done:
                part.unlink()
        return done

    def _parts(self) -> list[Path]:
        if self.parquet_dir is None:
            return []
        self.parquet_dir.mkdir(parents=True, exist_ok=True)
        return sorted(self.parquet_dir.glob(PART_GLOB))

    def add(self, rows: list[dict]) -> None:
        """Keep `rows`; write everything kept once enough rows or seconds have gathered."""
        self.pending.extend(rows)
        if len(self.pending) >= FLUSH_ROWS or time.monotonic() - self.last_flush >= FLUSH_SECONDS:
            self.flush()

    def flush(self) -> None:
        if self.pending and self.parquet_dir is not None:
            self._write_part(self.pending)
        if self.pending:
            text = io.StringIO()
            writer = csv.DictWriter(text, fieldnames=self.columns)
            writer.writerows(map(self.csv_row, self.pending))
            with open(self.csv_path, "a", newline="") as f:
                f.write(text.getvalue())
                f.flush()
                os.fsync(f.fileno())
        self.pending = []
        self.last_flush = time.monotonic()

    def _write_part(self, rows: list[dict]) -> None:
        table = pa.Table.from_pylist(rows, schema=PARQUET_SCHEMA).replace_schema_metadata(
            {"facecheck.model": json.dumps(self.model)})
        final = self.parquet_dir / f"part-{self.next_part:06d}.parquet"
        self.next_part += 1
        temporary = final.with_suffix(".tmp")
        pq.write_table(table, temporary)
        temporary.replace(final)  # atomic: a part is whole or absent


def _drop_partial_last_line(path: Path) -> None:
    """Cut a row that a kill left half written (the file then does not end in a newline)."""
    data = path.read_bytes()
    if data and not data.endswith(b"\n"):
        with open(path, "r+b") as f:
            f.truncate(data.rfind(b"\n") + 1)


# ---- the driver ----------------------------------------------------------------------------------
class Tally:
    """What the summary line counts, without keeping millions of rows: verdicts, faces, and the
    rate after start-up: from the moment the first worker began judging (its model loaded) to the
    last row back. Wall-clock times, since the workers report theirs."""

    def __init__(self):
        self.verdicts: Counter[str] = Counter()
        self.faces = 0
        self.started = self.last = time.time()
        self.judging_began: float | None = None

    def add(self, rows: list[dict], began: float) -> None:
        self.last = time.time()
        self.judging_began = min(began, self.judging_began or began)
        self.verdicts.update(r["verdict"] for r in rows)
        self.faces += sum(len(r.get("faces") or []) for r in rows)

    def rows(self) -> list[dict]:
        """Stand-in rows for facecheck.cli.summary: one shared dict per verdict, repeated."""
        return [row for verdict, n in self.verdicts.items() for row in [{"verdict": verdict}] * n]

    def timing(self, workers: int) -> str:
        if self.judging_began is None:
            return "nothing to judge"
        rate = sum(self.verdicts.values()) / max(self.last - self.judging_began, 1e-9)
        return (f"{self.faces} face(s); {rate:.1f} images/s on {workers} Ray worker(s) after "
                f"{self.judging_began - self.started:.1f} s of start-up (Ray, the model in every worker)")


def _problem(args) -> str | None:
    """Why these options cannot run on Ray, or None."""
    if args.server:
        return "--engine ray and --server exclude each other"
    if args.json or args.table:
        return "--engine ray writes --csv (and --parquet for the full detail), not --json or --table"
    if not args.csv:
        return "--engine ray needs --csv OUT.csv (rows are written as they finish)"
    if not (args.paths or args.list):
        return "give image files or folders, or --list FILE"
    missing = [p for p in [*args.paths, *(args.list or [])] if not os.path.exists(p)]
    if missing:
        return f"no such file or folder: {', '.join(missing)}"
    if args.model and not Path(args.model, "contract.json").exists():
        return f"no contract.json in {args.model}"
    return None


def scan_on_ray(args, csv_row: Callable[[dict], dict], columns: tuple[str, ...],
                summary: Callable[[list[dict], dict], str]) -> int:
    """`facecheck scan ... --engine ray` (facecheck.cli parses the options and hands in its CSV
    row, column and summary helpers, so both engines write the same rows and the same line)."""
    problem = _problem(args)
    if problem:
        print(f"facecheck scan: {problem}", file=sys.stderr)
        return 2
    model_dir = Path(args.model or default_model_dir()).resolve()
    model = Contract.load(model_dir).brief()
    try:
        items = list_inputs(args.paths, args.list or [], args.column)
    except ValueError as e:
        print(f"facecheck scan: {e}", file=sys.stderr)
        return 2
    output = ScanOutput(args.csv, args.parquet, args.resume, model, csv_row, columns)
    todo = [item for item in items if item["path"] not in output.done]
    tally = Tally()
    started_ray = connect(args.address)
    workers = choose_workers(args.workers, args.gpus_per_worker)
    status = 0
    try:
        _judge_into(output, tally, todo, model_dir, workers, args)
    except (ray.exceptions.RayError, KeyboardInterrupt) as e:
        reason = "interrupted" if isinstance(e, KeyboardInterrupt) else f"the Ray job failed: {e}"
        print(f"facecheck scan: {reason}; the rows written are kept in {args.csv}, "
              "and --resume continues from them", file=sys.stderr)
        status = 1
    finally:
        output.flush()
        if started_ray:
            ray.shutdown()
    line = f"{summary(tally.rows(), model)}; {tally.timing(workers)}"
    if output.done:
        line += f"; {len(items) - len(todo)} already in {args.csv} (--resume)"
    print(line, file=sys.stderr)
    return status


def _judge_into(output: ScanOutput, tally: Tally, todo: list[dict], model_dir: Path, workers: int,
                args) -> None:
    if not todo:
        return
    with tqdm(total=len(todo), desc="scan", unit="img", file=sys.stderr, disable=args.quiet) as bar:
        for rows, began in judged_rows(todo, model_dir, workers, args.batch_size, args.gpus_per_worker):
            output.add(rows)
            tally.add(rows, began)
            bar.update(len(rows))
