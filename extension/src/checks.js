// @ts-check
/* Checks, for the service worker: image URL -> the badges' description, one at a time.
 *
 * Inference is single-threaded (wasm, no threads in a service worker), so checks queue up. Two
 * lanes: a right-click goes ahead of a page scan's backlog. While one image is judged, the next
 * few are already downloaded and decoded (network and image decoding run off this thread), which
 * is most of what a page scan gains; the lookahead is small so a long page never holds more
 * than a few decoded pictures in memory.
 */

/**
 * @typedef {'now' | 'later'} Lane  'now': a right-click; 'later': a page scan's images
 * @typedef {{blob?: Blob, image?: DecodedImage, error?: unknown}} Prepared
 * @typedef {object} QueuedCheck
 * @property {string} src
 * @property {ImageFrom} from  the page and frame that show it
 * @property {import('./settings.js').Settings} settings
 * @property {boolean} useServer
 * @property {(view: import('./settings.js').View) => void} resolve
 * @property {Promise<Prepared>} [prepared]
 */

/* exported FaceCheckChecks */
const FaceCheckChecks = (() => {
  'use strict';

  const LOOKAHEAD = 2;
  const HEALTH_TTL_MS = 30000;
  const { fetchImage, decode, predict, contract, CheckError } = FaceCheckInference;

  /** @type {Record<Lane, QueuedCheck[]>} */
  const lanes = { now: [], later: [] };
  let running = false;

  /** Download and decode: never throws, the outcome is judged in order later.
   * @param {QueuedCheck} item
   * @returns {Promise<Prepared>} */
  function prepare(item) {
    if (!item.prepared) {
      item.prepared = fetchImage(item.src, item.from)
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

  /** One image URL -> a view for content.js (plus `thumb` for the popup). Never rejects: a
   * failure becomes an "error" view with the reason.
   * @param {string} src
   * @param {import('./settings.js').Settings} settings
   * @param {{lane?: Lane, useServer?: boolean, from?: ImageFrom}} [options]
   *   `from`: the page and frame that show the image (fetchpolicy.js); unknown: a public page's rules
   * @returns {Promise<import('./settings.js').View>} */
  function check(src, settings, { lane = 'later', useServer = false, from = { top: '' } } = {}) {
    return new Promise((resolve) => {
      lanes[lane].push({ src, from, settings, useServer, resolve });
      if (!running) drain();
    });
  }

  /** What a check dropped by cancel() resolves to (its caller has moved on: the page is gone). */
  const CANCELLED = 'The page changed before this image was checked.';

  /** Drop a tab's page-scan checks still queued (its page went away, or scan mode was turned
   * off); each resolves to an "error" view whose reason is CANCELLED. Right-clicks stay.
   * @param {number} tabId */
  function cancel(tabId) {
    const keep = lanes.later.filter((item) => item.from.tabId !== tabId);
    const dropped = lanes.later.filter((item) => item.from.tabId === tabId);
    lanes.later.splice(0, lanes.later.length, ...keep);
    for (const item of dropped) item.resolve(FaceCheckSettings.describeError(new Error(CANCELLED), 'browser'));
  }

  /** The server flagged the picture itself as unreadable (remote.js): no point retrying locally.
   * @param {unknown} e */
  const imageProblem = (e) => Boolean(e && /** @type {{imageProblem?: boolean}} */ (e).imageProblem);

  /** @param {Prepared} prepared
   * @param {QueuedCheck} item
   * @returns {Promise<import('./settings.js').View>} */
  async function judge(prepared, item) {
    const view = await verdictOf(prepared, item);
    // Where the picture says it came from, beside the verdict (never in it): the server's reading,
    // else this browser's, from the same bytes (provenance.js). Not for a picture never fetched.
    const provenance = view.provenance || (prepared.blob && await provenanceOf(prepared.blob));
    return provenance ? { ...view, provenance } : view;
  }

  /** @param {Blob} blob
   * @returns {Promise<import('./provenance.js').Provenance>} */
  async function provenanceOf(blob) {
    return FaceCheckProvenance.read(new Uint8Array(await blob.arrayBuffer()), { mime: blob.type });
  }

  /** @param {Prepared} prepared
   * @param {QueuedCheck} item
   * @returns {Promise<import('./settings.js').View>} */
  async function verdictOf({ blob, image, error }, { settings, useServer }) {
    try {
      if (error || !blob || !image) throw error;
      /** @type {RemotePrediction | null} */
      let remote = null;
      let note = '';
      if (useServer) {
        try {
          remote = await FaceCheckRemote.predict(blob, settings);
        } catch (e) {
          if (imageProblem(e)) throw e;
          note = `The server was not used (${e instanceof Error ? e.message : e}); checked in the browser instead.`;
        }
      }
      const ranOn = remote ? 'server' : 'browser';
      const result = remote || await predict(image.imageData);
      // The band of the model that judged it: the server's (remote.js) or this extension's.
      const model = remote && typeof remote.threshold === 'number'
        ? { threshold: remote.threshold, unsureFrom: remote.unsureFrom ?? null }
        : modelBand(await contract());
      const view = FaceCheckSettings.describe(result, {
        settings, model, ranOn, width: image.width, height: image.height, note });
      view.thumb = image.thumb;
      if (remote && remote.provenance) view.provenance = remote.provenance;
      return view;
    } catch (e) {
      const imageAtFault = e instanceof CheckError || imageProblem(e);
      if (!imageAtFault) console.error('FaceCheck:', e);
      return FaceCheckSettings.describeError(e, imageProblem(e) ? 'server' : 'browser');
    }
  }

  /** contract.json -> its band; an old contract without unsure_from has no band.
   * @param {import('./predictor.js').Contract} c
   * @returns {import('./settings.js').Band} */
  function modelBand(c) {
    return { threshold: c.threshold, unsureFrom: typeof c.unsure_from === 'number' ? c.unsure_from : null };
  }

  let health = { at: 0, ok: false, url: '' };
  /** Does the user's server answer? Asked at most every 30 s (automatic mode).
   * @param {import('./settings.js').Settings} settings
   * @returns {Promise<boolean>} */
  async function serverAnswers(settings) {
    if (health.url !== settings.serverUrl || Date.now() - health.at > HEALTH_TTL_MS) {
      const ok = (await FaceCheckRemote.health(settings)).ok;
      health = { at: Date.now(), url: settings.serverUrl, ok };
    }
    return health.ok;
  }

  return { check, cancel, serverAnswers, CANCELLED };
})();
