// @ts-check
/* FaceCheck's predictor in JavaScript: image -> faces -> crops -> calibrated probabilities.
 *
 * The twin of facecheck/predictor.py (with facecheck/detector.py and facecheck/preprocess.py):
 * the same BlazeFace weights and classifier (exported to TF.js graph models by export/tfjs.py),
 * the same resize (TensorFlow's antialiased bilinear, i.e. ScaleAndTranslate with a triangle
 * kernel, reimplemented below with the same weights and edge handling), the same crop rule and
 * the same post-processing, all read from the one contract.json. tests/test_parity.py runs both
 * on the same files and holds them together.
 *
 * No DOM and no chrome.* calls: it runs in the extension's service worker, in a page and in Node.
 *
 *   const predictor = await FaceCheckPredictor.load({tf, contract, classifier, detector});
 *     // classifier / detector: the URL of a model.json, or a TF.js IOHandler
 *   const result = await predictor.predict(imageData);   // {data: RGBA bytes, width, height}
 *     // {faces: [{box: [x, y, w, h], score, p_fake, verdict, crop}], p_fake, verdict, modelVersion}
 *   predictor.dispose();
 *
 * Verdicts (as facecheck.contract.Contract.verdict): per face "fake" (p_fake >= threshold),
 * "unsure" (contract.unsure_from <= p_fake < threshold; never when the contract has no band),
 * "real", or "too-small"; per image the most suspicious face's, or "too-small" (faces, none big
 * enough) or "no-face".
 */

/**
 * @typedef {object} DetectorSettings  contract.json's `detector` (facecheck/detector_settings.py)
 * @property {number} input_size  side of the square the detector takes, in pixels
 * @property {Array<[number, number]>} anchor_grids  [grid size, anchors per cell], in output order
 * @property {number} score_threshold
 * @property {number} nms_iou
 * @property {number} max_faces
 * @property {number} min_face_px  the smallest face (box width, image pixels) that is judged
 * @property {number} retry_zoom_out
 * @property {number} retry_centre_aspect
 *
 * @typedef {object} Contract  contract.json, as facecheck/contract.py writes it
 * @property {string} format  'facecheck-contract/1'
 * @property {number} input_size
 * @property {string} crop_rule  'face-box' | 'centre-square'
 * @property {number} crop_margin
 * @property {number} crop_scale
 * @property {number} crop_shift_y
 * @property {DetectorSettings} detector
 * @property {string} resize_method
 * @property {boolean} resize_antialias
 * @property {[number, number]} value_range
 * @property {boolean} test_time_flip
 * @property {string} output  'logit' | 'softmax2'
 * @property {number} temperature
 * @property {number} threshold
 * @property {number | null} [unsure_from]  absent or null: no unsure band
 * @property {string} model_version
 * @property {number} [max_pixels]  the largest picture judged (decoded pixels)
 * @property {number} [min_side]  the smallest picture judged (pixels, either side)
 * @property {number} [max_side]  the longest side judged (pixels): the detector searches a square of it
 *
 * @typedef {{data: Uint8ClampedArray | Uint8Array, width: number, height: number}} RgbaImage
 *
 * @typedef {object} Face  one face of a result
 * @property {number[]} box  [x, y, w, h] in image pixels
 * @property {number | null} score  the detector's confidence; null without a detector
 * @property {number | null} p_fake  null: too small to judge
 * @property {string} verdict
 * @property {number[]} [crop]  the square judged, [x, y, side, side]
 *
 * @typedef {object} Prediction  one image's result (remote.js gives the server's in this shape)
 * @property {Face[]} faces
 * @property {number | null} p_fake  the most suspicious face's; null: no face judged
 * @property {string} verdict  one of facecheck/contract.py VERDICTS
 * @property {string} modelVersion
 *
 * @typedef {typeof import('@tensorflow/tfjs-core') &
 *   {loadGraphModel: typeof import('@tensorflow/tfjs-converter').loadGraphModel}} Tf
 *   TF.js as the es2017 bundles put it on the global `tf`: core plus the graph-model loader
 * @typedef {import('@tensorflow/tfjs-converter').GraphModel} GraphModel
 * @typedef {string | import('@tensorflow/tfjs-core').io.IOHandler} ModelSource
 *   the URL of a model.json, or a TF.js IOHandler
 *
 * @typedef {object} LoadOptions
 * @property {Tf} tf
 * @property {Contract} contract
 * @property {ModelSource} classifier
 * @property {ModelSource} detector
 */

