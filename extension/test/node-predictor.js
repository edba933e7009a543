/* Load the JS predictor in Node (tfjs-core + converter + wasm backend) from exported files.
 *
 *   const { loadPredictor } = require('./node-predictor');
 *   const predictor = await loadPredictor('build/model');
 *
 * Pure tfjs has no file:// loader in Node, so a small IOHandler reads model.json and its shards.
 */
'use strict';
const fs = require('fs');
const path = require('path');
const tfCore = require('@tensorflow/tfjs-core');
const converter = require('@tensorflow/tfjs-converter');
// What the browser bundles put on the global `tf`: core plus the graph-model loader.
const tf = Object.assign({}, tfCore, { loadGraphModel: converter.loadGraphModel });
const wasm = require('@tensorflow/tfjs-backend-wasm');
const FaceCheckPredictor = require('../src/predictor.js');

function fileHandler(dir) {
  return {
    async load() {
      const spec = JSON.parse(fs.readFileSync(path.join(dir, 'model.json'), 'utf8'));
      const specs = [];
      const buffers = [];
      for (const group of spec.weightsManifest) {
        specs.push(...group.weights);
        for (const p of group.paths) buffers.push(fs.readFileSync(path.join(dir, p)));
      }
      const all = Buffer.concat(buffers);
      return {
        modelTopology: spec.modelTopology,
        format: spec.format,
        generatedBy: spec.generatedBy,
        convertedBy: spec.convertedBy,
        signature: spec.signature,
        userDefinedMetadata: spec.userDefinedMetadata,
        weightSpecs: specs,
        weightData: all.buffer.slice(all.byteOffset, all.byteOffset + all.byteLength),
      };
    },
  };
}

async function loadPredictor(modelDir) {
  wasm.setWasmPaths(path.join(path.dirname(require.resolve('@tensorflow/tfjs-backend-wasm')), '/'));
  await tfCore.setBackend('wasm');
  await tfCore.ready();
  const contract = JSON.parse(fs.readFileSync(path.join(modelDir, 'contract.json'), 'utf8'));
  return FaceCheckPredictor.load({
    tf,
    contract,
    classifier: fileHandler(path.join(modelDir, 'classifier')),
    detector: fileHandler(path.join(modelDir, 'detector')),
  });
}

module.exports = { tf, loadPredictor, fileHandler };
