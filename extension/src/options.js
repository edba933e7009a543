// @ts-check
/* The options page: read the form into settings (FaceCheckSettings.clean validates) and back, and
 * the "This is wrong" reports: listed, deleted (through the service worker, which keeps them) and
 * exported as CSV.
 *
 * The threshold and the band are shown and typed as percentages, as the badges show them; they
 * are stored as probabilities (0..1), converted here and nowhere else. */

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

  /** A probability -> the figure typed in a percentage field (0.8525 -> "85.25"), to 4 decimals.
   * @param {number | null} p */
  const toPercent = (p) => (p === null ? '' : String(Math.round(p * 1e6) / 1e4));
  /** A percentage field -> a probability (null: empty; text that is no number is left for clean()).
   * @param {string} text
   * @returns {number | string | null} */
  function fromPercent(text) {
    if (text.trim() === '') return null;
    const n = Number(text);
    return Number.isFinite(n) ? Number((n / 100).toPrecision(12)) : text;
  }
  /** For the words beside the fields: to 2 decimals at most ("85.25"), as the badges' details
   * and the CLI say a threshold (FaceCheckSettings.rulePercent, without its "%").
   * @param {number} p */
  const pctText = (p) => FaceCheckSettings.rulePercent(p).slice(0, -1);

  /** @param {import('./settings.js').Settings} s */
  function fill(s) {
    form.threshold.value = toPercent(s.threshold);
    form.unsureBand.value = toPercent(s.unsureBand);
    form.minImageSize.value = String(s.minImageSize);
    form.scanByDefault.checked = s.scanByDefault;
    form.runWhere.value = s.runWhere;
    form.autoServerOver.value = String(s.autoServerOver);
    form.serverUrl.value = s.serverUrl;
    form.serverToken.value = s.serverToken;
    showMinSize();
  }

  /** @returns {import('./settings.js').Settings} */
  function read() {
    return FaceCheckSettings.clean({
      threshold: fromPercent(form.threshold.value),
      unsureBand: fromPercent(form.unsureBand.value),
      minImageSize: form.minImageSize.value,
      scanByDefault: form.scanByDefault.checked,
      runWhere: form.runWhere.value,
      autoServerOver: form.autoServerOver.value,
      serverUrl: form.serverUrl.value,
      serverToken: form.serverToken.value,
    });
  }

  /** What the minimum size does, in the popup's words. */
  function showMinSize() {
    const n = read().minImageSize;
    say('min-size-help', `Images smaller than ${n} px on a side are skipped; the popup says how many, ` +
      'and “Include small images” checks them too for one scan.');
  }

  /** The model's own threshold and band, next to the fields that override them. */
  async function showModelBand() {
    /** @type {import('./predictor.js').Contract | null} */
    const contract = await fetch(chrome.runtime.getURL('model/contract.json')).then((r) => r.json()).catch(() => null);
    if (!contract) return;
    form.threshold.placeholder = pctText(contract.threshold);
    say('model-threshold', `empty: the model's own, ${pctText(contract.threshold)}% (${contract.model_version})`);
    if (typeof contract.unsure_from === 'number') {
      const width = Math.max(0, contract.threshold - contract.unsure_from);
      form.unsureBand.placeholder = pctText(width);
      say('model-band', `empty: the model's own, ${pctText(width)} percentage points wide (“Unsure” from ` +
        `${pctText(contract.unsure_from)}% up to ${pctText(contract.threshold)}%)`);
    } else {
      form.unsureBand.placeholder = '0';
      say('model-band', "empty: the model's own; this model has no band (0)");
    }
  }

  // ---- "This is wrong" reports ---------------------------------------------------------------

  const CSV_HEADER = ['time', 'image_url', 'page_url', 'verdict', 'p_fake', 'model_version', 'face'];
  /** One CSV field, quoted as RFC 4180 says when it holds a comma, a quote or a line break.
   * @param {string} v */
  const csvField = (v) => (/[",\r\n]/.test(v) ? `"${v.replace(/"/g, '""')}"` : v);

  /** Reports -> the CSV text "Export as CSV" downloads (read by `facecheck scan --reports`):
   * the header, then one row per report, CRLF line ends, p_fake to 4 decimals or empty, `face`
   * "2/3" (the second face from the left of three) or empty for a picture of one face.
   * @param {FaceCheckReport[]} reports
   * @returns {string} */
  function reportsCsv(reports) {
    const rows = reports.map((r) => [r.time, r.imageUrl, r.pageUrl, r.verdict,
      typeof r.p_fake === 'number' ? r.p_fake.toFixed(4) : '', r.modelVersion || '',
      r.face && r.face.count > 1 ? `${r.face.index}/${r.face.count}` : '']);
    return [CSV_HEADER, ...rows].map((row) => row.map((v) => csvField(String(v))).join(',')).join('\r\n') + '\r\n';
  }

  /** @param {string[] | 'all'} which */
  async function deleteReports(which) {
    /** @type {ReportDeleteMessage} */
    const message = which === 'all' ? { type: 'facecheck-report-delete', all: true }
      : { type: 'facecheck-report-delete', ids: which };
    const answer = /** @type {{ok?: boolean, left?: number} | undefined} */ (await chrome.runtime.sendMessage(message));
    say('reports-status', answer && answer.ok ? (which === 'all' ? 'All reports deleted.' : 'Report deleted.')
      : 'The reports could not be changed; please try again.');
    if (which !== 'all') $('reports-heading').focus(); // the focused Delete button is gone
  }

  /** One report's table row.
   * @param {FaceCheckReport} r */
  function reportRow(r) {
    const tr = document.createElement('tr');
    tr.dataset.id = r.id;
    const when = new Date(r.time);
    const which = r.face && r.face.count > 1 ? ` (face ${r.face.index} of ${r.face.count})` : '';
    const cells = [when.toLocaleString(), FaceCheckSettings.headline(r.verdict, r.p_fake) + which, r.imageUrl, r.pageUrl];
    cells.forEach((text, i) => {
      const td = tr.appendChild(document.createElement('td'));
      td.textContent = text; // URLs as text, never as links: they are whatever the page had
      if (i >= 2) td.className = 'url';
    });
    const del = tr.appendChild(document.createElement('td')).appendChild(document.createElement('button'));
    del.type = 'button';
    del.textContent = 'Delete';
    del.setAttribute('aria-label', `Delete the report of ${when.toLocaleString()}`);
    del.addEventListener('click', () => deleteReports([r.id]));
    return tr;
  }

  let csvUrl = '';
  /** @param {FaceCheckReport[]} reports */
  function showReports(reports) {
    const table = /** @type {HTMLTableElement} */ ($('reports'));
    table.tBodies[0].replaceChildren(...reports.map(reportRow));
    table.hidden = !reports.length;
    $('reports-empty').hidden = Boolean(reports.length);
    $('delete-all').hidden = !reports.length;
    const link = /** @type {HTMLAnchorElement} */ ($('export'));
    link.hidden = !reports.length;
    if (csvUrl) URL.revokeObjectURL(csvUrl);
    csvUrl = URL.createObjectURL(new Blob([reportsCsv(reports)], { type: 'text/csv;charset=utf-8' }));
    link.href = csvUrl;
  }

  async function loadReports() {
    const got = await chrome.storage.local.get('reports');
    showReports(/** @type {FaceCheckReport[] | undefined} */ (got.reports) || []);
  }

  // ---- the page -------------------------------------------------------------------------------

  function listen() {
    form.addEventListener('input', () => { say('status', 'Not saved yet.'); showMinSize(); });
    form.addEventListener('submit', async (e) => {
      e.preventDefault();
      // Scanning every page reads images from any site: asked for within this click (access.js).
      const access = form.scanByDefault.checked ? FaceCheckAccess.request(FaceCheckAccess.ALL_SITES) : null;
      const saved = await FaceCheckSettings.save(read());
      fill(saved); // show what was kept after validation
      say('status', 'Saved.');
      if (access && !(await access)) say('status', `Saved. ${FaceCheckAccess.WHY_SCAN}`);
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
    $('delete-all').addEventListener('click', () => deleteReports('all'));
    chrome.storage.onChanged.addListener((changes, area) => {
      if (area === 'local' && 'reports' in changes) loadReports();
    });
  }

  async function main() {
    $('reports-heading').tabIndex = -1; // focus lands here when a report's row goes
    await showModelBand();
    fill(await FaceCheckSettings.load());
    await loadReports();
    listen();
    document.body.dataset.ready = 'true'; // the form shows the stored settings (tests wait for it)
  }

  // For tests and for the curious: the CSV that "Export as CSV" downloads.
  Object.assign(globalThis, { FaceCheckOptions: { reportsCsv } });
  main();
})();
