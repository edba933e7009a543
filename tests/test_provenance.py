"""facecheck/provenance.py on pictures signed here and now (tests/c2pa_fixtures.py): each kind from a
real C2PA manifest in JPEG and PNG, a tampered copy, an XMP-only copy, a plain picture, a corrupt
manifest, a huge XMP packet, an unsupported format; and the server's answer carrying it beside an
unchanged verdict."""

from __future__ import annotations

import io
import os
from concurrent.futures import ThreadPoolExecutor

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from facecheck.provenance import KINDS, MAX_XMP_BYTES, NOTHING, SOURCE_KINDS, Provenance, read_provenance
from tests import c2pa_fixtures as fx
from tests.helpers import fixture_faces

KIND_OF = {"trainedAlgorithmicMedia": "ai-generated", "compositeWithTrainedAlgorithmicMedia": "ai-edited",
           "digitalCapture": "captured"}


@pytest.fixture(scope="module")
def credentials() -> fx.Credentials:
    return fx.make_credentials()


@pytest.fixture(scope="module")
def face_jpeg() -> bytes:
    return fixture_faces("fake")[0].read_bytes()


@pytest.fixture(scope="module")
def pictures(face_jpeg) -> dict[str, bytes]:
    """The same face as a JPEG and as a PNG, unsigned."""
    return {"image/jpeg": face_jpeg, "image/png": fx.as_png(face_jpeg)}


def signed(pictures, credentials, mime: str, source: str) -> bytes:
    return fx.sign(pictures[mime], mime, source, credentials)


@pytest.mark.parametrize("mime", ["image/jpeg", "image/png"])
@pytest.mark.parametrize("source", sorted(KIND_OF))
def test_signed_picture_gives_its_kind(pictures, credentials, mime, source):
    p = read_provenance(signed(pictures, credentials, mime, source), mime)
    assert p.kind == KIND_OF[source], p
    assert p.signed and not p.trusted
    assert source in p.detail and f"claim generator {fx.GENERATOR} 1.0" in p.detail
    assert fx.SIGNER in p.detail and "not on a trust list" in p.detail
    assert p.as_dict() == {"kind": p.kind, "detail": p.detail, "signed": True, "trusted": False}


@pytest.mark.parametrize("source", sorted(set(SOURCE_KINDS) - set(KIND_OF)))
def test_every_listed_source_type_maps_to_its_kind(pictures, credentials, source):
    p = read_provenance(signed(pictures, credentials, "image/jpeg", source))
    assert p.kind == SOURCE_KINDS[source] and p.signed, p


def test_a_source_type_that_claims_neither_is_none_but_says_what_was_found(pictures, credentials):
    p = read_provenance(signed(pictures, credentials, "image/jpeg", "digitalArt"))
    assert p.kind == "none" and p.signed and "digitalArt" in p.detail and fx.SIGNER in p.detail, p


def ca_pem(credentials: fx.Credentials) -> bytes:
    """The CA's certificate: the second of the chain."""
    end = b"-----END CERTIFICATE-----\n"
    return credentials.chain_pem[credentials.chain_pem.index(end) + len(end):]


def test_a_signer_on_a_configured_trust_list_is_trusted(pictures, credentials, tmp_path, monkeypatch):
    data = signed(pictures, credentials, "image/jpeg", "trainedAlgorithmicMedia")
    assert ca_pem(credentials).startswith(b"-----BEGIN CERTIFICATE-----")
    p = read_provenance(data, trust_anchors=ca_pem(credentials).decode())
    assert p.kind == "ai-generated" and p.trusted and "signer on a trust list" in p.detail, p
    anchors = tmp_path / "anchors.pem"
    anchors.write_bytes(ca_pem(credentials))
    monkeypatch.setenv("FACECHECK_C2PA_TRUST_ANCHORS", str(anchors))
    assert read_provenance(data).trusted
    anchors.write_bytes(ca_pem(fx.make_credentials()))  # another CA: the same manifest is untrusted
    p = read_provenance(data)
    assert p.kind == "ai-generated" and not p.trusted and "not on a trust list" in p.detail, p
    for bad in (b"not a certificate", b"\xff\xfe"):  # a bad file: said, never "invalid"
        anchors.write_bytes(bad)
        p = read_provenance(data)
        assert p.kind == "ai-generated" and not p.trusted and "no trust list used" in p.detail, p
    monkeypatch.setenv("FACECHECK_C2PA_TRUST_ANCHORS", str(tmp_path / "missing.pem"))
    p = read_provenance(data)
    assert p.kind == "ai-generated" and "could not be read" in p.detail, p


