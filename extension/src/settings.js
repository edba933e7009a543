// @ts-check
/* FaceCheck settings, and how a probability becomes the words a user reads.
 *
 * Shared by the service worker (importScripts), the options page and the popup (script tags), and
 * loaded by Node for its unit tests (extension/test/settings.test.js): no chrome.* call runs on load.
 * Settings live in chrome.storage.local only: never storage.sync, so nothing (the server token
 * included) is copied to a Google account.
 *
 * Verdicts are the same six words as everywhere in FaceCheck (facecheck/contract.py VERDICTS):
 * fake, unsure, real, no-face, too-small, error. A probability p_fake reads "fake" at or above the
 * threshold, "unsure" in the band [unsureFrom, threshold), "real" below it.
 *
 * By default the threshold and the band are the model's own, calibrated with it (contract.json's
 * `threshold` and `unsure_from`; for a result from the user's server, that server's model's), so
 * the verdict shown is the predictor's own. The options may override them: a threshold of the
 * user's own keeps the model's band width just below it, unless the user also sets a band width
 * (0: no band). The predictor's own verdict is kept as `modelVerdict` either way.
 */

/**
 * @typedef {'browser' | 'server' | 'auto'} RunWhere
 *
 * @typedef {object} Settings  what the options page stores
 * @property {number | null} threshold  null: the model's own threshold (contract.json)
 * @property {number | null} unsureBand  null: the model's own band; else its width below the
 *   threshold (0: no band)
 * @property {number} minImageSize  page scans skip images smaller than this (rendered px, either side)
 * @property {boolean} scanByDefault  scan mode on in every tab without asking
 * @property {RunWhere} runWhere
 * @property {number} autoServerOver  'auto': page scans of more images than this go to the server
 *   if it answers
 * @property {string} serverUrl
 * @property {string} serverToken
 *
 * @typedef {object} Band  the threshold and unsure band in force
 * @property {number} threshold
 * @property {number | null} unsureFrom  null: no band
 *
 * @typedef {'fake' | 'unsure' | 'real' | 'no-face' | 'too-small' | 'error'} Verdict
 *
 * @typedef {object} FaceView  one face's badge
 * @property {number[]} box  [x, y, w, h] in image pixels
 * @property {number | null} score  the detector's confidence
 * @property {number | null} p_fake
 * @property {Verdict} verdict  what the badge says (the options' band)
 * @property {string} modelVerdict  what the predictor said (the model's band)
 * @property {string} label  the words on the badge
 *
 * @typedef {object} View  one image's check, as the badges and the popup show it
 * @property {Verdict} verdict
 * @property {string} modelVerdict
 * @property {number | null} p_fake
 * @property {string} label
 * @property {FaceView[]} faces
 * @property {number} [threshold]
 * @property {number | null} [unsureFrom]
 * @property {boolean} [thresholdFromOptions]
 * @property {boolean} [bandFromOptions]
 * @property {number} [modelThreshold]  the band of the model that judged it (ViewContext.model), so
 *   rejudge() can apply other settings to the stored probabilities without a second model run
 * @property {number | null} [modelUnsureFrom]  null: that model has no band
 * @property {string} [modelVersion]
 * @property {'browser' | 'server'} [ranOn]
 * @property {number} [width]  the picture's size in pixels, to place face badges
 * @property {number} [height]
 * @property {string} [note]
 * @property {string} [reason]  why the check failed
 * @property {string} [thumb]  a small JPEG data: URL, for the popup
 * @property {import('./provenance.js').Provenance} [provenance]  where the picture says it came from
 *   (provenance.js, or the server's): shown beside the verdict by provenanceText(), never part of it
 *
 * @typedef {object} TechnicalFigures  what "Technical details" shows (a badge's face and view, or
 *   a popup row); absent figures are left out, and a band line only where unsureFrom is given
 * @property {number | null} [p_fake]
 * @property {number | null} [score]  the face detector's confidence
 * @property {number | null} [threshold]
 * @property {boolean} [thresholdFromOptions]
 * @property {number | null} [unsureFrom]
 * @property {boolean} [bandFromOptions]
 * @property {string} [modelVersion]
 *
 * @typedef {object} ViewContext  how describe() words a result
 * @property {Settings} settings
 * @property {{threshold: number, unsureFrom?: number | null}} model  the band of the model that judged it
 * @property {'browser' | 'server'} [ranOn]
 * @property {number} [width]
 * @property {number} [height]
 * @property {string} [note]
 */

