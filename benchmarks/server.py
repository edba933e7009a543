"""Benchmark of the local server over real HTTP: `facecheck serve` (waitress) in a subprocess.

    python benchmarks/server.py [--out benchmarks/results/server.md] [--clients 8] [--requests 50]

1. Batching: images/s for one request of the 32 fixture face photos (300x300 JPEG) versus 32
   sequential single-image requests (raw bodies, as the extension sends them), medians of
   --repeats runs. Targets: the batch at least 2x faster; at least 100 images/s through HTTP.
2. Load: --clients concurrent clients x --requests single-image requests each; errors (target 0),
   p50 / p95 latency, throughput, and the server's peak memory (VmHWM of its process).
The numbers depend on whatever else the machine is doing: the load average is reported with them.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from facecheck.contract import VERDICTS  # noqa: E402
from server.serve import spawn  # noqa: E402

FACES = sorted((ROOT / "tests" / "fixtures" / "faces").rglob("*.jpg"))
# A request answered with any of these judged the picture; "error" (or no answer) is a failure.
JUDGED = tuple(v for v in VERDICTS if v != "error")


def start_server(env_extra: dict[str, str]) -> tuple[subprocess.Popen, str]:
    env = {**os.environ, **env_extra}
    env.pop("FACECHECK_TOKEN", None)
    try:
        return spawn(env, timeout=300)
    except RuntimeError as e:
        raise SystemExit(str(e)) from None


def peak_rss_mb(pid: int) -> tuple[float, float]:
    """(current RSS, peak RSS) of a process in MiB, from /proc (Linux)."""
    fields = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        fields[key] = value.strip()
    return (int(fields["VmRSS"].split()[0]) / 1024, int(fields["VmHWM"].split()[0]) / 1024)


def one_batch(session: requests.Session, api: str, blobs: list[tuple[str, bytes]]) -> float:
    t0 = time.perf_counter()
    r = session.post(api + "/predict", files=[("image", (n, b, "image/jpeg")) for n, b in blobs], timeout=300)
    elapsed = time.perf_counter() - t0
    assert r.status_code == 200 and len(r.json()["results"]) == len(blobs), r.text[:300]
    return elapsed


def sequential(session: requests.Session, api: str, blobs: list[tuple[str, bytes]]) -> float:
    t0 = time.perf_counter()
    for name, b in blobs:
        r = session.post(api + "/predict", params={"filename": name}, data=b,
                         headers={"Content-Type": "image/jpeg"}, timeout=300)
        assert r.status_code == 200, r.text[:300]
    return time.perf_counter() - t0


def load_run(api: str, blobs: list[tuple[str, bytes]], clients: int, per_client: int) -> dict:
    latencies: list[float] = []
    errors: list[str] = []
    lock = threading.Lock()
    start = threading.Barrier(clients + 1)

    def client(k: int) -> None:
        session = requests.Session()
        start.wait()
        for i in range(per_client):
            name, b = blobs[(k * per_client + i) % len(blobs)]
            t0 = time.perf_counter()
            try:
                r = session.post(api + "/predict", params={"filename": name}, data=b,
                                 headers={"Content-Type": "image/jpeg"}, timeout=300)
                ok = r.status_code == 200 and r.json()["results"][0]["verdict"] in JUDGED
                problem = None if ok else f"HTTP {r.status_code}: {r.text[:100]}"
            except requests.RequestException as e:
                problem = f"{type(e).__name__}: {e}"
            with lock:
                latencies.append(time.perf_counter() - t0)
                if problem:
                    errors.append(problem)

    threads = [threading.Thread(target=client, args=(k,)) for k in range(clients)]
    for t in threads:
        t.start()
    start.wait()
    t0 = time.perf_counter()
    for t in threads:
        t.join()
    wall = time.perf_counter() - t0
    q = statistics.quantiles(latencies, n=100)
    return {"requests": len(latencies), "errors": len(errors), "first_errors": errors[:3],
            "wall_s": wall, "throughput": len(latencies) / wall,
            "p50_ms": 1e3 * statistics.median(latencies), "p95_ms": 1e3 * q[94],
            "max_ms": 1e3 * max(latencies)}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "server.md")
    ap.add_argument("--clients", type=int, default=8)
    ap.add_argument("--requests", type=int, default=50, help="requests per client in the load run")
    ap.add_argument("--repeats", type=int, default=5, help="runs of each batching measurement")
    args = ap.parse_args(argv)

    blobs = [(p.name, p.read_bytes()) for p in FACES]
    assert len(blobs) == 32, f"expected the 32 fixture faces, found {len(blobs)}"
    load_before = os.getloadavg()
    m = measure(blobs, args.repeats, args.clients, args.requests)
    m["load_average"] = (load_before[0], os.getloadavg()[0])
    text = render(m, args, len(blobs))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(text)
    print(text)
    return 0


def measure(blobs: list[tuple[str, bytes]], repeats: int, clients: int, per_client: int) -> dict:
    """Start the server, time batching and the load run against it, and read its memory."""
    proc, url = start_server({"FACECHECK_MAX_IMAGES": "64"})
    api = url + "/api/v1"
    try:
        session = requests.Session()
        info = session.get(api + "/model", timeout=60).json()
        rss_idle, _ = peak_rss_mb(proc.pid)
        # Warm-up: trace the model for batch 1 and batch 32, and open the connection.
        for _ in range(2):
            one_batch(session, api, blobs)
            sequential(session, api, blobs[:4])
        batch_s = statistics.median(one_batch(session, api, blobs) for _ in range(repeats))
        seq_s = statistics.median(sequential(session, api, blobs) for _ in range(repeats))
        load = load_run(api, blobs, clients, per_client)
        rss_now, rss_peak = peak_rss_mb(proc.pid)
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    return {"info": info, "batch_s": batch_s, "seq_s": seq_s, "load": load,
            "rss_mb": (rss_idle, rss_now, rss_peak)}


def _verdict(ok: bool) -> str:
    return "met" if ok else "**not met**"


def render(m: dict, args: argparse.Namespace, n_images: int) -> str:
    """server.md."""
    batch_ips, seq_ips = n_images / m["batch_s"], n_images / m["seq_s"]
    speedup = batch_ips / seq_ips
    load, (rss_idle, rss_now, rss_peak) = m["load"], m["rss_mb"]
    load_before, load_after = m["load_average"]
    cpu = next((ln.split(":", 1)[1].strip() for ln in Path("/proc/cpuinfo").read_text().splitlines()
                if ln.startswith("model name")), platform.processor())
    c = m["info"]["contract"]
    lines = [
        "# Server benchmark", "",
        f"`python benchmarks/server.py` on {os.cpu_count()} cores ({cpu}), {m['info']['device']}; model "
        f"{c['model_version']} (crop rule {c['crop_rule']}); waitress with its default 4 threads; "
        f"client and server on the same machine. Load average before / after: "
        f"{load_before:.2f} / {load_after:.2f} (anything else running slows every figure).", "",
        "| measurement | result | target |", "|---|---|---|",
        f"| one request of 32 face photos (300x300 JPEG), median of {args.repeats} | "
        f"**{batch_ips:.0f} images/s** ({1e3 * m['batch_s']:.0f} ms) | "
        f">= 100 images/s: {_verdict(batch_ips >= 100)} |",
        f"| 32 sequential single-image requests (raw body), median of {args.repeats} | "
        f"{seq_ips:.0f} images/s ({1e3 * m['seq_s'] / n_images:.1f} ms per request) | |",
        f"| batch speed-up | **{speedup:.1f}x** | >= 2x: {_verdict(speedup >= 2)} |",
        f"| load: {args.clients} concurrent clients x {args.requests} single-image requests | "
        f"**{load['errors']} errors** in {load['requests']} requests | 0: {_verdict(load['errors'] == 0)} |",
        f"| load: latency p50 / p95 / max | {load['p50_ms']:.0f} / {load['p95_ms']:.0f} / "
        f"{load['max_ms']:.0f} ms | |",
        f"| load: throughput | {load['throughput']:.0f} requests/s ({load['wall_s']:.1f} s) | |",
        f"| server memory: RSS idle after loading / after the runs / peak | {rss_idle:.0f} / {rss_now:.0f} / "
        f"{rss_peak:.0f} MiB | |",
    ]
    if load["first_errors"]:
        lines += ["", "First errors: " + "; ".join(load["first_errors"])]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    sys.exit(main())
