"""`facecheck scan --engine ray` (issue #17) on a local Ray with 2 CPUs, shared by the module: the
same rows as the local scan, --resume after the driver is killed, no row lost when a worker dies,
and Ray kept out of the plain CLI and the server, with its usage statistics off."""

from __future__ import annotations

import csv
import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path

import pytest

from facecheck.cli import CSV_COLUMNS, main
from tests.helpers import FACES, FIXTURES, ROOT

# facecheck.rayscan first: it sets Ray's environment (no usage statistics) before Ray is imported.
rayscan = pytest.importorskip("facecheck.rayscan", reason="needs the scale extra: pip install -e '.[scale]'")
import ray  # noqa: E402

NOFACE = FIXTURES / "noface"
# Enough images, in small batches, that a job runs for several seconds on 2 CPUs: long enough to
# kill something halfway.
COPIES = 20
BATCH = "4"


@pytest.fixture(scope="module")
def ray_cluster():
    """One local Ray for the module, started the way the CLI starts it."""
    started = rayscan.connect(num_cpus=2)
    yield ray.get_runtime_context().gcs_address
    if started:
        ray.shutdown()


@pytest.fixture(scope="module")
def many_faces(tmp_path_factory) -> list[str]:
    """COPIES links to each fixture face under distinct names; returns their paths."""
    folder = tmp_path_factory.mktemp("many")
    faces = sorted(FACES.rglob("*.jpg"))
    for copy in range(COPIES):
        for i, face in enumerate(faces):
            (folder / f"{copy:02d}_{i:02d}.jpg").symlink_to(face)
    return sorted(str(p) for p in folder.iterdir())


def read_csv(path: Path) -> list[dict]:
    with open(path, newline="") as f:
        reader = csv.DictReader(f)
        assert tuple(reader.fieldnames) == CSV_COLUMNS
        return list(reader)


def count_rows(path: Path) -> int:
    """Rows written so far (the header not counted), read while a scan writes."""
    try:
        return max(0, path.read_bytes().count(b"\n") - 1)
    except FileNotFoundError:
        return 0


def wait_for_rows(path: Path, rows: int, timeout: float = 240.0, alive=lambda: True) -> None:
    deadline = time.monotonic() + timeout
    while count_rows(path) < rows:
        assert time.monotonic() < deadline, f"{path}: fewer than {rows} rows after {timeout} s"
        assert alive(), f"the scan ended before {path} had {rows} rows"
        time.sleep(0.2)


def processes() -> dict[int, tuple[int, bytes]]:
    """{pid: (parent pid, command line)} of every process (Linux /proc)."""
    found = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                parent = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
                found[int(entry.name)] = (parent, (entry / "cmdline").read_bytes())
            except (OSError, IndexError, ValueError):
                continue  # ended while we looked
    return found


def ray_workers_under(ancestor: int) -> list[int]:
    """The Ray Data actor processes among `ancestor`'s descendants."""
    table = processes()

    def descends(pid: int) -> bool:
        while pid > 1:
            pid = table.get(pid, (0, b""))[0]
            if pid == ancestor:
                return True
        return False

    return [pid for pid, (_, command) in table.items()
            if command.startswith(b"ray::MapWorker") and descends(pid)]


def test_the_plain_cli_and_the_server_do_not_import_ray():
    code = ("import sys, facecheck.cli, server.app\n"
            "print(sorted(m for m in sys.modules if m.split('.')[0] == 'ray'))")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_usage_stats_are_off_and_the_local_cluster_stays_on_this_machine(ray_cluster):
    from ray._common.usage import usage_lib

    assert os.environ["RAY_USAGE_STATS_ENABLED"] == "0"
    assert not usage_lib.usage_stats_enabled()
    assert ray_cluster.startswith("127.0.0.1:")
    assert ray.util.get_node_ip_address() == "127.0.0.1"
    assert not ray._private.worker.global_worker.node.address_info.get("webui_url")
    assert ray.cluster_resources()["CPU"] == 2


def test_ray_writes_the_rows_the_local_scan_writes(tmp_path, ray_cluster, bad_inputs):
    """Fixture faces, pictures without faces and the bad-input corpus: the same paths, verdicts,
    face counts and errors; p_fake within 1e-5 (full precision: --json against --parquet)."""
    inputs = [str(FACES), str(NOFACE), str(bad_inputs[0])]
    local_csv, ray_csv = tmp_path / "local.csv", tmp_path / "ray.csv"
    assert main(["scan", *inputs, "--csv", str(local_csv), "--json", str(tmp_path / "local.json"),
                 "--quiet"]) == 0
    assert main(["scan", *inputs, "--engine", "ray", "--workers", "2", "--batch-size", "16",
                 "--csv", str(ray_csv), "--parquet", str(tmp_path / "detail"), "--quiet"]) == 0
    local = {r["path"]: r for r in read_csv(local_csv)}
    on_ray = read_csv(ray_csv)
    assert len(on_ray) == len(local) and {r["path"] for r in on_ray} == set(local)
    assert {r["verdict"] for r in on_ray} >= {"error", "no-face", "real"}
    for r in on_ray:
        mine = local[r["path"]]
        assert (r["faces"], r["verdict"], r["error"]) == (mine["faces"], mine["verdict"], mine["error"])
        # Provenance read from the same bytes, as the local scan reads it.
        assert (r["provenance"], r["provenance_detail"]) == (mine["provenance"], mine["provenance_detail"])
        assert (r["p_fake"] == "") == (mine["p_fake"] == "")
        if r["p_fake"]:
            assert abs(float(r["p_fake"]) - float(mine["p_fake"])) <= 1e-4  # 4 decimals, rounded

    import pyarrow.parquet as pq

    exact = {r["path"]: r for r in json.loads((tmp_path / "local.json").read_text())["results"]}
    detail = pq.read_table(tmp_path / "detail").to_pylist()
    assert sorted(r["path"] for r in detail) == sorted(exact)
    for r in detail:
        mine = exact[r["path"]]
        assert len(r["faces"]) == len(mine["faces"]) and r["verdict"] == mine["verdict"]
        if mine["p_fake"] is not None:
            assert abs(r["p_fake"] - mine["p_fake"]) <= 1e-5
            for face, my_face in zip(r["faces"], mine["faces"], strict=True):
                assert face["box"] == my_face["box"] and face["verdict"] == my_face["verdict"]


