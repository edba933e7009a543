"""Real Chromium for tests (Playwright), and a tiny static HTTP server on 127.0.0.1.

Chromium: $FACECHECK_CHROMIUM if set, else Debian's /usr/bin/chromium (CI installs it with apt),
else Playwright's own download (`playwright install chromium`, on machines with internet).
"""

from __future__ import annotations

import functools
import hashlib
import http.server
import json
import os
import shutil
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TFJS = ROOT / "extension" / "node_modules" / "@tensorflow"

# Flags that keep Chromium quiet and working headless as root on a 2-core box without a GPU.
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]


def chromium_executable() -> str | None:
    """Path of the Chromium to use, or None for Playwright's bundled one."""
    env = os.environ.get("FACECHECK_CHROMIUM")
    if env:
        return env
    for name in ("chromium", "chromium-browser"):
        path = shutil.which(name) or (f"/usr/bin/{name}" if Path(f"/usr/bin/{name}").exists() else None)
        if path:
            return path
    return None


def launch_chromium(pw):
    """A headless Chromium from a sync Playwright instance, with the flags above."""
    return pw.chromium.launch(executable_path=chromium_executable(), headless=True, args=CHROMIUM_ARGS)


def stop_service_workers(ctx, page, timeout: float = 10.0) -> None:
    """Stop the extension's service worker as Chrome does when it is idle (a CDP call, as DevTools
    does), and wait until it has stopped.

    Playwright keeps the same Worker object across the restart; evaluating on it while the worker
    is stopped would hang until something wakes it."""
    cdp = ctx.new_cdp_session(page)
    states: list[str] = []
    cdp.on("ServiceWorker.workerVersionUpdated",
           lambda e: states.extend(v["runningStatus"] for v in e["versions"]))
    cdp.send("ServiceWorker.enable")
    cdp.send("ServiceWorker.stopAllWorkers")
    deadline = time.time() + timeout
    while "stopped" not in states:
        if time.time() > deadline:
            raise AssertionError(f"the service worker did not stop: {states}")
        page.wait_for_timeout(20)  # (events are delivered while Playwright waits)
    cdp.detach()


def with_sites_allowed(ext_dir: Path, into: Path) -> Path:
    """A copy of the built extension in `into` as it is once the user has allowed it to read all
    sites: its optional `<all_urls>` host access made a granted one.

    The shipped manifest asks for host access only when the user first checks or scans (Chrome's
    prompt, src/access.js). Headless Chromium shows that prompt to nobody and Playwright cannot
    answer it, so the tests that need access start from the answer; tests/test_permissions.py
    loads the build as shipped (`sites_allowed=False`) for the paths before it."""
    copy = into / f"extension-sites-allowed-{hashlib.sha256(str(ext_dir).encode()).hexdigest()[:12]}"
    if not copy.exists():
        shutil.copytree(ext_dir, copy)
        manifest = json.loads((copy / "manifest.json").read_text())
        optional = manifest.pop("optional_host_permissions", [])
        manifest["host_permissions"] = sorted(set(manifest.get("host_permissions", []) + optional))
        (copy / "manifest.json").write_text(json.dumps(manifest, indent=2))
    return copy


