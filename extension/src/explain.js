// @ts-check
/* "Why?": a face's evidence map, in the service worker: where in the face the model sees traces
 * of generation. The twin of facecheck/explain.py, step for step (its docstring is the
 * specification; tests/test_explain_extension.py holds the two maps together):
 *
 *   1. the face's model input x (S x S x 3, the contract's input_size and value range), from the
 *      same square the check judged (predictor.js inputOf());
 *   2. the fill: x blurred, two passes of a 5 x 5 mean filter that averages only the pixels inside
 *      the square (TensorFlow's avg_pool2d with "SAME" padding);
 *   3. windows of side P = round(S / 4), their corners every T = round(3S / 16) px on each axis,
 *      plus S - P when the last one stops short (5 x 5 = 25 at S = 128);
 *   4. one batch: x and, per window, x with that window replaced by the fill; p_0 and p_k through
 *      the predictor's logits (mirror averaging included) and the contract's calibration;
 *   5. the map: at each pixel, the mean of (p_0 - p_k) over the windows that cover it. Positive:
 *      hiding that part lowers p_fake (evidence of generation); negative: the part looks real.
 *
 * No gradient: a forward pass of the TF.js graph model does it. The content script asks with
 * {type: 'facecheck-explain', src, box} after a person's click on "Why?" in a badge's details
 * (content scripts only), and gets back the map as an RGBA overlay (base64) and the square it
 * covers (picture pixels), to paint on a canvas over the face in the page, in a closed shadow
 * root. The picture is fetched again under the same rules as a check (inference.js,
 * fetchpolicy.js), from the page and frame that asked.
 *
 * The pure parts (windows, blur, map, colours) are exported for Node's unit tests.
 */

/**
 * @typedef {{type: 'facecheck-explain', src: string, box: number[]}} ExplainMessage
 * @typedef {{ok: true, size: number, p_fake: number, overlay: string, square: number[], strongest: number}
 *   | {ok: false, error: string}} ExplainAnswer  overlay: S x S RGBA bytes, base64, to stretch over
 *   `square` ([x, y, side, side] in the picture's pixels); strongest: the map's largest value
 */