(function (root, factory) {
  if (typeof module === 'object' && module.exports) module.exports = factory();
  else root.FaceCheckSettings = factory();
// eslint-disable-next-line max-lines-per-function -- the module's UMD factory, not a function in that sense
})(globalThis, function () {
  'use strict';

  /** @type {Readonly<Settings>} */
  const DEFAULTS = Object.freeze({
    threshold: null,
    unsureBand: null,
    minImageSize: 48,
    scanByDefault: false,
    runWhere: 'browser',
    autoServerOver: 10,
    serverUrl: 'http://127.0.0.1:8000',
    serverToken: '',
  });
  /** @type {readonly RunWhere[]} */
  const RUN_WHERE = ['browser', 'server', 'auto'];

  /** A number (or numeric text) clamped to [lo, hi]; `fallback` for anything else.
   * @template {number | null} F
   * @param {unknown} v
   * @param {number} lo
   * @param {number} hi
   * @param {F} fallback
   * @returns {number | F} */
  const num = (v, lo, hi, fallback) => {
    const n = typeof v === 'string' && v.trim() === '' ? NaN : Number(v);
    return Number.isFinite(n) ? Math.min(Math.max(n, lo), hi) : fallback;
  };

  /** Whatever was stored (or typed) -> a complete, valid settings object.
   * @param {Record<string, unknown> | null | undefined} raw
   * @returns {Settings} */
  function clean(raw) {
    /** @type {Record<string, unknown>} */
    const s = { ...DEFAULTS, ...(raw || {}) };
    return {
      threshold: s.threshold === null || s.threshold === '' ? null : num(s.threshold, 0.01, 0.99, null),
      unsureBand: s.unsureBand === null || s.unsureBand === '' ? null : num(s.unsureBand, 0, 0.99, null),
      minImageSize: Math.round(num(s.minImageSize, 16, 2000, DEFAULTS.minImageSize)),
      scanByDefault: Boolean(s.scanByDefault),
      runWhere: RUN_WHERE.find((w) => w === s.runWhere) || DEFAULTS.runWhere,
      autoServerOver: Math.round(num(s.autoServerOver, 0, 10000, DEFAULTS.autoServerOver)),
      serverUrl: String(s.serverUrl || DEFAULTS.serverUrl).trim(),
      serverToken: String(s.serverToken || '').trim(),
    };
  }

  /** @returns {Promise<Settings>} */
  async function load() {
    const got = await chrome.storage.local.get('settings');
    return clean(/** @type {Record<string, unknown> | undefined} */ (got.settings));
  }

  /** Merge `partial` into the stored settings; returns what was kept after validation.
   * @param {Record<string, unknown>} partial
   * @returns {Promise<Settings>} */
  async function save(partial) {
    const next = clean({ ...(await load()), ...partial });
    await chrome.storage.local.set({ settings: next });
    return next;
  }

  /** The threshold and band in force: the settings over the model's own (unsureFrom null or
   * absent when the model has no band).
   * @param {Settings} s
   * @param {ViewContext['model']} model
   * @returns {Band} */
  function band(s, model) {
    const modelFrom = typeof model.unsureFrom === 'number' ? model.unsureFrom : null;
    const threshold = s.threshold ?? model.threshold;
    let unsureFrom;
    if (s.unsureBand !== null) unsureFrom = s.unsureBand > 0 ? threshold - s.unsureBand : null;
    else if (s.threshold === null) unsureFrom = modelFrom; // exactly the model's band
    else unsureFrom = modelFrom === null ? null : threshold - Math.max(0, model.threshold - modelFrom);
    return { threshold, unsureFrom };
  }

  /** As facecheck.contract.Contract.verdict.
   * @param {number} p  p_fake
   * @param {Band} b
   * @returns {'fake' | 'unsure' | 'real'} */
  function uiVerdict(p, b) {
    if (p >= b.threshold) return 'fake';
    if (b.unsureFrom !== null && p >= b.unsureFrom) return 'unsure';
    return 'real';
  }

  /** A probability as a whole percentage from 1 to 99, half up: a calibrated probability is not
   * certainty. As facecheck/wording.py pct() (both tested on extension/test/wording-cases.json).
   * @param {number} p */
  const pct = (p) => Math.min(99, Math.max(1, Math.round(p * 100)));

  /** A threshold or band edge as a percentage to a hundredth, half up, without trailing zeros:
   * 0.8525 -> "85.25%", 0.35 -> "35%". As facecheck/wording.py rule_percent() (the shared case
   * table); the options page's fields use the same figures.
   * @param {number} x
   * @returns {string} */
  const rulePercent = (x) => `${Math.round(x * 10000) / 100}%`;

  /** The words a person reads for each verdict: one wording in every front end
   * (facecheck/wording.py HEADLINES).
   * @type {Readonly<Record<Verdict, string>>} */
  const HEADLINES = Object.freeze({
    fake: 'Likely generated',
    unsure: 'Unsure',
    real: 'Likely real',
    'no-face': 'No face found',
    'too-small': 'Too small to judge',
    error: 'Could not check',
  });

  /** Each verdict's icon, beside its words (never instead of them) on the badges and the drop page.
   * @type {Readonly<Record<Verdict, string>>} */
  const ICONS = Object.freeze({
    fake: '\u26A0', unsure: '?', real: '\u2713', 'no-face': '\u2205', 'too-small': '\u2022', error: '!',
  });

  /** The engineer's figures under "Technical details", the same on a badge and in the popup:
   * p_fake, detector confidence, threshold and band (whose they are), model.
   * @param {TechnicalFigures} t
   * @returns {string[]} */
  function technicalLines(t) {
    const lines = [];
    if (typeof t.p_fake === 'number') lines.push(`p_fake: ${t.p_fake.toFixed(4)}`);
    if (typeof t.score === 'number') lines.push(`Face detector confidence: ${t.score.toFixed(2)}`);
    if (typeof t.threshold === 'number') {
      lines.push(`Threshold: ${rulePercent(t.threshold)} (${t.thresholdFromOptions ? 'from your options' : "the model's"})`);
      if (typeof t.unsureFrom === 'number') {
        const band = t.bandFromOptions ? 'your band'
          : t.thresholdFromOptions ? "the model's band width, below your threshold" : "the model's band";
        lines.push(`Unsure from ${rulePercent(t.unsureFrom)} up to the threshold (${band})`);
      } else if (t.unsureFrom === null) {
        lines.push('No unsure band');
      }
    }
    if (t.modelVersion) lines.push(`Model: ${t.modelVersion}`);
    return lines;
  }

  /** What a verdict means and cannot know (facecheck/wording.py SCOPE). */
  const SCOPE = 'FaceCheck judges faces made by StyleGAN-type generators, in photographs only: on ' +
    'drawings, cartoons, renders and paintings a result means nothing. Other AI images, face swaps ' +
    'and edited photos can read "Likely real". A result is evidence, not proof.';

  /** The headline for a verdict; "Likely generated" carries its probability ("Likely generated,
   * 68%"). Anything not a verdict reads as an error.
   * @param {string} verdict
   * @param {number | null} [p]  p_fake
   * @returns {string} */
  function headline(verdict, p) {
    const words = HEADLINES[/** @type {Verdict} */ (verdict)] || HEADLINES.error;
    return verdict === 'fake' && typeof p === 'number' ? `${words}, ${pct(p)}%` : words;
  }
  const label = headline;

  /** The probability line of a result's details ("" when nothing was judged). Given the band in
   * force, it says what the number means, so that "Likely real" never sits beside a bare "58%":
   * at or above the threshold "Probability generated: 68%"; in the unsure band "Probability
   * generated: 58%, between 50% and 85%: FaceCheck makes no claim either way"; below it
   * "Probability generated: 12%, below the 85% needed to call it generated" ("just below" when the
   * rounded figure reaches the threshold's). As facecheck/wording.py probability_text() (the
   * shared table).
   * @param {number | null | undefined} p  p_fake
   * @param {{threshold: number, unsureFrom?: number | null} | null} [b]  the band in force
   * @returns {string} */
  function probabilityText(p, b) {
    if (typeof p !== 'number') return '';
    const bare = `Probability generated: ${pct(p)}%`;
    if (!b || typeof b.threshold !== 'number') return bare;
    const from = typeof b.unsureFrom === 'number' ? b.unsureFrom : null;
    const verdict = uiVerdict(p, { threshold: b.threshold, unsureFrom: from });
    if (verdict === 'fake') return bare;
    const needed = rulePercent(b.threshold);
    if (verdict === 'unsure') {
      return `${bare}, between ${rulePercent(/** @type {number} */ (from))} and ${needed}: ` +
        'FaceCheck makes no claim either way';
    }
    const just = pct(p) >= Math.round(b.threshold * 10000) / 100 ? 'just ' : '';
    return `${bare}, ${just}below the ${needed} needed to call it generated`;
  }

  /** What a picture's provenance claims, in a few words (its detail says the rest).
   * @type {Readonly<Record<string, string>>} */
  const PROVENANCE_SAYS = Object.freeze({
    'ai-generated': 'made with an AI tool',
    'ai-edited': 'edited with an AI tool',
    captured: 'camera capture',
    invalid: 'present, but they fail validation',
  });

  /** The one line a badge, the popup and the drop page show for a picture's provenance (a
   * View's `provenance`, or a server result's): "Content Credentials: made with an AI tool",
   * "Content Credentials: camera capture", "Picture metadata (unsigned): edited with an AI tool",
   * "Content Credentials: present, but they fail validation"; "" when it claims nothing (kind
   * "none", or no provenance): then provenanceDetail() alone says so. Never part of the verdict.
   * @param {{kind?: unknown, signed?: unknown} | null | undefined} prov
   * @returns {string} */
  function provenanceText(prov) {
    const says = prov && typeof prov.kind === 'string' ? PROVENANCE_SAYS[prov.kind] : undefined;
    if (!says || !prov) return '';
    return `${prov.signed === true ? 'Content Credentials' : 'Picture metadata (unsigned)'}: ${says}`;
  }

  /** The provenance's detail as a sentence (capitalised, with a full stop): the claim generator,
   * the signer and trust, or why nothing was found; "" without provenance.
   * @param {{detail?: unknown} | null | undefined} prov
   * @returns {string} */
  function provenanceDetail(prov) {
    const d = prov && typeof prov.detail === 'string' ? prov.detail.trim() : '';
    return d ? `${d.charAt(0).toUpperCase()}${d.slice(1)}${d.endsWith('.') ? '' : '.'}` : '';
  }

  // Verdicts without a probability; anything else unjudged (a server speaking another vocabulary)
  // reads "error".
  /** @type {readonly Verdict[]} */
  const UNJUDGED = ['no-face', 'too-small', 'error'];

  /** A predictor result (from the JS predictor or remote.js) -> what the badges show.
   * @param {import('./predictor.js').Prediction} result
   * @param {ViewContext} ctx
   * @returns {View} */
  function describe(result, ctx) {
    const s = ctx.settings;
    const b = band(s, ctx.model);
    const faces = result.faces.map((f) => {
      const p = typeof f.p_fake === 'number' ? f.p_fake : null;
      /** @type {Verdict} */
      const verdict = p !== null ? uiVerdict(p, b) : 'too-small';
      return { box: f.box, score: f.score ?? null, p_fake: p, verdict, modelVerdict: f.verdict,
        label: label(verdict, p) };
    });
    const p = typeof result.p_fake === 'number' ? result.p_fake : null;
    const verdict = p !== null ? uiVerdict(p, b) : (UNJUDGED.find((v) => v === result.verdict) || 'error');
    return {
      verdict, modelVerdict: result.verdict, p_fake: p,
      label: label(verdict, p), faces, threshold: b.threshold, unsureFrom: b.unsureFrom,
      thresholdFromOptions: s.threshold !== null, bandFromOptions: s.unsureBand !== null,
      modelThreshold: ctx.model.threshold,
      modelUnsureFrom: typeof ctx.model.unsureFrom === 'number' ? ctx.model.unsureFrom : null,
      modelVersion: result.modelVersion || '', ranOn: ctx.ranOn,
      width: ctx.width, height: ctx.height, note: ctx.note || '',
    };
  }

  /** A described View judged again under other settings, from its stored probabilities and the
   * band of the model that judged it (view.modelThreshold, view.modelUnsureFrom): no model run.
   * Returns a new View (faces copied); one without a numeric p_fake (error, no-face, too-small) or
   * without modelThreshold comes back unchanged, as a copy.
   * @param {View} view
   * @param {Settings | Record<string, unknown>} settings  partial input is completed by clean()
   * @returns {View} */
  function rejudge(view, settings) {
    const copy = { ...view, faces: (view.faces || []).map((f) => ({ ...f })) };
    if (typeof view.p_fake !== 'number' || typeof view.modelThreshold !== 'number') return copy;
    const s = clean(/** @type {Record<string, unknown>} */ (settings));
    const b = band(s, { threshold: view.modelThreshold, unsureFrom: view.modelUnsureFrom ?? null });
    const faces = copy.faces.map((f) => {
      if (typeof f.p_fake !== 'number') return f;
      const verdict = uiVerdict(f.p_fake, b);
      return { ...f, verdict, label: label(verdict, f.p_fake) };
    });
    const verdict = uiVerdict(view.p_fake, b);
    return { ...copy, faces, verdict, label: label(verdict, view.p_fake), threshold: b.threshold,
      unsureFrom: b.unsureFrom, thresholdFromOptions: s.threshold !== null,
      bandFromOptions: s.unsureBand !== null };
  }

  /** A check that could not run -> an "error" (or "too-small") badge with the reason.
   * @param {unknown} err  an Error, or an object with a `verdict` ('too-small') and `message`
   * @param {'browser' | 'server'} ranOn
   * @returns {View} */
  function describeError(err, ranOn) {
    const e = /** @type {{verdict?: string, message?: string} | null | undefined} */ (err);
    /** @type {Verdict} */
    const verdict = e && e.verdict === 'too-small' ? 'too-small' : 'error';
    const text = label(verdict);
    return { verdict, modelVerdict: verdict, p_fake: null, label: text, faces: [],
      reason: String((e && e.message) || err), ranOn: ranOn || 'browser', modelVersion: '' };
  }

  return { clean, load, save, band, describe, rejudge, describeError, pct, rulePercent, headline,
    probabilityText, technicalLines, provenanceText, provenanceDetail, HEADLINES, ICONS, SCOPE };
});
