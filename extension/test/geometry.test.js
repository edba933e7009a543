/* Unit tests of src/geometry.js: where a picture is drawn in its <img>, and where badges go. */
'use strict';
const test = require('node:test');
const assert = require('node:assert/strict');
const { drawnRect, spotFor, overlaps, clip, shownAt, isCompact, panelPosition, COMPACT_BELOW } =
  require('../src/geometry.js');

const content = { x: 10, y: 20, w: 200, h: 100 };
const badge = { w: 40, h: 20 };

test('drawnRect(): object-fit and object-position', () => {
  assert.deepEqual(drawnRect(content, 400, 400, 'fill', '50% 50%'), content);
  assert.deepEqual(drawnRect(content, 0, 0, 'contain', '50% 50%'), content); // not loaded yet
  assert.deepEqual(drawnRect(content, 400, 400, 'contain', '50% 50%'), { x: 60, y: 20, w: 100, h: 100 });
  assert.deepEqual(drawnRect(content, 400, 400, 'cover', '50% 50%'), { x: 10, y: -30, w: 200, h: 200 });
  assert.deepEqual(drawnRect(content, 100, 50, 'none', '0% 100%'), { x: 10, y: 70, w: 100, h: 50 });
  assert.deepEqual(drawnRect(content, 100, 50, 'none', '5px 7px'), { x: 15, y: 27, w: 100, h: 50 });
  assert.deepEqual(drawnRect(content, 100, 50, 'scale-down', ''), { x: 60, y: 45, w: 100, h: 50 });
  assert.deepEqual(drawnRect(content, 400, 400, 'scale-down', '0% 0%'), { x: 10, y: 20, w: 100, h: 100 });
});

test('clip(): both axes, or only the one an overflow clips; empty when apart', () => {
  const r = { x: 0, y: 0, w: 100, h: 100 };
  assert.deepEqual(clip(r, { x: 50, y: -20, w: 100, h: 60 }), { x: 50, y: 0, w: 50, h: 40 });
  assert.deepEqual(clip(r, { x: 50, y: -20, w: 100, h: 60 }, false, true), { x: 0, y: 0, w: 100, h: 40 });
  assert.deepEqual(clip(r, { x: 200, y: 0, w: 10, h: 10 }).w, 0);
});

test('shownAt(): only while the face\'s centre is in the visible part of the picture', () => {
  const content = { x: 0, y: 0, w: 200, h: 200 };
  const image = { width: 100, height: 100 };
  const face = [40, 40, 20, 20]; // centre (100, 100) in viewport px
  assert.deepEqual(shownAt({ content, drawn: content }, face, image), { x: 100, y: 100 });
  // A scrolling panel cuts off the picture's lower half, then more: the face goes with it.
  const half = { content, drawn: content, visible: { x: 0, y: 0, w: 200, h: 110 } };
  assert.deepEqual(shownAt(half, face, image), { x: 100, y: 100 });
  assert.equal(shownAt({ ...half, visible: { x: 0, y: 0, w: 200, h: 90 } }, face, image), null);
  assert.equal(shownAt({ ...half, visible: { x: 0, y: 0, w: 0, h: 0 } }, face, image), null);
  // Without a face: the picture's centre.
  assert.equal(shownAt({ ...half, visible: { x: 0, y: 0, w: 200, h: 90 } }, null, {}), null);
  assert.deepEqual(shownAt(half, null, {}), { x: 100, y: 100 });
});

test('isCompact(): chips on pictures narrower than COMPACT_BELOW', () => {
  const at = (w) => ({ content: { x: 0, y: 0, w, h: w }, drawn: { x: 0, y: 0, w, h: w } });
  assert.equal(COMPACT_BELOW, 160);
  assert.equal(isCompact(at(80)), true);
  assert.equal(isCompact(at(159)), true);
  assert.equal(isCompact(at(160)), false);
});

test('panelPosition(): below the badge, else above, always on screen', () => {
  const viewport = { width: 800, height: 600 };
  const panel = { w: 300, h: 200 };
  assert.deepEqual(panelPosition({ x: 10, y: 10, w: 60, h: 24 }, panel, viewport), { left: 10, top: 34 });
  // Near the bottom: above it.
  assert.deepEqual(panelPosition({ x: 10, y: 500, w: 60, h: 24 }, panel, viewport), { left: 10, top: 300 });
  // Near the right edge: moved left to stay on screen.
  assert.deepEqual(panelPosition({ x: 700, y: 10, w: 60, h: 24 }, panel, viewport), { left: 500, top: 34 });
  // Room neither below nor above: the roomier side, kept inside the viewport.
  const tall = { w: 300, h: 500 };
  const short = { width: 800, height: 560 };
  assert.deepEqual(panelPosition({ x: 0, y: 200, w: 60, h: 24 }, tall, short), { left: 0, top: 60 });
  assert.deepEqual(panelPosition({ x: -50, y: 400, w: 60, h: 24 }, tall, short), { left: 0, top: 0 });
});

const sq = { x: 0, y: 0, w: 200, h: 200 };
const q = (face, extra = {}) => ({ area: sq, content: sq, face, badge, avoid: [], ...extra });

test('spotFor(): the top-left corner without a face, another corner when it is taken', () => {
  const area = { x: 10, y: 20, w: 200, h: 100 };
  assert.deepEqual(spotFor({ area, content: area, face: null, badge, avoid: [] }), { x: 14, y: 24, outside: null });
  const taken = { x: 14, y: 24, w: 40, h: 20 };
  assert.deepEqual(spotFor({ area, content: area, face: null, badge, avoid: [taken] }), { x: 166, y: 24, outside: null });
});

