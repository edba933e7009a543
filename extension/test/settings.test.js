/* Unit tests of src/settings.js: stored settings, the band in force and the words a badge shows.
 * (tests/test_extension.py checks the same words against the Python predictor, in Chromium.) */
'use strict';
const test = require('node:test');
const assert = require('node:assert/strict');
const settings = require('../src/settings.js');

const defaults = () => settings.clean(undefined);

/** A face of a predictor result. */
const face = (p, verdict = 'x') => ({ box: [0, 0, 10, 10], score: 0.9, p_fake: p, verdict });

test('clean() fills in and bounds every field', () => {
  assert.deepEqual(defaults(), {
    threshold: null, unsureBand: null, minImageSize: 48, scanByDefault: false, runWhere: 'browser',
    autoServerOver: 10, serverUrl: 'http://127.0.0.1:8000', serverToken: '',
  });
  const s = settings.clean({
    threshold: '1.5', unsureBand: '', minImageSize: '3000.4', scanByDefault: 'yes', runWhere: 'cloud',
    autoServerOver: -4, serverUrl: '  http://box:9000/ ', serverToken: ' t0k ',
  });
  assert.deepEqual(s, {
    threshold: 0.99, unsureBand: null, minImageSize: 2000, scanByDefault: true, runWhere: 'browser',
    autoServerOver: 0, serverUrl: 'http://box:9000/', serverToken: 't0k',
  });
  assert.equal(settings.clean({ threshold: 'abc' }).threshold, null);
  assert.equal(settings.clean({ threshold: 0 }).threshold, 0.01);
  assert.equal(settings.clean({ minImageSize: 'abc' }).minImageSize, 48);
  assert.equal(settings.clean({ runWhere: 'auto' }).runWhere, 'auto');
});

test('save() validates, merges and stores in chrome.storage.local only', async (t) => {
  const stored = {};
  globalThis.chrome = { storage: { local: {
    get: async (key) => (key in stored ? { [key]: stored[key] } : {}),
    set: async (items) => Object.assign(stored, items),
  } } };
  t.after(() => { delete globalThis.chrome; });
  assert.deepEqual(await settings.load(), defaults());
  await settings.save({ threshold: '0.7' });
  const saved = await settings.save({ runWhere: 'server' });
  assert.equal(saved.threshold, 0.7);
  assert.equal(saved.runWhere, 'server');
  assert.deepEqual(stored.settings, saved);
  assert.deepEqual(await settings.load(), saved);
});

test('band(): the model band by default; an own threshold keeps its width; a width of 0 is none', () => {
  const model = { threshold: 0.6, unsureFrom: 0.4 };
  const band = (opts, m = model) => settings.band(settings.clean(opts), m);
  assert.deepEqual(band({}), { threshold: 0.6, unsureFrom: 0.4 });
  assert.deepEqual(band({}, { threshold: 0.6, unsureFrom: null }), { threshold: 0.6, unsureFrom: null });
  assert.deepEqual(band({}, { threshold: 0.6 }), { threshold: 0.6, unsureFrom: null });
  const own = band({ threshold: 0.9 });
  assert.equal(own.threshold, 0.9);
  assert.ok(Math.abs(own.unsureFrom - 0.7) < 1e-12, own);
  const noBand = { threshold: 0.6, unsureFrom: null };
  assert.deepEqual(band({ threshold: 0.9 }, noBand), { threshold: 0.9, unsureFrom: null });
  assert.deepEqual(band({ unsureBand: 0 }), { threshold: 0.6, unsureFrom: null });
  assert.ok(Math.abs(band({ unsureBand: 0.1 }).unsureFrom - 0.5) < 1e-12);
});

test('describe(): fake at the threshold, unsure in the band, real below, with their words', () => {
  const result = { faces: [face(0.6), face(0.4), face(0.39), face(null, 'too-small')], p_fake: 0.6,
    verdict: 'fake', modelVersion: 'm1' };
  const view = settings.describe(result, { settings: defaults(), model: { threshold: 0.6, unsureFrom: 0.4 },
    ranOn: 'browser', width: 200, height: 100 });
  assert.deepEqual(view.faces.map((f) => [f.verdict, f.label, f.p_fake]), [
    ['fake', 'Likely generated, 60%', 0.6],
    ['unsure', 'Unsure', 0.4],
    ['real', 'Likely real', 0.39],
    ['too-small', 'Too small to judge', null],
  ]);
  assert.equal(view.faces[0].modelVerdict, 'x');
  assert.deepEqual([view.verdict, view.label, view.p_fake, view.modelVerdict],
    ['fake', 'Likely generated, 60%', 0.6, 'fake']);
  assert.deepEqual([view.threshold, view.unsureFrom, view.thresholdFromOptions, view.bandFromOptions],
    [0.6, 0.4, false, false]);
  assert.deepEqual([view.modelVersion, view.ranOn, view.width, view.height, view.note],
    ['m1', 'browser', 200, 100, '']);
});