class ExtensionChromium:
    """Headless Chromium with an unpacked extension loaded, in a persistent profile (a fresh
    temporary one unless `profile` is given; only a temporary one is deleted on close).
    `extra_args`: more Chromium flags, e.g. `--host-resolver-rules=MAP *.test 127.0.0.1` so that
    test pages can live on public-looking names."""

    def __init__(self, pw, ext_dir: Path, profile: str | None = None, sites_allowed: bool = True,
                 extra_args: list[str] | None = None):
        self._own_profile = profile is None
        self.profile = profile or tempfile.mkdtemp(prefix="facecheck-profile-")
        if sites_allowed:
            ext_dir = with_sites_allowed(ext_dir, Path(self.profile))
        self.ctx = pw.chromium.launch_persistent_context(
            self.profile, executable_path=chromium_executable(), headless=True,
            args=CHROMIUM_ARGS + [f"--disable-extensions-except={ext_dir}", f"--load-extension={ext_dir}"]
            + list(extra_args or []))
        self.errors: list[str] = []  # console errors of every service worker of this browser
        self.ctx.on("serviceworker", self._watch)
        worker = self.ctx.service_workers[0] if self.ctx.service_workers else \
            self.ctx.wait_for_event("serviceworker", timeout=20000)
        self._watch(worker)
        self.id = worker.url.split("/")[2]
        self.wait_for_menu()

    def _watch(self, worker):
        worker.on("console", lambda m: self.errors.append(m.text) if m.type == "error" else None)

    @property
    def worker(self):
        """The extension's live service worker (waiting for it if it is being restarted)."""
        prefix = f"chrome-extension://{getattr(self, 'id', '')}"
        live = [w for w in self.ctx.service_workers if w.url.startswith(prefix)]
        return live[-1] if live else self.ctx.wait_for_event("serviceworker", timeout=20000)

    def wait_for_menu(self, timeout: float = 15.0):
        # Menus are created in runtime.onInstalled, which finishes a little after the worker starts.
        js = """() => new Promise((r) => chrome.contextMenus.update('check-face', {}, () =>
                  r(!chrome.runtime.lastError)))"""
        deadline = time.time() + timeout
        while not self.worker.evaluate(js):
            assert time.time() < deadline, "the 'check-face' context menu item never appeared"
            time.sleep(0.05)

    def url(self, path: str) -> str:
        return f"chrome-extension://{self.id}/{path}"

    def tab_id(self, page) -> int:
        tid = self.worker.evaluate(
            "async (u) => ((await chrome.tabs.query({})).find((t) => t.url === u) || {}).id", page.url)
        assert tid, f"no tab for {page.url}"
        return tid

    def menu_info(self, page, src: str, frame_id: int = 0) -> dict:
        """The `info` Chrome passes the context-menu listener for a right-click on `src`."""
        return {"menuItemId": "check-face", "srcUrl": src, "pageUrl": page.url,
                "frameId": frame_id, "mediaType": "image", "editable": False}

    def check(self, page, src: str, frame_id: int = 0) -> dict:
        """What the context menu does on a right-click on `src`; returns {src, view, drawn}. In a
        frame, Chrome also passes the frame's URL (`frameUrl`): looked up here as it would be."""
        return self.worker.evaluate("""async ([tabId, info]) => {
            const tab = await chrome.tabs.get(tabId);
            if (info.frameId) {
              const [found] = await chrome.scripting.executeScript({
                target: {tabId, frameIds: [info.frameId]}, func: () => location.href});
              info.frameUrl = found.result;
            }
            return checkFace(info, tab);
        }""", [self.tab_id(page), self.menu_info(page, src, frame_id)])

    def stop_worker(self, page):
        stop_service_workers(self.ctx, page)

    def wake(self):
        """Start the service worker if it is stopped (as a message from the popup would), so that
        evaluating on it cannot hang: a test that failed after stop_worker leaves it stopped."""
        page = self.ctx.new_page()
        try:
            page.goto(self.url("src/options.html"))
            assert page.evaluate("chrome.runtime.sendMessage({type: 'facecheck-ping'})") == {"ok": True}
        finally:
            page.close()

    def close(self):
        self.ctx.close()
        if self._own_profile:
            shutil.rmtree(self.profile, ignore_errors=True)


class StaticServer:
    """Serve several folders under URL prefixes ({"/model/": Path, ...}) on a free local port."""

    def __init__(self, routes: dict[str, Path], pages: dict[str, str] | None = None):
        self.routes = {k: Path(v) for k, v in routes.items()}
        self.pages = pages or {}
        handler = functools.partial(_Handler, server_routes=self)
        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.httpd.shutdown()
        self.httpd.server_close()


class _Handler(http.server.SimpleHTTPRequestHandler):
    extensions_map = {**http.server.SimpleHTTPRequestHandler.extensions_map,
                      ".wasm": "application/wasm", ".js": "text/javascript", ".json": "application/json"}

    def __init__(self, *args, server_routes: StaticServer, **kwargs):
        self.server_routes = server_routes
        super().__init__(*args, directory=str(ROOT), **kwargs)

    def translate_path(self, path):
        path = path.split("?", 1)[0]
        for prefix, folder in self.server_routes.routes.items():
            if path.startswith(prefix):
                return str(folder / path[len(prefix):])
        return str(ROOT / "__nothing__")

    def do_GET(self):
        query = self.path.partition("?")[2]
        if query.startswith("slow="):  # a slow, uncached file: "?slow=SECONDS"
            time.sleep(float(query[5:]))
            self.no_store = True
            try:
                super().do_GET()
            except (BrokenPipeError, ConnectionResetError):
                pass  # the client gave up waiting (a stopped service worker, as tests intend)
            return
        page = self.server_routes.pages.get(self.path.split("?", 1)[0])
        if page is not None:
            body = page.encode()
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
            return
        super().do_GET()

    no_store = False

    def end_headers(self):
        if self.no_store:
            self.send_header("Cache-Control", "no-store")
        super().end_headers()

    def log_message(self, *args):
        pass


