"""The extension's own image fetches carry no ambient authority (issue #26, docs/security.md).

The real built extension in real Chromium, against local HTTP servers that log every request they
receive (path, Cookie header, who asked). Pages live on public-looking names through
`--host-resolver-rules` (attacker.test, victim.test: both 127.0.0.1, on different ports). The
service worker's download is told from the page's own requests by its Accept header: an <img>
asks for `image/...`, a navigation for `text/html...`, fetch() for `*/*` (Sec-Fetch-Dest would
say it too, but Chromium sends it only to secure origins, and these pages are plain http). Both
ways of checking are driven: a right-click (ExtensionChromium.check) and scan mode (the
scanner's report, checked and listed for the popup).
"""

from __future__ import annotations

import base64
import http.server
import threading
import time

import pytest

from tests.e2e import Browser, open_page
from tests.helpers import fixture_faces

RESOLVE = "--host-resolver-rules=MAP *.test 127.0.0.1"
JUDGED = {"fake", "real", "unsure", "no-face"}
COOKIE = "session=s3cret"


class LoggingServer:
    """A tiny site on 127.0.0.1 that logs every request. `files`: path -> bytes (a JPEG);
    `pages`: path -> HTML; `traps`: path -> Location: the picture for the page's <img>, a 302 to
    Location for anyone else (the extension's fetch). GET /login sets COOKIE, SameSite=Strict."""

    def __init__(self, name: str):
        self.files: dict[str, bytes] = {}
        self.pages: dict[str, str] = {}
        self.traps: dict[str, str] = {}
        self.streams: dict[str, int] = {}  # path -> MiB sent without a Content-Length
        self.log: list[dict] = []
        server = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                path = self.path.split("?", 1)[0]
                accept = self.headers.get("Accept", "")
                dest = ("image" if accept.startswith("image/") else
                        "document" if "text/html" in accept else "fetch")
                server.log.append({"path": path, "cookie": self.headers.get("Cookie"), "dest": dest,
                                   "referer": self.headers.get("Referer")})
                if path == "/login":
                    cookie = ("Set-Cookie", f"{COOKIE}; SameSite=Strict; Path=/")
                    return self.answer(200, b"ok", "text/plain", [cookie])
                if path in server.traps and dest != "image":
                    return self.answer(302, b"", "text/plain", [("Location", server.traps[path])])
                if path in server.streams:
                    return self.stream(server.streams[path])
                if path in server.files or path in server.traps:
                    return self.answer(200, server.files[path], "image/jpeg")
                if path in server.pages:
                    return self.answer(200, server.pages[path].encode(), "text/html; charset=utf-8")
                return self.answer(404, b"not here", "text/plain")

            def answer(self, status, body, ctype, headers=()):
                self.send_response(status)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(body)))
                self.send_header("Cache-Control", "no-store")
                for k, v in headers:
                    self.send_header(k, v)
                self.end_headers()
                self.wfile.write(body)

            def stream(self, mib: int):
                """A body of `mib` MiB with no length given (closed to end it), as an endless one."""
                self.send_response(200)
                self.send_header("Content-Type", "image/jpeg")
                self.end_headers()
                try:
                    for _ in range(mib):
                        self.wfile.write(bytes(1 << 20))
                except OSError:  # the reader hung up
                    pass

            def log_message(self, *args):
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.httpd.server_address[1]
        self.url = f"http://{name}:{self.port}"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def worker_requests(self) -> list[dict]:
        """The requests that were not a page's own <img> or navigation: the extension's."""
        return [e for e in self.log if e["dest"] not in ("image", "document")]

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


FAKE, REAL = fixture_faces("fake")[0], fixture_faces("real")[0]


@pytest.fixture(scope="module")
def servers():
    made = {"attacker": LoggingServer("attacker.test"), "victim": LoggingServer("victim.test"),
            "loopback": LoggingServer("127.0.0.1")}
    yield made
    for s in made.values():
        s.close()


@pytest.fixture
def sites(servers):
    """The three servers, with fresh logs and no files or pages."""
    for s in servers.values():
        s.log.clear()
        s.files.clear()
        s.pages.clear()
        s.traps.clear()
        s.streams.clear()
    return servers


@pytest.fixture(scope="module")
def hostile_browser(playwright_instance, built):
    b = Browser(playwright_instance, built, extra_args=[RESOLVE])
    yield b
    b.close()