def test_the_container_is_sniffed_not_taken_from_the_client(pictures, credentials):
    png = signed(pictures, credentials, "image/png", "trainedAlgorithmicMedia")
    assert read_provenance(png, "image/jpeg").kind == "ai-generated"
    assert read_provenance(png, None).kind == "ai-generated"


@pytest.mark.parametrize("mime,tamper", [("image/jpeg", fx.tamper_jpeg), ("image/png", fx.tamper_png)])
def test_pixels_changed_after_signing_are_invalid(pictures, credentials, mime, tamper):
    original = signed(pictures, credentials, mime, "digitalCapture")
    changed = tamper(original)
    assert changed != original
    p = read_provenance(changed, mime)
    assert p.kind == "invalid" and not p.trusted, p
    assert "dataHash.mismatch" in p.detail and "changed after signing" in p.detail


@pytest.mark.parametrize("mime", ["image/jpeg", "image/png"])
def test_a_corrupt_manifest_is_invalid_with_a_reason(pictures, credentials, mime):
    p = read_provenance(fx.corrupt_manifest(signed(pictures, credentials, mime, "trainedAlgorithmicMedia")))
    assert p.kind == "invalid" and "cannot be read" in p.detail, p


@pytest.mark.parametrize("form", ["attribute", "element", "resource"])
@pytest.mark.parametrize("source", sorted(KIND_OF))
def test_xmp_only_is_read_and_said_unsigned(pictures, form, source):
    packet = fx.xmp_packet(source, form)
    for data in (fx.jpeg_with_xmp(pictures["image/jpeg"], packet),
                 fx.png_with_xmp(pictures["image/png"], packet)):
        p = read_provenance(data)
        assert p.kind == KIND_OF[source] and not p.signed and not p.trusted, p
        assert p.detail.startswith("XMP metadata says") and "unsigned" in p.detail


def test_signed_credentials_outrank_the_xmp(pictures, credentials):
    with_xmp = fx.jpeg_with_xmp(pictures["image/jpeg"], fx.xmp_packet("trainedAlgorithmicMedia"))
    data = fx.sign(with_xmp, "image/jpeg", "digitalCapture", credentials)
    assert b"trainedAlgorithmicMedia" in data
    p = read_provenance(data)
    assert p.kind == "captured" and p.signed, p


def test_xmp_added_after_signing_breaks_the_signature(pictures, credentials):
    data = fx.jpeg_with_xmp(signed(pictures, credentials, "image/jpeg", "digitalCapture"),
                            fx.xmp_packet("trainedAlgorithmicMedia"))
    assert read_provenance(data).kind == "invalid"


def test_plain_pictures_say_nothing_about_the_face():
    for path in fixture_faces("fake") + fixture_faces("real"):
        p = read_provenance(path.read_bytes())
        assert p == Provenance("none", NOTHING, False, False), path
    assert "says nothing about the face" in NOTHING and "stripping them is easy" in NOTHING


def test_a_huge_xmp_packet_is_skipped_and_said(pictures):
    packet = fx.xmp_packet("trainedAlgorithmicMedia", padding=MAX_XMP_BYTES + 1024)
    data = fx.png_with_xmp(pictures["image/png"], packet)
    p = read_provenance(data)
    assert p.kind == "none" and "was not read" in p.detail and "256 KiB" in p.detail, p
    # the picture itself is untouched and still decodes
    assert Image.open(io.BytesIO(data)).size == Image.open(io.BytesIO(pictures["image/png"])).size


