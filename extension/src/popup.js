// @ts-check
/* The toolbar popup: scan mode for the current tab, and the results found in it so far.
 * Reads chrome.storage.session (written by the service worker); changes scan mode through it. */
(() => {
  'use strict';

  /** An element of popup.html, which has them all.
   * @param {string} id */
  const $ = (id) => /** @type {HTMLElement} */ (document.getElementById(id));

  /** @returns {Promise<number | null>} */
  async function currentTabId() {
    // ?tab=ID lets the popup be opened as a page (tests, or pinned in a tab); else the active tab.
    const fromQuery = Number(new URLSearchParams(location.search).get('tab'));
    if (fromQuery) return fromQuery;
    const [tab] = await chrome.tabs.query({ active: true, currentWindow: true });
    return tab && tab.id !== undefined ? tab.id : null;
  }

  /** @param {boolean} on */
  function showScan(on) {
    $('scan').setAttribute('aria-pressed', String(on));
    $('scan').textContent = on ? 'Scan mode is on: turn off' : 'Scan this page';
  }

  /** @param {ResultEntry[]} list  newest first */
  function showResults(list) {
    const ul = $('results');
    ul.replaceChildren();
    /** @type {Record<string, number>} */
    const counts = {};
    for (const r of list) {
      counts[r.verdict] = (counts[r.verdict] || 0) + 1;
      const li = document.createElement('li');
      li.dataset.verdict = r.verdict;
      const img = document.createElement('img');
      img.alt = '';
      if (r.thumb) img.src = r.thumb; // a data: URL made in the worker: the popup fetches nothing
      const what = document.createElement('div');
      what.className = 'what';
      const v = document.createElement('span');
      v.className = `verdict ${r.verdict}`;
      v.textContent = r.label;
      const detail = document.createElement('div');
      detail.className = 'muted';
      const faces = r.faces > 1 ? `${r.faces} faces · ` : '';
      // The probability on every judged row, "Unsure" ones included (their label has none).
      const p = typeof r.p_fake === 'number' ? `${FaceCheckSettings.pct(r.p_fake)}% generated · ` : '';
      detail.textContent = `${p}${faces}${r.ranOn === 'server' ? 'server' : 'browser'} · ${r.reason || r.src}`;
      detail.title = r.src;
      what.append(v, detail);
      li.append(img, what);
      ul.append(li);
    }
    const parts = Object.entries(counts).map(([k, n]) => `${n} ${k}`);
    $('summary').textContent = list.length ? `${list.length} checked: ${parts.join(', ')}` : 'Nothing checked in this tab yet.';
  }

  async function main() {
    const tabId = await currentTabId();
    const [cmd] = (await chrome.commands.getAll()).filter((c) => c.name === 'toggle-scan');
    if (cmd && cmd.shortcut) $('hint').textContent += ` Shortcut: ${cmd.shortcut}.`;
    $('options').addEventListener('click', (e) => { e.preventDefault(); chrome.runtime.openOptionsPage(); });
    if (tabId == null) return;
    const keys = [`scan:${tabId}`, `results:${tabId}`];
    const { scanByDefault } = await FaceCheckSettings.load(); // for a tab never toggled
    const render = async () => {
      const got = await chrome.storage.session.get(keys);
      const scan = /** @type {ScanState | undefined} */ (got[keys[0]]);
      showScan(scan ? scan.on : scanByDefault);
      showResults(/** @type {ResultEntry[] | undefined} */ (got[keys[1]]) || []);
    };
    $('scan').addEventListener('click', async () => {
      const on = $('scan').getAttribute('aria-pressed') !== 'true';
      showScan(on);
      /** @type {ScanSetMessage} */
      const message = { type: 'facecheck-scan-set', tabId, on };
      const answer = /** @type {ScanAnswer | undefined} */ (await chrome.runtime.sendMessage(message));
      if (answer && answer.error) $('summary').textContent = answer.error;
    });
    chrome.storage.onChanged.addListener((changes, area) => {
      if (area === 'session' && keys.some((k) => k in changes)) render();
    });
    await render();
  }

  main();
})();