(function (root, factory) {
  if (typeof module === 'object' && module.exports) {
    module.exports = factory();
  } else {
    root.FaceCheckPredictor = factory();
  }
// eslint-disable-next-line max-lines-per-function -- the module's UMD factory, not a function in that sense
})(globalThis, function () {
  'use strict';

  // Every model constant (sizes, anchors, thresholds, crop rule) comes from the contract.
  const FLOAT_MIN = 1.1754943508222875e-38;

  /** Anchor centres in 0..1, in the network's output order, from the contract's anchor grids
   * ([grid size, anchors per cell], ...).
   * @param {DetectorSettings} cfg
   * @returns {Array<[number, number]>} */
  function anchors(cfg) {
    /** @type {Array<[number, number]>} */
    const out = [];
    for (const [grid, perCell] of cfg.anchor_grids) {
      for (let y = 0; y < grid; y++) {
        for (let x = 0; x < grid; x++) {
          for (let k = 0; k < perCell; k++) out.push([(x + 0.5) / grid, (y + 0.5) / grid]);
        }
      }
    }
    return out;
  }

  // Round half up, like facecheck.preprocess._round.
  const roundHalfUp = (/** @type {number} */ v) => Math.floor(v + 0.5);

  /** TensorFlow's ScaleAndTranslate weights (triangle kernel, antialias on, no translation):
   * for each output index, the first source index and the normalised weights of its span.
   * @param {number} inSize
   * @param {number} outSize */
  function resizeWeights(inSize, outSize) {
    const invScale = inSize / outSize;
    const kernelScale = Math.max(invScale, 1);
    const starts = new Int32Array(outSize);
    const weights = [];
    for (let i = 0; i < outSize; i++) {
      const sample = (i + 0.5) * invScale;
      let start = Math.ceil(sample - kernelScale - 0.5);
      let end = Math.floor(sample + kernelScale - 0.5);
      start = Math.min(Math.max(start, 0), inSize - 1);
      end = Math.min(Math.max(end, 0), inSize - 1) + 1;
      const w = new Float64Array(end - start);
      let sum = 0;
      for (let j = start; j < end; j++) {
        const v = Math.max(0, 1 - Math.abs((j + 0.5 - sample) / kernelScale));
        w[j - start] = v;
        sum += v;
      }
      if (Math.abs(sum) >= 1000 * FLOAT_MIN) for (let j = 0; j < w.length; j++) w[j] /= sum;
      starts[i] = start;
      weights.push(w);
    }
    return { starts, weights };
  }

  /** Resize the square (x, y, side) of an RGBA image to out x out x 3 floats; pixels outside the
   * image count as black (the detector's letterbox). Values are not clipped.
   * @param {RgbaImage} image
   * @param {number} x
   * @param {number} y
   * @param {number} side
   * @param {number} out  the output's side
   * @param {Float32Array} [target]  written from `offset` on; a new array when absent
   * @param {number} [offset]
   * @returns {Float32Array} */
  function resizeSquare(image, x, y, side, out, target, offset) {
    const { data, width, height } = image;
    const spans = resizeWeights(side, out);
    // Horizontal pass: every source row of the square -> out columns.
    const rows = new Float32Array(side * out * 3);
    for (let r = 0; r < side; r++) {
      const sy = y + r;
      if (sy < 0 || sy >= height) continue; // black
      const rowBase = sy * width * 4;
      for (let o = 0; o < out; o++) {
        const start = spans.starts[o];
        const w = spans.weights[o];
        let cr = 0, cg = 0, cb = 0;
        for (let k = 0; k < w.length; k++) {
          const sx = x + start + k;
          if (sx < 0 || sx >= width) continue;
          const p = rowBase + sx * 4;
          cr += w[k] * data[p];
          cg += w[k] * data[p + 1];
          cb += w[k] * data[p + 2];
        }
        const q = (r * out + o) * 3;
        rows[q] = cr;
        rows[q + 1] = cg;
        rows[q + 2] = cb;
      }
    }
    // Vertical pass.
    const dst = target || new Float32Array(out * out * 3);
    const base = offset || 0;
    for (let o = 0; o < out; o++) {
      const start = spans.starts[o];
      const w = spans.weights[o];
      for (let c = 0; c < out; c++) {
        let cr = 0, cg = 0, cb = 0;
        for (let k = 0; k < w.length; k++) {
          const q = ((start + k) * out + c) * 3;
          cr += w[k] * rows[q];
          cg += w[k] * rows[q + 1];
          cb += w[k] * rows[q + 2];
        }
        const d = base + (o * out + c) * 3;
        dst[d] = cr;
        dst[d + 1] = cg;
        dst[d + 2] = cb;
      }
    }
    return dst;
  }

  /** Transparent pixels over white, as facecheck.images does for PNGs with alpha.
   * @param {RgbaImage} image
   * @returns {RgbaImage} */
  function flattenAlpha(image) {
    const { data, width, height } = image;
    let opaque = true;
    for (let i = 3; i < data.length; i += 4) if (data[i] !== 255) { opaque = false; break; }
    if (opaque) return image;
    const out = new Uint8ClampedArray(data.length);
    for (let i = 0; i < data.length; i += 4) {
      const a = data[i + 3];
      for (let c = 0; c < 3; c++) out[i + c] = Math.round((data[i + c] * a + 255 * (255 - a)) / 255);
      out[i + 3] = 255;
    }
    return { data: out, width, height };
  }

  /** The squares (x, y, side) the detector looks at, in order (facecheck.detector.search_squares).
   * @param {number} height
   * @param {number} width
   * @param {DetectorSettings} cfg
   * @returns {Array<[number, number, number]>} */
  function searchSquares(height, width, cfg) {
    const big = Math.max(height, width);
    const small = Math.min(height, width);
    const sides = [big, Math.floor(big * cfg.retry_zoom_out)];
    /** @type {Array<[number, number, number]>} */
    const out = sides.map((s) => [Math.floor((width - s) / 2), Math.floor((height - s) / 2), s]);
    if (big >= cfg.retry_centre_aspect * small) {
      out.push([Math.floor((width - small) / 2), Math.floor((height - small) / 2), small]);
    }
    return out;
  }

  /** Intersection over union of two [x0, y0, x1, y1] boxes.
   * @param {number[]} a
   * @param {number[]} b */
  function iou(a, b) {
    const ix = Math.max(0, Math.min(a[2], b[2]) - Math.max(a[0], b[0]));
    const iy = Math.max(0, Math.min(a[3], b[3]) - Math.max(a[1], b[1]));
    const inter = ix * iy;
    const union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter;
    return inter / Math.max(union, 1e-12);
  }

  /** Raw detector outputs for one search square -> faces in image pixels, weighted NMS, best first
   * (facecheck.detector.faces_from_outputs).
   * @param {Float32Array} regs  16 regressors per anchor
   * @param {Float32Array} logits  one per anchor
   * @param {[number, number, number]} square  the square (x, y, side) the detector saw
   * @param {DetectorConfig} cfg
   * @returns {DetectedFace[]} */
  function facesFromOutputs(regs, logits, square, cfg) {
    const [left, top, side] = square;
    const centres = cfg.anchors;
    const size = cfg.input_size;
    /** @type {Array<{score: number, box: number[], kps: number[][]}>} */
    const candidates = [];
    for (let i = 0; i < centres.length; i++) {
      const z = Math.min(Math.max(logits[i], -100), 100);
      const score = 1 / (1 + Math.exp(-z));
      if (score < cfg.score_threshold) continue;
      const r = regs.subarray(i * 16, i * 16 + 16);
      const cx = r[0] / size + centres[i][0];
      const cy = r[1] / size + centres[i][1];
      const w = r[2] / size;
      const h = r[3] / size;
      /** @type {number[][]} */
      const kps = [];
      for (let k = 0; k < 6; k++) {
        kps.push([r[4 + 2 * k] / size + centres[i][0], r[5 + 2 * k] / size + centres[i][1]]);
      }
      candidates.push({ score, box: [cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2], kps });
    }
    candidates.sort((a, b) => b.score - a.score); // stable, like numpy's stable argsort
    /** @type {DetectedFace[]} */
    const faces = [];
    let remaining = candidates;
    while (remaining.length && faces.length < cfg.max_faces) {
      const first = remaining[0];
      /** @type {typeof candidates} */
      const group = [];
      /** @type {typeof candidates} */
      const rest = [];
      for (const c of remaining) (iou(first.box, c.box) > cfg.nms_iou ? group : rest).push(c);
      let total = 0;
      const box = [0, 0, 0, 0];
      const kp = Array.from({ length: 6 }, () => [0, 0]);
      for (const c of group) {
        total += c.score;
        for (let k = 0; k < 4; k++) box[k] += c.box[k] * c.score;
        for (let k = 0; k < 6; k++) {
          kp[k][0] += c.kps[k][0] * c.score;
          kp[k][1] += c.kps[k][1] * c.score;
        }
      }
      for (let k = 0; k < 4; k++) box[k] /= total;
      remaining = rest;
      faces.push({
        box: [box[0] * side + left, box[1] * side + top, (box[2] - box[0]) * side, (box[3] - box[1]) * side],
        score: first.score,
        keypoints: kp.map(([x, y]) => [(x / total) * side + left, (y / total) * side + top]),
      });
    }
    return faces;
  }

  /** Detector box -> the square the classifier judges (facecheck.preprocess.face_square).
   * @param {number[]} box  [x, y, w, h]
   * @param {Contract} contract
   * @param {number} height
   * @param {number} width
   * @returns {number[]} [x, y, side, side] */
  function faceSquare(box, contract, height, width) {
    const [x, y, w, h] = box;
    const side = Math.min(Math.max(1, roundHalfUp(w * contract.crop_scale)), height, width);
    const cx = x + w / 2;
    const cy = y + h / 2 + contract.crop_shift_y * w;
    const x0 = Math.min(Math.max(roundHalfUp(cx - side / 2), 0), width - side);
    const y0 = Math.min(Math.max(roundHalfUp(cy - side / 2), 0), height - side);
    return [x0, y0, side, side];
  }

  /** The largest centred square, less `margin` (facecheck.preprocess.centre_square).
   * @param {number} height
   * @param {number} width
   * @param {number} margin
   * @returns {number[]} [x, y, side, side] */
  function centreSquare(height, width, margin) {
    const side = Math.max(1, Math.round(Math.min(height, width) * (1 - margin)));
    return [Math.floor((width - side) / 2), Math.floor((height - side) / 2), side, side];
  }

  const round1 = (/** @type {number} */ v) => Math.round(v * 10) / 10;
  const round4 = (/** @type {number} */ v) => Math.round(v * 1e4) / 1e4;

  /**
   * @typedef {DetectorSettings & {anchors: Array<[number, number]>}} DetectorConfig
   * @typedef {{box: number[], score: number, keypoints: number[][]}} DetectedFace
   * @typedef {{box: number[], score: number | null, square: number[] | null, p_fake: number | null}} Candidate
   */

  class Predictor {
    /**
     * @param {Tf} tf
     * @param {Contract} contract
     * @param {GraphModel} classifier
     * @param {GraphModel | null} detector  null: the contract's crop rule needs none
     */
    constructor(tf, contract, classifier, detector) {
      this.tf = tf;
      this.contract = contract;
      this.classifier = classifier;
      this.detector = detector;
      const settings = contract.detector || {};
      /** @type {DetectorConfig} */
      this.cfg = { ...settings, anchors: settings.anchor_grids ? anchors(settings) : [] };
      this.version = contract.model_version;
    }

    /** Check the contract, load the models and warm them up.
     * @param {LoadOptions} options
     * @returns {Promise<Predictor>} */
    static async load({ tf, contract, classifier, detector }) {
      if (!tf) throw new Error('FaceCheckPredictor.load needs {tf}');
      if (!contract || contract.format !== 'facecheck-contract/1') {
        throw new Error('not a facecheck-contract/1 contract');
      }
      if (!(contract.resize_method === 'bilinear' && contract.resize_antialias)) {
        throw new Error('this predictor implements the antialiased bilinear resize only');
      }
      if (contract.crop_rule === 'face-box') {
        /** @type {Record<string, unknown>} */
        const d = contract.detector || {};
        for (const key of ['input_size', 'anchor_grids', 'score_threshold', 'nms_iou', 'max_faces',
          'min_face_px', 'retry_zoom_out', 'retry_centre_aspect']) {
          if (d[key] === undefined) throw new Error(`contract.detector.${key} is missing: re-export the model`);
        }
      }
      const cls = await tf.loadGraphModel(classifier);
      const det = contract.crop_rule === 'face-box' ? await tf.loadGraphModel(detector) : null;
      const p = new Predictor(tf, contract, cls, det);
      p.warmup();
      return p;
    }

    warmup() {
      const tf = this.tf;
      const s = this.contract.input_size;
      tf.tidy(() => {
        this.classifier.execute(tf.zeros([1, s, s, 3]));
        const d = this.cfg.input_size;
        if (this.detector) this.detector.execute(tf.zeros([1, d, d, 3]));
      });
    }

    dispose() {
      this.classifier.dispose();
      if (this.detector) this.detector.dispose();
    }

    /** Detector outputs for a batch of detector-sized inputs.
     * @param {GraphModel} detector
     * @param {Float32Array[]} inputs
     * @returns {Array<{regs: Float32Array, logits: Float32Array}>} */
    runDetector(detector, inputs) {
      const tf = this.tf;
      const n = inputs.length;
      const d = this.cfg.input_size;
      const flat = new Float32Array(n * d * d * 3);
      inputs.forEach((a, i) => flat.set(a, i * a.length));
      const outs = tf.tidy(() => {
        const x = tf.tensor4d(flat, [n, d, d, 3]);
        const res = detector.execute(x);
        return Array.isArray(res) ? res : [res];
      });
      /** @type {Float32Array | null} */
      let regs = null;
      /** @type {Float32Array | null} */
      let logits = null;
      for (const t of outs) {
        const last = t.shape[t.shape.length - 1];
        // Both outputs are float32 tensors.
        if (last === 16) regs = /** @type {Float32Array} */ (t.dataSync());
        else if (last === 1) logits = /** @type {Float32Array} */ (t.dataSync());
        t.dispose();
      }
      if (!regs || !logits) throw new Error('the detector lacks its box or score output: re-export the model');
      const per = this.cfg.anchors.length;
      return Array.from({ length: n }, (_, i) => ({
        regs: regs.subarray(i * per * 16, (i + 1) * per * 16),
        logits: logits.subarray(i * per, (i + 1) * per),
      }));
    }

    /** Faces in image pixels: the whole picture first, then the retry squares while none is found.
     * @param {RgbaImage} image
     * @param {GraphModel} detector
     * @returns {DetectedFace[]} */
    detect(image, detector) {
      for (const square of searchSquares(image.height, image.width, this.cfg)) {
        const input = resizeSquare(image, square[0], square[1], square[2], this.cfg.input_size);
        const [{ regs, logits }] = this.runDetector(detector, [input]);
        const faces = facesFromOutputs(regs, logits, square, this.cfg);
        if (faces.length) return faces;
      }
      return [];
    }

    /** Classifier logits for face squares of one image (flip-averaged when the contract says).
     * @param {RgbaImage} image
     * @param {number[][]} squares  [x, y, side, side] each
     * @returns {Float64Array} */
    logits(image, squares) {
      return this.logitsOf(this.modelInputs(image, squares), squares.length);
    }

    /** The model's inputs for face squares of one image: each square resized to the contract's
     * input_size and scaled to its value_range, one after the other (n x S x S x 3).
     * @param {RgbaImage} image
     * @param {number[][]} squares  [x, y, side, side] each
     * @returns {Float32Array} */
    modelInputs(image, squares) {
      const s = this.contract.input_size;
      const flat = new Float32Array(squares.length * s * s * 3);
      const [lo, hi] = this.contract.value_range;
      squares.forEach(([x, y, side], i) => resizeSquare(image, x, y, side, s, flat, i * s * s * 3));
      for (let i = 0; i < flat.length; i++) {
        flat[i] = Math.min(Math.max(flat[i], 0), 255) * ((hi - lo) / 255) + lo;
      }
      return flat;
    }

    /** The model input of one face square of an image (alpha flattened, as predict() does).
     * @param {RgbaImage} image
     * @param {number[]} square  [x, y, side, side]
     * @returns {Float32Array} S x S x 3 */
    inputOf(image, square) {
      return this.modelInputs(flattenAlpha(image), [square]);
    }

    /** Classifier logits for `n` model inputs (modelInputs()), flip-averaged when the contract says.
     * @param {Float32Array} flat
     * @param {number} n
     * @returns {Float64Array} */
    logitsOf(flat, n) {
      const tf = this.tf;
      const s = this.contract.input_size;
      const raw = tf.tidy(() => {
        let x = tf.tensor4d(flat, [n, s, s, 3]);
        if (this.contract.test_time_flip) x = tf.concat([x, tf.reverse(x, 2)], 0);
        // The classifier has one output.
        return /** @type {import('@tensorflow/tfjs-core').Tensor} */ (this.classifier.execute(x));
      });
      const out = raw.dataSync();
      raw.dispose();
      const m = this.contract.test_time_flip ? 2 : 1;
      const z = new Float64Array(n);
      for (let k = 0; k < m; k++) {
        for (let i = 0; i < n; i++) {
          let v;
          if (this.contract.output === 'softmax2') {
            const j = (k * n + i) * 2;
            v = Math.log(out[j + 1] + 1e-7) - Math.log(out[j] + 1e-7);
          } else {
            v = out[k * n + i];
          }
          z[i] += v / m;
        }
      }
      return z;
    }

    /** @param {number} z a logit @returns {number} p_fake */
    probability(z) {
      return 1 / (1 + Math.exp(-z / this.contract.temperature));
    }

    /** @param {number} p p_fake @returns {'fake' | 'unsure' | 'real'} */
    verdict(p) {
      if (p >= this.contract.threshold) return 'fake';
      const from = this.contract.unsure_from;
      if (typeof from === 'number' && p >= from) return 'unsure';
      return 'real';
    }

    /** @param {RgbaImage} image  RGBA bytes (Uint8ClampedArray or Uint8Array), width, height
     * @returns {Promise<Prediction>} */
    async predict(image) {
      if (!image || !image.data || !(image.width > 0) || !(image.height > 0)) {
        throw new Error('predict() needs {data, width, height}');
      }
      if (image.data.length !== image.width * image.height * 4) {
        throw new Error('image data must be RGBA, width * height * 4 bytes');
      }
      image = flattenAlpha(image);
      const { width, height } = image;
      /** @type {Candidate[]} */
      let faces;
      if (this.detector) {
        faces = this.detect(image, this.detector).map((f) => {
          const big = f.box[2] >= this.cfg.min_face_px;
          return {
            box: f.box.map(round1),
            score: round4(f.score),
            square: big ? faceSquare(f.box, this.contract, height, width) : null,
            p_fake: null,
          };
        });
      } else {
        const sq = centreSquare(height, width, this.contract.crop_margin);
        faces = [{ box: sq, score: null, square: sq, p_fake: null }];
      }
      const judged = faces.filter((f) => f.square);
      const squares = judged.map((f) => /** @type {number[]} */ (f.square));
      const ps = squares.length ? Array.from(this.logits(image, squares), (z) => this.probability(z)) : [];
      judged.forEach((f, i) => { f.p_fake = ps[i]; });
      /** @type {Face[]} */
      const out = faces.map((f) => ({
        box: f.box,
        score: f.score,
        p_fake: f.p_fake,
        verdict: f.p_fake !== null ? this.verdict(f.p_fake) : 'too-small',
        ...(f.square ? { crop: f.square } : {}),
      }));
      if (ps.length) {
        const p = Math.max(...ps);
        return { faces: out, p_fake: p, verdict: this.verdict(p), modelVersion: this.version };
      }
      return { faces: out, p_fake: null, verdict: faces.length ? 'too-small' : 'no-face', modelVersion: this.version };
    }
  }

  return { load: Predictor.load };
});
