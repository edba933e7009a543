// @ts-check
/* Where a picture says it came from, read in the service worker from the bytes it already
 * fetched: C2PA Content Credentials and the IPTC DigitalSourceType in XMP. The twin of
 * facecheck/provenance.py: the same kinds, the same details, for the same bytes.
 *
 * Nothing goes over the network: the C2PA reader (c2pa-rs built to wasm, @contentauth/c2pa-wasm,
 * in vendor/) ships inside the extension and is set never to fetch a remote manifest nor a
 * certificate's revocation status. A picture is first searched for markers (cheap, no parsing):
 * the reader is loaded and asked only when the bytes hold a C2PA manifest store (a JPEG APP11
 * segment or a PNG caBX chunk labelled "c2pa"; in other containers, the label anywhere), and the
 * XMP is searched only where an XMP packet starts, at most MAX_XMP_BYTES of it.
 *
 * Shared with Node for its unit tests (extension/test/provenance.test.js): no chrome.* call runs
 * on load. Provenance never changes p_fake or the verdict; it is shown beside them.
 */

/**
 * @typedef {'ai-generated' | 'ai-edited' | 'captured' | 'invalid' | 'none'} ProvenanceKind
 * @typedef {object} Provenance  one picture's provenance (the server's `provenance`, as is)
 * @property {ProvenanceKind} kind
 * @property {string} detail  a sentence for a person
 * @property {boolean} signed  the claim is a C2PA signature (false for XMP, which anyone can write)
 * @property {boolean} trusted  the signer chains to a trust list (none is shipped: false)
 * @typedef {{json(): string, free(): void}} C2paReader
 * @typedef {(mime: string, bytes: Uint8Array) => Promise<C2paReader>} OpenReader  the C2PA reader,
 *   loaded: bytes -> the manifest store; rejects with c2pa-rs's error (a string) when none is read
 */

