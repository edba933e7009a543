// Unit tests for explain.js's pure parts (node --test): the windows, the fill, the map and its
// colours, as facecheck/explain.py defines them (tests/test_explain_extension.py compares whole
// maps in the browser with Python's).
'use strict';
const test = require('node:test');
const assert = require('node:assert/strict');
const { windows, blurFill, mapOf, heatRgba, occluded, nearestFace, roundEven } = require('../src/explain.js');

test('roundEven(): Python round(), halves to even', () => {
  assert.deepEqual([0.5, 1.5, 2.5, 3.5, 2.4, 2.6, 20].map(roundEven), [0, 2, 2, 4, 2, 3, 20]);
});

test('windows(): 5 x 5 at 128 px, the last flush with the edge, every pixel covered', () => {
  assert.deepEqual(windows(128), { side: 32, starts: [0, 24, 48, 72, 96] });
  // 160 px: side 40, step 30; 100 px: side 25, step 19 (18.75), then 75 added.
  assert.deepEqual(windows(160).starts, [0, 30, 60, 90, 120]);
  assert.deepEqual(windows(100), { side: 25, starts: [0, 19, 38, 57, 75] });
  // Python's round() halves to even: side 2.5 -> 2 at 10 px, as facecheck/explain.py.
  assert.equal(windows(10).side, 2);
});

test('blurFill(): a flat picture stays flat (only pixels inside are averaged); an edge softens', () => {
  const size = 8;
  const flat = new Float32Array(size * size * 3).fill(0.3);
  for (const v of blurFill(flat, size)) assert.ok(Math.abs(v - 0.3) < 1e-6);
  // A step at column 8 of 16: two 5 x 5 passes reach 4 px either side of it.
  const wide = 16;
  const step = new Float32Array(wide * wide * 3);
  for (let y = 0; y < wide; y++) for (let x = 8; x < wide; x++) step.fill(1, (y * wide + x) * 3, (y * wide + x) * 3 + 3);
  const out = blurFill(step, wide);
  const at = (y, x) => out[(y * wide + x) * 3];
  assert.ok(at(3, 3) === 0 && at(3, 12) === 1, 'far from the edge: unchanged');
  assert.ok(at(3, 7) > 0 && at(3, 7) < 0.5 && at(3, 8) > 0.5 && at(3, 8) < 1, 'at the edge: between');
});

test('occluded(): x first, then one copy per window with that window filled', () => {
  const size = 16;
  const x = Float32Array.from({ length: size * size * 3 }, (_, i) => (i % 7) / 7);
  const { batch, corners, side } = occluded(x, size);
  assert.equal(side, 4);
  assert.equal(corners.length, 25);
  assert.equal(batch.length, 26 * x.length);
  assert.deepEqual(batch.subarray(0, x.length), x);
  // The copy for window k differs from x only inside that window.
  const k = 10;
  const [y0, x0] = corners[k];
  const copy = batch.subarray((k + 1) * x.length, (k + 2) * x.length);
  for (let i = 0; i < size * size; i++) {
    const y = Math.floor(i / size);
    const c = i % size;
    const inside = y >= y0 && y < y0 + side && c >= x0 && c < x0 + side;
    if (!inside) assert.equal(copy[i * 3], x[i * 3]);
  }
});

test('mapOf(): the mean drop of the windows covering each pixel', () => {
  const size = 4;
  const corners = [[0, 0], [0, 2], [2, 0], [2, 2]];
  // Hiding the top-left quarter drops p from 0.9 to 0.5; the others change nothing.
  const heat = mapOf([0.9, 0.5, 0.9, 0.9, 0.9], corners, 2, size);
  assert.ok(Math.abs(heat[0] - 0.4) < 1e-6 && Math.abs(heat[5] - 0.4) < 1e-6);
  assert.equal(heat[3], 0);
  assert.equal(heat[15], 0);
});

test('heatRgba(): red where positive, blue where negative, transparent where zero', () => {
  const out = heatRgba(Float32Array.from([0.2, -0.1, 0, 0.01]));
  assert.deepEqual([...out.subarray(0, 4)], [230, 40, 30, 204]); // the strongest: 80% opaque
  assert.deepEqual([...out.subarray(4, 8)], [30, 110, 230, 102]);
  assert.equal(out[11], 0);
  // A map weaker than MIN_SCALE (0.05) is drawn faint, never at full strength.
  assert.equal(heatRgba(Float32Array.from([0.01]))[3], Math.round(0.2 * 204));
});

test('nearestFace(): the judged face the badge is about, none when far', () => {
  const faces = [{ box: [0, 0, 50, 50], crop: [0, 0, 60, 60] }, { box: [100, 0, 50, 50], crop: [95, 0, 60, 60] },
    { box: [200, 0, 10, 10] }];
  assert.equal(nearestFace(faces, [102, 2, 48, 48]), faces[1]);
  assert.equal(nearestFace(faces, [200, 0, 10, 10]), null); // too small: no crop
  assert.equal(nearestFace(faces, [400, 400, 50, 50]), null);
});