HARNESS = """<!doctype html><meta charset="utf-8"><title>FaceCheck predictor harness</title>
<script src="/tfjs/tfjs-core/dist/tf-core.es2017.min.js"></script>
<script src="/tfjs/tfjs-converter/dist/tf-converter.es2017.min.js"></script>
<script src="/tfjs/tfjs-backend-wasm/dist/tf-backend-wasm.es2017.min.js"></script>
<script src="/src/predictor.js"></script>
<script>
async function setup() {
  tf.env().set('WASM_HAS_MULTITHREAD_SUPPORT', false);
  tf.wasm.setWasmPaths('/tfjs/tfjs-backend-wasm/dist/');
  await tf.setBackend('wasm');
  await tf.ready();
  const contract = await (await fetch('/model/contract.json')).json();
  window.predictor = await FaceCheckPredictor.load({
    tf, contract, classifier: '/model/classifier/model.json', detector: '/model/detector/model.json'});
  return tf.getBackend();
}
async function loadPicture(url) {
  const blob = await (await fetch(url)).blob();
  const bmp = await createImageBitmap(blob, {colorSpaceConversion: 'none',
                                             premultiplyAlpha: 'none', imageOrientation: 'from-image'});
  const canvas = new OffscreenCanvas(bmp.width, bmp.height);
  const ctx = canvas.getContext('2d');
  ctx.drawImage(bmp, 0, 0);
  bmp.close();
  return ctx.getImageData(0, 0, canvas.width, canvas.height);
}
function b64(bytes) {
  let s = '';
  for (let i = 0; i < bytes.length; i += 0x8000) {
    s += String.fromCharCode.apply(null, bytes.subarray(i, i + 0x8000));
  }
  return btoa(s);
}
async function runAll(urls, pixelsFor) {
  const out = [];
  const before = tf.memory().numTensors;
  for (const url of urls) {
    const img = await loadPicture(url);
    const t0 = performance.now();
    const res = await predictor.predict(img);
    const ms = performance.now() - t0;
    const item = {url, ms, width: img.width, height: img.height, result: res};
    if (pixelsFor.includes(url)) item.rgba = b64(new Uint8Array(img.data.buffer));
    out.push(item);
  }
  return {items: out, tensorsBefore: before, tensorsAfter: tf.memory().numTensors};
}
</script>"""


def run_js_predictor(export_dir: Path, files: list[Path], pixels_for: tuple[Path, ...] = (),
                     repeat: int = 1) -> dict:
    """Run extension/src/predictor.js in headless Chromium (wasm backend) on image files.

    Returns {"backend", "items": [{"url", "ms", "width", "height", "result", "rgba"?}], tensor counts}.
    `repeat` > 1 runs the whole list again (warm timings) and keeps the last run."""
    from playwright.sync_api import sync_playwright

    folder = Path(os.path.commonpath([str(Path(f).resolve().parent) for f in files]))
    urls = [f"/images/{Path(f).resolve().relative_to(folder).as_posix()}" for f in files]
    want = [u for f, u in zip(files, urls, strict=True) if Path(f) in set(map(Path, pixels_for))]
    routes = {"/tfjs/": TFJS, "/src/": ROOT / "extension" / "src", "/model/": Path(export_dir),
              "/images/": folder}
    with StaticServer(routes, {"/harness.html": HARNESS}) as server, sync_playwright() as pw:
        browser = launch_chromium(pw)
        try:
            page = browser.new_page()
            errors: list[str] = []
            page.on("pageerror", lambda e: errors.append(str(e)))
            page.goto(f"{server.url}/harness.html")
            backend = page.evaluate("setup()")
            out = None
            for _ in range(max(1, repeat)):
                out = page.evaluate("([u, p]) => runAll(u, p)", [urls, want])
            if errors:
                raise RuntimeError(f"page errors: {errors}")
        finally:
            browser.close()
    out["backend"] = backend
    for item, f in zip(out["items"], files, strict=True):
        item["path"] = str(f)
    return out
