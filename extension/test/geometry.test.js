/* Unit tests of src/geometry.js: where a picture is drawn in its <img>, and where badges go. */
'use strict';
const test = require('node:test');
const assert = require('node:assert/strict');
const { drawnRect, badgePosition, clip, shownAt, isCompact, panelPosition, COMPACT_BELOW } =
  require('../src/geometry.js');

const content = { x: 10, y: 20, w: 200, h: 100 };
const page = { scrollX: 0, scrollY: 0, width: 1000 };
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

test('badgePosition(): the top-left corner without a face', () => {
  const frame = { content, drawn: content };
  assert.deepEqual(badgePosition(frame, null, {}, badge, page), { left: 14, top: 24, outside: null });
  const scrolled = { scrollX: 5, scrollY: 300, width: 1000 };
  assert.deepEqual(badgePosition(frame, null, {}, badge, scrolled), { left: 19, top: 324, outside: null });
});

test('badgePosition(): above the face inside the picture, else below it, else outside', () => {
  const frame = { content: { x: 0, y: 0, w: 200, h: 200 }, drawn: { x: 0, y: 0, w: 200, h: 200 } };
  const image = { width: 100, height: 100 };
  // Room above the face: centred over it, 4 px above.
  assert.deepEqual(badgePosition(frame, [40, 40, 20, 20], image, badge, page), { left: 80, top: 56, outside: null });
  // A face at the top: below it, inside the picture.
  assert.deepEqual(badgePosition(frame, [40, 0, 20, 20], image, badge, page), { left: 80, top: 44, outside: null });
  // A face filling the picture on a scrolled page: above the picture (outside it: content.js
  // gives such a badge a tail pointing at its face).
  const scrolled = { scrollX: 0, scrollY: 500, width: 1000 };
  assert.deepEqual(badgePosition(frame, [0, 0, 100, 100], image, badge, scrolled), { left: 80, top: 476, outside: 'above' });
  // ... and below it at the very top of the page.
  assert.deepEqual(badgePosition(frame, [0, 0, 100, 100], image, badge, page), { left: 80, top: 204, outside: 'below' });
});

test('badgePosition(): within the picture and the viewport, faces clipped by object-fit', () => {
  const frame = { content: { x: 0, y: 0, w: 200, h: 200 }, drawn: { x: 0, y: 0, w: 200, h: 200 } };
  const image = { width: 100, height: 100 };
  // A face at the right edge: the badge stays inside the picture.
  assert.deepEqual(badgePosition(frame, [90, 40, 10, 10], image, badge, page), { left: 160, top: 56, outside: null });
  // A narrow viewport: the badge stays inside it.
  const narrow = { ...page, width: 150 };
  assert.deepEqual(badgePosition(frame, [90, 40, 10, 10], image, badge, narrow), { left: 110, top: 56, outside: null });
  // object-fit: cover cuts the picture's top: a face partly outside is clipped to what shows.
  const cover = { content: { x: 0, y: 0, w: 200, h: 100 }, drawn: { x: 0, y: -50, w: 200, h: 200 } };
  assert.deepEqual(badgePosition(cover, [40, 10, 20, 40], image, badge, page), { left: 80, top: 54, outside: null });
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

test('badgePosition(): within the visible part of a scrolled picture', () => {
  const content = { x: 0, y: -100, w: 200, h: 300 }; // its top 100 px scrolled out of a panel
  const frame = { content, drawn: content, visible: { x: 0, y: 0, w: 200, h: 200 } };
  const image = { width: 200, height: 300 };
  // Above the face there is room in the picture, but not in the part that shows: below the face.
  assert.deepEqual(badgePosition(frame, [50, 110, 100, 40], image, badge, page), { left: 80, top: 54, outside: null });
  // No face: the visible corner.
  assert.deepEqual(badgePosition(frame, null, {}, badge, page), { left: 4, top: 4, outside: null });
  // No room inside: below the face, not above the edge a panel cuts (the page around the panel)...
  const cut = { content, drawn: content, visible: { x: 0, y: 0, w: 200, h: 200 } };
  const scrolled = { ...page, scrollY: 500 };
  assert.deepEqual(badgePosition(cut, [0, 100, 200, 190], image, badge, scrolled), { left: 80, top: 694, outside: 'below' });
  // ... unless the panel cuts it below too.
  const both = { content, drawn: content, visible: { x: 0, y: 0, w: 200, h: 195 } };
  assert.deepEqual(badgePosition(both, [0, 100, 200, 190], image, badge, scrolled), { left: 80, top: 476, outside: 'above' });
});

test('badgePosition(): beside the face when neither above nor below is inside', () => {
  const content = { x: 0, y: 0, w: 120, h: 60 };
  const frame = { content, drawn: content };
  const image = { width: 120, height: 60 };
  // A face filling the picture's height at its left: to its right, inside the picture.
  assert.deepEqual(badgePosition(frame, [0, 0, 60, 60], image, badge, page), { left: 64, top: 0, outside: null });
  // ... at its right: to its left.
  assert.deepEqual(badgePosition(frame, [60, 0, 60, 60], image, badge, page), { left: 16, top: 0, outside: null });
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