(function (root, factory) {
  if (typeof module === 'object' && module.exports) module.exports = factory();
  else root.FaceCheckExplain = factory();
// eslint-disable-next-line max-lines-per-function -- the module's UMD factory, not a function in that sense
})(globalThis, function () {
  'use strict';

  const PATCH = 0.25; // window side, as a share of the input's side
  const STRIDE = 0.1875; // window step, as a share of the input's side
  const BLUR_SIDE = 5;
  const BLUR_PASSES = 2;
  // The colour scale's floor, in p_fake (facecheck/explain.py MIN_SCALE).
  const MIN_SCALE = 0.05;
  const MAX_ALPHA = 204; // 80% opacity at full strength

  /** Python's round(): halves to even (round(2.5) === 2), so both sides pick the same windows.
   * @param {number} v */
  function roundEven(v) {
    const r = Math.round(v);
    return Math.abs(v % 1) === 0.5 && r % 2 !== 0 ? r - 1 : r;
  }

  /** Top-left offsets, on one axis, of the occluding windows (step 3).
   * @param {number} size
   * @returns {{side: number, starts: number[]}} */
  function windows(size, patch = PATCH, stride = STRIDE) {
    const side = Math.max(1, Math.min(size, roundEven(size * patch)));
    const step = Math.max(1, roundEven(size * stride));
    const starts = [];
    for (let s = 0; s <= size - side; s += step) starts.push(s);
    if (starts[starts.length - 1] !== size - side) starts.push(size - side);
    return { side, starts };
  }

  /** One pass of the mean filter over an S x S x 3 image, averaging the pixels inside it only.
   * @param {Float32Array} x
   * @param {number} size
   * @returns {Float32Array} */
  function meanFilter(x, size) {
    const half = (BLUR_SIDE - 1) / 2;
    const out = new Float32Array(x.length);
    for (let y = 0; y < size; y++) {
      for (let c = 0; c < size; c++) {
        let r = 0, g = 0, b = 0, n = 0;
        for (let dy = Math.max(0, y - half); dy <= Math.min(size - 1, y + half); dy++) {
          for (let dx = Math.max(0, c - half); dx <= Math.min(size - 1, c + half); dx++) {
            const q = (dy * size + dx) * 3;
            r += x[q];
            g += x[q + 1];
            b += x[q + 2];
            n++;
          }
        }
        const o = (y * size + c) * 3;
        out[o] = r / n;
        out[o + 1] = g / n;
        out[o + 2] = b / n;
      }
    }
    return out;
  }

  /** The fill (step 2).
   * @param {Float32Array} x
   * @param {number} size */
  function blurFill(x, size) {
    let out = x;
    for (let i = 0; i < BLUR_PASSES; i++) out = meanFilter(out, size);
    return out;
  }

  /** x and its occluded copies, one after the other (step 4's batch).
   * @param {Float32Array} x
   * @param {number} size
   * @returns {{batch: Float32Array, corners: Array<[number, number]>, side: number}} */
  function occluded(x, size) {
    const { side, starts } = windows(size);
    /** @type {Array<[number, number]>} */
    const corners = starts.flatMap((y0) => starts.map((x0) => /** @type {[number, number]} */ ([y0, x0])));
    const fill = blurFill(x, size);
    const one = size * size * 3;
    const batch = new Float32Array((1 + corners.length) * one);
    batch.set(x, 0);
    corners.forEach(([y0, x0], k) => {
      const off = (k + 1) * one;
      batch.set(x, off);
      for (let y = y0; y < y0 + side; y++) {
        const a = (y * size + x0) * 3;
        batch.set(fill.subarray(a, a + side * 3), off + a);
      }
    });
    return { batch, corners, side };
  }

  /** The map (step 5) from p_0 and the occluded copies' p_k.
   * @param {number[]} p  [p_0, p_1, ...]
   * @param {Array<[number, number]>} corners
   * @param {number} side
   * @param {number} size
   * @returns {Float32Array} S x S */
  function mapOf(p, corners, side, size) {
    const total = new Float64Array(size * size);
    const cover = new Float64Array(size * size);
    corners.forEach(([y0, x0], k) => {
      for (let y = y0; y < y0 + side; y++) {
        for (let c = x0; c < x0 + side; c++) {
          total[y * size + c] += p[0] - p[k + 1];
          cover[y * size + c] += 1;
        }
      }
    });
    return Float32Array.from(total, (t, i) => t / cover[i]);
  }

  /** The map as an RGBA overlay to draw over the face's square: red where it looks generated,
   * blue where it looks real, opacity growing with the magnitude up to 80% at the colour scale
   * (its largest magnitude, at least MIN_SCALE): facecheck/explain.py heat_rgba.
   * @param {Float32Array} heat
   * @returns {Uint8ClampedArray} RGBA */
  function heatRgba(heat) {
    let top = 0;
    for (const v of heat) top = Math.max(top, Math.abs(v));
    const scale = Math.max(top, MIN_SCALE);
    const out = new Uint8ClampedArray(heat.length * 4);
    for (let i = 0; i < heat.length; i++) {
      const colour = heat[i] > 0 ? [230, 40, 30] : [30, 110, 230];
      out.set(colour, i * 4);
      out[i * 4 + 3] = Math.round(Math.min(Math.abs(heat[i]) / scale, 1) * MAX_ALPHA);
    }
    return out;
  }

  /**
   * @typedef {object} MapMaker  what explainFace() needs of predictor.js's Predictor
   * @property {{input_size: number, value_range: [number, number]}} contract
   * @property {(image: import('./predictor.js').RgbaImage, square: number[]) => Float32Array} inputOf
   * @property {(flat: Float32Array, n: number) => Float64Array} logitsOf
   * @property {(z: number) => number} probability
   */

  /** A face's map: steps 1 to 5 in one model call.
   * @param {MapMaker} predictor
   * @param {import('./predictor.js').RgbaImage} image
   * @param {number[]} square  the square the check judged, [x, y, side, side]
   * @returns {{p_fake: number, heat: Float32Array, input: Float32Array, size: number}} */
  function explainFace(predictor, image, square) {
    const size = predictor.contract.input_size;
    const input = predictor.inputOf(image, square);
    const { batch, corners, side } = occluded(input, size);
    const p = Array.from(predictor.logitsOf(batch, corners.length + 1), (z) => predictor.probability(z));
    return { p_fake: p[0], heat: mapOf(p, corners, side, size), input, size };
  }

  /** The judged face whose box is nearest `box` (the badge's face), or null.
   * @param {import('./predictor.js').Face[]} faces
   * @param {number[]} box */
  function nearestFace(faces, box) {
    const centre = (/** @type {number[]} */ b) => [b[0] + b[2] / 2, b[1] + b[3] / 2];
    const [cx, cy] = centre(box);
    let best = null;
    let bestD = Infinity;
    for (const f of faces) {
      if (!f.crop) continue;
      const [fx, fy] = centre(f.box);
      const d = Math.hypot(fx - cx, fy - cy);
      if (d < bestD && d <= Math.max(f.box[2], box[2]) / 2) [best, bestD] = [f, d];
    }
    return best;
  }

  /** @param {Uint8ClampedArray} bytes */
  function base64(bytes) {
    let bin = '';
    for (let i = 0; i < bytes.length; i += 0x8000) bin += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
    return btoa(bin);
  }

  const validBox = (/** @type {unknown} */ b) => Array.isArray(b) && b.length === 4 &&
    b.every((v) => typeof v === 'number' && Number.isFinite(v)) && b[2] > 0 && b[3] > 0;

  /** The answer to a content script's 'facecheck-explain'.
   * @param {ExplainMessage} msg
   * @param {chrome.runtime.MessageSender} sender
   * @returns {Promise<ExplainAnswer>} */
  async function answer(msg, sender) {
    if (typeof msg.src !== 'string' || !validBox(msg.box)) return { ok: false, error: 'bad request' };
    const tab = /** @type {chrome.tabs.Tab} */ (sender.tab);
    const from = { top: tab.url || '', frame: sender.origin || sender.url || '', tabId: tab.id,
      frameId: sender.frameId || 0 };
    const { fetchImage, decode, predictor } = FaceCheckInference;
    try {
      const image = await decode(await fetchImage(msg.src, from));
      const p = await predictor();
      const face = nearestFace((await p.predict(image.imageData)).faces, msg.box);
      if (!face || !face.crop) return { ok: false, error: 'This face is no longer found in the picture.' };
      const m = explainFace(p, image.imageData, face.crop);
      let strongest = 0;
      for (const v of m.heat) strongest = Math.max(strongest, v);
      return { ok: true, size: m.size, p_fake: m.p_fake, overlay: base64(heatRgba(m.heat)), square: face.crop,
        strongest };
    } catch (e) {
      return { ok: false, error: e instanceof Error ? e.message : String(e) };
    }
  }

  /** Only the extension's content scripts ask (a badge's "Why?"), never its pages or a web page. */
  function listen() {
    chrome.runtime.onMessage.addListener((/** @type {ExplainMessage} */ msg, sender, sendResponse) => {
      if (!msg || msg.type !== 'facecheck-explain') return false;
      // (An extension page opened in a tab has a sender.tab too: its URL tells it apart.)
      const ownPage = String(sender.url || '').startsWith(chrome.runtime.getURL(''));
      if (sender.id !== chrome.runtime.id || !sender.tab || sender.tab.id === undefined || ownPage) return false;
      answer(msg, sender).then(sendResponse);
      return true;
    });
  }
  if (typeof chrome === 'object' && chrome.runtime && chrome.runtime.onMessage && typeof importScripts === 'function') {
    listen();
  }

  return { windows, blurFill, occluded, mapOf, heatRgba, explainFace, nearestFace, roundEven, answer };
});
