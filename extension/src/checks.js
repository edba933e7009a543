/* Checks, for the service worker: image URL -> the badges' description, one at a time.
 *
 * Inference is single-threaded (wasm, no threads in a service worker), so checks queue up. Two
 * lanes: a right-click goes ahead of a page scan's backlog. While one image is judged, the next
 * few are already downloaded and decoded (network and image decoding run off this thread), which
 * is most of what a page scan gains; the lookahead is small so a long page never holds more
 * than a few decoded pictures in memory.
 */
(function (root) {
  'use strict';

  const LOOKAHEAD = 2;
  const HEALTH_TTL_MS = 30000;
  const { fetchImage, decode, predict, contract, CheckError } = root.FaceCheckInference;

  const lanes = { now: [], later: [] };
  let running = false;

  /* Download and decode: never throws, the outcome is judged in order later. */
  function prepare(item) {
    if (!item.prepared) {
      item.prepared = fetchImage(item.src)
        .then(async (blob) => ({ blob, image: await decode(blob) }))
        .catch((error) => ({ error }));
    }
    return item.prepared;
  }

  async function drain() {
    running = true;
    for (let item; (item = lanes.now.shift() || lanes.later.shift());) {
      [...lanes.now, ...lanes.later].slice(0, LOOKAHEAD).forEach(prepare);
      item.resolve(await judge(await prepare(item), item));
    }
    running = false;
  }

  /* One image URL -> a view for content.js (plus `thumb` for the popup). Never rejects: a
   * failure becomes an "error" view with the reason. */
  function check(src, settings, { lane = 'later', useServer = false } = {}) {
    return new Promise((resolve) => {
      lanes[lane].push({ src, settings, useServer, resolve });
      if (!running) drain();
    });
  }

  async function judge({ blob, image, error }, { settings, useServer }) {
    try {
      if (error) throw error;
      let result = null;
      let note = '';
      if (useServer) {
        try {
          result = await root.FaceCheckRemote.predict(blob, settings);
        } catch (e) {
          if (e.imageProblem) throw e;
          note = `The server was not used (${e.message}); checked in the browser instead.`;
        }
      }
      const ranOn = result ? 'server' : 'browser';
      if (!result) result = await predict(image.imageData);
      // The band of the model that judged it: the server's (remote.js) or this extension's.
      const model = typeof result.threshold === 'number'
        ? { threshold: result.threshold, unsureFrom: result.unsureFrom ?? null }
        : modelBand(await contract());
      const view = root.FaceCheckSettings.describe(result, {
        settings, model, ranOn, width: image.width, height: image.height, note });
      view.thumb = image.thumb;
      return view;
    } catch (e) {
      const imageAtFault = e instanceof CheckError || Boolean(e.imageProblem);
      if (!imageAtFault) console.error('FaceCheck:', e);
      return root.FaceCheckSettings.describeError(e, e.imageProblem ? 'server' : 'browser', imageAtFault);
    }
  }

  /* contract.json -> {threshold, unsureFrom}; an old contract without unsure_from has no band. */
  function modelBand(c) {
    return { threshold: c.threshold, unsureFrom: typeof c.unsure_from === 'number' ? c.unsure_from : null };
  }

  let health = { at: 0, ok: false, url: '' };
  /* Does the user's server answer? Asked at most every 30 s (automatic mode). */
  async function serverAnswers(settings) {
    if (health.url !== settings.serverUrl || Date.now() - health.at > HEALTH_TTL_MS) {
      const ok = (await root.FaceCheckRemote.health(settings)).ok;
      health = { at: Date.now(), url: settings.serverUrl, ok };
    }
    return health.ok;
  }

  root.FaceCheckChecks = { check, serverAnswers };
})(globalThis);
