"""Where a picture says it came from: C2PA Content Credentials and the IPTC DigitalSourceType in XMP.

    python -m facecheck.provenance PICTURE...     one line per picture: its kind, then the detail

    from facecheck.provenance import read_provenance
    read_provenance(Path("photo.jpg").read_bytes()).as_dict()
    # {"kind": "ai-generated", "detail": "Content Credentials say: made with an AI tool ...",
    #  "signed": True, "trusted": False}

One value per picture, read from the bytes the caller already has, offline (no remote manifest, no
OCSP, no trust list fetched). It is shown beside the verdict and never changes it: a picture
without credentials is not more real, one with them is only as honest as whoever signed it.
docs/provenance.md says what each kind means and what it cannot prove.
"""

from __future__ import annotations

import io
import json
import os
import re
from dataclasses import asdict, dataclass, replace
from pathlib import Path

KINDS = ("ai-generated", "ai-edited", "captured", "invalid", "none")
# IPTC digital source types (http://cv.iptc.org/newscodes/digitalsourcetype/<code>) by kind; any
# other code (digitalArt, screenCapture, composite, ...) claims neither an AI tool nor a camera.
SOURCE_KINDS = {
    "trainedAlgorithmicMedia": "ai-generated", "algorithmicMedia": "ai-generated",
    "trainedAlgorithmicData": "ai-generated",  # C2PA 1.x spelling (c2pa.org/digitalsourcetype)
    "compositeWithTrainedAlgorithmicMedia": "ai-edited", "compositeSynthetic": "ai-edited",
    "algorithmicallyEnhanced": "ai-edited",
    "digitalCapture": "captured", "computationalCapture": "captured", "negativeFilm": "captured",
    "positiveFilm": "captured", "print": "captured", "minorHumanEdits": "captured",
}
# When several actions name sources, the strongest claim of generation wins.
RANK = {"ai-generated": 3, "ai-edited": 2, "captured": 1}
SAYS = {"ai-generated": "made with an AI tool", "ai-edited": "edited with an AI tool",
        "captured": "camera capture"}
# An XMP packet longer than this is not read (the verdict is unaffected; the detail says so).
MAX_XMP_BYTES = 256 * 1024
# Packets looked at per picture (a C2PA thumbnail or an embedded preview may carry its own).
MAX_XMP_PACKETS = 8
# Offline reading: never fetch a manifest from the web nor a certificate's revocation status.
C2PA_SETTINGS = {"verify": {"remote_manifest_fetch": False, "ocsp_fetch": False}}
# A PEM file of trust anchors (root certificates) a signer may chain to; none is shipped.
TRUST_ENV = "FACECHECK_C2PA_TRUST_ANCHORS"

NOTHING = ("no Content Credentials found: most pictures have none, and stripping them is easy, "
           "so this says nothing about the face")
CAVEAT = "they tell where the file says it came from, not whether the face is real"
UNTRUSTED = "signature valid, signer not on a trust list (anyone can make such a certificate)"


@dataclass(frozen=True)
class Provenance:
    """kind: one of KINDS; detail: a sentence for a person; signed: the claim is a C2PA signature
    (False for XMP, which anyone can write); trusted: the signer chains to a trust list."""

    kind: str = "none"
    detail: str = NOTHING
    signed: bool = False
    trusted: bool = False

    def as_dict(self) -> dict:
        return asdict(self)


def read_provenance(data: bytes, mime: str | None = None, trust_anchors: str | None = None) -> Provenance:
    """The picture's provenance from its bytes: signed C2PA first, else an XMP DigitalSourceType.
    `trust_anchors`: PEM root certificates a signer must chain to for `trusted` (default: the file
    named by $FACECHECK_C2PA_TRUST_ANCHORS, if any). Never raises: an unreadable or unsupported
    manifest is a kind with a detail that says why."""
    try:
        anchors, problem = _trust_anchors(trust_anchors)
        found = read_c2pa(bytes(data), sniff_mime(data) or mime, anchors)
        if problem and found.signed:
            found = replace(found, detail=f"{found.detail}; no trust list used: {problem}")
        if found.kind != "none":
            return found
        xmp = read_xmp(data)
        if xmp.kind != "none" or found.detail == NOTHING:
            return xmp
        both = found.detail if xmp.detail == NOTHING else f"{found.detail}; {xmp.detail}"
        return replace(found, detail=both)
    except Exception as e:  # noqa: BLE001 - provenance is an extra: it may never cost the verdict
        return Provenance("none", f"provenance could not be read ({type(e).__name__}); {NOTHING}")


