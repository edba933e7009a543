"""Pictures with Content Credentials, made at test time: a throwaway CA and signer certificate
(ES256, with the key identifiers, key usage and EKU that C2PA validation asks of a signer), real
manifests signed with c2pa-python's Builder, and the copies the reader must see through: tampered,
XMP-only, a corrupt manifest, a huge XMP packet. Nothing here is trusted by anything but itself."""

from __future__ import annotations

import datetime
import io
import struct
import zlib
from dataclasses import dataclass

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from PIL import Image

IPTC = "http://cv.iptc.org/newscodes/digitalsourcetype/"
GENERATOR = "facecheck-tests"
SIGNER = "FaceCheck test signer"
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


@dataclass(frozen=True)
class Credentials:
    chain_pem: bytes  # the signer's certificate, then the CA's
    key_pem: bytes


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name),
                      x509.NameAttribute(NameOID.ORGANIZATION_NAME, "FaceCheck tests")])


def _usage(*, sign: bool) -> x509.KeyUsage:
    return x509.KeyUsage(digital_signature=sign, content_commitment=False, key_encipherment=False,
                         data_encipherment=False, key_agreement=False, key_cert_sign=not sign,
                         crl_sign=not sign, encipher_only=False, decipher_only=False)


def make_credentials() -> Credentials:
    """A CA and an end-entity signer under it, valid from yesterday for 30 days."""
    now = datetime.datetime.now(datetime.UTC)
    ca_key, key = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())

    def certificate(subject, issuer, public, *, ca: bool):
        builder = (x509.CertificateBuilder().subject_name(subject).issuer_name(issuer).public_key(public)
                   .serial_number(x509.random_serial_number())
                   .not_valid_before(now - datetime.timedelta(days=1))
                   .not_valid_after(now + datetime.timedelta(days=30))
                   .add_extension(x509.BasicConstraints(ca=ca, path_length=0 if ca else None), critical=True)
                   .add_extension(_usage(sign=not ca), critical=True)
                   .add_extension(x509.SubjectKeyIdentifier.from_public_key(public), critical=False))
        if not ca:
            builder = (builder
                       .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.EMAIL_PROTECTION]),
                                      critical=False)
                       .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()),
                                      critical=False))
        return builder.sign(ca_key, hashes.SHA256())

    ca = certificate(_name("FaceCheck test CA"), _name("FaceCheck test CA"), ca_key.public_key(), ca=True)
    signer = certificate(_name(SIGNER), ca.subject, key.public_key(), ca=False)
    pem = serialization.Encoding.PEM
    return Credentials(signer.public_bytes(pem) + ca.public_bytes(pem),
                       key.private_bytes(pem, serialization.PrivateFormat.PKCS8,
                                         serialization.NoEncryption()))


def manifest(source_type: str) -> dict:
    """A manifest whose one action says the picture was created from `source_type` (an IPTC code)."""
    return {"claim_generator_info": [{"name": GENERATOR, "version": "1.0"}], "title": "face",
            "assertions": [{"label": "c2pa.actions", "data": {"actions": [
                {"action": "c2pa.created", "digitalSourceType": IPTC + source_type}]}}]}


def sign(data: bytes, mime: str, source_type: str, credentials: Credentials) -> bytes:
    """`data` (a JPEG or PNG) with a signed C2PA manifest embedded, as c2pa-python writes it."""
    import c2pa

    info = c2pa.C2paSignerInfo(c2pa.C2paSigningAlg.ES256, credentials.chain_pem, credentials.key_pem, None)
    out = io.BytesIO()
    with c2pa.Signer.from_info(info) as signer, c2pa.Builder(manifest(source_type)) as builder:
        builder.sign(signer, mime, io.BytesIO(data), out)
    return out.getvalue()


def as_png(jpeg: bytes) -> bytes:
    out = io.BytesIO()
    Image.open(io.BytesIO(jpeg)).convert("RGB").save(out, "PNG")
    return out.getvalue()


# ---------------------------------------------------------------------------- PNG chunks


def png_chunks(data: bytes) -> list[tuple[bytes, bytes]]:
    """[(type, payload)] of a PNG."""
    assert data.startswith(PNG_SIGNATURE)
    chunks, pos = [], len(PNG_SIGNATURE)
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos:pos + 4])
        chunks.append((data[pos + 4:pos + 8], data[pos + 8:pos + 8 + length]))
        pos += 12 + length
    return chunks


