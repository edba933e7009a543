"""Run the app under waitress (a production WSGI server): `facecheck serve` and `python -m server.serve`.

The socket is bound first and the app made afterwards, so that with --port 0 the app knows the
port it really has (its own page's origin, for CORS), and the address is printed only once the
model is loaded: whoever reads that line can send images at once.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import queue
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from waitress import create_server

from server.app import create_app
from server.config import LOOPBACK, Config

ROOT = Path(__file__).resolve().parent.parent


def serve_parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(
        prog="facecheck serve",
        description="Serve the FaceCheck API (/api/v1/...) and the drop page (/) under waitress. "
        "Settings come from defaults, then FACECHECK_* environment variables (FACECHECK_TOKEN, "
        "FACECHECK_CORS_ORIGINS, FACECHECK_MAX_REQUEST_BYTES, FACECHECK_MAX_IMAGES, "
        "FACECHECK_MAX_PIXELS, FACECHECK_MAX_REQUEST_PIXELS, FACECHECK_MAX_DECODING, "
        "FACECHECK_ALLOWED_HOSTS, FACECHECK_MODEL_DIR, ...), then these options.")
    ap.add_argument("--host", help="address to bind (default 127.0.0.1, this machine only)")
    ap.add_argument("--port", type=int, help="port (default 8000; 0 = any free port)")
    ap.add_argument("--model", metavar="DIR", help="model folder (default: the shipped model)")
    ap.add_argument("--threads", type=int, help="worker threads (default 4)")
    ap.add_argument("--allow-remote", action="store_true",
                    help="allow binding a non-loopback address without FACECHECK_TOKEN (not advised)")
    return ap


class AppSlot:
    """A WSGI callable whose app is set after the socket is bound (503 until then)."""

    def __init__(self) -> None:
        self.app: Callable | None = None

    def __call__(self, environ: dict, start_response: Callable) -> Any:
        if self.app is None:
            body = b'{"error": "the model is still loading", "status": 503}'
            start_response("503 Service Unavailable", [("Content-Type", "application/json"),
                                                       ("Content-Length", str(len(body))),
                                                       ("Retry-After", "5")])
            return [body]
        return self.app(environ, start_response)


def bind(config: Config) -> tuple[Any, AppSlot, int]:
    """A waitress server bound to config.host:config.port (not yet running), its app slot, its port."""
    slot = AppSlot()
    # Bodies up to twice the app's limit reach the app (which answers 413 as JSON); larger ones are
    # refused by waitress itself (plain text) without being buffered.
    server = create_server(slot, host=config.host, port=config.port, threads=config.threads,
                           max_request_body_size=2 * config.max_request_bytes + (1 << 20),
                           ident="facecheck", channel_timeout=60)
    port = getattr(server, "effective_port", None)
    if port is None:  # several sockets (a name resolving to IPv4 and IPv6): all share one port
        port = server.effective_listen[0][1]
    return server, slot, int(port)


BANNER = "FaceCheck server on "


def spawn(env: dict[str, str], timeout: float) -> tuple[subprocess.Popen, str]:
    """`facecheck serve --port 0` in a subprocess with this environment; returns (process, URL)
    once it prints its banner. Raises RuntimeError with the output's tail if it does not start."""
    env = {**env, "PYTHONPATH": os.pathsep.join([str(ROOT), env.get("PYTHONPATH", "")])}
    proc = subprocess.Popen([sys.executable, "-m", "facecheck.cli", "serve", "--port", "0"], cwd=ROOT,
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    lines: queue.Queue[str] = queue.Queue()
    threading.Thread(target=lambda: [lines.put(line) for line in proc.stdout], daemon=True).start()
    end = time.monotonic() + timeout
    seen = []
    while time.monotonic() < end:
        try:
            line = lines.get(timeout=0.5)
        except queue.Empty:
            if proc.poll() is not None:
                break
            continue
        seen.append(line)
        if line.startswith(BANNER):
            return proc, line.split()[3].rstrip("/")
    proc.kill()
    raise RuntimeError(f"the server did not start: {''.join(seen)[-2000:]}")


class BackgroundServer:
    """The real waitress server in a thread on a free port, for tests and benchmarks.

        with BackgroundServer(lambda config: create_app(config, predictor=p)) as srv:
            requests.get(srv.url + "/api/v1/health")
    """

    def __init__(self, make_app: Callable[[Config], Any], config: Config | None = None):
        config = dataclasses.replace(config or Config.from_env(), port=0)
        self.server, slot, port = bind(config)
        self.config = dataclasses.replace(config, port=port)
        slot.app = make_app(self.config)
        self.url = f"http://127.0.0.1:{port}"
        self.thread = threading.Thread(target=self.server.run, daemon=True, name="waitress")

    def __enter__(self) -> BackgroundServer:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.close()
        self.server.task_dispatcher.shutdown()
        self.thread.join(timeout=5)


def serve(argv: list[str] | None = None) -> int:
    args = serve_parser().parse_args(argv)
    try:
        config = Config.from_env(host=args.host, port=args.port, model_dir=args.model,
                                 threads=args.threads)
    except (ValueError, TypeError) as e:
        print(f"facecheck serve: {e}", file=sys.stderr)
        return 2
    if config.host not in LOOPBACK and not config.token:
        if not args.allow_remote:
            print(f"facecheck serve: refusing to bind {config.host} (reachable from other machines) "
                  "without a token: set FACECHECK_TOKEN, or pass --allow-remote", file=sys.stderr)
            return 2
        print(f"facecheck serve: WARNING: {config.host} is reachable from other machines and no "
              "FACECHECK_TOKEN is set: anyone who can reach it can use it", file=sys.stderr)
    try:
        server, slot, port = bind(config)
    except OSError as e:
        print(f"facecheck serve: cannot listen on {config.host}:{config.port}: {e.strerror or e}",
              file=sys.stderr)
        return 2
    config = dataclasses.replace(config, port=port)
    app = create_app(config)
    slot.app = app
    info = app.extensions["facecheck"]["model"]
    host = f"[{config.host}]" if ":" in config.host else config.host
    print(f"{BANNER}http://{host}:{port}/ (model {info['contract']['model_version']}, "
          f"{info['device']}{', token required' if config.token else ''}); Ctrl+C stops it", flush=True)
    try:
        server.run()
    except KeyboardInterrupt:
        pass
    finally:
        server.close()
    return 0


if __name__ == "__main__":
    from facecheck.tfquiet import import_tensorflow

    import_tensorflow()
    sys.exit(serve())