@pytest.fixture
def xb(hostile_browser):
    hostile_browser.reset()
    hostile_browser.ctx.clear_cookies()
    yield hostile_browser
    assert not [e for e in hostile_browser.errors if "FaceCheck" in e], hostile_browser.errors
    hostile_browser.errors.clear()


def page_with(site: LoggingServer, path: str, body: str) -> str:
    site.pages[path] = f'<!doctype html><meta charset="utf-8"><body style="margin:8px">{body}</body>'
    return f"{site.url}{path}"


def img(src: str, id_: str = "") -> str:
    return f'<img id="{id_}" src="{src}" width="200" height="200">'


def log_in(b: Browser, site: LoggingServer):
    """The user signs in to `site`: its session cookie (SameSite=Strict) is set."""
    page = open_page(b, f"{site.url}/login")
    page.close()
    assert any(c["name"] == "session" for c in b.ctx.cookies(site.url)), b.ctx.cookies()


def scan(b: Browser, page, srcs: list[str], timeout: float = 60.0) -> dict[str, dict]:
    """Scan mode on for the page's tab; waits until every src is checked. -> src -> the popup's row."""
    tab = b.tab_id(page)
    assert b.worker.evaluate(f"toggleScan({tab})")["on"] is True
    deadline = time.time() + timeout
    while True:
        rows = b.worker.evaluate(
            "async (k) => (await chrome.storage.session.get(k))[k] || []", f"results:{tab}")
        found = {r["src"]: r for r in rows}
        if all(s in found for s in srcs):
            return found
        assert time.time() < deadline, (srcs, list(found))
        time.sleep(0.2)


# ---- (a) a redirect to another site -------------------------------------------------------------

def test_redirect_to_another_site_is_not_followed(xb, sites):
    attacker, victim = sites["attacker"], sites["victim"]
    log_in(xb, victim)
    victim.log.clear()
    victim.files["/account/avatar.jpg"] = REAL.read_bytes()
    # The page's own request gets a picture; the extension's gets a 302 to the victim.
    attacker.files["/trap.jpg"] = FAKE.read_bytes()
    attacker.traps["/trap.jpg"] = f"{victim.url}/account/avatar.jpg"
    attacker.files["/trap2.jpg"] = FAKE.read_bytes()
    attacker.traps["/trap2.jpg"] = f"{victim.url}/account/avatar.jpg?scan"
    # A redirect within the same site is not followed either (no redirect is).
    attacker.files["/own.jpg"] = FAKE.read_bytes()
    attacker.traps["/same.jpg"] = f"{attacker.url}/own.jpg"
    attacker.files["/same.jpg"] = FAKE.read_bytes()
    url = page_with(attacker, "/trap.html", img("/trap.jpg", "trap") + img("/same.jpg", "same"))
    page = open_page(xb, url)
    page.wait_for_function("[...document.images].every((i) => i.complete && i.naturalWidth)")

    for path in ("/trap.jpg", "/same.jpg"):
        out = xb.check(page, f"{attacker.url}{path}")
        view = out["view"]
        assert view["verdict"] == "error" and view["p_fake"] is None, view
        assert "redirect" in view["reason"] and "does not follow" in view["reason"], view
        assert "302" not in view["reason"] and "victim" not in view["reason"], view

    # Scan mode: the same refusal.
    page.evaluate("(s) => { const i = new Image(200, 200); i.src = s; document.body.append(i); }",
                  "/trap2.jpg")
    page.wait_for_function("[...document.images].every((i) => i.complete && i.naturalWidth)")
    rows = scan(xb, page, [f"{attacker.url}/trap2.jpg"])
    row = rows[f"{attacker.url}/trap2.jpg"]
    assert row["verdict"] == "error" and "redirect" in row["reason"], row

    assert victim.log == [], victim.log  # the other site never heard of it
    assert not [e for e in attacker.worker_requests() if e["path"] == "/own.jpg"], attacker.log
    # The extension did ask the attacker (and got its redirect), without cookies.
    asked = [e for e in attacker.worker_requests() if e["path"] in ("/trap.jpg", "/trap2.jpg")]
    assert len(asked) >= 2 and all(e["cookie"] is None for e in asked), attacker.log


# ---- (b) and (c): cookies only for the page's own origin ----------------------------------------

