/* In-browser checks, for the service worker: image bytes -> pixels -> the JS predictor.
 *
 * The worker fetches the bytes itself (host permissions): a page cannot hand over cross-origin
 * pixels (tainted canvas) and a content script cannot fetch them (CORS). Decoding matches the
 * Python predictor: createImageBitmap without colour-space conversion or premultiplication, EXIF
 * orientation applied, read back from an OffscreenCanvas (tests/test_parity.py pins this).
 *
 * TF.js and the model load lazily, on the first check after the worker starts: Chrome stops idle
 * workers, so this runs again after every restart, and nothing here may assume it already did.
 */
(function (root) {
  'use strict';

  // Same limits as facecheck/images.py.
  const MAX_PIXELS = 40000000;
  const MIN_SIDE = 16;
  const THUMB = 64;
  const url = (p) => chrome.runtime.getURL(p);

  class CheckError extends Error {
    constructor(message, verdict) {
      super(message);
      this.verdict = verdict || 'error';
    }
  }

  let contractPromise = null;
  let predictorPromise = null;

  function contract() {
    if (!contractPromise) {
      contractPromise = fetch(url('model/contract.json')).then((r) => r.json());
      contractPromise.catch(() => { contractPromise = null; });
    }
    return contractPromise;
  }

  /* TF.js (the es2017 bundles: the ES5 ones trip MV3's CSP) and the predictor. A service worker
   * may only importScripts() after its first run what it imported during `install`, so the
   * worker calls this from its install handler too; later starts then import lazily from cache. */
  function importCode() {
    if (root.tf && root.FaceCheckPredictor) return;
    importScripts(url('vendor/tf-core.es2017.min.js'), url('vendor/tf-converter.es2017.min.js'),
      url('vendor/tf-backend-wasm.es2017.min.js'), url('src/predictor.js'));
  }

  async function loadPredictor() {
    importCode();
    const tf = root.tf;
    // Threaded wasm needs URL.createObjectURL, which service workers lack.
    tf.env().set('WASM_HAS_MULTITHREAD_SUPPORT', false);
    tf.wasm.setWasmPaths(url('vendor/'));
    // Chosen explicitly: the default (webgl) is software-rendered without a GPU, ~30x slower.
    if (!(await tf.setBackend('wasm'))) throw new Error('TF.js wasm backend did not start');
    await tf.ready();
    return root.FaceCheckPredictor.load({
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

  /* The image's bytes, as the page would get them (the HTTP cache usually has them already). */
  async function fetchImage(src) {
    let resp;
    try {
      resp = await fetch(src, { credentials: 'include', cache: 'force-cache' });
    } catch (e) {
      throw new CheckError('the image could not be downloaded (network error or unsupported URL)');
    }
    if (!resp.ok) throw new CheckError(`the image could not be downloaded (HTTP ${resp.status})`);
    const blob = await resp.blob();
    if (!blob.size) throw new CheckError('the image is empty');
    return blob;
  }

  /* Blob -> {imageData, width, height, thumb (a small JPEG data: URL for the popup)}. */
  async function decode(blob) {
    let bmp;
    try {
      bmp = await createImageBitmap(blob, { colorSpaceConversion: 'none', premultiplyAlpha: 'none',
        imageOrientation: 'from-image' });
    } catch (e) {
      throw new CheckError('not a picture Chrome can decode');
    }
    try {
      const { width, height } = bmp;
      if (width * height > MAX_PIXELS) throw new CheckError(`image too large: ${width}x${height} pixels`);
      if (Math.min(width, height) < MIN_SIDE) {
        throw new CheckError(`image too small: ${width}x${height} pixels`, 'too-small');
      }
      const canvas = new OffscreenCanvas(width, height);
      const ctx = canvas.getContext('2d', { willReadFrequently: true });
      ctx.drawImage(bmp, 0, 0);
      const imageData = ctx.getImageData(0, 0, width, height);
      return { imageData, width, height, thumb: await thumbnail(bmp) };
    } finally {
      bmp.close();
    }
  }

  async function thumbnail(bmp) {
    const s = THUMB / Math.max(bmp.width, bmp.height);
    const c = new OffscreenCanvas(Math.max(1, Math.round(bmp.width * s)), Math.max(1, Math.round(bmp.height * s)));
    c.getContext('2d').drawImage(bmp, 0, 0, c.width, c.height);
    const bytes = new Uint8Array(await (await c.convertToBlob({ type: 'image/jpeg', quality: 0.7 })).arrayBuffer());
    let bin = '';
    for (let i = 0; i < bytes.length; i += 0x8000) bin += String.fromCharCode.apply(null, bytes.subarray(i, i + 0x8000));
    return `data:image/jpeg;base64,${btoa(bin)}`;
  }

  async function predict(imageData) {
    return (await predictor()).predict(imageData);
  }

  root.FaceCheckInference = { CheckError, importCode, contract, fetchImage, decode, predict };
})(globalThis);
