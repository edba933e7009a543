/* FaceCheck settings, and how a probability becomes the words a user reads.
 *
 * Shared by the service worker (importScripts), the options page and the popup (script tags).
 * Settings live in chrome.storage.local only: never storage.sync, so nothing (the server token
 * included) is copied to a Google account.
 *
 * The predictor's own verdict (fake/real at the model's threshold) is kept as `modelVerdict`;
 * the verdict shown is the user's: threshold and "unsure" band from these settings.
 */
(function (root) {
  'use strict';

  const DEFAULTS = Object.freeze({
    threshold: null, // null: the model's own threshold (contract.json)
    unsureMargin: 0.05, // |pFake - threshold| < margin reads "Unsure"
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
      unsureMargin: num(s.unsureMargin, 0, 0.5, DEFAULTS.unsureMargin),
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

  function uiVerdict(p, threshold, margin) {
    if (Math.abs(p - threshold) < margin) return 'unsure';
    return p >= threshold ? 'fake' : 'real';
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
  const label = (verdict, p) => LABELS[verdict](p);

  /* A predictor result ({faces, pFake, verdict, modelVersion}) -> what the badges show.
   * ctx: {settings, modelThreshold, ranOn: 'browser'|'server', width, height, note}. */
  function describe(result, ctx) {
    const s = ctx.settings;
    const t = s.threshold ?? ctx.modelThreshold;
    const faces = result.faces.map((f) => {
      const judged = typeof f.pFake === 'number';
      const verdict = judged ? uiVerdict(f.pFake, t, s.unsureMargin) : 'too-small';
      return { box: f.box, score: f.score ?? null, p: judged ? f.pFake : null, verdict,
        modelVerdict: f.verdict, label: label(verdict, f.pFake) };
    });
    const judged = typeof result.pFake === 'number';
    const verdict = judged ? uiVerdict(result.pFake, t, s.unsureMargin) : result.verdict;
    return {
      verdict, modelVerdict: result.verdict, p: judged ? result.pFake : null,
      label: label(verdict, result.pFake), faces, threshold: t, thresholdFromOptions: s.threshold !== null,
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

  root.FaceCheckSettings = { clean, load, save, describe, describeError, pct };
})(globalThis);
