// Unit tests for src/provenance.js: the marker check, the XMP source type and the manifest store's
// claim, as facecheck/provenance.py reads them (tests/test_provenance.py is its twin; the real
// extension is compared with Python in tests/test_extension_provenance.py). Run: npm test.
'use strict';

const test = require('node:test');
const assert = require('node:assert/strict');
const path = require('node:path');
const fs = require('node:fs');
const P = require('../src/provenance.js');

const bytes = (/** @type {string} */ s) => Uint8Array.from(s, (c) => c.charCodeAt(0) & 0xff);
const cat = (/** @type {Uint8Array[]} */ ...parts) => Uint8Array.from(parts.flatMap((p) => [...p]));
const u16 = (/** @type {number} */ n) => bytes(String.fromCharCode(n >> 8, n & 0xff));
const u32 = (/** @type {number} */ n) => Uint8Array.of(n >>> 24, (n >> 16) & 0xff, (n >> 8) & 0xff, n & 0xff);

/** A JPEG's segment: marker, length, payload. */
const segment = (/** @type {number} */ marker, /** @type {string} */ payload) =>
  cat(Uint8Array.of(0xff, marker), u16(payload.length + 2), bytes(payload));
/** A JPEG: SOI, the given segments, then scan data and EOI. */
const jpeg = (/** @type {Uint8Array[]} */ segments, scan = 'scan data') =>
  cat(Uint8Array.of(0xff, 0xd8), ...segments, segment(0xda, 'sos'), bytes(scan), Uint8Array.of(0xff, 0xd9));
/** A PNG: signature, the given chunks (type, data), IEND (CRCs left zero: not checked here). */
const png = (/** @type {[string, string][]} */ chunks) => cat(bytes('\x89PNG\r\n\x1a\n'),
  ...[...chunks, ['IEND', '']].map(([type, data]) => cat(u32(data.length), bytes(type), bytes(data), u32(0))));
const str32 = (/** @type {number} */ n) => String.fromCharCode(...u32(n));
// A C2PA manifest store's JUMBF as a JPEG APP11 payload: the superbox says 1000 bytes, and stops
// after its description box (a damaged store).
const JUMBF = `JP\x02\x11\x00\x00\x00\x01${str32(1000)}jumb${str32(30)}jumd` +
  'c2pa\x00\x11\x00\x10\x80\x00\x00\xaa\x00\x38\x9b\x71\x03c2pa\x00';

test('the marker check finds a JPEG APP11 JUMBF labelled c2pa, and nothing else', () => {
  assert.equal(P.hasC2paMarker(jpeg([segment(0xe0, 'JFIF\0'), segment(0xeb, JUMBF)])), true);
  assert.equal(P.hasC2paMarker(jpeg([segment(0xeb, 'JP no label')])), false);
  // "c2pa" in the XMP (APP1) or in the scan data is no manifest store.
  assert.equal(P.hasC2paMarker(jpeg([segment(0xe1, 'http://ns.adobe.com/xap/1.0/\0 c2pa')])), false);
  assert.equal(P.hasC2paMarker(jpeg([], 'c2pa in the pixels')), false);
});

test('the marker check finds a PNG caBX chunk, before IEND only', () => {
  assert.equal(P.hasC2paMarker(png([['IHDR', '0123456789abc'], ['caBX', JUMBF], ['IDAT', 'x']])), true);
  assert.equal(P.hasC2paMarker(png([['IHDR', '0123456789abc'], ['tEXt', 'c2pa'], ['IDAT', 'x']])), false);
  const after = cat(png([['IHDR', '0123456789abc']]), u32(4), bytes('caBXc2pa'), u32(0));
  assert.equal(P.hasC2paMarker(after), false);
});

test('other containers: the c2pa label anywhere, as Python', () => {
  assert.equal(P.sniffMime(bytes('RIFF\0\0\0\0WEBPVP8 ')), 'image/webp');
  assert.equal(P.hasC2paMarker(bytes('RIFF\0\0\0\0WEBPVP8 ....C2PA jumbc2pa')), true);
  assert.equal(P.hasC2paMarker(bytes('RIFF\0\0\0\0WEBPVP8 ....')), false);
});