(function (root, factory) {
  if (typeof module === 'object' && module.exports) module.exports = factory();
  else root.FaceCheckProvenance = factory();
// eslint-disable-next-line max-lines-per-function -- the module's UMD factory, not a function in that sense
})(globalThis, function () {
  'use strict';

  /** @type {readonly ProvenanceKind[]} */
  const KINDS = ['ai-generated', 'ai-edited', 'captured', 'invalid', 'none'];
  // IPTC digital source types by kind (facecheck/provenance.py SOURCE_KINDS).
  /** @type {Readonly<Record<string, ProvenanceKind>>} */
  const SOURCE_KINDS = Object.freeze({
    trainedAlgorithmicMedia: 'ai-generated', algorithmicMedia: 'ai-generated',
    trainedAlgorithmicData: 'ai-generated',
    compositeWithTrainedAlgorithmicMedia: 'ai-edited', compositeSynthetic: 'ai-edited',
    algorithmicallyEnhanced: 'ai-edited',
    digitalCapture: 'captured', computationalCapture: 'captured', negativeFilm: 'captured',
    positiveFilm: 'captured', print: 'captured', minorHumanEdits: 'captured',
  });
  /** @type {Readonly<Record<string, number>>} */
  const RANK = Object.freeze({ 'ai-generated': 3, 'ai-edited': 2, captured: 1 });
  /** @type {Readonly<Record<string, string>>} */
  const SAYS = Object.freeze({ 'ai-generated': 'made with an AI tool', 'ai-edited': 'edited with an AI tool',
    captured: 'camera capture' });
  const MAX_XMP_BYTES = 256 * 1024;
  const MAX_XMP_PACKETS = 8;
  // Offline reading (facecheck/provenance.py C2PA_SETTINGS).
  const C2PA_SETTINGS = { verify: { remote_manifest_fetch: false, ocsp_fetch: false } };

  const NOTHING = 'no Content Credentials found: most pictures have none, and stripping them is easy, ' +
    'so this says nothing about the face';
  const CAVEAT = 'they tell where the file says it came from, not whether the face is real';
  const UNTRUSTED = 'signature valid, signer not on a trust list (anyone can make such a certificate)';

  /** @param {ProvenanceKind} [kind]
   * @param {string} [detail]
   * @param {boolean} [signed]
   * @param {boolean} [trusted]
   * @returns {Provenance} */
  const prov = (kind = 'none', detail = NOTHING, signed = false, trusted = false) => ({ kind, detail, signed, trusted });

  // ---- markers ---------------------------------------------------------------------------------

  const ascii = (/** @type {string} */ s) => Uint8Array.from(s, (c) => c.charCodeAt(0));
  const C2PA = ascii('c2pa');

  /** Where `needle` first occurs in `bytes` at or after `from` and before `to` (-1: nowhere).
   * @param {Uint8Array} bytes
   * @param {Uint8Array} needle
   * @param {number} [from]
   * @param {number} [to] */
  function find(bytes, needle, from = 0, to = bytes.length) {
    const last = Math.min(to, bytes.length) - needle.length;
    for (let i = bytes.indexOf(needle[0], from); i !== -1 && i <= last; i = bytes.indexOf(needle[0], i + 1)) {
      let j = 1;
      while (j < needle.length && bytes[i + j] === needle[j]) j++;
      if (j === needle.length) return i;
    }
    return -1;
  }

  /** The container from its first bytes, as facecheck/provenance.py sniff_mime (a server's
   * content type can be wrong).
   * @param {Uint8Array} b
   * @returns {string | null} */
  function sniffMime(b) {
    const at = (/** @type {number} */ i, /** @type {string} */ s) => [...s].every((c, k) => b[i + k] === c.charCodeAt(0));
    if (b[0] === 0xff && b[1] === 0xd8 && b[2] === 0xff) return 'image/jpeg';
    if (at(0, '\x89PNG\r\n\x1a\n')) return 'image/png';
    if (at(0, 'RIFF') && at(8, 'WEBP')) return 'image/webp';
    if (at(0, 'GIF87a') || at(0, 'GIF89a')) return 'image/gif';
    if (at(0, 'II*\x00') || at(0, 'MM\x00*')) return 'image/tiff';
    if (at(4, 'ftypavif')) return 'image/avif';
    if (at(4, 'ftypheic') || at(4, 'ftypmif1')) return 'image/heic';
    return null;
  }

  /** Does a JPEG hold a C2PA manifest store: an APP11 segment (JUMBF) labelled "c2pa", among
   * the segments before the image data? Walks the segment headers only.
   * @param {Uint8Array} b */
  function jpegHasC2pa(b) {
    for (let i = 2; i + 4 <= b.length;) {
      if (b[i] !== 0xff) return false;
      const marker = b[i + 1];
      if (marker === 0xff) { i++; continue; }
      if (marker === 0xda || marker === 0xd9) return false; // the image data (or its end) starts
      if (marker === 0x01 || (marker >= 0xd0 && marker <= 0xd7)) { i += 2; continue; }
      const len = (b[i + 2] << 8) | b[i + 3];
      if (len < 2) return false;
      if (marker === 0xeb && find(b, C2PA, i + 4, i + 2 + len) !== -1) return true;
      i += 2 + len;
    }
    return false;
  }

  /** Does a PNG hold a caBX chunk (C2PA's JUMBF)? Walks the chunk headers only.
   * @param {Uint8Array} b */
  function pngHasC2pa(b) {
    for (let i = 8; i + 8 <= b.length;) {
      const len = ((b[i] << 24) | (b[i + 1] << 16) | (b[i + 2] << 8) | b[i + 3]) >>> 0;
      const type = String.fromCharCode(b[i + 4], b[i + 5], b[i + 6], b[i + 7]);
      if (type === 'caBX') return true;
      if (type === 'IEND') return false;
      i += 12 + len;
    }
    return false;
  }

  /** The cheap check before any parsing: may these bytes hold Content Credentials? JPEG and PNG
   * by their structure; other containers (WebP, AVIF, HEIC, TIFF, GIF) by the "c2pa" label that
   * every manifest store's JUMBF box carries, as facecheck/provenance.py does for all.
   * @param {Uint8Array} bytes */
  function hasC2paMarker(bytes) {
    const mime = sniffMime(bytes);
    if (mime === 'image/jpeg') return jpegHasC2pa(bytes);
    if (mime === 'image/png') return pngHasC2pa(bytes);
    return find(bytes, C2PA) !== -1;
  }

  // ---- XMP -------------------------------------------------------------------------------------

  const XMP_STARTS = [ascii('<x:xmpmeta'), ascii('<?xpacket begin=')];
  const XMP_END = /<\/x:xmpmeta>|<\?xpacket end=/;
  const SPACE = '[ \\t\\n\\r\\f\\v]';
  // prefix:DigitalSourceType="URI", <prefix:DigitalSourceType>URI<, or ... rdf:resource="URI"
  const SOURCE_TYPE = new RegExp(`[\\w.-]+:DigitalSourceType${SPACE}*(?:=${SPACE}*["']|>${SPACE}*|` +
    `${SPACE}+rdf:resource${SPACE}*=${SPACE}*["'])([^"'<>${SPACE.slice(1, -1)}]{1,300})`);
  const LATIN1 = new TextDecoder('latin1');

  /** Where the next XMP packet starts at or after `from` (-1: none), as XMP_START in Python.
   * @param {Uint8Array} b
   * @param {number} from
   * @returns {[number, number]} its start and the end of its opening */
  function xmpStart(b, from) {
    for (let pos = from; ;) {
      const hits = XMP_STARTS.map((n) => find(b, n, pos)).filter((i) => i !== -1);
      if (!hits.length) return [-1, -1];
      const i = Math.min(...hits);
      if (b[i + 1] === 0x3f) return [i, i + XMP_STARTS[1].length]; // <?xpacket begin=
      const next = b[i + XMP_STARTS[0].length]; // <x:xmpmeta must be followed by a space or '>'
      if ([0x20, 0x09, 0x0a, 0x0d, 0x0c, 0x0b, 0x3e].includes(next)) return [i, i + XMP_STARTS[0].length + 1];
      pos = i + 1;
    }
  }

  /** Each XMP packet's text (latin1), at most MAX_XMP_PACKETS; null for one over MAX_XMP_BYTES.
   * @param {Uint8Array} b
   * @returns {Generator<string | null>} */
  function* xmpPackets(b) {
    let pos = 0;
    for (let n = 0; n < MAX_XMP_PACKETS; n++) {
      const [start, opened] = xmpStart(b, pos);
      if (start === -1) return;
      const window = LATIN1.decode(b.subarray(start, start + MAX_XMP_BYTES));
      const end = XMP_END.exec(window.slice(opened - start));
      if (!end) {
        yield null;
        pos = start + MAX_XMP_BYTES;
        continue;
      }
      const stop = opened - start + end.index + end[0].length;
      yield window.slice(0, stop);
      pos = start + stop;
    }
  }

  /** An IPTC DigitalSourceType in the picture's XMP (unsigned), as facecheck/provenance.py read_xmp.
   * @param {Uint8Array} bytes
   * @returns {Provenance} */
  function readXmp(bytes) {
    let skipped = 0;
    for (const packet of xmpPackets(bytes)) {
      if (packet === null) {
        skipped++;
        continue;
      }
      const match = SOURCE_TYPE.exec(packet);
      if (!match) continue;
      const code = tail(match[1].replace(/[\u0080-\u00ff]/g, '\ufffd'));
      const kind = SOURCE_KINDS[code];
      if (!kind) {
        return prov('none', `the XMP metadata names a source (${clip(code, 60)}) that claims ` +
          'neither an AI tool nor a camera (unsigned); this says nothing about the face');
      }
      return prov(kind, `XMP metadata says: ${SAYS[kind]} (${code}); unsigned: anyone can write ` +
        `or remove it; ${CAVEAT}`);
    }
    if (skipped) return prov('none', `${NOTHING}; an XMP packet over ${MAX_XMP_BYTES / 1024} KiB was not read`);
    return prov();
  }

  /** A URI's last path segment ('.../digitalsourcetype/digitalCapture/' -> 'digitalCapture').
   * @param {string} uri */
  const tail = (uri) => uri.replace(/\/+$/, '').split('/').pop() || '';

  /** Whitespace folded, cut to n characters with "..." (facecheck/provenance.py _clip).
   * @param {unknown} text
   * @param {number} [n] */
  function clip(text, n = 80) {
    const t = String(text).split(/\s+/).filter(Boolean).join(' ');
    return t.length <= n ? t : `${t.slice(0, n - 3)}...`;
  }

  // ---- C2PA ------------------------------------------------------------------------------------

  /** A manifest store (the reader's json()) -> its Provenance, as facecheck/provenance.py claim_of.
   * @param {any} store
   * @returns {Provenance} */
  function claimOf(store) {
    const manifest = ((store && store.manifests) || {})[(store && store.active_manifest) || ''];
    if (!manifest || typeof manifest !== 'object') {
      return prov('invalid', `Content Credentials are present but have no active manifest; ${CAVEAT}`, true);
    }
    const who = whoSigned(manifest);
    const failures = failuresOf(store);
    if (String(store.validation_state || '') === 'Invalid' || failures.length) {
      const codes = failures.join(', ') || 'validation failed';
      return prov('invalid', `Content Credentials fail validation (${codes}): the picture or its manifest ` +
        `changed after signing; ${who}; ${CAVEAT}`, true);
    }
    const trusted = store.validation_state === 'Trusted';
    const trust = trusted ? 'signature valid, signer on a trust list' : UNTRUSTED;
    const codes = sourceCodes(manifest);
    const kinds = codes.map((c) => SOURCE_KINDS[c]).filter(Boolean);
    if (!kinds.length) {
      const named = codes.length ? ` (${[...new Set(codes)].sort().join(', ')})` : '';
      return prov('none', `Content Credentials found but they claim neither an AI tool nor a camera${named}; ` +
        `${who}; ${trust}`, true, trusted);
    }
    const kind = kinds.reduce((a, k) => (RANK[k] > RANK[a] ? k : a));
    const code = codes.find((c) => SOURCE_KINDS[c] === kind);
    return prov(kind, `Content Credentials say: ${SAYS[kind]} (${code}); ${who}; ${trust}; ${CAVEAT}`, true, trusted);
  }

  /** 'claim generator NAME VERSION, signed by COMMON NAME (ISSUER)'.
   * @param {any} manifest */
  function whoSigned(manifest) {
    const infos = manifest.claim_generator_info || [];
    let generator = manifest.claim_generator;
    if (!generator && infos.length && infos[0] && typeof infos[0] === 'object') {
      generator = ['name', 'version'].map((k) => infos[0][k]).filter(Boolean).map(String).join(' ');
    }
    const sig = manifest.signature_info || {};
    let signer = sig.common_name || sig.issuer;
    if (signer && sig.issuer && sig.issuer !== signer) signer = `${signer} (${sig.issuer})`;
    return `claim generator ${clip(generator || 'not named')}, signed by ${clip(signer || 'an unnamed signer')}`;
  }

  /** The active manifest's validation failures, an untrusted signer aside (no trust list ships).
   * @param {any} store
   * @returns {string[]} */
  function failuresOf(store) {
    const results = ((store.validation_results || {}).activeManifest) || {};
    /** @type {any[]} */
    const failures = Array.isArray(results.failure) ? results.failure : [];
    const codes = failures.filter((f) => f && typeof f === 'object').map((f) => String(f.code));
    return [...new Set(codes)].filter((c) => !c.startsWith('signingCredential.untrusted'));
  }

  /** The digital source type codes of the manifest's c2pa.actions assertions.
   * @param {any} manifest
   * @returns {string[]} */
  function sourceCodes(manifest) {
    const codes = [];
    for (const a of manifest.assertions || []) {
      if (!a || typeof a !== 'object' || !['c2pa.actions', 'c2pa.actions.v2'].includes(a.label)) continue;
      for (const action of (a.data || {}).actions || []) {
        const uri = action && typeof action === 'object' ? action.digitalSourceType : null;
        if (typeof uri === 'string' && uri) codes.push(tail(uri));
      }
    }
    return codes;
  }

  /** c2pa-rs's error (a Debug string such as "C2pa(JumbfNotFound)") -> the Provenance it means, as
   * facecheck/provenance.py read_c2pa's exceptions.
   * @param {unknown} e
   * @param {string} mime
   * @returns {Provenance} */
  function fromReaderError(e, mime) {
    const text = String(e instanceof Error ? e.message : e);
    if (/JumbfNotFound|ProvenanceMissing|ManifestNotFound/.test(text)) return prov();
    if (/UnsupportedType|NotSupported/.test(text)) {
      return prov('none', `a C2PA reader cannot read this format (${mime || 'unknown'}); ${NOTHING}`);
    }
    if (/RemoteManifest/.test(text)) {
      return prov('none', 'the picture points to Content Credentials on the web, which FaceCheck does not ' +
        `fetch (it never goes online); ${NOTHING}`);
    }
    return prov('invalid', `Content Credentials are present but cannot be read (${clip(text, 120)}): ` +
      `damaged or altered; ${CAVEAT}`, true);
  }

  /** The C2PA claim of bytes that hold a marker.
   * @param {Uint8Array} bytes
   * @param {string} mime
   * @param {() => Promise<OpenReader>} loadReader
   * @returns {Promise<Provenance>} */
  async function readC2pa(bytes, mime, loadReader) {
    let open;
    try {
      open = await loadReader();
    } catch (e) {
      console.error('FaceCheck: the C2PA reader did not load:', e);
      return prov('none', 'Content Credentials present, not verified in this browser: its C2PA reader did ' +
        'not load (run facecheck scan or the server to verify)');
    }
    let reader;
    try {
      reader = await open(mime, bytes);
    } catch (e) {
      return fromReaderError(e, mime);
    }
    try {
      return claimOf(JSON.parse(reader.json()));
    } catch (e) {
      return fromReaderError(e, mime);
    } finally {
      reader.free();
    }
  }

  // ---- the reader, in the service worker ---------------------------------------------------------

  /** A Blob as c2pa-rs reads one, synchronously (its FileReaderSync exists only in dedicated
   * workers, not in service workers): over bytes already in memory. */
  class BytesBlob {
    /** @param {Uint8Array} bytes */
    constructor(bytes) {
      this.bytes = bytes;
      this.size = bytes.length;
    }

    /** @param {number} [start]
     * @param {number} [end] */
    slice(start, end) {
      return new BytesBlob(this.bytes.subarray(start ?? 0, end ?? this.size));
    }
  }
  /** What vendor/c2pa.js takes as its FileReaderSync (package_scripts/build_extension.py). */
  class BytesReader {
    /** @param {BytesBlob} blob */
    readAsArrayBuffer(blob) {
      return blob.bytes.slice().buffer;
    }
  }

  /** @type {Promise<OpenReader> | null} */
  let readerPromise = null;

  /** vendor/c2pa.js: imported at the worker's install (a service worker may import later only
   * what it imported then), else on the first picture with a marker. */
  function importCode() {
    const g = /** @type {any} */ (globalThis);
    if (g.FaceCheckC2pa) return;
    g.FaceCheckBytesReader = BytesReader;
    importScripts(chrome.runtime.getURL('vendor/c2pa.js'));
  }

  /** The bundled C2PA reader, its wasm compiled once per worker start (never fetched from the web).
   * @returns {Promise<OpenReader>} */
  function loadReader() {
    if (!readerPromise) {
      readerPromise = (async () => {
        importCode();
        const c2pa = /** @type {any} */ (globalThis).FaceCheckC2pa;
        await c2pa.init({ module_or_path: fetch(chrome.runtime.getURL('vendor/c2pa_bg.wasm')) });
        const context = JSON.stringify(C2PA_SETTINGS);
        return (mime, bytes) => c2pa.WasmReader.fromBlob(mime, new BytesBlob(bytes), context);
      })();
      readerPromise.catch(() => { readerPromise = null; });
    }
    return readerPromise;
  }

  /** Was the C2PA reader's wasm asked for since this worker started (a picture with a marker)? */
  const readerLoaded = () => readerPromise !== null;

  /** A picture's provenance from its bytes: signed C2PA first, else the XMP's source type. Never
   * rejects: anything unreadable is a kind with a detail that says why.
   * @param {Uint8Array} bytes
   * @param {{mime?: string, loadReader?: () => Promise<OpenReader>}} [options]  `loadReader`: the
   *   C2PA reader (default: the bundled one, in the service worker)
   * @returns {Promise<Provenance>} */
  async function read(bytes, options = {}) {
    try {
      const mime = sniffMime(bytes) || options.mime || '';
      const found = hasC2paMarker(bytes) ? await readC2pa(bytes, mime, options.loadReader || loadReader) : prov();
      if (found.kind !== 'none') return found;
      const xmp = readXmp(bytes);
      if (xmp.kind !== 'none' || found.detail === NOTHING) return xmp;
      return { ...found, detail: xmp.detail === NOTHING ? found.detail : `${found.detail}; ${xmp.detail}` };
    } catch (e) {
      const name = e instanceof Error ? e.name : typeof e;
      return prov('none', `provenance could not be read (${name}); ${NOTHING}`);
    }
  }

  /** A server's `provenance` (or anything) -> a Provenance, or undefined when it is not one.
   * @param {unknown} raw
   * @returns {Provenance | undefined} */
  function clean(raw) {
    const p = /** @type {Record<string, unknown> | null} */ (raw && typeof raw === 'object' ? raw : null);
    const kind = p && KINDS.find((k) => k === p.kind);
    if (!p || !kind) return undefined;
    return prov(kind, typeof p.detail === 'string' ? p.detail : '', p.signed === true, p.trusted === true);
  }

  return { read, readXmp, claimOf, hasC2paMarker, sniffMime, clean, importCode, readerLoaded, BytesBlob, BytesReader,
    KINDS, SOURCE_KINDS, NOTHING, CAVEAT, UNTRUSTED, MAX_XMP_BYTES };
});
