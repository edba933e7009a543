/* The user's FaceCheck server (`facecheck serve`), for the service worker: the only place where
 * the extension sends anything off the page it reads, and only when the options say so. */
(function (root) {
  'use strict';

  const PREDICT_TIMEOUT_MS = 20000;
  const HEALTH_TIMEOUT_MS = 2000;

  function endpoint(settings, path) {
    const base = settings.serverUrl.endsWith('/') ? settings.serverUrl : `${settings.serverUrl}/`;
    const u = new URL(path, base);
    if (!/^https?:$/.test(u.protocol)) throw new Error('the server URL must start with http:// or https://');
    return u.href;
  }

  function headers(settings, extra) {
    const h = { ...(extra || {}) };
    if (settings.serverToken) h.Authorization = `Bearer ${settings.serverToken}`;
    return h;
  }

  async function call(href, init, timeoutMs) {
    let resp;
    try {
      resp = await fetch(href, { ...init, credentials: 'omit', cache: 'no-store', signal: AbortSignal.timeout(timeoutMs) });
    } catch (e) {
      throw new Error(e.name === 'TimeoutError' ? 'the server did not answer in time' : 'the server could not be reached');
    }
    if (resp.status === 401 || resp.status === 403) throw new Error('the server refused the token');
    if (!resp.ok) throw new Error(`the server answered HTTP ${resp.status}`);
    return resp.json();
  }

  /* Image bytes -> a result shaped like the JS predictor's ({faces, pFake, verdict, modelVersion}),
   * plus the server's model's threshold and unsure band (its answer's `model`), by which
   * settings.js words it exactly as it words a browser result: the server's verdicts are the same
   * six (fake, unsure, real, no-face, too-small, error). */
  async function predict(blob, settings) {
    const body = await call(endpoint(settings, 'api/v1/predict'), {
      method: 'POST', body: blob,
      headers: headers(settings, { 'Content-Type': blob.type || 'application/octet-stream' }),
    }, PREDICT_TIMEOUT_MS);
    const r = body && body.results && body.results[0];
    if (!r) throw new Error('the server sent an unexpected answer');
    const model = body.model || {};
    if (r.error) {
      const err = new Error(`the server could not read the image: ${r.error}`);
      err.imageProblem = true; // the picture is at fault, not the server: no point retrying locally
      throw err;
    }
    return {
      faces: (r.faces || []).map((f) => ({ box: f.box, score: f.score, pFake: f.p_fake, verdict: f.verdict })),
      pFake: typeof r.p_fake === 'number' ? r.p_fake : null,
      verdict: r.verdict,
      modelVersion: model.model_version || model.version || '',
      threshold: typeof model.threshold === 'number' ? model.threshold : null,
      // null: the server's model has no band (or the server predates it).
      unsureFrom: typeof model.unsure_from === 'number' ? model.unsure_from : null,
    };
  }

  /* {ok, detail} for the options page's "Test connection" and for automatic mode: the server
   * answers (/health) and accepts the token (/model needs it when the server has one). */
  async function health(settings, timeoutMs) {
    const ms = timeoutMs || HEALTH_TIMEOUT_MS;
    try {
      const body = await call(endpoint(settings, 'api/v1/health'), {}, ms);
      if (!body || body.status !== 'ok') return { ok: false, detail: 'the server is not ready' };
      const model = await call(endpoint(settings, 'api/v1/model'), { headers: headers(settings) }, ms);
      const version = model && model.contract && model.contract.model_version;
      return { ok: true, detail: version ? `model ${version}` : 'the server answers' };
    } catch (e) {
      return { ok: false, detail: e.message };
    }
  }

  root.FaceCheckRemote = { predict, health };
})(globalThis);