test('the marker check never throws on truncated or damaged bytes', () => {
  const good = jpeg([segment(0xe0, 'JFIF\0'), segment(0xeb, JUMBF)]);
  for (let n = 0; n <= good.length; n++) P.hasC2paMarker(good.subarray(0, n));
  const p = png([['caBX', JUMBF]]);
  for (let n = 0; n <= p.length; n++) P.hasC2paMarker(p.subarray(0, n));
  assert.equal(P.hasC2paMarker(new Uint8Array(0)), false);
  assert.equal(P.hasC2paMarker(Uint8Array.of(0xff, 0xd8, 0xff, 0xe0, 0, 0)), false); // length 0
});

const IPTC = 'http://cv.iptc.org/newscodes/digitalsourcetype/';
/** An XMP packet naming `code` in one of the three forms facecheck/provenance.py reads. */
function packet(/** @type {string} */ code, form = 'attribute', padding = 0) {
  const open = '<?xpacket begin="" id="W5M0MpCehiHzreSzNTczkc9d"?><x:xmpmeta xmlns:x="adobe:ns:meta/">' +
    '<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">';
  const body = {
    attribute: `<rdf:Description Iptc4xmpExt:DigitalSourceType="${IPTC}${code}"/>`,
    element: `<rdf:Description><Iptc4xmpExt:DigitalSourceType>${IPTC}${code}</Iptc4xmpExt:DigitalSourceType></rdf:Description>`,
    resource: `<rdf:Description><Iptc4xmpExt:DigitalSourceType rdf:resource="${IPTC}${code}/"/></rdf:Description>`,
  }[form];
  return `${open}${' '.repeat(padding)}${body}</rdf:RDF></x:xmpmeta><?xpacket end="w"?>`;
}

test('an XMP source type gives its kind, unsigned, in each form', () => {
  for (const form of ['attribute', 'element', 'resource']) {
    for (const [code, kind] of Object.entries(P.SOURCE_KINDS)) {
      const got = P.readXmp(jpeg([segment(0xe1, `http://ns.adobe.com/xap/1.0/\0${packet(code, form)}`)]));
      assert.equal(got.kind, kind, `${form} ${code}`);
      assert.equal(got.signed, false);
      assert.match(got.detail, new RegExp(`^XMP metadata says: .* \\(${code}\\); unsigned: anyone can write`));
    }
  }
});

test('an XMP source type that claims neither is none, and says what it found', () => {
  const got = P.readXmp(bytes(packet('digitalArt')));
  assert.equal(got.kind, 'none');
  assert.match(got.detail, /names a source \(digitalArt\) that claims neither/);
});

test('no XMP, or XMP without a source type, says nothing about the face', () => {
  assert.deepEqual(P.readXmp(jpeg([segment(0xe0, 'JFIF\0')])),
    { kind: 'none', detail: P.NOTHING, signed: false, trusted: false });
  assert.equal(P.readXmp(bytes('<x:xmpmeta xmlns:x="adobe:ns:meta/"></x:xmpmeta>')).detail, P.NOTHING);
  assert.equal(P.readXmp(bytes('<x:xmpmetadata> trainedAlgorithmicMedia')).detail, P.NOTHING);
});

test('an XMP packet over MAX_XMP_BYTES is not read; one just under it is', () => {
  const over = P.readXmp(bytes(packet('trainedAlgorithmicMedia', 'attribute', P.MAX_XMP_BYTES)));
  assert.equal(over.kind, 'none');
  assert.match(over.detail, /an XMP packet over 256 KiB was not read$/);
  const under = P.readXmp(bytes(packet('trainedAlgorithmicMedia', 'attribute', P.MAX_XMP_BYTES - 1000)));
  assert.equal(under.kind, 'ai-generated');
  // A huge packet first, a small one after it: the second is still found.
  const both = P.readXmp(bytes(packet('x', 'attribute', P.MAX_XMP_BYTES).slice(0, -40) + packet('digitalCapture')));
  assert.equal(both.kind, 'captured');
});