def _trust_anchors(given: str | None) -> tuple[str | None, str]:
    """The PEM trust anchors to verify signers against (`given`, else $FACECHECK_C2PA_TRUST_ANCHORS's
    file, else none) and, when those configured cannot be used, why: a bad file must not make every
    signature read as invalid."""
    source = "trust_anchors"
    if given is None:
        if not os.environ.get(TRUST_ENV):
            return None, ""
        source = f"${TRUST_ENV}"
        try:
            given = Path(os.environ[TRUST_ENV]).read_text()
        except (OSError, UnicodeDecodeError) as e:
            return None, f"{source} could not be read ({type(e).__name__})"
    from cryptography import x509

    try:
        x509.load_pem_x509_certificates(given.encode())
    except ValueError:
        return None, f"{source} holds no PEM certificate"
    return given, ""


def sniff_mime(data: bytes) -> str | None:
    """The container from its first bytes (a client's content type can be wrong)."""
    head = bytes(data[:16])
    if head.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "image/webp"
    if head.startswith((b"GIF87a", b"GIF89a")):
        return "image/gif"
    if head.startswith((b"II*\x00", b"MM\x00*")):
        return "image/tiff"
    if head[4:12] in (b"ftypavif", b"ftypheic", b"ftypmif1"):
        return "image/avif" if head[8:12] == b"avif" else "image/heic"
    return None


# ---------------------------------------------------------------------------- C2PA


def read_c2pa(data: bytes, mime: str | None, trust_anchors: str | None = None) -> Provenance:
    """The active manifest's claim, or kind "none" with the reason no claim was read."""
    # Every manifest store is a JUMBF box labelled "c2pa": without those bytes there is none, and
    # the native reader is not even asked (most pictures, and any non-picture).
    if b"c2pa" not in data:
        return Provenance()
    try:
        import c2pa
    except ImportError:
        return Provenance("none", "the C2PA reader (c2pa-python) is not installed; " + NOTHING)
    try:
        trust = {"trust": {"trust_anchors": trust_anchors}} if trust_anchors else {}
        context = c2pa.Context(c2pa.Settings.from_dict({**C2PA_SETTINGS, **trust}))
        with c2pa.Reader(mime, io.BytesIO(data), context=context) as reader:
            store = json.loads(reader.json())
    except c2pa.C2paError.ManifestNotFound:
        return Provenance()
    except c2pa.C2paError.NotSupported:
        return Provenance("none", f"a C2PA reader cannot read this format ({mime or 'unknown'}); "
                          + NOTHING)
    except c2pa.C2paError.RemoteManifest:
        return Provenance("none", "the picture points to Content Credentials on the web, which "
                          "FaceCheck does not fetch (it never goes online); " + NOTHING)
    except (c2pa.C2paError.Other, c2pa.C2paError.Io) as e:  # the picture itself is unreadable
        return Provenance("none", f"the file could not be searched for Content Credentials ({_short(e)}); "
                          + NOTHING)
    except (c2pa.C2paError, ValueError) as e:
        return Provenance("invalid", f"Content Credentials are present but cannot be read ({_short(e)}): "
                          "damaged or altered; " + CAVEAT, signed=True)
    return claim_of(store)


def claim_of(store: dict) -> Provenance:
    """The Provenance of a manifest store as c2pa's Reader.json() gives it."""
    manifest = (store.get("manifests") or {}).get(store.get("active_manifest") or "")
    if not isinstance(manifest, dict):
        return Provenance("invalid", "Content Credentials are present but have no active manifest; "
                          + CAVEAT, signed=True)
    who = _who(manifest)
    state = str(store.get("validation_state") or "")
    if state == "Invalid" or _failures(store):
        codes = ", ".join(_failures(store)) or "validation failed"
        return Provenance("invalid", f"Content Credentials fail validation ({codes}): the picture or "
                          f"its manifest changed after signing; {who}; " + CAVEAT, signed=True)
    trusted = state == "Trusted"
    trust = "signature valid, signer on a trust list" if trusted else UNTRUSTED
    codes = _source_codes(manifest)
    kinds = [SOURCE_KINDS[c] for c in codes if c in SOURCE_KINDS]
    if not kinds:
        named = f" ({', '.join(sorted(set(codes)))})" if codes else ""
        return Provenance("none", f"Content Credentials found but they claim neither an AI tool nor a "
                          f"camera{named}; {who}; {trust}", signed=True, trusted=trusted)
    kind = max(kinds, key=RANK.__getitem__)
    code = next(c for c in codes if SOURCE_KINDS.get(c) == kind)
    return Provenance(kind, f"Content Credentials say: {SAYS[kind]} ({code}); {who}; {trust}; "
                      + CAVEAT, signed=True, trusted=trusted)


