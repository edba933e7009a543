// @ts-check
/* The toolbar popup: scan mode for the current tab, and the results found in it so far.
 * Reads chrome.storage.session (written by the service worker); changes scan mode through it.
 * A result row shows its image in the page when activated (chrome.scripting, in the frame that
 * shows it). */
(() => {
  'use strict';

  /** An element of popup.html, which has them all.
   * @param {string} id */
  const $ = (id) => /** @type {HTMLElement} */ (document.getElementById(id));
  /** @param {string} id
   * @param {string} text */
  const say = (id, text) => { $(id).textContent = text; };

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

  /** Runs in the page's frame (chrome.scripting): brings the image showing `src` into view and
   * flashes an outline round it. Self-contained: it is serialised into the page.
   * @param {string} src
   * @returns {boolean} whether the frame still shows it */
  function scrollToImage(src) {
    const img = [...document.images].find((i) => i.currentSrc === src || i.src === src);
    if (!img) return false;
    img.scrollIntoView({ block: 'center', inline: 'nearest' });
    img.animate([{ outline: '4px solid #ffbf00', outlineOffset: '2px' }, { outline: '4px solid transparent' }],
      { duration: 1600 });
    return true;
  }

  /** @param {number} tabId
   * @param {ResultEntry} r */
  async function showInPage(tabId, r) {
    say('show-status', '');
    try {
      const [done] = await chrome.scripting.executeScript({ target: { tabId, frameIds: [r.frameId || 0] },
        func: scrollToImage, args: [r.src] });
      if (!done || !done.result) say('show-status', 'That image is no longer on the page.');
    } catch {
      say('show-status', 'That image is no longer on the page.');
    }
  }

  /** A stored row worded under the options in force now (the threshold or band may have changed
   * since it was checked): its verdict, headline and band, from its p_fake and the band of the
   * model that judged it. No model run; a row without a probability stays as it was.
   * @param {ResultEntry} r
   * @param {import('./settings.js').Settings} settings
   * @returns {ResultEntry} */
  function rejudged(r, settings) {
    if (typeof r.p_fake !== 'number' || typeof r.modelThreshold !== 'number') return r;
    const v = FaceCheckSettings.rejudge({ verdict: r.verdict, modelVerdict: r.verdict, p_fake: r.p_fake,
      label: r.label, faces: [], modelThreshold: r.modelThreshold, modelUnsureFrom: r.modelUnsureFrom ?? null },
    settings);
    return { ...r, verdict: v.verdict, label: v.label, threshold: v.threshold ?? r.threshold,
      unsureFrom: v.unsureFrom ?? null, thresholdFromOptions: Boolean(v.thresholdFromOptions),
      bandFromOptions: Boolean(v.bandFromOptions) };
  }

  /** The lines under "Technical details": the figures, the threshold and the unsure band.
   * @param {ResultEntry} r
   * @returns {string[]} */
  function technicalLines(r) {
    const lines = FaceCheckSettings.technicalLines({ ...r, p_fake: undefined,
      unsureFrom: typeof r.threshold === 'number' ? r.unsureFrom ?? null : undefined });
    lines.push(r.ranOn === 'server' ? 'Checked on your FaceCheck server' : 'Checked in this browser');
    if (r.reason) lines.push(`Reason: ${r.reason}`);
    const origin = FaceCheckSettings.provenanceDetail(r.provenance);
    if (origin) lines.push(`Provenance: ${origin}`);
    lines.push(`Image: ${r.src}`);
    return lines;
  }

  /** One result's row: a button (headline, probability, thumbnail) and its technical details.
   * @param {ResultEntry} r
   * @param {number} tabId */
  function resultRow(r, tabId) {
    const li = document.createElement('li');
    li.dataset.verdict = r.verdict;
    const show = li.appendChild(document.createElement('button'));
    show.type = 'button';
    show.className = 'show';
    show.title = 'Show this image in the page';
    show.addEventListener('click', () => showInPage(tabId, r));
    const img = show.appendChild(document.createElement('img'));
    img.alt = '';
    if (r.thumb) img.src = r.thumb; // a data: URL made in the worker: the popup fetches nothing
    const what = show.appendChild(document.createElement('span'));
    what.className = 'what';
    const headline = what.appendChild(document.createElement('span'));
    headline.className = `verdict ${r.verdict}`;
    headline.textContent = r.label;
    const band = typeof r.threshold === 'number' ? { threshold: r.threshold, unsureFrom: r.unsureFrom ?? null } : null;
    const p = FaceCheckSettings.probabilityText(r.p_fake, band);
    if (p) what.appendChild(document.createElement('span')).textContent = p;
    // Where the picture says it came from, beside the verdict (never part of it).
    const origin = FaceCheckSettings.provenanceText(r.provenance);
    if (origin) what.appendChild(document.createElement('span')).textContent = origin;
    const where = what.appendChild(document.createElement('span'));
    where.className = 'where muted';
    const name = r.src.startsWith('data:') ? 'an embedded picture' : r.src.split(/[?#]/)[0].split('/').pop();
    where.textContent = `${r.faces > 1 ? `${r.faces} faces · ` : ''}${name || r.src}`;
    const details = li.appendChild(document.createElement('details'));
    details.appendChild(document.createElement('summary')).textContent = 'Technical details';
    for (const line of technicalLines(r)) details.appendChild(document.createElement('p')).textContent = line;
    return li;
  }

  /** Rows by result (time and image): kept across updates, so a row keeps its keyboard focus and
   * its open details while a scan adds rows above it.
   * @type {Map<string, HTMLLIElement>} */
  const rows = new Map();
  /** Puts `wanted` in `ul` in order, moving only the rows that are out of place.
   * @param {HTMLElement} ul
   * @param {HTMLLIElement[]} wanted */
  function placeRows(ul, wanted) {
    wanted.forEach((li, i) => { if (ul.children[i] !== li) ul.insertBefore(li, ul.children[i] || null); });
    while (ul.children.length > wanted.length) /** @type {Element} */ (ul.lastElementChild).remove();
    const keep = new Set(wanted);
    for (const [key, li] of rows) if (!keep.has(li)) rows.delete(key);
  }

  /** A scan's per-frame counts, added up (0 with scan mode off).
   * @param {ScanState | undefined} scan
   * @param {'skipped' | 'broken'} which */
  const total = (scan, which) => (scan && scan.on ? Object.values(scan[which] || {}).reduce((a, b) => a + b, 0) : 0);

  /** "8 checked, 5 skipped (smaller than 48 px on a side), 2 could not be loaded (broken images)."
   * @param {ResultEntry[]} list
   * @param {ScanState | undefined} scan
   * @param {number} minImageSize  the options' minimum, for a tab not scanned yet */
  function summaryText(list, scan, minImageSize) {
    const skipped = total(scan, 'skipped');
    const broken = total(scan, 'broken');
    if (!list.length && !skipped && !broken) return 'Nothing checked in this tab yet.';
    const minSize = (scan && scan.minSize) || minImageSize;
    return `${list.length} checked${skipped ? `, ${skipped} skipped (smaller than ${minSize} px on a side)` : ''}` +
      `${broken ? `, ${broken} could not be loaded (broken images)` : ''}.`;
  }

  /** "Checking 12 of 27" while a scan's images are being checked; hidden once all are.
   * @param {ScanState | undefined} scan */
  function showProgress(scan) {
    const sent = scan && scan.on ? scan.images : 0;
    const done = Math.min(sent, (scan && scan.done) || 0);
    $('progress').hidden = done >= sent;
    say('progress', done < sent ? `Checking ${done} of ${sent}…` : '');
  }

  /** @param {ResultEntry[]} stored  newest first
   * @param {ScanState | undefined} scan
   * @param {number} tabId
   * @param {import('./settings.js').Settings} settings  the options in force: rows are worded under them */
  function showResults(stored, scan, tabId, settings) {
    const list = stored.map((r) => rejudged(r, settings));
    placeRows($('results'), list.map((r) => {
      // (A row worded again under other options is a new row.)
      const key = `${r.at} ${r.src} ${r.verdict} ${r.threshold} ${r.unsureFrom}`;
      if (!rows.has(key)) rows.set(key, resultRow(r, tabId));
      return /** @type {HTMLLIElement} */ (rows.get(key));
    }));
    /** @type {Map<string, number>} */
    const counts = new Map();
    for (const r of list) {
      const words = FaceCheckSettings.HEADLINES[r.verdict] || FaceCheckSettings.HEADLINES.error;
      counts.set(words, (counts.get(words) || 0) + 1);
    }
    say('summary', summaryText(list, scan, settings.minImageSize));
    showProgress(scan);
    say('counts', [...counts].map(([words, n]) => `${words}: ${n}`).join(' · '));
    $('include-small').hidden = !total(scan, 'skipped') || Boolean(scan && scan.includeSmall);
    $('scope').hidden = !list.length;
  }

  /** @param {number} tabId
   * @param {{type: 'facecheck-scan-set', on: boolean} | {type: 'facecheck-scan-small'}} what */
  async function askWorker(tabId, what) {
    const message = /** @type {ScanSetMessage | ScanSmallMessage} */ ({ ...what, tabId });
    const answer = /** @type {ScanAnswer | undefined} */ (await chrome.runtime.sendMessage(message));
    if (answer && answer.needsAccess) showScan(false);
    if (answer && answer.error) say('show-status', answer.error);
  }

  /** Ask Chrome for access to all sites (call it within the user's click). */
  function askAccess() {
    FaceCheckAccess.request(FaceCheckAccess.ALL_SITES).then((ok) => {
      if (!ok) say('show-status', FaceCheckAccess.DENIED_SCAN);
    });
  }

  async function main() {
    const tabId = await currentTabId();
    let settings = await FaceCheckSettings.load();
    say('hint', `Checks every visible image at least ${settings.minImageSize} px on a side, and images ` +
      'added later, until turned off or the tab leaves this site.');
    const [cmd] = (await chrome.commands.getAll()).filter((c) => c.name === 'toggle-scan');
    if (cmd && cmd.shortcut) $('hint').textContent += ` Shortcut: ${cmd.shortcut}.`;
    say('scope', FaceCheckSettings.SCOPE);
    $('options').addEventListener('click', (e) => { e.preventDefault(); chrome.runtime.openOptionsPage(); });
    if (tabId == null) return;
    const keys = [`scan:${tabId}`, `results:${tabId}`];
    const render = async () => {
      const got = await chrome.storage.session.get(keys);
      const scan = /** @type {ScanState | undefined} */ (got[keys[0]]);
      // (A tab never toggled: the options' default. The worker resets a tab that goes to another
      // site to that default as the new page starts loading: scan mode is set per site.)
      showScan(scan ? scan.on : settings.scanByDefault);
      showResults(/** @type {ResultEntry[] | undefined} */ (got[keys[1]]) || [], scan, tabId, settings);
    };
    $('scan').addEventListener('click', () => {
      const on = $('scan').getAttribute('aria-pressed') !== 'true';
      // Scanning reads images from any site: asked for within this click (src/access.js). Chrome
      // prompts only the first time; the worker starts the scan once the user allows it.
      if (on) askAccess();
      showScan(on);
      askWorker(tabId, { type: 'facecheck-scan-set', on });
    });
    $('include-small').addEventListener('click', () => {
      $('include-small').hidden = true;
      $('scan').focus(); // the button focused a moment ago is gone
      askWorker(tabId, { type: 'facecheck-scan-small' });
    });
    chrome.storage.onChanged.addListener((changes, area) => {
      if (area === 'session' && keys.some((k) => k in changes)) render();
      // The options changed (the threshold, the band): the rows are worded again, no model run.
      if (area === 'local' && 'settings' in changes) {
        FaceCheckSettings.load().then((s) => { settings = s; return render(); });
      }
    });
    await render();
    document.body.dataset.ready = 'true'; // (tests wait for it)
  }

  main();
})();