test('describe(): the options override the model band; unjudged verdicts keep their words', () => {
  const ctx = { settings: settings.clean({ threshold: 0.3, unsureBand: 0 }),
    model: { threshold: 0.6, unsureFrom: 0.4 } };
  const result = { faces: [face(0.35, 'unsure')], p_fake: 0.35, verdict: 'unsure', modelVersion: '' };
  const view = settings.describe(result, ctx);
  assert.deepEqual([view.verdict, view.modelVerdict, view.thresholdFromOptions, view.bandFromOptions],
    ['fake', 'unsure', true, true]);
  const unjudged = (verdict) => settings.describe({ faces: [], p_fake: null, verdict, modelVersion: '' }, ctx);
  assert.deepEqual([unjudged('no-face').verdict, unjudged('no-face').label], ['no-face', 'No face found']);
  assert.deepEqual([unjudged('too-small').verdict, unjudged('too-small').label], ['too-small', 'Too small to judge']);
  assert.deepEqual([unjudged('maybe').verdict, unjudged('maybe').label], ['error', 'Could not check']);
});

test('describe() records the band of the model that judged it', () => {
  const result = { faces: [face(0.5)], p_fake: 0.5, verdict: 'unsure', modelVersion: '' };
  const withBand = settings.describe(result, { settings: settings.clean({ threshold: 0.3 }),
    model: { threshold: 0.6, unsureFrom: 0.4 } });
  assert.deepEqual([withBand.modelThreshold, withBand.modelUnsureFrom, withBand.threshold], [0.6, 0.4, 0.3]);
  const noBand = settings.describe(result, { settings: defaults(), model: { threshold: 0.7 } });
  assert.deepEqual([noBand.modelThreshold, noBand.modelUnsureFrom], [0.7, null]);
});

test('rejudge(): other settings over the stored probabilities, a new View, no model run', () => {
  const result = { faces: [face(0.65, 'fake'), face(0.45, 'unsure'), face(0.2, 'real'), face(null, 'too-small')],
    p_fake: 0.65, verdict: 'fake', modelVersion: 'm1' };
  const view = settings.describe(result, { settings: defaults(), model: { threshold: 0.6, unsureFrom: 0.4 },
    ranOn: 'server', width: 300, height: 200 });
  const before = JSON.stringify(view);
  const stricter = settings.rejudge(view, { threshold: 0.9, unsureBand: 0.4 });
  assert.equal(JSON.stringify(view), before, 'the View given is left as it was');
  assert.notEqual(stricter, view);
  assert.deepEqual(stricter.faces.map((f) => [f.verdict, f.label, f.modelVerdict]), [
    ['unsure', 'Unsure', 'fake'], ['real', 'Likely real', 'unsure'], ['real', 'Likely real', 'real'],
    ['too-small', 'Too small to judge', 'too-small']]);
  assert.deepEqual([stricter.verdict, stricter.label, stricter.modelVerdict], ['unsure', 'Unsure', 'fake']);
  assert.equal(stricter.threshold, 0.9);
  assert.ok(Math.abs(stricter.unsureFrom - 0.5) < 1e-12, String(stricter.unsureFrom));
  assert.deepEqual([stricter.thresholdFromOptions, stricter.bandFromOptions], [true, true]);
  assert.deepEqual([stricter.modelThreshold, stricter.modelUnsureFrom, stricter.modelVersion, stricter.ranOn,
    stricter.width, stricter.p_fake], [0.6, 0.4, 'm1', 'server', 300, 0.65]);
  // Back to the model's own band: the same as describe() gave.
  assert.deepEqual(settings.rejudge(stricter, defaults()), view);
  // A lower threshold of the user's own keeps the model's band width (0.2) below it.
  const looser = settings.rejudge(view, { threshold: 0.3 });
  assert.deepEqual(looser.faces.map((f) => f.verdict), ['fake', 'fake', 'unsure', 'too-small']);
  assert.deepEqual([looser.verdict, looser.label, looser.bandFromOptions], ['fake', 'Likely generated, 65%', false]);
});

