// @ts-check
/* The options page: read the form into settings (FaceCheckSettings.clean validates) and back. */

/**
 * @typedef {HTMLFormElement & {
 *   threshold: HTMLInputElement, unsureBand: HTMLInputElement, minImageSize: HTMLInputElement,
 *   scanByDefault: HTMLInputElement, runWhere: RadioNodeList, autoServerOver: HTMLInputElement,
 *   serverUrl: HTMLInputElement, serverToken: HTMLInputElement}} OptionsForm
 *   options.html's form, by its controls' names
 */

(() => {
  'use strict';

  const form = /** @type {OptionsForm} */ (document.getElementById('form'));
  /** An element of options.html, which has them all.
   * @param {string} id */
  const $ = (id) => /** @type {HTMLElement} */ (document.getElementById(id));
  /** @param {string} id
   * @param {string} text */
  const say = (id, text) => { $(id).textContent = text; };

  /** @param {import('./settings.js').Settings} s */
  function fill(s) {
    form.threshold.value = String(s.threshold ?? '');
    form.unsureBand.value = String(s.unsureBand ?? '');
    form.minImageSize.value = String(s.minImageSize);
    form.scanByDefault.checked = s.scanByDefault;
    form.runWhere.value = s.runWhere;
    form.autoServerOver.value = String(s.autoServerOver);
    form.serverUrl.value = s.serverUrl;
    form.serverToken.value = s.serverToken;
  }

  /** @returns {import('./settings.js').Settings} */
  function read() {
    return FaceCheckSettings.clean({
      threshold: form.threshold.value === '' ? null : form.threshold.value,
      unsureBand: form.unsureBand.value === '' ? null : form.unsureBand.value,
      minImageSize: form.minImageSize.value,
      scanByDefault: form.scanByDefault.checked,
      runWhere: form.runWhere.value,
      autoServerOver: form.autoServerOver.value,
      serverUrl: form.serverUrl.value,
      serverToken: form.serverToken.value,
    });
  }

  /** The model's own threshold and band, next to the fields that override them. */
  async function showModelBand() {
    /** @type {import('./predictor.js').Contract | null} */
    const contract = await fetch(chrome.runtime.getURL('model/contract.json')).then((r) => r.json()).catch(() => null);
    if (!contract) return;
    form.threshold.placeholder = String(contract.threshold);
    say('model-threshold', `empty: the model's own, ${contract.threshold} (${contract.model_version})`);
    if (typeof contract.unsure_from === 'number') {
      const width = Math.max(0, contract.threshold - contract.unsure_from);
      form.unsureBand.placeholder = width.toFixed(3);
      say('model-band', `empty: the model's own, ${width.toFixed(3)} wide (“Unsure” from ` +
        `${contract.unsure_from} up to ${contract.threshold})`);
    } else {
      form.unsureBand.placeholder = '0';
      say('model-band', "empty: the model's own; this model has no band (0)");
    }
  }

  async function main() {
    await showModelBand();
    fill(await FaceCheckSettings.load());
    form.addEventListener('input', () => say('status', 'Not saved yet.'));
    document.body.dataset.ready = 'true'; // the form shows the stored settings (tests wait for it)
    form.addEventListener('submit', async (e) => {
      e.preventDefault();
      const saved = await FaceCheckSettings.save(read());
      fill(saved); // show what was kept after validation
      say('status', 'Saved.');
    });
    $('reset').addEventListener('click', async () => {
      await chrome.storage.local.remove('settings');
      fill(await FaceCheckSettings.load());
      say('status', 'Defaults restored.');
    });
    $('test').addEventListener('click', async () => {
      say('connection', 'Testing…');
      /** @type {TestConnectionMessage} */
      const message = { type: 'facecheck-test-connection', settings: read() };
      const r = /** @type {(Partial<Health> & {error?: string}) | undefined} */ (
        await chrome.runtime.sendMessage(message));
      say('connection', r && r.ok ? `Connected: ${r.detail}.` : `Not connected: ${(r && (r.detail || r.error)) || 'no answer'}.`);
      $('connection').dataset.ok = String(Boolean(r && r.ok));
    });
  }

  main();
})();
