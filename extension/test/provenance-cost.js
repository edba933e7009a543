// What provenance costs a check of a picture without credentials (the common case): the marker
// check and the bounded XMP search of src/provenance.js, median of 20, in Node.
//   node extension/test/provenance-cost.js [PICTURE]   (default: a fixture face, then 5 MB of noise)
'use strict';

const fs = require('node:fs');
const path = require('node:path');
const crypto = require('node:crypto');
const P = require('../src/provenance.js');

async function median(/** @type {Uint8Array} */ bytes) {
  const times = [];
  for (let i = 0; i < 20; i++) {
    const t = process.hrtime.bigint();
    await P.read(bytes);
    times.push(Number(process.hrtime.bigint() - t) / 1e6);
  }
  return times.sort((a, b) => a - b)[10];
}

(async () => {
  const picture = process.argv[2] || path.join(__dirname, '..', '..', 'tests', 'fixtures', 'faces', 'fake', '101151d4d564.jpg');
  const face = new Uint8Array(fs.readFileSync(picture));
  const noise = crypto.randomFillSync(new Uint8Array(5 * 1024 * 1024));
  noise.set(face.subarray(0, 600)); // a JPEG's header, then 5 MB without markers
  for (const [name, bytes] of [[path.basename(picture), face], ['5 MB JPEG-headed noise', noise]]) {
    console.log(`${name} (${(bytes.length / 1024).toFixed(0)} KB): ${(await median(bytes)).toFixed(3)} ms, ` +
      `kind ${(await P.read(bytes)).kind}`);
  }
})();