def png_from_chunks(chunks: list[tuple[bytes, bytes]]) -> bytes:
    out = [PNG_SIGNATURE]
    for kind, payload in chunks:
        out.append(struct.pack(">I", len(payload)) + kind + payload
                   + struct.pack(">I", zlib.crc32(kind + payload) & 0xFFFFFFFF))
    return b"".join(out)


def tamper_png(signed: bytes) -> bytes:
    """The signed PNG with its pixels changed (a white square drawn) and everything else kept: the
    manifest chunk is the signed one, the image data a valid new one."""
    img = Image.open(io.BytesIO(signed)).convert("RGB")
    img.paste((255, 255, 255), (0, 0, 12, 12))
    redrawn = io.BytesIO()
    img.save(redrawn, "PNG")
    new_idat = [c for c in png_chunks(redrawn.getvalue()) if c[0] == b"IDAT"]
    chunks, placed = [], False
    for chunk in png_chunks(signed):
        if chunk[0] != b"IDAT":
            chunks.append(chunk)
        elif not placed:
            chunks.extend(new_idat)
            placed = True
    return png_from_chunks(chunks)


def tamper_jpeg(signed: bytes) -> bytes:
    """The signed JPEG with bytes of its entropy-coded pixels flipped (the manifest segments sit
    before the scan, so they are untouched)."""
    scan = signed.rfind(b"\xff\xda")
    assert scan > signed.rfind(b"c2pa"), "the manifest is expected before the scan data"
    out = bytearray(signed)
    for i in range(len(out) - 300, len(out) - 200, 7):
        out[i] = (out[i] + 0x11) & 0xFF if out[i] not in (0xFF, 0xEE) else out[i]
    return bytes(out)


def corrupt_manifest(signed: bytes) -> bytes:
    """The signed picture with bytes inside its manifest's claim overwritten."""
    at = signed.find(b"c2cl")
    assert at > 0, "no claim box found"
    out = bytearray(signed)
    for i in range(at, min(at + 400, len(out))):
        out[i] ^= 0xA5
    return bytes(out)


# ---------------------------------------------------------------------------- XMP


def xmp_packet(source_type: str, form: str = "attribute", padding: int = 0) -> bytes:
    """An XMP packet with an Iptc4xmpExt:DigitalSourceType in one of the forms writers use
    ("attribute", "element" or "resource"), optionally padded with `padding` bytes of whitespace
    before it (so a huge packet has its claim past any reasonable cap)."""
    uri = IPTC + source_type
    claim = {
        "attribute": f'<rdf:Description rdf:about="" Iptc4xmpExt:DigitalSourceType="{uri}"/>',
        "element": (f'<rdf:Description rdf:about=""><Iptc4xmpExt:DigitalSourceType>{uri}'
                    "</Iptc4xmpExt:DigitalSourceType></rdf:Description>"),
        "resource": (f'<rdf:Description rdf:about=""><Iptc4xmpExt:DigitalSourceType rdf:resource="{uri}"/>'
                     "</rdf:Description>"),
    }[form]
    return ('<?xpacket begin="\ufeff" id="W5M0MpCehiHzreSzNTczkc9d"?>'
            '<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF '
            'xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#" '
            'xmlns:Iptc4xmpExt="http://iptc.org/std/Iptc4xmpExt/2008-02-29/">'
            + " " * padding + claim + '</rdf:RDF></x:xmpmeta><?xpacket end="w"?>').encode()


def jpeg_with_xmp(jpeg: bytes, packet: bytes) -> bytes:
    """The JPEG with an APP1 XMP segment right after its SOI (at most 64 KiB, as JPEG allows)."""
    payload = b"http://ns.adobe.com/xap/1.0/\x00" + packet
    assert len(payload) + 2 <= 0xFFFF, "a JPEG segment holds at most 64 KiB"
    return jpeg[:2] + b"\xff\xe1" + struct.pack(">H", len(payload) + 2) + payload + jpeg[2:]


def png_with_xmp(png: bytes, packet: bytes) -> bytes:
    """The PNG with an uncompressed iTXt XML:com.adobe.xmp chunk after its IHDR (any size)."""
    chunks = png_chunks(png)
    itxt = (b"iTXt", b"XML:com.adobe.xmp\x00\x00\x00\x00\x00" + packet)
    return png_from_chunks(chunks[:1] + [itxt] + chunks[1:])