test('spotFor(): above the face inside the picture, else below, else beside', () => {
  assert.deepEqual(spotFor(q({ x: 80, y: 80, w: 40, h: 40 })), { x: 80, y: 56, outside: null });
  assert.deepEqual(spotFor(q({ x: 80, y: 0, w: 40, h: 40 })), { x: 80, y: 44, outside: null });
  // A face as tall as the picture: beside it.
  assert.deepEqual(spotFor(q({ x: 0, y: 0, w: 100, h: 200 })), { x: 104, y: 0, outside: null });
  // Near the picture's right edge: kept inside it.
  assert.deepEqual(spotFor(q({ x: 180, y: 80, w: 20, h: 20 })), { x: 160, y: 56, outside: null });
});

test('spotFor(): never over another face or a badge already placed', () => {
  const face = { x: 80, y: 80, w: 40, h: 40 };
  // Another face right above: the badge goes below its own face instead.
  const other = { x: 70, y: 30, w: 60, h: 48 };
  const at = spotFor(q(face, { avoid: [other] }));
  assert.deepEqual(at, { x: 80, y: 124, outside: null });
  assert.equal(overlaps({ ...at, w: 40, h: 20 }, other), false);
  // The centred spot taken by a neighbour's badge: flush with the face's left edge... or right.
  const taken = { x: 90, y: 56, w: 40, h: 20 };
  assert.deepEqual(spotFor(q(face, { avoid: [taken] })), { x: 80, y: 124, outside: null });
  const wide = { x: 60, y: 80, w: 80, h: 40 };
  assert.deepEqual(spotFor(q(wide, { avoid: [{ x: 62, y: 56, w: 30, h: 20 }] })), { x: 100, y: 56, outside: null });
});

test('spotFor(): three faces side by side get three badges, each over its own face', () => {
  const area = { x: 0, y: 0, w: 300, h: 120 };
  const faces = [0, 100, 200].map((x) => ({ x: x + 20, y: 40, w: 60, h: 60 }));
  const placed = [];
  for (const face of faces) {
    const at = spotFor({ area, content: area, face, badge: { w: 60, h: 24 }, avoid: [...faces.filter((f) => f !== face), ...placed] });
    assert.ok(at, 'placed');
    const r = { x: at.x, y: at.y, w: 60, h: 24 };
    assert.ok(r.x >= face.x - 1 && r.x + r.w <= face.x + face.w + 1, `over its own face: ${JSON.stringify(r)}`);
    placed.push(r);
  }
});

test('spotFor(): a covered spot (a sticky header) is not used', () => {
  const face = { x: 80, y: 80, w: 40, h: 40 };
  const header = { x: 0, y: 0, w: 1000, h: 70 };
  const free = (r) => !overlaps(r, header);
  assert.deepEqual(spotFor(q(face, { free })), { x: 80, y: 124, outside: null });
  assert.equal(spotFor(q(face, { free: () => false })), null);
});

test('spotFor(): a tight avatar: on its face, never beyond the picture unless allowed', () => {
  const area = { x: 0, y: 40, w: 40, h: 40 };
  const face = { x: 8, y: 48, w: 24, h: 24 };
  const chip = { w: 24, h: 24 };
  const neighbours = [{ x: 0, y: -4, w: 40, h: 40 }, { x: 0, y: 84, w: 40, h: 40 }];
  assert.equal(spotFor({ area, content: area, face, badge: chip, avoid: neighbours }), null);
  assert.deepEqual(spotFor({ area, content: area, face, badge: chip, avoid: neighbours, onFace: true }),
    { x: 8, y: 50, outside: null });
  // Wider than the avatar: on its face only as a last resort (spilling over its sides)...
  const wide = { w: 60, h: 24 };
  assert.equal(spotFor({ area, content: area, face, badge: wide, avoid: [], onFace: true }), null);
  assert.deepEqual(spotFor({ area, content: area, face, badge: wide, avoid: [], outside: true }),
    { x: -10, y: 50, outside: null });
  // ...or, in a list where that spot is taken, above the picture with a tail (outside).
  const taken = [{ x: -10, y: 50, w: 60, h: 24 }];
  assert.deepEqual(spotFor({ area, content: area, face, badge: wide, avoid: taken, outside: true }),
    { x: -10, y: 12, outside: 'above' });
});

test('spotFor(): in a picture of several faces, never beside a face nor nearer another', () => {
  const area = { x: 0, y: 0, w: 600, h: 200 };
  const faces = [0, 200, 400].map((x) => ({ x: x + 4, y: 8, w: 192, h: 190 }));
  const [face, ...others] = faces;
  const chip = { w: 100, h: 24 };
  // No room above or below; beside would sit between two people: on its own face instead.
  assert.equal(spotFor({ area, content: area, face, others, badge: chip, avoid: others }), null);
  assert.deepEqual(spotFor({ area, content: area, face, others, badge: chip, avoid: others, onFace: true }),
    { x: 50, y: 10, outside: null });
  // Alone in the picture, the same face takes the spot beside it.
  assert.deepEqual(spotFor({ area, content: area, face, badge: chip, avoid: [] }), { x: 200, y: 8, outside: null });
  // Above a face, but nearer the face above it than its own: not there.
  const lower = { x: 100, y: 110, w: 80, h: 80 };
  const upper = { x: 100, y: 0, w: 80, h: 80 };
  const at = spotFor({ area, content: area, face: lower, others: [upper], badge: { w: 40, h: 24 }, avoid: [upper] });
  assert.deepEqual(at, null);
});