const store = (/** @type {object[]} */ actions, extra = {}) => ({
  active_manifest: 'urn:a', validation_state: 'Valid',
  validation_results: { activeManifest: { failure: [{ code: 'signingCredential.untrusted' }] } },
  manifests: { 'urn:a': { claim_generator_info: [{ name: 'gen', version: '2.1' }],
    signature_info: { common_name: 'Signer', issuer: 'Org' },
    assertions: [{ label: 'c2pa.actions.v2', data: { actions } }] } },
  ...extra,
});
const action = (/** @type {string} */ code) => ({ action: 'c2pa.created', digitalSourceType: `${IPTC}${code}` });

test('a manifest store: the strongest claim wins, the signer is named, untrusted is said', () => {
  const got = P.claimOf(store([action('digitalCapture'), action('compositeWithTrainedAlgorithmicMedia')]));
  assert.deepEqual([got.kind, got.signed, got.trusted], ['ai-edited', true, false]);
  assert.equal(got.detail, 'Content Credentials say: edited with an AI tool (compositeWithTrainedAlgorithmicMedia); ' +
    `claim generator gen 2.1, signed by Signer (Org); ${P.UNTRUSTED}; ${P.CAVEAT}`);
  assert.equal(P.claimOf(store([action('digitalCapture')], { validation_state: 'Trusted' })).trusted, true);
});

test('a manifest store that fails validation is invalid; one without an active manifest too', () => {
  const bad = store([action('trainedAlgorithmicMedia')], { validation_state: 'Invalid',
    validation_results: { activeManifest: { failure: [{ code: 'assertion.dataHash.mismatch' }] } } });
  assert.equal(P.claimOf(bad).kind, 'invalid');
  assert.match(P.claimOf(bad).detail, /fail validation \(assertion\.dataHash\.mismatch\)/);
  assert.equal(P.claimOf({ manifests: {} }).kind, 'invalid');
  const neither = P.claimOf(store([action('digitalArt')]));
  assert.deepEqual([neither.kind, neither.signed], ['none', true]);
});

/** The real C2PA reader (the wasm the extension ships), as the service worker loads it. */
async function realReader() {
  globalThis.FileReaderSync = P.BytesReader;
  const pkg = path.join(__dirname, '..', 'node_modules', '@contentauth', 'c2pa-wasm', 'pkg');
  const c2pa = await import(path.join(pkg, 'c2pa.js'));
  c2pa.initSync({ module: fs.readFileSync(path.join(pkg, 'c2pa_bg.wasm')) });
  /** @type {import('../src/provenance.js').OpenReader} */
  const open = (mime, b) => c2pa.WasmReader.fromBlob(mime, new P.BytesBlob(b), '{}');
  return open;
}

test('the real reader on a store cut short: none, as Python; a reader that does not load is said', async () => {
  // (facecheck/provenance.py reads this file as none too: c2pa-rs finds no provenance in it. Damaged
  // stores of signed pictures, which read invalid, are in tests/test_extension_provenance.py.)
  const cut = jpeg([segment(0xeb, JUMBF)]);
  assert.equal(P.hasC2paMarker(cut), true);
  const got = await P.read(cut, { loadReader: realReader });
  assert.deepEqual([got.kind, got.signed], ['none', false]);
  const missing = await P.read(cut, { loadReader: () => Promise.reject(new Error('no wasm')) });
  assert.equal(missing.kind, 'none');
  assert.match(missing.detail, /^Content Credentials present, not verified in this browser/);
  assert.equal((await P.read(Uint8Array.of(0xff, 0xd8, 0xff), { loadReader: realReader })).kind, 'none');
});

test('without a marker the reader is never asked; the XMP still is', async () => {
  let asked = 0;
  const loadReader = () => { asked++; return realReader(); };
  const plain = await P.read(jpeg([segment(0xe1, packet('algorithmicMedia'))]), { loadReader });
  assert.equal(plain.kind, 'ai-generated');
  assert.equal(asked, 0);
});

test('a server\'s provenance is kept only when it is one', () => {
  assert.deepEqual(P.clean({ kind: 'captured', detail: 'd', signed: true, trusted: false, extra: 1 }),
    { kind: 'captured', detail: 'd', signed: true, trusted: false });
  assert.equal(P.clean({ kind: 'made-up' }), undefined);
  assert.equal(P.clean(null), undefined);
});