def test_resume_after_the_driver_is_killed_halfway(tmp_path, ray_cluster, many_faces):
    """The driver (a second process, with a Ray of its own) is killed once half the rows are
    written; --resume then ends with every file exactly once in the CSV and the Parquet folder."""
    out, detail = tmp_path / "scan.csv", tmp_path / "detail"
    args = ["scan", str(Path(many_faces[0]).parent), "--engine", "ray", "--workers", "2",
            "--batch-size", BATCH, "--csv", str(out), "--parquet", str(detail), "--quiet"]
    driver = subprocess.Popen([sys.executable, "-m", "facecheck.cli", *args],
                              cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                              start_new_session=True)
    try:
        wait_for_rows(out, len(many_faces) // 2, alive=lambda: driver.poll() is None)
        os.kill(driver.pid, signal.SIGKILL)
        driver.wait()
    finally:
        # The driver's session holds the Ray it started; a killed driver leaves some of it behind.
        os.killpg(driver.pid, signal.SIGKILL)
        driver.wait()
    written = count_rows(out)
    assert len(many_faces) // 2 <= written < len(many_faces)

    assert main([*args, "--resume"]) == 0
    assert Counter(r["path"] for r in read_csv(out)) == Counter(many_faces)

    import pyarrow.parquet as pq

    assert Counter(pq.read_table(detail, columns=["path"]).column("path").to_pylist()) == Counter(many_faces)


def test_a_worker_that_dies_mid_job_loses_no_row(tmp_path, ray_cluster, many_faces):
    """One actor's process is killed once a quarter of the rows are written: Ray restarts it and
    re-runs its batch; the scan still ends with every file exactly once."""
    out = tmp_path / "scan.csv"
    killed: list[int] = []

    def kill_one_worker():
        wait_for_rows(out, len(many_faces) // 4)
        workers = ray_workers_under(os.getpid())
        if workers:
            os.kill(workers[0], signal.SIGKILL)
            killed.append(workers[0])

    killer = threading.Thread(target=kill_one_worker, daemon=True)
    killer.start()
    assert main(["scan", str(Path(many_faces[0]).parent), "--engine", "ray", "--workers", "2",
                 "--batch-size", BATCH, "--csv", str(out), "--quiet"]) == 0
    killer.join(timeout=5)
    assert killed, "no Ray worker was found to kill"
    assert Counter(r["path"] for r in read_csv(out)) == Counter(many_faces)


def test_list_files_name_the_images_relative_to_their_folder(tmp_path, ray_cluster, many_faces):
    """A text list and a CSV column of paths (relative to the list's folder) reach the workers."""
    folder = Path(many_faces[0]).parent
    (folder.parent / "some.txt").write_text("# a comment\n" + f"{folder.name}/{Path(many_faces[0]).name}\n")
    with open(tmp_path / "table.csv", "w", newline="") as f:
        csv.writer(f).writerows([["image", "label"], [many_faces[1], "x"], ["missing.jpg", "y"]])
    out = tmp_path / "scan.csv"
    assert main(["scan", "--list", str(folder.parent / "some.txt"), "--list", str(tmp_path / "table.csv"),
                 "--column", "image", "--engine", "ray", "--workers", "1", "--csv", str(out), "--quiet"]) == 0
    rows = {Path(r["path"]).name: r for r in read_csv(out)}
    assert set(rows) == {Path(many_faces[0]).name, Path(many_faces[1]).name, "missing.jpg"}
    assert rows["missing.jpg"]["verdict"] == "error" and "cannot read file" in rows["missing.jpg"]["error"]
    assert rows[Path(many_faces[0]).name]["faces"] == "1"


def test_ray_options_need_the_ray_engine(capsys):
    with pytest.raises(SystemExit) as stop:
        main(["scan", str(FACES), "--workers", "2"])
    assert stop.value.code == 2 and "--workers need(s) --engine ray" in capsys.readouterr().err
    assert main(["scan", str(FACES), "--engine", "ray", "--json", "out.json"]) == 2
