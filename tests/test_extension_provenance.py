"""Provenance in the real extension (extension/src/provenance.js, the bundled C2PA wasm): for the
same bytes, the view the service worker returns has the same provenance as Python's
read_provenance, and p_fake and the verdict are those of the same picture without credentials.

Fixtures are signed here and now (tests/c2pa_fixtures.py), served by the test site.
"""

from __future__ import annotations

import pytest

from facecheck.provenance import read_provenance
from tests import c2pa_fixtures as fx
from tests.e2e import Browser, open_page
from tests.helpers import fixture_faces

# name -> what the picture is made from (filled in by `pictures`)
KINDS = {"gen.jpg": "ai-generated", "cap.png": "captured", "tampered.jpg": "invalid",
         "tampered.png": "invalid", "corrupt.jpg": "invalid", "xmp.jpg": "ai-edited", "plain.jpg": "none"}


@pytest.fixture(scope="module")
def pictures(site) -> dict[str, bytes]:
    face = fixture_faces("fake")[0].read_bytes()
    cred = fx.make_credentials()
    gen = fx.sign(face, "image/jpeg", "trainedAlgorithmicMedia", cred)
    cap = fx.sign(fx.as_png(face), "image/png", "digitalCapture", cred)
    made = {"gen.jpg": gen, "cap.png": cap, "tampered.jpg": fx.tamper_jpeg(gen),
            "tampered.png": fx.tamper_png(cap), "corrupt.jpg": fx.corrupt_manifest(gen),
            "xmp.jpg": fx.jpeg_with_xmp(face, fx.xmp_packet("compositeSynthetic")), "plain.jpg": face}
    for name, data in made.items():
        (site.folder / f"prov-{name}").write_bytes(data)
    imgs = "".join(f"<img src='/img/prov-{n}' width='200' height='200'>" for n in made)
    site.pages["/provenance.html"] = f"<!doctype html><meta charset='utf-8'><title>provenance</title>{imgs}"
    return made


def worker_view(ext, site, name: str) -> dict:
    page = open_page(ext, f"{site.url}/provenance.html")
    try:
        return ext.check(page, f"{site.url}/img/prov-{name}")["view"]
    finally:
        page.close()


@pytest.mark.parametrize("name", list(KINDS))
def test_worker_reads_the_same_provenance_as_python(ext, site, pictures, name):
    py = read_provenance(pictures[name]).as_dict()
    assert py["kind"] == KINDS[name], py  # the fixture is what it says
    got = worker_view(ext, site, name)["provenance"]
    assert got["kind"] == py["kind"], (got, py)
    assert (got["signed"], got["trusted"]) == (py["signed"], py["trusted"])
    if name != "corrupt.jpg":  # (c2pa-rs words a damaged store in its own way per build)
        assert got["detail"] == py["detail"]


def test_provenance_leaves_p_fake_and_the_verdict_alone(ext, site, pictures):
    plain = worker_view(ext, site, "plain.jpg")
    for name in ("gen.jpg", "xmp.jpg"):  # the same pixels as plain.jpg, with credentials added
        view = worker_view(ext, site, name)
        assert view["verdict"] == plain["verdict"]
        assert view["p_fake"] == pytest.approx(plain["p_fake"], abs=1e-6)


def test_the_badge_wording_of_each_kind(ext, site, pictures):
    # settings.js provenanceText / provenanceDetail, as the badges, the popup and the drop page use them.
    lines = {}
    for name in ("gen.jpg", "cap.png", "tampered.jpg", "xmp.jpg", "plain.jpg"):
        prov = worker_view(ext, site, name)["provenance"]
        lines[name] = ext.worker.evaluate(
            "(p) => [FaceCheckSettings.provenanceText(p), FaceCheckSettings.provenanceDetail(p)]", prov)
    assert lines["gen.jpg"][0] == "Content Credentials: made with an AI tool"
    assert lines["cap.png"][0] == "Content Credentials: camera capture"
    assert lines["tampered.jpg"][0] == "Content Credentials: present, but they fail validation"
    assert lines["xmp.jpg"][0] == "Picture metadata (unsigned): edited with an AI tool"
    assert lines["plain.jpg"][0] == ""
    assert lines["plain.jpg"][1].startswith("No Content Credentials found")
    assert lines["plain.jpg"][1].endswith(".")
    assert "claim generator facecheck-tests" in lines["gen.jpg"][1]


def test_the_c2pa_reader_loads_only_for_a_picture_with_credentials(playwright_instance, built, site,
                                                                   pictures):

    b = Browser(playwright_instance, built)  # a fresh worker: nothing loaded yet
    try:
        b.wake()
        worker_view(b, site, "plain.jpg")
        worker_view(b, site, "xmp.jpg")
        # (The glue is imported at install, as a service worker must; the wasm is what costs.)
        assert b.worker.evaluate("() => typeof globalThis.FaceCheckC2pa?.WasmReader") == "function"
        assert b.worker.evaluate("() => FaceCheckProvenance.readerLoaded()") is False
        worker_view(b, site, "gen.jpg")
        assert b.worker.evaluate("() => FaceCheckProvenance.readerLoaded()") is True
    finally:
        b.close()


def test_a_check_on_the_server_carries_the_servers_provenance(ext, site, pictures):
    """remote.js passes the server's `provenance` through: the view says what the server read."""
    from facecheck.predictor import Predictor
    from server.app import Config, create_app
    from server.serve import BackgroundServer

    predictor = Predictor.load()
    with BackgroundServer(lambda config: create_app(config, predictor=predictor),
                          Config.from_env(environ={})) as srv:
        ext.settings(runWhere="server", serverUrl=srv.url)
        for name in ("cap.png", "xmp.jpg", "plain.jpg"):
            view = worker_view(ext, site, name)
            assert view["ranOn"] == "server", view
            assert view["provenance"] == read_provenance(pictures[name]).as_dict()


def test_after_the_worker_restarts_the_reader_loads_again(ext, site, pictures):
    """Chrome stops idle workers: a restarted one imports the reader's glue lazily (it may, having
    imported it at install) and reads Content Credentials as before."""
    page = open_page(ext, f"{site.url}/provenance.html")
    try:
        assert ext.check(page, f"{site.url}/img/prov-gen.jpg")["view"]["provenance"]["kind"] == "ai-generated"
        ext.stop_worker(page)
        ext.wake()
        assert ext.worker.evaluate("() => typeof globalThis.FaceCheckC2pa") == "undefined"
        assert ext.check(page, f"{site.url}/img/prov-cap.png")["view"]["provenance"]["kind"] == "captured"
    finally:
        page.close()
