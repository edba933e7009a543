"""Provenance where a person reads it (issue #25): the badge's details and the popup's row say what
a signed picture claims ("Content Credentials: made with an AI tool" and who signed it), beside the
verdict; a picture that claims nothing says so only under Technical details. Real extension, real
Chromium; pictures signed at test time (tests/c2pa_fixtures.py)."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests import c2pa_fixtures as fx
from tests.e2e import badges, open_page
from tests.helpers import fixture_faces

pytestmark = pytest.mark.slow

CLAIM = "Content Credentials: made with an AI tool"


@pytest.fixture(scope="module")
def signed(site) -> str:
    face = fixture_faces("real")[1].read_bytes()
    (site.folder / "badge-gen.jpg").write_bytes(
        fx.sign(face, "image/jpeg", "trainedAlgorithmicMedia", fx.make_credentials()))
    (site.folder / "badge-plain.jpg").write_bytes(face)
    site.pages["/signed.html"] = ("<!doctype html><meta charset='utf-8'><title>signed</title>"
                                  "<img id='gen' src='/img/badge-gen.jpg' width='240' height='240'>"
                                  "<img id='plain' src='/img/badge-plain.jpg' width='240' height='240'>")
    return f"{site.url}/signed.html"


def test_badge_and_popup_say_what_the_picture_claims(ext, site, signed):
    page = open_page(ext, signed)
    gen, plain = (f"{site.url}/img/badge-{n}.jpg" for n in ("gen", "plain"))
    views = {src: ext.check(page, src)["view"] for src in (gen, plain)}
    # The claim never moves the verdict: the same pixels, with and without credentials.
    assert views[gen]["verdict"] == views[plain]["verdict"]
    found = {b["src"]: b for b in badges(page)}
    assert CLAIM in found[gen]["detail"] and fx.GENERATOR in found[gen]["detail"], found[gen]["detail"]
    assert "Content Credentials:" not in found[plain]["detail"].split("Technical details")[0]
    assert "Provenance: No Content Credentials found" in found[plain]["detail"]
    popup = open_page(ext, ext.url(f"src/popup.html?tab={ext.tab_id(page)}"))
    rows = popup.locator("#results li")
    expect(rows).to_have_count(2)
    texts = [rows.nth(i).inner_text() for i in range(2)]
    assert sum(CLAIM in t for t in texts) == 1, texts