def _who(manifest: dict) -> str:
    """'claim generator NAME VERSION, signed by COMMON NAME (ISSUER)' from what the manifest has."""
    infos = manifest.get("claim_generator_info") or []
    generator = manifest.get("claim_generator")
    if not generator and infos and isinstance(infos[0], dict):
        generator = " ".join(str(infos[0].get(k)) for k in ("name", "version") if infos[0].get(k))
    sig = manifest.get("signature_info") or {}
    signer = sig.get("common_name") or sig.get("issuer")
    if signer and sig.get("issuer") and sig.get("issuer") != signer:
        signer = f"{signer} ({sig['issuer']})"
    return (f"claim generator {_clip(generator or 'not named')}, "
            f"signed by {_clip(signer or 'an unnamed signer')}")


def _failures(store: dict) -> list[str]:
    """The active manifest's validation failures, trust aside (no trust list is shipped, so an
    untrusted signer is the normal case and is said apart)."""
    results = (store.get("validation_results") or {}).get("activeManifest") or {}
    codes = [str(f.get("code")) for f in results.get("failure") or [] if isinstance(f, dict)]
    return [c for c in dict.fromkeys(codes) if not c.startswith("signingCredential.untrusted")]


def _source_codes(manifest: dict) -> list[str]:
    """The digital source type codes (URI tails) of the manifest's c2pa.actions assertions."""
    codes = []
    for assertion in manifest.get("assertions") or []:
        if not isinstance(assertion, dict) or assertion.get("label") not in ("c2pa.actions",
                                                                              "c2pa.actions.v2"):
            continue
        for action in (assertion.get("data") or {}).get("actions") or []:
            uri = action.get("digitalSourceType") if isinstance(action, dict) else None
            if isinstance(uri, str) and uri:
                codes.append(uri.rstrip("/").rsplit("/", 1)[-1])
    return codes


def _clip(text: str, n: int = 80) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= n else text[: n - 3] + "..."


def _short(e: Exception) -> str:
    return _clip(str(e) or type(e).__name__, 120)


# ---------------------------------------------------------------------------- XMP

XMP_START = re.compile(rb"<x:xmpmeta[\s>]|<\?xpacket begin=")
XMP_END = re.compile(rb"</x:xmpmeta>|<\?xpacket end=")
# prefix:DigitalSourceType="URI", <prefix:DigitalSourceType>URI<, or ... rdf:resource="URI"
SOURCE_TYPE = re.compile(
    rb"[\w.-]+:DigitalSourceType\s*(?:=\s*[\"']|>\s*|\s+rdf:resource\s*=\s*[\"'])([^\"'<>\s]{1,300})")


def read_xmp(data: bytes) -> Provenance:
    """An IPTC DigitalSourceType in the picture's XMP (unsigned: anyone can write or remove it)."""
    skipped = 0
    for packet in _xmp_packets(data):
        if packet is None:
            skipped += 1
            continue
        match = SOURCE_TYPE.search(packet)
        if not match:
            continue
        code = match.group(1).decode("ascii", "replace").rstrip("/").rsplit("/", 1)[-1]
        kind = SOURCE_KINDS.get(code)
        if kind is None:
            return Provenance("none", f"the XMP metadata names a source ({_clip(code, 60)}) that claims "
                              "neither an AI tool nor a camera (unsigned); this says nothing about the face")
        return Provenance(kind, f"XMP metadata says: {SAYS[kind]} ({code}); unsigned: anyone can write "
                          "or remove it; " + CAVEAT)
    if skipped:
        return Provenance("none", f"{NOTHING}; an XMP packet over {MAX_XMP_BYTES // 1024} KiB was "
                          "not read")
    return Provenance()


def _xmp_packets(data: bytes):
    """Each XMP packet's bytes, at most MAX_XMP_PACKETS of them; None for one over MAX_XMP_BYTES
    (or with no end within it), which is skipped rather than searched."""
    pos = 0
    for _ in range(MAX_XMP_PACKETS):
        start = XMP_START.search(data, pos)
        if not start:
            return
        end = XMP_END.search(data, start.end(), start.start() + MAX_XMP_BYTES)
        if not end:
            yield None
            pos = start.start() + MAX_XMP_BYTES
            continue
        yield data[start.start():end.end()]
        pos = end.end()


def main(argv: list[str] | None = None) -> int:
    import sys

    for name in argv if argv is not None else sys.argv[1:]:
        try:
            p = read_provenance(Path(name).read_bytes())
        except OSError as e:
            print(f"{name}: cannot read file: {e.strerror or e}")
            continue
        print(f"{name}: {p.kind}: {p.detail}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
