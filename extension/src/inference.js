// @ts-check
/* In-browser checks, for the service worker: image bytes -> pixels -> the JS predictor.
 *
 * The worker fetches the bytes itself (host permissions): a page cannot hand over cross-origin
 * pixels (tainted canvas) and a content script cannot fetch them (CORS). Which fetches it makes,
 * and how, is fetchpolicy.js's decision: only http(s), without cookies unless the image is the
 * page's own, never following a redirect, never a private host for a public page; data: URLs are
 * decoded here, blob: URLs read by the frame's content script (content.js). Decoding matches the
 * Python predictor: createImageBitmap without colour-space conversion or premultiplication, EXIF
 * orientation applied, read back from an OffscreenCanvas (tests/test_parity.py pins this).
 *
 * TF.js and the model load lazily, on the first check after the worker starts: Chrome stops idle
 * workers, so this runs again after every restart, and nothing here may assume it already did.
 *
 * The size limits on pictures are the contract's (`max_pixels`, `min_side`), the ones
 * facecheck/images.py applies.
 */

/**
 * @typedef {import('./predictor.js').Contract} Contract
 * @typedef {{imageData: ImageData, width: number, height: number, thumb: string}} DecodedImage
 *   a picture's pixels, and a small JPEG data: URL of it for the popup
 * @typedef {import('./fetchpolicy.js').Origin & {tabId?: number, frameId?: number}} ImageFrom
 *   where the image is shown: the tab's page and the frame (their URLs, and ids for blob: URLs)
 * @typedef {{type: 'facecheck-read-blob', src: string, maxBytes: number}} ReadBlobMessage  to content.js in the
 *   frame that shows a blob: image; answered with BlobReply
 * @typedef {{dataUrl?: string, error?: 'too-large' | 'unreadable'}} BlobReply
 */

