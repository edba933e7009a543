/* FaceCheck settings, and how a probability becomes the words a user reads.
 *
 * Shared by the service worker (importScripts), the options page and the popup (script tags).
 * Settings live in chrome.storage.local only: never storage.sync, so nothing (the server token
 * included) is copied to a Google account.
 *
 * Verdicts are the same six words as everywhere in FaceCheck (facecheck/contract.py VERDICTS):
 * fake, unsure, real, no-face, too-small, error. A probability p reads "fake" at or above the
 * threshold, "unsure" in the band [unsureFrom, threshold), "real" below it.
 *
 * By default the threshold and the band are the model's own, calibrated with it (contract.json's
 * `threshold` and `unsure_from`; for a result from the user's server, that server's model's), so
 * the verdict shown is the predictor's own. The options may override them: a threshold of the
 * user's own keeps the model's band width just below it, unless the user also sets a band width
 * (0: no band). The predictor's own verdict is kept as `modelVerdict` either way.
 */
(function (root) {
  'use strict';

  const DEFAULTS = Object.freeze({
    threshold: null, // null: the model's own threshold (contract.json)
    unsureBand: null, // null: the model's own band; else its width below the threshold (0: no band)
    minImageSize: 96, // page scans skip images smaller than this (rendered px, either side)
    scanByDefault: false, // scan mode on in every tab without asking
    runWhere: 'browser', // 'browser' | 'server' | 'auto'
    autoServerOver: 10, // 'auto': page scans of more images than this go to the server if it answers
    serverUrl: 'http://127.0.0.1:8000',
    serverToken: '',
  });
  const RUN_WHERE = ['browser', 'server', 'auto'];

  const num = (v, lo, hi, fallback) => {
    const n = typeof v === 'string' && v.trim() === '' ? NaN : Number(v);
    return Number.isFinite(n) ? Math.min(Math.max(n, lo), hi) : fallback;
  };

  /* Whatever was stored (or typed) -> a complete, valid settings object. */
  function clean(raw) {
    const s = { ...DEFAULTS, ...(raw || {}) };
    return {
      threshold: s.threshold === null || s.threshold === '' ? null : num(s.threshold, 0.01, 0.99, null),
      unsureBand: s.unsureBand === null || s.unsureBand === '' ? null : num(s.unsureBand, 0, 0.99, null),
      minImageSize: Math.round(num(s.minImageSize, 16, 2000, DEFAULTS.minImageSize)),
      scanByDefault: Boolean(s.scanByDefault),
      runWhere: RUN_WHERE.includes(s.runWhere) ? s.runWhere : DEFAULTS.runWhere,
      autoServerOver: Math.round(num(s.autoServerOver, 0, 10000, DEFAULTS.autoServerOver)),
      serverUrl: String(s.serverUrl || DEFAULTS.serverUrl).trim(),
      serverToken: String(s.serverToken || '').trim(),
    };
  }

  async function load() {
    const got = await chrome.storage.local.get('settings');
    return clean(got.settings);
  }

  async function save(partial) {
    const next = clean({ ...(await load()), ...partial });
    await chrome.storage.local.set({ settings: next });
    return next;
  }

  /* The threshold and band in force: the settings over the model's own ({threshold, unsureFrom},
   * unsureFrom null when the model has no band). Returns {threshold, unsureFrom}. */
  function band(s, model) {
    const modelFrom = typeof model.unsureFrom === 'number' ? model.unsureFrom : null;
    const threshold = s.threshold ?? model.threshold;
    let unsureFrom;
    if (s.unsureBand !== null) unsureFrom = s.unsureBand > 0 ? threshold - s.unsureBand : null;
    else if (s.threshold === null) unsureFrom = modelFrom; // exactly the model's band
    else unsureFrom = modelFrom === null ? null : threshold - Math.max(0, model.threshold - modelFrom);
    return { threshold, unsureFrom };
  }

  /* As facecheck.contract.Contract.verdict. */
  function uiVerdict(p, b) {
    if (p >= b.threshold) return 'fake';
    if (b.unsureFrom !== null && p >= b.unsureFrom) return 'unsure';
    return 'real';
  }

  // Never "100%" or "0%": a calibrated probability is not certainty.
  const pct = (p) => Math.min(99, Math.max(1, Math.round(p * 100)));

  const LABELS = {
    unsure: () => 'Unsure',
    'no-face': () => 'No face found',
    'too-small': () => 'Too small',
    error: () => 'Image could not be loaded',
    fake: (p) => `Likely generated ${pct(p)}%`,
    real: (p) => `Likely real ${pct(1 - p)}%`,
  };
  const label = (verdict, p) => (LABELS[verdict] || LABELS.error)(p);
  // Verdicts without a probability; anything else unjudged (a server speaking another vocabulary)
  // reads "error".
  const UNJUDGED = ['no-face', 'too-small', 'error'];

  /* A predictor result ({faces, pFake, verdict, modelVersion}, from the JS predictor or remote.js)
   * -> what the badges show. ctx: {settings, model: {threshold, unsureFrom} of the model that
   * judged it, ranOn: 'browser'|'server', width, height, note}. */
  function describe(result, ctx) {
    const s = ctx.settings;
    const b = band(s, ctx.model);
    const faces = result.faces.map((f) => {
      const judged = typeof f.pFake === 'number';
      const verdict = judged ? uiVerdict(f.pFake, b) : 'too-small';
      return { box: f.box, score: f.score ?? null, p: judged ? f.pFake : null, verdict,
        modelVerdict: f.verdict, label: label(verdict, f.pFake) };
    });
    const judged = typeof result.pFake === 'number';
    const verdict = judged ? uiVerdict(result.pFake, b) : (UNJUDGED.includes(result.verdict) ? result.verdict : 'error');
    return {
      verdict, modelVerdict: result.verdict, p: judged ? result.pFake : null,
      label: label(verdict, result.pFake), faces, threshold: b.threshold, unsureFrom: b.unsureFrom,
      thresholdFromOptions: s.threshold !== null, bandFromOptions: s.unsureBand !== null,
      modelVersion: result.modelVersion || '', ranOn: ctx.ranOn,
      width: ctx.width, height: ctx.height, note: ctx.note || '',
    };
  }

  /* A check that could not run -> an "error" (or "too-small") badge with the reason. `imageAtFault`:
   * the picture could not be used (vs. the extension or the server failing). */
  function describeError(err, ranOn, imageAtFault) {
    const verdict = err && err.verdict === 'too-small' ? 'too-small' : 'error';
    const text = verdict === 'error' && !imageAtFault ? 'Check failed' : label(verdict);
    return { verdict, modelVerdict: verdict, p: null, label: text, faces: [],
      reason: String((err && err.message) || err), ranOn: ranOn || 'browser', modelVersion: '' };
  }

  root.FaceCheckSettings = { clean, load, save, band, describe, describeError, pct };
})(globalThis);
