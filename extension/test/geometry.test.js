/* Unit tests of src/geometry.js: where a picture is drawn in its <img>, and where badges go. */
'use strict';
const test = require('node:test');
const assert = require('node:assert/strict');
const { drawnRect, badgePosition } = require('../src/geometry.js');

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
  assert.deepEqual(badgePosition(frame, null, {}, badge, page), { left: 14, top: 24 });
  const scrolled = { scrollX: 5, scrollY: 300, width: 1000 };
  assert.deepEqual(badgePosition(frame, null, {}, badge, scrolled), { left: 19, top: 324 });
});

test('badgePosition(): above the face inside the picture, else below it, else outside', () => {
  const frame = { content: { x: 0, y: 0, w: 200, h: 200 }, drawn: { x: 0, y: 0, w: 200, h: 200 } };
  const image = { width: 100, height: 100 };
  // Room above the face: centred over it, 4 px above.
  assert.deepEqual(badgePosition(frame, [40, 40, 20, 20], image, badge, page), { left: 80, top: 56 });
  // A face at the top: below it, inside the picture.
  assert.deepEqual(badgePosition(frame, [40, 0, 20, 20], image, badge, page), { left: 80, top: 44 });
  // A face filling the picture on a scrolled page: above the picture.
  const scrolled = { scrollX: 0, scrollY: 500, width: 1000 };
  assert.deepEqual(badgePosition(frame, [0, 0, 100, 100], image, badge, scrolled), { left: 80, top: 476 });
  // ... and below it at the very top of the page.
  assert.deepEqual(badgePosition(frame, [0, 0, 100, 100], image, badge, page), { left: 80, top: 204 });
});

test('badgePosition(): within the picture and the viewport, faces clipped by object-fit', () => {
  const frame = { content: { x: 0, y: 0, w: 200, h: 200 }, drawn: { x: 0, y: 0, w: 200, h: 200 } };
  const image = { width: 100, height: 100 };
  // A face at the right edge: the badge stays inside the picture.
  assert.deepEqual(badgePosition(frame, [90, 40, 10, 10], image, badge, page), { left: 160, top: 56 });
  // A narrow viewport: the badge stays inside it.
  const narrow = { ...page, width: 150 };
  assert.deepEqual(badgePosition(frame, [90, 40, 10, 10], image, badge, narrow), { left: 110, top: 56 });
  // object-fit: cover cuts the picture's top: a face partly outside is clipped to what shows.
  const cover = { content: { x: 0, y: 0, w: 200, h: 100 }, drawn: { x: 0, y: -50, w: 200, h: 200 } };
  assert.deepEqual(badgePosition(cover, [40, 10, 20, 40], image, badge, page), { left: 80, top: 54 });
});