def test_another_sites_image_is_fetched_without_its_cookies(xb, sites):
    attacker, victim = sites["attacker"], sites["victim"]
    log_in(xb, victim)
    # The cookie is real: the victim's own page gets it.
    victim.pages["/home"] = "<!doctype html><title>home</title>"
    open_page(xb, f"{victim.url}/home").close()
    assert [e["cookie"] for e in victim.log if e["path"] == "/home"] == [COOKIE], victim.log
    victim.log.clear()

    victim.files["/account/avatar.jpg"] = REAL.read_bytes()
    victim.files["/account/other.jpg"] = FAKE.read_bytes()
    url = page_with(attacker, "/cross.html", img(f"{victim.url}/account/avatar.jpg", "a")
                    + img(f"{victim.url}/account/other.jpg", "b"))
    page = open_page(xb, url)
    out = xb.check(page, f"{victim.url}/account/avatar.jpg")
    assert out["view"]["verdict"] in JUDGED, out["view"]
    rows = scan(xb, page, [f"{victim.url}/account/other.jpg"])
    assert rows[f"{victim.url}/account/other.jpg"]["verdict"] in JUDGED, rows

    mine = victim.worker_requests()
    assert {e["path"] for e in mine} >= {"/account/avatar.jpg", "/account/other.jpg"}, victim.log
    assert all(e["cookie"] is None for e in victim.log), victim.log
    assert all(e["referer"] is None for e in mine), mine  # nor where it was shown


def test_the_pages_own_images_keep_their_cookies(xb, sites):
    attacker = sites["attacker"]  # here simply a site the user is signed in to
    log_in(xb, attacker)
    attacker.log.clear()
    attacker.files["/me.jpg"] = REAL.read_bytes()
    attacker.files["/friend.jpg"] = FAKE.read_bytes()
    page = open_page(xb, page_with(attacker, "/profile.html", img("/me.jpg") + img("/friend.jpg")))
    assert xb.check(page, f"{attacker.url}/me.jpg")["view"]["verdict"] in JUDGED
    rows = scan(xb, page, [f"{attacker.url}/friend.jpg"])
    assert rows[f"{attacker.url}/friend.jpg"]["verdict"] in JUDGED, rows
    mine = attacker.worker_requests()
    assert {e["path"] for e in mine} >= {"/me.jpg", "/friend.jpg"}, attacker.log
    assert all(e["cookie"] == COOKIE for e in mine), attacker.log


# ---- (d) loopback and private hosts from a public page ------------------------------------------

def test_public_page_cannot_reach_loopback(xb, sites):
    attacker, loopback = sites["attacker"], sites["loopback"]
    loopback.files["/x.jpg"] = REAL.read_bytes()
    loopback.files["/y.jpg"] = FAKE.read_bytes()
    # The page shows one loopback picture itself (its own request); the other is only right-clicked.
    page = open_page(xb, page_with(attacker, "/probe.html", img(f"http://127.0.0.1:{loopback.port}/y.jpg")))
    for src in (f"http://127.0.0.1:{loopback.port}/x.jpg", f"http://localhost:{loopback.port}/x.jpg",
                f"http://[::1]:{loopback.port}/x.jpg", f"http://2130706433:{loopback.port}/x.jpg",
                f"http://[::ffff:127.0.0.1]:{loopback.port}/x.jpg", f"http://printer.local:{loopback.port}/x.jpg",
                "http://192.168.0.1/x.jpg", "http://169.254.169.254/latest/meta-data/"):
        view = xb.check(page, src)["view"]
        assert view["verdict"] == "error" and "private network" in view["reason"], (src, view)
    rows = scan(xb, page, [f"http://127.0.0.1:{loopback.port}/y.jpg"])
    assert "private network" in rows[f"http://127.0.0.1:{loopback.port}/y.jpg"]["reason"], rows
    assert loopback.worker_requests() == [], loopback.log  # only the page's own <img>, if anything


def test_private_page_may_show_private_images(xb, sites):
    loopback = sites["loopback"]  # a page on 127.0.0.1 (the user's own machine or intranet)
    loopback.files["/x.jpg"] = REAL.read_bytes()
    page = open_page(xb, page_with(loopback, "/intranet.html", img("/x.jpg")))
    view = xb.check(page, f"http://localhost:{loopback.port}/x.jpg")["view"]
    assert view["verdict"] in JUDGED, view
    assert [e["path"] for e in loopback.worker_requests()] == ["/x.jpg"], loopback.log


# ---- (e) data: and blob: images, without the network --------------------------------------------