/* exported FaceCheckInference */
const FaceCheckInference = (() => {
  'use strict';

  const THUMB = 64;
  const url = (/** @type {string} */ p) => chrome.runtime.getURL(p);

  /** A picture that cannot be checked: its reason is shown, not logged as a failure. */
  class CheckError extends Error {
    /** @param {string} message
     * @param {'error' | 'too-small'} [verdict] */
    constructor(message, verdict) {
      super(message);
      this.verdict = verdict || 'error';
    }
  }

  /** @type {Promise<Contract> | null} */
  let contractPromise = null;
  /** @type {ReturnType<typeof loadPredictor> | null} */
  let predictorPromise = null;

  /** The extension's model/contract.json, fetched once per worker start.
   * @returns {Promise<Contract>} */
  function contract() {
    if (!contractPromise) {
      contractPromise = fetch(url('model/contract.json')).then((r) => r.json());
      contractPromise.catch(() => { contractPromise = null; });
    }
    return contractPromise;
  }

  /** The contract's limits on a picture's size.
   * @returns {Promise<{maxPixels: number, minSide: number, maxSide: number}>} */
  async function imageLimits() {
    const c = await contract();
    if (typeof c.max_pixels !== 'number' || typeof c.min_side !== 'number') {
      throw new Error('contract.json has no max_pixels or min_side: re-export the model');
    }
    // (max_side came later than the others: a contract without it gets facecheck/images.py's.)
    return { maxPixels: c.max_pixels, minSide: c.min_side, maxSide: typeof c.max_side === 'number' ? c.max_side : 8192 };
  }

  /* TF.js (the es2017 bundles: the ES5 ones trip MV3's CSP) and the predictor. A service worker
   * may only importScripts() after its first run what it imported during `install`, so the
   * worker calls this from its install handler too; later starts then import lazily from cache. */
  function importCode() {
    if (globalThis.tf && globalThis.FaceCheckPredictor) return;
    importScripts(url('vendor/tf-core.es2017.min.js'), url('vendor/tf-converter.es2017.min.js'),
      url('vendor/tf-backend-wasm.es2017.min.js'), url('src/predictor.js'));
  }

  async function loadPredictor() {
    importCode();
    const tf = globalThis.tf;
    if (!tf) throw new Error('TF.js did not load');
    // Threaded wasm needs URL.createObjectURL, which service workers lack.
    tf.env().set('WASM_HAS_MULTITHREAD_SUPPORT', false);
    tf.wasm.setWasmPaths(url('vendor/'));
    // Chosen explicitly: the default (webgl) is software-rendered without a GPU, ~30x slower.
    if (!(await tf.setBackend('wasm'))) throw new Error('TF.js wasm backend did not start');
    await tf.ready();
    return globalThis.FaceCheckPredictor.load({
      tf, contract: await contract(),
      classifier: url('model/classifier/model.json'), detector: url('model/detector/model.json'),
    });
  }

  function predictor() {
    if (!predictorPromise) {
      predictorPromise = loadPredictor();
      predictorPromise.catch(() => { predictorPromise = null; }); // let the next check retry
    }
    return predictorPromise;
  }

  const { plan, decodeDataUrl, REASONS, MAX_INLINE_BYTES, MAX_DOWNLOAD_BYTES } = FaceCheckFetchPolicy;

  /** The image's bytes, by fetchpolicy.js's plan: refused, decoded from a data: URL, read from a
   * blob: URL by the page, or downloaded.
   * @param {string} src
   * @param {ImageFrom} from
   * @returns {Promise<Blob>} */
  async function fetchImage(src, from) {
    const how = plan(src, from);
    if (how.kind === 'refuse') throw new CheckError(how.reason);
    if (how.kind === 'data') return inline(src);
    if (how.kind === 'blob') return inline(await readBlob(src, from));
    return download(how.url, how.credentials);
  }

  /** A data: URL's bytes, without the network (size-capped).
   * @param {string} dataUrl
   * @returns {Blob} */
  function inline(dataUrl) {
    let decoded;
    try {
      decoded = decodeDataUrl(dataUrl);
    } catch (e) {
      throw new CheckError(e instanceof Error ? e.message : REASONS.badData);
    }
    if (!decoded.bytes.length) throw new CheckError('the image is empty');
    return new Blob([new Uint8Array(decoded.bytes)], { type: decoded.type });
  }

  /** A blob: URL is readable only by its page's origin: the frame's content script reads it and
   * answers with a data: URL.
   * @param {string} src
   * @param {ImageFrom} from
   * @returns {Promise<string>} */
  async function readBlob(src, { tabId, frameId }) {
    if (tabId === undefined) throw new CheckError('a blob: image can only be read in the page that shows it');
    /** @type {ReadBlobMessage} */
    const message = { type: 'facecheck-read-blob', src, maxBytes: MAX_INLINE_BYTES };
    /** @type {BlobReply | undefined} */
    const reply = await chrome.tabs.sendMessage(tabId, message, { frameId: frameId || 0 }).catch(() => undefined);
    if (reply && typeof reply.dataUrl === 'string') return reply.dataUrl;
    throw new CheckError(reply && reply.error === 'too-large' ? REASONS.tooLarge
      : 'the page no longer holds this blob: image, or it is not the page\'s own');
  }

  /** An http(s) image: cookies only as the plan says, no redirect followed. Without cookies the
   * HTTP cache is not used either: it could hold a response fetched with them.
   * @param {string} src
   * @param {'include' | 'omit'} credentials
   * @returns {Promise<Blob>} */
  async function download(src, credentials) {
    let resp;
    try {
      resp = await fetch(src, { credentials, redirect: 'manual', referrerPolicy: 'no-referrer',
        cache: credentials === 'include' ? 'force-cache' : 'no-store' });
    } catch {
      throw new CheckError('the image could not be downloaded (network error)');
    }
    if (resp.type === 'opaqueredirect' || (resp.status >= 300 && resp.status < 400)) {
      throw new CheckError(REASONS.redirect);
    }
    if (!resp.ok) throw new CheckError(`the image could not be downloaded (HTTP ${resp.status})`);
    const blob = await capped(resp);
    if (!blob.size) throw new CheckError('the image is empty');
    return blob;
  }

  /** The response's body, read up to MAX_DOWNLOAD_BYTES (refused by its Content-Length first).
   * @param {Response} resp
   * @returns {Promise<Blob>} */
  async function capped(resp) {
    if (!resp.body) return resp.blob();
    if (Number(resp.headers.get('Content-Length')) > MAX_DOWNLOAD_BYTES) {
      resp.body.cancel().catch(() => {});
      throw new CheckError(REASONS.tooLarge);
    }
    const reader = resp.body.getReader();
    /** @type {BlobPart[]} */
    const chunks = [];
    let total = 0;
    for (let r = await reader.read(); !r.done; r = await reader.read()) {
      total += r.value.length;
      if (total > MAX_DOWNLOAD_BYTES) {
        reader.cancel().catch(() => {});
        throw new CheckError(REASONS.tooLarge);
      }
      chunks.push(/** @type {Uint8Array<ArrayBuffer>} */ (r.value));
    }
    return new Blob(chunks, { type: resp.headers.get('Content-Type') || '' });
  }

  /** Image bytes -> pixels, within the contract's size limits.
   * @param {Blob} blob
   * @returns {Promise<DecodedImage>} */
  async function decode(blob) {
    const { maxPixels, minSide, maxSide } = await imageLimits();
    let bmp;
    try {
      bmp = await createImageBitmap(blob, { colorSpaceConversion: 'none', premultiplyAlpha: 'none',
        imageOrientation: 'from-image' });
    } catch {
      throw new CheckError('not a picture Chrome can decode');
    }
    try {
      const { width, height } = bmp;
      if (width * height > maxPixels) throw new CheckError(`image too large: ${width}x${height} pixels`);
      if (Math.max(width, height) > maxSide) throw new CheckError(`image too long: ${width}x${height} pixels`);
      if (Math.min(width, height) < minSide) {
        throw new CheckError(`image too small: ${width}x${height} pixels`, 'too-small');
      }
      const canvas = new OffscreenCanvas(width, height);
      const ctx = /** @type {OffscreenCanvasRenderingContext2D} */ (
        canvas.getContext('2d', { willReadFrequently: true }));
      ctx.drawImage(bmp, 0, 0);
      const imageData = ctx.getImageData(0, 0, width, height);
      return { imageData, width, height, thumb: await thumbnail(bmp) };
    } finally {
      bmp.close();
    }
  }

  /** @param {ImageBitmap} bmp
   * @returns {Promise<string>} a data: URL */
  async function thumbnail(bmp) {
    const s = THUMB / Math.max(bmp.width, bmp.height);
    const c = new OffscreenCanvas(Math.max(1, Math.round(bmp.width * s)), Math.max(1, Math.round(bmp.height * s)));
    /** @type {OffscreenCanvasRenderingContext2D} */ (c.getContext('2d')).drawImage(bmp, 0, 0, c.width, c.height);
    const bytes = new Uint8Array(await (await c.convertToBlob({ type: 'image/jpeg', quality: 0.7 })).arrayBuffer());
    let bin = '';
    for (let i = 0; i < bytes.length; i += 0x8000) bin += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
    return `data:image/jpeg;base64,${btoa(bin)}`;
  }

  /** @param {ImageData} imageData
   * @returns {Promise<import('./predictor.js').Prediction>} */
  async function predict(imageData) {
    return (await predictor()).predict(imageData);
  }

  return { CheckError, importCode, contract, fetchImage, decode, predict, predictor };
})();