test('rejudge(): unjudged views and views without the model band come back unchanged, as copies', () => {
  const ctx = { settings: defaults(), model: { threshold: 0.6, unsureFrom: 0.4 } };
  const noFace = settings.describe({ faces: [], p_fake: null, verdict: 'no-face', modelVersion: '' }, ctx);
  const errored = settings.describeError(new Error('bad bytes'), 'browser');
  const tooSmall = settings.describeError({ verdict: 'too-small', message: 'tiny' }, 'browser');
  const old = { ...settings.describe({ faces: [face(0.5)], p_fake: 0.5, verdict: 'unsure', modelVersion: '' }, ctx) };
  delete old.modelThreshold;
  for (const v of [noFace, errored, tooSmall, old]) {
    const again = settings.rejudge(v, { threshold: 0.1, unsureBand: 0 });
    assert.notEqual(again, v);
    assert.deepEqual(again, v);
  }
});

test('describeError(): the reason, and where it ran', () => {
  const small = { verdict: 'too-small', message: 'image too small: 8x8 pixels' };
  const tooSmall = settings.describeError(small, 'browser');
  assert.deepEqual([tooSmall.verdict, tooSmall.label, tooSmall.reason, tooSmall.p_fake],
    ['too-small', 'Too small to judge', 'image too small: 8x8 pixels', null]);
  const unreadable = settings.describeError(new Error('bad bytes'), 'server');
  assert.deepEqual([unreadable.label, unreadable.ranOn], ['Could not check', 'server']);
  const failed = settings.describeError(new Error('wasm did not start'), 'browser');
  assert.deepEqual([failed.verdict, failed.label, failed.reason, failed.ranOn],
    ['error', 'Could not check', 'wasm did not start', 'browser']);
});

test('pct(): whole percent, never 0 or 100', () => {
  assert.deepEqual([0, 0.004, 0.5, 0.996, 1].map(settings.pct), [1, 1, 50, 99, 99]);
});

test('headline(), probabilityText() and rulePercent() read as facecheck/wording.py (the shared table)', () => {
  const { cases, rule_percents: rules } = require('./wording-cases.json');
  assert.ok(cases.length >= 10);
  for (const c of cases) {
    assert.equal(settings.headline(c.verdict, c.p_fake), c.headline, JSON.stringify(c));
    assert.equal(settings.probabilityText(c.p_fake), c.probability, JSON.stringify(c));
  }
  assert.ok(rules.length >= 8);
  for (const [x, words] of rules) assert.equal(settings.rulePercent(x), words, String(x));
});

test('probabilityText(p, band) says what the number means in each band (the shared table)', () => {
  const { banded } = require('./wording-cases.json');
  const kinds = { above: 0, unsure: 0, below: 0 };
  for (const c of banded) {
    const got = settings.probabilityText(c.p_fake, { threshold: c.threshold, unsureFrom: c.unsureFrom });
    assert.equal(got, c.probability, JSON.stringify(c));
    if (got.includes('makes no claim')) kinds.unsure += 1;
    else if (got.includes('needed to call it generated')) kinds.below += 1;
    else if (got) kinds.above += 1;
  }
  assert.ok(Math.min(...Object.values(kinds)) >= 2, JSON.stringify(kinds));
  assert.equal(settings.probabilityText(0.58), 'Probability generated: 58%');
  assert.equal(settings.probabilityText(0.58, null), 'Probability generated: 58%');
  assert.equal(settings.probabilityText(0.58, { threshold: 0.85 }),
    'Probability generated: 58%, below the 85% needed to call it generated');
});

test('technicalLines(): the figures a badge and a popup row show, band only where given', () => {
  assert.deepEqual(settings.technicalLines({ p_fake: 0.91234, score: 0.876, threshold: 0.8525,
    unsureFrom: 0.81, modelVersion: 'm' }), ['p_fake: 0.9123', 'Face detector confidence: 0.88',
    "Threshold: 85.25% (the model's)", "Unsure from 81% up to the threshold (the model's band)", 'Model: m']);
  assert.deepEqual(settings.technicalLines({ threshold: 0.6, thresholdFromOptions: true, unsureFrom: null }),
    ['Threshold: 60% (from your options)', 'No unsure band']);
  assert.deepEqual(settings.technicalLines({ threshold: 0.6, modelVersion: '' }), ["Threshold: 60% (the model's)"]);
});

test('provenanceText() and provenanceDetail() read as facecheck/wording.py (the shared table)', () => {
  const { provenance } = require('./wording-cases.json');
  const kinds = new Set(provenance.filter((c) => c.provenance).map((c) => c.provenance.kind));
  for (const k of ['ai-generated', 'ai-edited', 'captured', 'invalid', 'none']) assert.ok(kinds.has(k), k);
  for (const c of provenance) {
    assert.equal(settings.provenanceText(c.provenance), c.text, JSON.stringify(c));
    assert.equal(settings.provenanceDetail(c.provenance), c.detail, JSON.stringify(c));
  }
});