INLINE = """<img id="http" src="/face.jpg" width="200" height="200">
<img id="data" src="data:image/jpeg;base64,{b64}" width="200" height="200">
<img id="blob" width="200" height="200"><img id="gone" width="200" height="200">
<script>
const bytes = Uint8Array.from(atob('{b64}'), (c) => c.charCodeAt(0));
const url = () => URL.createObjectURL(new Blob([bytes], {{type: 'image/jpeg'}}));
document.getElementById('blob').src = url();
// A blob: URL the page revokes once its picture is shown (a common pattern).
const gone = document.getElementById('gone');
gone.onload = () => URL.revokeObjectURL(gone.src);
gone.src = url();
</script>"""


def test_data_and_blob_images_are_read_without_the_network(xb, sites):
    attacker = sites["attacker"]
    attacker.files["/face.jpg"] = FAKE.read_bytes()
    b64 = base64.b64encode(FAKE.read_bytes()).decode()
    page = open_page(xb, page_with(attacker, "/inline.html", INLINE.format(b64=b64)))
    page.wait_for_function("[...document.images].every((i) => i.complete && i.naturalWidth)")
    srcs = {i: page.eval_on_selector(f"#{i}", "i => i.currentSrc") for i in ("http", "data", "blob", "gone")}
    assert srcs["data"].startswith("data:") and srcs["blob"].startswith("blob:"), srcs
    want = xb.check(page, srcs["http"])["view"]
    assert want["verdict"] in JUDGED and want["p_fake"] is not None, want
    before = list(attacker.log)

    for key in ("data", "blob", "gone"):
        view = xb.check(page, srcs[key])["view"]
        assert view["verdict"] == want["verdict"], (key, view)
        # The same bytes (the revoked one: the same pixels, re-encoded losslessly by the page).
        assert abs(view["p_fake"] - want["p_fake"]) <= 0.02, (key, view, want)
    rows = scan(xb, page, [srcs["data"], srcs["blob"]])
    assert all(rows[srcs[k]]["verdict"] == want["verdict"] for k in ("data", "blob")), rows
    # Not one request more (but the scan's own check of the http image).
    after = attacker.log[len(before):]
    assert [e for e in after if e["path"] != "/face.jpg"] == [], after
    assert attacker.log[:len(before)] == before

    # Another page's blob: URL is not this page's to read.
    other = page_with(sites["victim"], "/blob.html", "<script>window.u = URL.createObjectURL("
                      "new Blob(['x'], {type: 'image/jpeg'}))</script>")
    theirs = open_page(xb, other).evaluate("window.u")
    view = xb.check(page, theirs)["view"]
    assert view["verdict"] == "error" and "blob" in view["reason"], view


# ---- (f) every other scheme ---------------------------------------------------------------------

def test_other_schemes_are_refused(xb, sites, tmp_path):
    face = tmp_path / "face.jpg"
    face.write_bytes(REAL.read_bytes())
    page = open_page(xb, page_with(sites["attacker"], "/schemes.html", "<p>nothing</p>"))
    for src, scheme in ((face.as_uri(), "file:"), ("ftp://victim.test/x.jpg", "ftp:"),
                        ("chrome://settings/", "chrome:"), ("javascript:alert(1)", "javascript:"),
                        (f"filesystem:{sites['attacker'].url}/temporary/x.jpg", "filesystem:"),
                        (xb.url("icons/icon128.png"), "chrome-extension:")):
        view = xb.check(page, src)["view"]
        assert view["verdict"] == "error", (src, view)
        want = f"FaceCheck downloads images only over http and https, not {scheme} addresses"
        assert view["reason"] == want, view


def test_an_endless_image_is_cut_off(xb, sites):
    """A page's server answering with a body that does not end (no length given) cannot fill the
    worker's memory: the download stops at 64 MiB and the check says the image is too large."""
    attacker = sites["attacker"]
    attacker.streams["/endless.jpg"] = 200
    page = open_page(xb, page_with(attacker, "/endless.html", "<p>no picture here</p>"))
    view = xb.check(page, f"{attacker.url}/endless.jpg")["view"]
    assert view["verdict"] == "error" and "larger than FaceCheck reads" in view["reason"], view
    # The worker is still fine: the next picture is judged.
    attacker.files["/face.jpg"] = FAKE.read_bytes()
    assert xb.check(page, f"{attacker.url}/face.jpg")["view"]["verdict"] in JUDGED