def test_a_packet_under_the_cap_is_read_even_when_large(pictures):
    packet = fx.xmp_packet("trainedAlgorithmicMedia", padding=MAX_XMP_BYTES // 2)
    assert read_provenance(fx.png_with_xmp(pictures["image/png"], packet)).kind == "ai-generated"


def test_a_manifest_in_a_format_the_reader_does_not_take(pictures):
    bmp = io.BytesIO()
    Image.open(io.BytesIO(pictures["image/jpeg"])).save(bmp, "BMP")
    p = read_provenance(bmp.getvalue() + b"jumb....c2pa" * 4, "image/bmp")
    assert p.kind in ("none", "invalid") and p.detail != NOTHING, p
    assert "cannot" in p.detail


def test_a_picture_too_broken_to_search_is_none_with_a_reason():
    p = read_provenance(b"\xff\xd8\xff" + b"c2pa" * 64)
    assert p.kind == "none" and "could not be searched" in p.detail, p


def test_the_module_says_each_pictures_kind(pictures, credentials, tmp_path, capsys):
    from facecheck.provenance import main

    (tmp_path / "made.png").write_bytes(signed(pictures, credentials, "image/png", "trainedAlgorithmicMedia"))
    (tmp_path / "plain.jpg").write_bytes(pictures["image/jpeg"])
    assert main([str(tmp_path / "made.png"), str(tmp_path / "plain.jpg"), str(tmp_path / "gone.jpg")]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith(f"{tmp_path / 'made.png'}: ai-generated: Content Credentials say")
    assert lines[1] == f"{tmp_path / 'plain.jpg'}: none: {NOTHING}"
    assert lines[2].startswith(f"{tmp_path / 'gone.jpg'}: cannot read file")


def test_never_raises_whatever_the_bytes(pictures, credentials):
    good = signed(pictures, credentials, "image/jpeg", "trainedAlgorithmicMedia")
    cuts = [good[:n] for n in range(0, len(good), max(1, len(good) // 37))]
    noise = [os.urandom(4096), b"c2pa" + os.urandom(2048), b"\xff\xd8\xff" + b"c2pa" * 100, b""]
    for data in cuts + noise:
        p = read_provenance(data)
        assert p.kind in KINDS and p.detail, (len(data), p)


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(flips=st.lists(st.tuples(st.floats(0, 1, exclude_max=True), st.integers(1, 255)), min_size=1,
                      max_size=12))
def test_never_raises_on_damaged_credentials(signed_jpeg, flips):
    """Bytes of a signed picture flipped anywhere (header, manifest, pixels): always a kind."""
    data = bytearray(signed_jpeg)
    for where, xor in flips:
        data[int(where * len(data))] ^= xor
    p = read_provenance(bytes(data))
    assert p.kind in KINDS and p.detail


@pytest.fixture(scope="module")
def signed_jpeg(pictures, credentials) -> bytes:
    return signed(pictures, credentials, "image/jpeg", "trainedAlgorithmicMedia")


def test_threads_read_at_once_as_the_server_does(pictures, credentials):
    """waitress serves requests on threads: readers at once agree with one alone."""
    data = {"ai-generated": signed(pictures, credentials, "image/jpeg", "trainedAlgorithmicMedia"),
            "captured": signed(pictures, credentials, "image/png", "digitalCapture"),
            "none": pictures["image/jpeg"]}
    jobs = list(data.items()) * 16
    with ThreadPoolExecutor(8) as pool:
        kinds = list(pool.map(lambda job: read_provenance(job[1]).kind, jobs))
    assert kinds == [kind for kind, _ in jobs]


# -- the server: each result carries it, beside an unchanged verdict ---------------------------------


@pytest.fixture(scope="module")
def client():
    from server.app import create_app
    from server.config import Config
    from server.inference import load_predictor

    return create_app(Config.from_env(environ={}), predictor=load_predictor()).test_client()


def test_server_results_carry_provenance_and_keep_the_verdict(client, pictures, credentials):
    import schemathesis

    variants = {
        "plain.jpg": pictures["image/jpeg"],
        "generated.jpg": signed(pictures, credentials, "image/jpeg", "trainedAlgorithmicMedia"),
        "captured.png": signed(pictures, credentials, "image/png", "digitalCapture"),
        "xmp.jpg": fx.jpeg_with_xmp(pictures["image/jpeg"],
                                    fx.xmp_packet("compositeWithTrainedAlgorithmicMedia")),
        "broken.jpg": fx.corrupt_manifest(signed(pictures, credentials, "image/jpeg", "digitalCapture")),
    }
    data = {"image": [(io.BytesIO(b), name) for name, b in variants.items()]}
    r = client.post("/api/v1/predict", data=data, content_type="multipart/form-data")
    assert r.status_code == 200, r.get_json()
    schema = schemathesis.openapi.from_dict(client.get("/api/v1/openapi.json").get_json())
    schema["/api/v1/predict"]["POST"].validate_response(r)
    results = {x["filename"]: x for x in r.get_json()["results"]}
    kinds = {name: x["provenance"]["kind"] for name, x in results.items()}
    assert kinds == {"plain.jpg": "none", "generated.jpg": "ai-generated", "captured.png": "captured",
                     "xmp.jpg": "ai-edited", "broken.jpg": "invalid"}
    assert results["generated.jpg"]["provenance"]["signed"] is True
    assert results["xmp.jpg"]["provenance"]["signed"] is False
    # the same pixels, the same judgement, whatever the credentials say
    base = results["plain.jpg"]
    for name in ("generated.jpg", "captured.png", "xmp.jpg", "broken.jpg"):
        assert results[name]["verdict"] == base["verdict"], name
        assert results[name]["p_fake"] == pytest.approx(base["p_fake"], abs=1e-6), name


def test_server_says_provenance_for_an_image_it_cannot_judge(client, credentials):
    junk = b"\xff\xd8\xff" + b"c2pa" * 64
    r = client.post("/api/v1/predict", data=junk, content_type="image/jpeg")
    result = r.get_json()["results"][0]
    assert result["verdict"] == "error" and result["provenance"]["kind"] in KINDS


@pytest.mark.slow
def test_drop_page_shows_provenance_beside_the_verdict(pictures, credentials, tmp_path):
    """The drop page in real Chromium: each result's provenance line under its verdict, whose words
    stay those of the API's own verdict."""
    from playwright.sync_api import expect, sync_playwright

    from facecheck import wording
    from server.app import create_app
    from server.config import Config
    from server.inference import load_predictor
    from server.serve import BackgroundServer
    from tests.browser import launch_chromium

    files = {"generated.jpg": signed(pictures, credentials, "image/jpeg", "trainedAlgorithmicMedia"),
             "captured.png": signed(pictures, credentials, "image/png", "digitalCapture"),
             "xmp.jpg": fx.jpeg_with_xmp(pictures["image/jpeg"], fx.xmp_packet("compositeSynthetic")),
             "plain.jpg": pictures["image/jpeg"]}
    for name, data in files.items():
        (tmp_path / name).write_bytes(data)
    predictor = load_predictor()
    with BackgroundServer(lambda c: create_app(c, predictor=predictor), Config.from_env(environ={})) as srv, \
            sync_playwright() as pw:
        browser = launch_chromium(pw)
        try:
            page = browser.new_page()
            errors: list[str] = []
            page.on("pageerror", lambda e: errors.append(str(e)))
            page.goto(srv.url + "/")
            expect(page.locator("#model-info")).to_contain_text("threshold", ignore_case=True)
            page.get_by_label("Choose images").set_input_files([str(tmp_path / n) for n in files])
            results = page.locator("#results > li.result")
            expect(results).to_have_count(4, timeout=60_000)
            lines = {"generated.jpg": "Content Credentials: made with an AI tool",
                     "captured.png": "Content Credentials: camera capture",
                     "xmp.jpg": "Picture metadata (unsigned): edited with an AI tool"}
            for i, name in enumerate(files):
                item = results.nth(i)
                expect(item.locator("h3")).to_have_text(name)
                if name in lines:
                    expect(item.locator(".provenance-line")).to_have_text(lines[name])
                else:
                    expect(item.locator(".provenance-line")).to_have_count(0)
                    expect(item.locator(".provenance-detail")).to_contain_text("says nothing about the face")
            expect(results.nth(0).locator(".provenance-detail")).to_contain_text(
                f"claim generator {fx.GENERATOR} 1.0")
            # the verdict words are the same for every copy of the same face
            verdicts = {results.nth(i).locator(".verdict .words").inner_text() for i in range(4)}
            assert len(verdicts) == 1 and verdicts.pop().split(",")[0] in wording.HEADLINES.values()
            assert not errors, errors
        finally:
            browser.close()
