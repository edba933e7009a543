// @ts-check
/* The user's FaceCheck server (`facecheck serve`), for the service worker: the only place where
 * the extension sends anything off the page it reads, and only when the options say so. */

/**
 * @typedef {import('./settings.js').Settings} Settings
 * @typedef {import('./predictor.js').Prediction & {threshold: number | null, unsureFrom: number | null,
 *   provenance?: import('./provenance.js').Provenance}} RemotePrediction  the server's result, with the
 *   band of the server's model (null: none) and the server's reading of the picture's provenance
 * @typedef {{ok: boolean, detail: string}} Health
 *
 * What the server answers (server/openapi.py), as far as the extension reads it:
 * @typedef {object} ApiResult  one image's result
 * @property {import('./predictor.js').Face[]} [faces]
 * @property {number | null} [p_fake]
 * @property {string} verdict
 * @property {string} [error]  why the image could not be read
 * @property {unknown} [provenance]  {kind, detail, signed, trusted} (facecheck/provenance.py)
 * @typedef {{model_version?: string, version?: string, threshold?: number, unsure_from?: number | null}} ApiModel
 * @typedef {{results?: ApiResult[], model?: ApiModel}} PredictAnswer  POST /api/v1/predict
 * @typedef {{status?: string}} HealthAnswer  GET /api/v1/health
 * @typedef {{contract?: {model_version?: string}}} ModelAnswer  GET /api/v1/model
 */

/* exported FaceCheckRemote */
const FaceCheckRemote = (() => {
  'use strict';

  const PREDICT_TIMEOUT_MS = 20000;
  const HEALTH_TIMEOUT_MS = 2000;

  /** @param {Settings} settings
   * @param {string} path  relative to the server URL */
  function endpoint(settings, path) {
    const base = settings.serverUrl.endsWith('/') ? settings.serverUrl : `${settings.serverUrl}/`;
    const u = new URL(path, base);
    if (!/^https?:$/.test(u.protocol)) throw new Error('the server URL must start with http:// or https://');
    return u.href;
  }

  /** @param {Settings} settings
   * @param {Record<string, string>} [extra]
   * @returns {Record<string, string>} */
  function headers(settings, extra) {
    const h = { ...(extra || {}) };
    if (settings.serverToken) h.Authorization = `Bearer ${settings.serverToken}`;
    return h;
  }

  /** One request; any failure becomes an Error whose message a user can read.
   * @param {string} href
   * @param {RequestInit} init
   * @param {number} timeoutMs
   * @returns {Promise<unknown>} the answer's JSON, checked by each caller */
  async function call(href, init, timeoutMs) {
    let resp;
    try {
      resp = await fetch(href, { ...init, credentials: 'omit', cache: 'no-store', signal: AbortSignal.timeout(timeoutMs) });
    } catch (e) {
      throw new Error(e instanceof Error && e.name === 'TimeoutError' ? 'the server did not answer in time' : 'the server could not be reached');
    }
    if (resp.status === 401 || resp.status === 403) throw new Error('the server refused the token');
    if (!resp.ok) throw new Error(`the server answered HTTP ${resp.status}`);
    return resp.json();
  }

  /** Image bytes -> a result shaped like the JS predictor's, plus the server's model's threshold
   * and unsure band (its answer's `model`), by which settings.js words it exactly as it words a
   * browser result: the server's verdicts are the same six (fake, unsure, real, no-face,
   * too-small, error) and its faces the same {box, score, p_fake, verdict}.
   * @param {Blob} blob
   * @param {Settings} settings
   * @returns {Promise<RemotePrediction>} */
  async function predict(blob, settings) {
    const body = /** @type {PredictAnswer | null} */ (await call(endpoint(settings, 'api/v1/predict'), {
      method: 'POST', body: blob,
      headers: headers(settings, { 'Content-Type': blob.type || 'application/octet-stream' }),
    }, PREDICT_TIMEOUT_MS));
    const r = body && body.results && body.results[0];
    if (!r) throw new Error('the server sent an unexpected answer');
    const model = (body && body.model) || {};
    if (r.error) {
      // The picture is at fault, not the server: no point retrying locally.
      throw Object.assign(new Error(`the server could not read the image: ${r.error}`),
        { imageProblem: true, verdict: r.verdict });
    }
    return {
      faces: r.faces || [],
      p_fake: typeof r.p_fake === 'number' ? r.p_fake : null,
      verdict: r.verdict,
      modelVersion: model.model_version || model.version || '',
      threshold: typeof model.threshold === 'number' ? model.threshold : null,
      // null: the server's model has no band (or the server predates it).
      unsureFrom: typeof model.unsure_from === 'number' ? model.unsure_from : null,
      provenance: FaceCheckProvenance.clean(r.provenance),
    };
  }

  /** For the options page's "Test connection" and for automatic mode: the server answers
   * (/health) and accepts the token (/model needs it when the server has one).
   * @param {Settings} settings
   * @param {number} [timeoutMs]
   * @returns {Promise<Health>} */
  async function health(settings, timeoutMs) {
    const ms = timeoutMs || HEALTH_TIMEOUT_MS;
    try {
      const body = /** @type {HealthAnswer | null} */ (await call(endpoint(settings, 'api/v1/health'), {}, ms));
      if (!body || body.status !== 'ok') return { ok: false, detail: 'the server is not ready' };
      const model = /** @type {ModelAnswer | null} */ (
        await call(endpoint(settings, 'api/v1/model'), { headers: headers(settings) }, ms));
      const version = model && model.contract && model.contract.model_version;
      return { ok: true, detail: version ? `model ${version}` : 'the server answers' };
    } catch (e) {
      return { ok: false, detail: e instanceof Error ? e.message : String(e) };
    }
  }

  return { predict, health };
})();
