/* node test/predict-raw.js MODEL_DIR CASES.json OUT.json
 * CASES.json: [{name, width, height, rgba: path to raw RGBA bytes}]; writes the JS predictor's
 * results (and the tensor count before/after, for the leak check) to OUT.json. */
'use strict';
const fs = require('fs');
const { tf, loadPredictor } = require('./node-predictor');

(async () => {
  const [modelDir, casesPath, outPath] = process.argv.slice(2);
  const predictor = await loadPredictor(modelDir);
  const cases = JSON.parse(fs.readFileSync(casesPath, 'utf8'));
  const before = tf.memory().numTensors;
  const results = [];
  const times = [];
  for (const c of cases) {
    const data = new Uint8ClampedArray(fs.readFileSync(c.rgba));
    const t = process.hrtime.bigint();
    results.push({ name: c.name, ...(await predictor.predict({ data, width: c.width, height: c.height })) });
    times.push(Number(process.hrtime.bigint() - t) / 1e6);
  }
  const after = tf.memory().numTensors;
  fs.writeFileSync(outPath, JSON.stringify({ backend: tf.getBackend(), tensorsBefore: before, tensorsAfter: after, times, results }));
})().catch((e) => { console.error(e); process.exit(1); });
