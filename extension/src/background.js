// @ts-check
/* FaceCheck's service worker: routing only.
 *
 *   context menu "Check face" -> checkFace(info, tab) -> one check -> badges in that frame
 *   popup / keyboard shortcut -> scan mode for a tab -> scanner.js reports images -> checks
 *   badge "This is wrong"     -> a report kept in chrome.storage.local, listed by the options page
 *   options page              -> "Test connection", deleting reports
 *
 * Checks run in the browser (inference.js, the JS predictor) or on the user's server (remote.js);
 * content.js draws the badges. Chrome stops this worker whenever it likes: everything that must
 * outlive it (scan mode per tab, results for the popup) is in chrome.storage.session, reports in
 * chrome.storage.local, and all listeners are registered synchronously below so a restarted
 * worker still receives the event that woke it.
 */

/**
 * Messages to content.js and scanner.js in a tab (chrome.tabs.sendMessage):
 * @typedef {{type: 'facecheck-result', src: string, view: View}} ResultMessage  answered with Drawn
 * @typedef {{type: 'facecheck-pending', src: string}} PendingMessage  answered with Drawn
 * @typedef {{type: 'facecheck-scan-off'}} ScanOffMessage
 * @typedef {{type: 'facecheck-rejudge', band: {threshold: number | null, unsureBand: number | null}}}
 *   RejudgeMessage  the options' threshold or band changed: word the badges drawn again from their
 *   stored probabilities (FaceCheckSettings.rejudge), no model run; those two settings only
 * @typedef {ResultMessage | PendingMessage | ScanOffMessage | RejudgeMessage} TabMessage
 * @typedef {{drawn: number, error?: string}} Drawn  how many badges were drawn
 *
 * Messages to this worker (chrome.runtime.sendMessage), and their answers:
 * @typedef {{type: 'facecheck-ping'}} PingMessage  -> {ok: true}
 * @typedef {{type: 'facecheck-scan-config'}} ScanConfigMessage  -> ScanConfig (content scripts)
 * @typedef {{type: 'facecheck-scan-images', srcs: string[], skipped?: number, broken?: number,
 *   minSize?: number}} ScanImagesMessage  -> {queued: number}; `skipped`: how many images the frame
 *   shows smaller than `minSize` on a side, not checked; `broken`: how many failed to load
 * @typedef {{type: 'facecheck-scan-set', tabId: number, on: boolean}} ScanSetMessage  -> ScanAnswer
 * @typedef {{type: 'facecheck-scan-small', tabId: number}} ScanSmallMessage  -> ScanAnswer: this
 *   scan checks the images it skipped as too small too (down to the model's own min_side)
 * @typedef {{type: 'facecheck-test-connection', settings: Record<string, unknown>}} TestConnectionMessage
 *   -> Health (the options page's form, not yet saved)
 * @typedef {{type: 'facecheck-report', report: ReportInput}} ReportMessage
 *   -> {ok: true, id} | {ok: false, error}: a badge's "This is wrong", kept in this browser only
 * @typedef {{type: 'facecheck-report-delete', ids?: string[], all?: boolean}} ReportDeleteMessage
 *   -> {ok: true, left: number} (the options page)
 * @typedef {PingMessage | ScanConfigMessage | ScanImagesMessage | ScanSetMessage | ScanSmallMessage |
 *   TestConnectionMessage | ReportMessage | ReportDeleteMessage} WorkerMessage
 * @typedef {{on: boolean, minSize: number}} ScanConfig  a frame's scanner asks whether to scan
 * @typedef {{on: boolean, error?: string, needsAccess?: boolean}} ScanAnswer  needsAccess: scan mode
 *   waits for the user to allow access to all sites (Chrome's prompt)
 *
 * @typedef {import('./settings.js').View} View
 * @typedef {object} ScanState  a tab's scan mode (chrome.storage.session `scan:TAB`)
 * @property {boolean} on
 * @property {string} site  the site (origin) the tab showed when it was set: it holds there only,
 *   and a tab that goes to another site starts again as a new tab would (siteOf())
 * @property {number} images  images sent for checking so far (this page)
 * @property {number} [done]  of those, how many are checked (the popup's "Checking 12 of 27")
 * @property {Record<string, number>} [skipped]  frameId -> images skipped as smaller than minSize
 * @property {Record<string, number>} [broken]  frameId -> images that could not be loaded
 * @property {number} [minSize]  the minimum the scanners use (px, either side)
 * @property {boolean} [includeSmall]  "Include small images" was chosen for this scan
 * @typedef {object} ResultEntry  one row of the popup's list (chrome.storage.session `results:TAB`)
 * @property {string} src
 * @property {number} frameId  the frame that shows it
 * @property {string} thumb  a data: URL
 * @property {import('./settings.js').Verdict} verdict
 * @property {string} label  the headline
 * @property {number | null} p_fake
 * @property {number | null} score  the face detector's confidence for the face judged
 * @property {number | null} threshold  the threshold in force when checked, and whose it was
 * @property {boolean} thresholdFromOptions
 * @property {number | null} [unsureFrom]  the band in force when checked (null: none)
 * @property {boolean} [bandFromOptions]
 * @property {number} [modelThreshold]  the band of the model that judged it: the popup words the
 *   row again from p_fake under the options in force when shown (FaceCheckSettings.rejudge)
 * @property {number | null} [modelUnsureFrom]
 * @property {string} modelVersion
 * @property {number} faces  how many
 * @property {'browser' | 'server' | undefined} ranOn
 * @property {string} reason
 * @property {import('./provenance.js').Provenance} [provenance]  where the picture says it came from
 * @property {number} at  Date.now() when it was checked
 *
 * @typedef {object} ReportInput  what a badge sends (fields as in docs/extension.md)
 * @property {unknown} imageUrl
 * @property {unknown} pageUrl
 * @property {unknown} verdict
 * @property {unknown} p_fake
 * @property {unknown} modelVersion
 * @property {unknown} [face]  {index, count}: which face of a picture of several (1-based, left
 *   to right)
 * @typedef {object} FaceCheckReport  one "This is wrong" report (chrome.storage.local `reports`, newest last)
 * @property {string} id
 * @property {string} time  ISO 8601
 * @property {string} imageUrl
 * @property {string} pageUrl
 * @property {import('./settings.js').Verdict} verdict  what the badge said
 * @property {number | null} p_fake
 * @property {string} modelVersion
 * @property {{index: number, count: number}} [face]  which face of several the report is about
 */

importScripts('settings.js', 'access.js', 'fetchpolicy.js', 'inference.js', 'provenance.js', 'remote.js',
  'checks.js', 'explain.js');

const MENU_ID = 'check-face';
const COMMAND_SCAN = 'toggle-scan';
const MAX_RESULTS = 200; // per tab, for the popup
// What draws badges in a page, in injection order (content.js words them with settings.js and
// places them with geometry.js).
const BADGE_SCRIPTS = ['src/settings.js', 'src/geometry.js', 'src/content.js'];

// See FaceCheckInference.importCode: lets later worker starts import TF.js lazily. A failure
// here must not stop the worker installing; the first check reports it instead.
self.addEventListener('install', () => {
  try { FaceCheckInference.importCode(); } catch (e) { console.error('FaceCheck: TF.js did not load:', e); }
  // (The same for the C2PA reader's glue; its wasm still loads only for a picture with credentials.)
  try { FaceCheckProvenance.importCode(); } catch (e) { console.error('FaceCheck: the C2PA reader did not load:', e); }
});

chrome.runtime.onInstalled.addListener(() => {
  chrome.contextMenus.removeAll(() => {
    chrome.contextMenus.create({ id: MENU_ID, title: 'Check face', contexts: ['image'] });
  });
});

/** @type {Promise<unknown>} */
let writes = Promise.resolve();
/** Read-modify-write of one storage value, one at a time: messages from several frames (or
 * pages) arrive together, and two interleaved updates would lose one. `change` returns the new
 * value, or null to leave it as it is.
 * @template T
 * @param {() => Promise<T>} read
 * @param {(value: T) => Promise<void>} write
 * @param {(value: T) => T | null} change
 * @returns {Promise<T>} the value after the change */
function serialised(read, write, change) {
  const next = writes.then(async () => {
    const value = await read();
    const changed = change(value);
    if (changed === null) return value;
    await write(changed);
    return changed;
  });
  writes = next.catch(() => {});
  return next;
}

// ---- results -------------------------------------------------------------------------------

/* The popup's list for a tab, in chrome.storage.session. Results arriving close together (a page
 * scan) are merged into one write every FLUSH_MS: rewriting the list, thumbnails and all, after
 * every image would cost a page scan more than the checks themselves. Writes are chained so
 * they never overwrite each other. */
const FLUSH_MS = 250;
/** @type {Map<number, ResultEntry[]>} tabId -> entries, newest last */
const unsaved = new Map();
let saving = Promise.resolve();
let flushTimer = 0;

/** A check's view -> the popup's row.
 * @param {number} frameId
 * @param {string} src
 * @param {View} view
 * @returns {ResultEntry} */
function resultEntry(frameId, src, view) {
  // The face the verdict is about: the most suspicious one (the image's p_fake is its).
  const judged = view.faces.find((f) => f.p_fake === view.p_fake && f.p_fake !== null);
  return { src, frameId, thumb: view.thumb || '', verdict: view.verdict, label: view.label, p_fake: view.p_fake,
    score: judged ? judged.score : null, threshold: view.threshold ?? null,
    thresholdFromOptions: Boolean(view.thresholdFromOptions), unsureFrom: view.unsureFrom ?? null,
    bandFromOptions: Boolean(view.bandFromOptions), modelThreshold: view.modelThreshold,
    modelUnsureFrom: view.modelUnsureFrom ?? null, modelVersion: view.modelVersion || '',
    faces: view.faces.length, ranOn: view.ranOn, reason: view.reason || '', provenance: view.provenance,
    at: Date.now() };
}

/** tabId -> how many of its page scan's images were checked since the last flush (ScanState.done). */
const finished = new Map();

/** @param {number} tabId
 * @param {number} frameId
 * @param {string} src
 * @param {View} view */
function remember(tabId, frameId, src, view) {
  const entries = unsaved.get(tabId) || [];
  unsaved.set(tabId, entries);
  entries.push(resultEntry(frameId, src, view));
  scheduleFlush();
}
/** One more of a page scan's images checked (remembered too: saved with the same flush).
 * @param {number} tabId */
function countDone(tabId) {
  finished.set(tabId, (finished.get(tabId) || 0) + 1);
  scheduleFlush();
}
function scheduleFlush() {
  if (flushTimer) return;
  flushTimer = setTimeout(() => {
    flushTimer = 0;
    saving = saving.then(flush).catch((e) => console.error('FaceCheck: results not saved:', e));
  }, FLUSH_MS);
}
async function flush() {
  for (const [tabId, n] of [...finished]) {
    finished.delete(tabId);
    // (Never past `images`: a count of a scan turned off and on meanwhile.)
    updateScan(tabId, (s) => (s.on ? { ...s, done: Math.min(s.images, (s.done || 0) + n) } : null))
      .catch(() => {});
  }
  for (const [tabId, entries] of [...unsaved]) {
    unsaved.delete(tabId);
    const key = `results:${tabId}`;
    const fresh = new Set(entries.map((e) => e.src));
    const stored = /** @type {ResultEntry[] | undefined} */ ((await chrome.storage.session.get(key))[key]) || [];
    const list = stored.filter((r) => !fresh.has(r.src));
    await chrome.storage.session.set({ [key]: [...entries.reverse(), ...list].slice(0, MAX_RESULTS) });
  }
}

/* A tab's page number: it goes up when the tab starts loading another document, or scan mode is
 * turned off in it. A check that ends under another number than it started with belongs to a page
 * (or a scan) that is gone: it is neither shown, nor remembered for the popup, nor counted. Kept
 * in memory only: the checks it guards are queued in memory too, and die with the worker. */
/** @type {Map<number, number>} */
const generations = new Map();
/** @param {number} tabId */
const generation = (tabId) => generations.get(tabId) || 0;

/** The tab's page scan stops: its queued images are dropped, those being checked are ignored.
 * @param {number} tabId */
function stopScanChecks(tabId) {
  generations.set(tabId, generation(tabId) + 1);
  FaceCheckChecks.cancel(tabId);
  finished.delete(tabId);
}

/** The tab starts loading another document: nothing of the old one reaches the popup. The list
 * is removed after any write already under way (which would otherwise put it back).
 * @param {number} tabId */
function pageGone(tabId) {
  stopScanChecks(tabId);
  unsaved.delete(tabId);
  saving = saving.then(() => chrome.storage.session.remove(`results:${tabId}`)).catch(() => {});
}

const SERVER_NOT_USED = 'Your FaceCheck server was not used; checked in the browser instead.';

const PAGE_GONE = 'the page went away before the badges could be drawn';

/** Results go to the frame that shows the image; content.js answers once the badges are drawn.
 * With `documentId` (the document the check was asked from) a result that arrives after the
 * frame has moved to another page goes nowhere: never into another site's process.
 * @param {number} tabId
 * @param {number} frameId
 * @param {string} src
 * @param {View} view
 * @param {string} [documentId]
 * @returns {Promise<Drawn>} */
async function deliver(tabId, frameId, src, view, documentId) {
  // What goes into the page's process is what the badge shows, no more: not the thumbnail, and
  // no failure reason ("HTTP 401", "network error", an image's size), which would make the
  // extension a login probe and port scanner for the page. The popup's row keeps the reason
  // (remember()); a server note is said in general words.
  const { thumb, reason, note, ...shown } = view;
  /** @type {View} */
  const page = note ? { ...shown, note: SERVER_NOT_USED } : shown;
  /** @type {ResultMessage} */
  const message = { type: 'facecheck-result', src, view: page };
  try {
    return await chrome.tabs.sendMessage(tabId, message, documentId ? { documentId } : { frameId });
  } catch {
    return { drawn: 0, error: PAGE_GONE };
  }
}

/** @param {chrome.scripting.InjectionTarget} target
 * @param {string[]} files
 * @returns {Promise<string | undefined>} the document injected into (the first, for several) */
async function inject(target, files) {
  const [first] = await chrome.scripting.executeScript({ target, files });
  return first && first.documentId;
}

// ---- the context menu ------------------------------------------------------------------------

/** "Check face" on an image. Resolves when the badges are drawn.
 * @param {chrome.contextMenus.OnClickData} info
 * @param {chrome.tabs.Tab} tab
 * @returns {Promise<{src: string, view: View, drawn: number}>} */
async function checkFace(info, tab) {
  // Asked before the first await, while Chrome still counts the click as the user's: access to
  // the image's site and the frame's (Chrome prompts only the first time; src/access.js).
  const access = FaceCheckAccess.request(FaceCheckAccess.patternsFor([info.srcUrl, info.frameUrl || info.pageUrl]));
  const tabId = tab.id;
  const frameId = info.frameId || 0;
  const src = info.srcUrl;
  if (tabId === undefined || !src) throw new Error('"Check face" needs an image in a tab');
  if (!(await access)) return refuseCheck(tabId, frameId, src);
  const documentId = await inject({ tabId, frameIds: [frameId] }, BADGE_SCRIPTS);
  const to = documentId ? { documentId } : { frameId };
  // A "Checking..." badge right away: the first check after a worker start loads the model.
  /** @type {PendingMessage} */
  const pendingMessage = { type: 'facecheck-pending', src };
  chrome.tabs.sendMessage(tabId, pendingMessage, to).catch(() => {});
  const settings = await FaceCheckSettings.load();
  const useServer = settings.runWhere === 'server'; // 'auto' keeps single checks in the browser
  // Where the image is shown decides how it may be fetched (fetchpolicy.js). Chrome gives the
  // frame's URL with a click in a frame (none: an opaque origin, a public page's rules); in the
  // top-level page it is the tab's.
  const top = tab.url || info.pageUrl || '';
  const from = { tabId, frameId, top, frame: info.frameUrl || (frameId ? 'null' : top) };
  const page = generation(tabId);
  const view = await FaceCheckChecks.check(src, settings, { lane: 'now', useServer, from });
  // (A tab that went to another page meanwhile: not a row of the new page's list.)
  if (page === generation(tabId)) remember(tabId, frameId, src, view);
  const ack = await deliver(tabId, frameId, src, view, documentId);
  return { src, view, drawn: ack ? ack.drawn : 0 };
}
self.checkFace = checkFace;

/** "Check face" without access to the image's site: nothing is fetched; the popup's row says
 * why, and the badge (where activeTab lets it be drawn) says "Could not check".
 * @param {number} tabId
 * @param {number} frameId
 * @param {string} src */
async function refuseCheck(tabId, frameId, src) {
  const view = FaceCheckSettings.describeError(new Error(FaceCheckAccess.DENIED_CHECK), 'browser');
  remember(tabId, frameId, src, view);
  const drawn = await inject({ tabId, frameIds: [frameId] }, BADGE_SCRIPTS)
    .then((documentId) => deliver(tabId, frameId, src, view, documentId), () => ({ drawn: 0 }));
  return { src, view, drawn: drawn ? drawn.drawn : 0 };
}

chrome.contextMenus.onClicked.addListener((info, tab) => {
  if (info.menuItemId === MENU_ID && tab) checkFace(info, tab).catch((e) => console.error('FaceCheck:', e));
});

// ---- scan mode ---------------------------------------------------------------------------------

/** A tab's scan state as stored; undefined for a tab never scanned.
 * @param {number} tabId
 * @returns {Promise<ScanState | undefined>} */
async function storedScan(tabId) {
  const key = `scan:${tabId}`;
  return /** @type {ScanState | undefined} */ ((await chrome.storage.session.get(key))[key]);
}

/** Scan mode's "site": a page's origin (scheme, host, port); a page without one (file:, data:)
 * is a site of its own; '' when the tab's address is not ours to know (chrome:// pages).
 * @param {string | undefined} url */
function siteOf(url) {
  try {
    const { origin } = new URL(url || '');
    return origin === 'null' ? String(url).split('#')[0] : origin;
  } catch {
    return '';
  }
}

/** The site the tab shows now.
 * @param {number} tabId */
async function tabSite(tabId) {
  try {
    return siteOf((await chrome.tabs.get(tabId)).url);
  } catch {
    return '';
  }
}

/** A tab never scanned on this site: scan mode as the options say, nothing sent.
 * @param {string} site
 * @returns {Promise<ScanState>} */
const newScan = async (site) => ({ on: (await FaceCheckSettings.load()).scanByDefault, images: 0, site });

/** A tab's scan state on the site it shows (a state set on another site does not count).
 * @param {number} tabId
 * @returns {Promise<ScanState>} */
async function scanState(tabId) {
  const [stored, site] = await Promise.all([storedScan(tabId), tabSite(tabId)]);
  return stored && stored.site === site ? stored : newScan(site);
}

/** Change a tab's scan state (see serialised()). `stored`: it was set on this site; a state of
 * another site is replaced by a new tab's, changed or not.
 * @param {number} tabId
 * @param {(state: ScanState, stored: boolean) => ScanState | null} change
 * @param {string} [site]  the site the tab shows (default: asked of chrome.tabs)
 * @returns {Promise<ScanState>} */
async function updateScan(tabId, change, site) {
  /** @type {{state: ScanState, stored: boolean, stale: boolean}} */
  const box = await serialised(async () => {
    const [raw, here] = await Promise.all([storedScan(tabId), site ?? tabSite(tabId)]);
    const own = raw && raw.site === here ? raw : undefined;
    return { state: own || (await newScan(here)), stored: Boolean(own), stale: Boolean(raw && !own) };
  }, async ({ state }) => chrome.storage.session.set({ [`scan:${tabId}`]: state }), ({ state, stored, stale }) => {
    const next = change(state, stored);
    if (next) return { state: next, stored: true, stale: false };
    return stale ? { state, stored: true, stale: false } : null;
  });
  return box.state;
}

/** The scripts that find images, in every frame we may access; frames we may not (other
 * extensions' pages) are skipped. Injected again, scanner.js asks for its settings again.
 * @param {number} tabId
 * @returns {Promise<ScanAnswer>} */
async function injectScanner(tabId) {
  // When the page itself is off limits (the Web Store), the popup says why nothing happens here;
  // scan mode stays on for this site only.
  try {
    await inject({ tabId, allFrames: true }, [...BADGE_SCRIPTS, 'src/scanner.js']);
    return { on: true };
  } catch {
    return { on: true, error: 'Chrome does not let extensions read this page.' };
  }
}

/** @param {number} tabId
 * @param {boolean} on
 * @returns {Promise<ScanAnswer>} */
async function setScan(tabId, on) {
  if (!on) await chrome.storage.session.remove(ACCESS_WAIT);
  else if (!(await FaceCheckAccess.has(FaceCheckAccess.ALL_SITES))) return awaitAccess(tabId);
  // On for the site shown now; never for a page whose address is not ours to know (no access to
  // the site, chrome:// pages): such a state could not tell one site from another.
  // Turned on again while on (a page of the same site loaded): the counts go on.
  const state = await updateScan(tabId, (s) => (on && s.on ? s
    : { on: on && s.site !== '', images: 0, done: 0, site: s.site }));
  if (!state.on) {
    stopScanChecks(tabId);
    /** @type {ScanOffMessage} */
    const off = { type: 'facecheck-scan-off' };
    chrome.tabs.sendMessage(tabId, off).catch(() => {});
    return on ? { on: false, error: 'FaceCheck cannot read this page, so scan mode stays off here.' } : { on };
  }
  return injectScanner(tabId);
}
/* Scan mode waits for access to all sites: the popup (or the shortcut) asked Chrome for it, and
 * Chrome's prompt may outlive the popup. When the user allows it, the scan starts in the tab that
 * asked; if they refuse, scan mode stays off. */
const ACCESS_WAIT = 'access-wait';

/** @param {number} tabId
 * @returns {Promise<ScanAnswer>} */
async function awaitAccess(tabId) {
  await chrome.storage.session.set({ [ACCESS_WAIT]: tabId });
  return { on: false, needsAccess: true, error: FaceCheckAccess.WHY_SCAN };
}

chrome.permissions.onAdded.addListener(async () => {
  const tabId = (await chrome.storage.session.get(ACCESS_WAIT))[ACCESS_WAIT];
  if (typeof tabId !== 'number' || !(await FaceCheckAccess.has(FaceCheckAccess.ALL_SITES))) return;
  await chrome.storage.session.remove(ACCESS_WAIT);
  setScan(tabId, true).catch((e) => console.error('FaceCheck:', e));
});

/** @param {number} tabId */
async function toggleScan(tabId) {
  return setScan(tabId, !(await scanState(tabId)).on);
}
self.toggleScan = toggleScan;

/** The popup's "Include small images": this scan (until the tab navigates or scan mode is turned
 * off) also checks the images it skipped, down to the smallest picture the model judges.
 * @param {number} tabId
 * @returns {Promise<ScanAnswer>} */
async function includeSmall(tabId) {
  const state = await updateScan(tabId, (s) => (s.on ? { ...s, includeSmall: true } : null));
  if (!state.on) return { on: false, error: 'Scan mode is off in this tab.' };
  return injectScanner(tabId);
}

/** The minimum size a tab's scanners use: the options', or with "Include small images" the
 * smallest picture the model judges at all (contract.json's min_side; smaller ones would only
 * read "Too small to judge").
 * @param {ScanState} state
 * @param {import('./settings.js').Settings} settings */
async function scanMinSize(state, settings) {
  if (!state.includeSmall) return settings.minImageSize;
  const { min_side: minSide } = await FaceCheckInference.contract();
  return typeof minSide === 'number' ? Math.min(minSide, settings.minImageSize) : settings.minImageSize;
}

/** A count a frame reports, or null: a whole number, at most a (generous) page's worth.
 * @param {unknown} n */
const frameCount = (n) => (Number.isInteger(n) && Number(n) >= 0 && Number(n) <= 100000 ? Number(n) : null);

/** A frame's count of images it skipped as too small, and of those that could not be loaded
 * (broken), for the popup.
 * @param {number} tabId
 * @param {number} frameId
 * @param {ScanImagesMessage} msg */
async function noteSkipped(tabId, frameId, msg) {
  const skipped = frameCount(msg.skipped);
  const broken = frameCount(msg.broken);
  const minSize = typeof msg.minSize === 'number' ? msg.minSize : undefined;
  if ((skipped === null || minSize === undefined) && broken === null) return;
  await updateScan(tabId, (s) => {
    if (!s.on) return null;
    const next = { ...s };
    if (skipped !== null && minSize !== undefined) Object.assign(next, { minSize, skipped: { ...s.skipped, [frameId]: skipped } });
    if (broken !== null) next.broken = { ...s.broken, [frameId]: broken };
    return next;
  });
}

/** A frame's scanner found new images: check them in order, badge each as it is done.
 * @param {number} tabId
 * @param {number} frameId
 * @param {string[]} srcs
 * @param {import('./fetchpolicy.js').Origin & {documentId?: string}} page  the tab's page and the frame's
 *   origin, and the document that asked */
async function scanImages(tabId, frameId, srcs, page) {
  const asked = generation(tabId);
  const current = () => asked === generation(tabId);
  const state = await updateScan(tabId, (s) => (s.on && current() ? { ...s, images: s.images + srcs.length } : null));
  if (!state.on || !current()) return;
  const settings = await FaceCheckSettings.load();
  const useServer = settings.runWhere === 'server' || (settings.runWhere === 'auto' &&
    state.images > settings.autoServerOver && (await FaceCheckChecks.serverAnswers(settings)));
  // Queued in page order; each badge is drawn as soon as its image is done.
  await Promise.all(srcs.map(async (src) => {
    const view = await FaceCheckChecks.check(src, settings, { useServer, from: { ...page, tabId, frameId } });
    if (!current()) return; // another page, or scan mode turned off, meanwhile
    countDone(tabId);
    const drawn = await deliver(tabId, frameId, src, view, page.documentId);
    // The document that asked is gone (the tab or frame went to another page): no row for it.
    if (current() && (!drawn || drawn.error !== PAGE_GONE)) remember(tabId, frameId, src, view);
  }));
}

/** The keyboard shortcut (Alt+Shift+F by default): scan mode on or off for the tab. Named and on
 * the global scope, like checkFace, so tests call it as Chrome does.
 * @param {string} command
 * @param {chrome.tabs.Tab} [tab]
 * @returns {Promise<ScanAnswer | null>} */
async function onCommand(command, tab) {
  if (command !== COMMAND_SCAN || !tab || tab.id === undefined) return null;
  return toggleScan(tab.id);
}
self.onCommand = onCommand;

chrome.commands.onCommand.addListener((command, tab) => {
  // The shortcut is the user's gesture: ask for access now (no prompt once it is granted).
  if (command === COMMAND_SCAN) FaceCheckAccess.request(FaceCheckAccess.ALL_SITES);
  onCommand(command, tab).catch((e) => console.error('FaceCheck:', e));
});

/** tabId -> the address it showed last (in memory: a restarted worker takes the next load as a
 * new page, as it would be most of the time). */
/** @type {Map<number, string>} */
const shown = new Map();
/** @param {string} url */
const withoutFragment = (url) => url.split('#')[0];

/** A 'loading' that only moves to another #fragment of the page shown: the same document (its
 * scan goes on). Chrome reports those as loading too, as it does history.pushState(), which is
 * taken as a new page (the page's own script says it shows another).
 * @param {string | undefined} before
 * @param {string | undefined} after */
const sameDocument = (before, after) => Boolean(before && after && before !== after &&
  withoutFragment(before) === withoutFragment(after));

chrome.tabs.onUpdated.addListener((tabId, change, tab) => {
  const before = shown.get(tabId);
  if (change.url || tab.url) shown.set(tabId, change.url || tab.url || '');
  if (change.status === 'loading' && !sameDocument(before, change.url)) {
    pageGone(tabId);
    // A new page: nothing on it is sent, checked or skipped yet, and "Include small images" was
    // for the page before. On another site, scan mode is as in a new tab (off, unless the options
    // turn it on everywhere): it never follows the tab to another site.
    const site = siteOf(change.url || tab.pendingUrl || tab.url);
    updateScan(tabId, (s, stored) => (stored ? { on: s.on, site: s.site, images: 0, done: 0 } : null), site)
      .catch(() => {});
  } else if (change.status === 'complete') {
    // Scan mode stays on across navigations within its site (or starts there if on by default).
    scanState(tabId).then((s) => (s.on ? setScan(tabId, true) : null)).catch(() => {});
  }
});
chrome.tabs.onRemoved.addListener((tabId) => {
  shown.delete(tabId);
  unsaved.delete(tabId);
  stopScanChecks(tabId);
  chrome.storage.session.remove([`results:${tabId}`, `scan:${tabId}`]);
});

// The options' threshold or band changed: every tab words its badges again from the stored
// probabilities (no model run). Only those two settings go into pages, never the server's token.
chrome.storage.onChanged.addListener((changes, area) => {
  if (area !== 'local' || !changes.settings) return;
  /** @param {unknown} v */
  const settingsOf = (v) => FaceCheckSettings.clean(/** @type {Record<string, unknown> | undefined} */ (v));
  const before = settingsOf(changes.settings.oldValue);
  const after = settingsOf(changes.settings.newValue);
  if (before.threshold === after.threshold && before.unsureBand === after.unsureBand) return;
  /** @type {RejudgeMessage} */
  const message = { type: 'facecheck-rejudge', band: { threshold: after.threshold, unsureBand: after.unsureBand } };
  chrome.tabs.query({}).then((tabs) => {
    for (const t of tabs) if (t.id !== undefined) chrome.tabs.sendMessage(t.id, message).catch(() => {});
  }, () => {});
});

// Content scripts hold a port while they wait for results, only to learn if this worker stops.
chrome.runtime.onConnect.addListener(() => {});

// ---- "This is wrong" reports -----------------------------------------------------------------

/* Kept in chrome.storage.local under REPORTS_KEY, newest last, for the options page to list,
 * delete and export as CSV. Never sent anywhere. */
const REPORTS_KEY = 'reports';
const MAX_REPORTS = 500;
const MAX_URL = 2048; // longer URLs (data: URLs, mostly) are cut here
const MAX_MODEL_VERSION = 100;
const MAX_FACES = 100;

/** A URL as a report keeps it: trimmed, cut to MAX_URL, and an absolute URL ('' for none).
 * @param {unknown} v
 * @param {string} what */
function reportUrl(v, what) {
  const text = typeof v === 'string' ? v.trim().slice(0, MAX_URL) : '';
  if (!text) return '';
  try {
    new URL(text);
  } catch {
    throw new Error(`the ${what} is not a URL`);
  }
  return text;
}

/** A badge's report -> a stored report, or an Error saying what is wrong with it.
 * @param {ReportInput | undefined} raw
 * @param {string} fallbackPage  the sending frame's URL, when the report names no page
 * @returns {FaceCheckReport} */
function cleanReport(raw, fallbackPage) {
  if (!raw || typeof raw !== 'object') throw new Error('no report');
  const imageUrl = reportUrl(raw.imageUrl, 'image URL');
  if (!imageUrl) throw new Error('the report names no image');
  const verdict = Object.keys(FaceCheckSettings.HEADLINES).find((v) => v === raw.verdict);
  if (!verdict) throw new Error('the report has no valid verdict');
  const p = raw.p_fake;
  if (!(p === null || p === undefined || (typeof p === 'number' && p >= 0 && p <= 1))) {
    throw new Error('p_fake must be a number from 0 to 1, or null');
  }
  const modelVersion = typeof raw.modelVersion === 'string' ? raw.modelVersion.trim().slice(0, MAX_MODEL_VERSION) : '';
  /** @type {FaceCheckReport} */
  const report = { id: crypto.randomUUID(), time: new Date().toISOString(), imageUrl,
    pageUrl: reportUrl(raw.pageUrl, 'page URL') || reportUrl(fallbackPage, 'page URL'),
    verdict: /** @type {import('./settings.js').Verdict} */ (verdict), p_fake: p ?? null, modelVersion };
  const face = reportFace(raw.face);
  if (face) report.face = face;
  return report;
}

/** A report's `face` (which face of a picture of several): absent, or whole numbers with
 * 1 <= index <= count <= MAX_FACES.
 * @param {unknown} raw
 * @returns {{index: number, count: number} | undefined} */
function reportFace(raw) {
  if (raw === undefined || raw === null) return undefined;
  const { index, count } = /** @type {{index?: unknown, count?: unknown}} */ (typeof raw === 'object' ? raw : {});
  if (!Number.isInteger(index) || !Number.isInteger(count) || Number(index) < 1 || Number(index) > Number(count) ||
      Number(count) > MAX_FACES) {
    throw new Error(`face must be {index, count}: whole numbers, 1 <= index <= count <= ${MAX_FACES}`);
  }
  return { index: Number(index), count: Number(count) };
}

/** @param {(reports: FaceCheckReport[]) => FaceCheckReport[] | null} change
 * @returns {Promise<FaceCheckReport[]>} */
function updateReports(change) {
  const read = async () => /** @type {FaceCheckReport[] | undefined} */ (
    (await chrome.storage.local.get(REPORTS_KEY))[REPORTS_KEY]) || [];
  return serialised(read, async (list) => chrome.storage.local.set({ [REPORTS_KEY]: list }), change);
}

/** @param {ReportMessage} msg
 * @param {chrome.runtime.MessageSender} sender */
async function addReport(msg, sender) {
  try {
    // A content script's report without a page: the page of the frame that sent it.
    const fromContentScript = Boolean(sender.tab) && !fromExtensionPage(sender);
    const report = cleanReport(msg.report, fromContentScript ? sender.url || '' : '');
    await updateReports((list) => [...list, report].slice(-MAX_REPORTS));
    return { ok: true, id: report.id };
  } catch (e) {
    return { ok: false, error: e instanceof Error ? e.message : String(e) };
  }
}

/** @param {ReportDeleteMessage} msg */
async function deleteReports(msg) {
  const ids = new Set(Array.isArray(msg.ids) ? msg.ids : []);
  const left = await updateReports((list) => (msg.all ? [] : list.filter((r) => !ids.has(r.id))));
  return { ok: true, left: left.length };
}

// ---- messages from the popup, the options page and content scripts ----------------------------

/** From the popup or the options page (which has a tab too when opened in one)?
 * @param {chrome.runtime.MessageSender} sender */
const fromExtensionPage = (sender) => String(sender.url || '').startsWith(chrome.runtime.getURL(''));

/** The tab a content script's message came from.
 * @param {chrome.runtime.MessageSender} sender */
function senderTab(sender) {
  const tabId = sender.tab && sender.tab.id;
  if (tabId === undefined) throw new Error('this message must come from a page');
  return { tabId, frameId: sender.frameId || 0 };
}

/**
 * @typedef {(msg: WorkerMessage, sender: chrome.runtime.MessageSender) => Promise<unknown>} Handler
 * @type {{[T in WorkerMessage['type']]: (msg: Extract<WorkerMessage, {type: T}>,
 *   sender: chrome.runtime.MessageSender) => Promise<unknown>}}
 */
const handlers = {
  'facecheck-ping': async () => ({ ok: true }),
  'facecheck-scan-config': async (msg, sender) => {
    const [state, settings] = await Promise.all([scanState(senderTab(sender).tabId), FaceCheckSettings.load()]);
    /** @type {ScanConfig} */
    const config = { on: state.on, minSize: await scanMinSize(state, settings) };
    return config;
  },
  'facecheck-scan-images': async (msg, sender) => {
    const { tabId, frameId } = senderTab(sender);
    const srcs = Array.isArray(msg.srcs) ? msg.srcs.filter((s) => typeof s === 'string') : [];
    await noteSkipped(tabId, frameId, msg);
    // The tab's page and the frame's origin (fetchpolicy.js), as Chrome reports them.
    // The document that asked: its results go to it alone, not to a page the frame shows later.
    const page = { top: (sender.tab && sender.tab.url) || '', frame: sender.origin || sender.url || '',
      documentId: sender.documentId };
    if (srcs.length) scanImages(tabId, frameId, srcs, page).catch((e) => console.error('FaceCheck:', e));
    return { queued: srcs.length };
  },
  // From content scripts (a badge's "This is wrong") and from the extension's own pages.
  'facecheck-report': addReport,
  // From the extension's own pages only (the popup, the options page), not from content scripts.
  'facecheck-scan-set': async (msg) => setScan(msg.tabId, Boolean(msg.on)),
  'facecheck-scan-small': async (msg) => includeSmall(msg.tabId),
  'facecheck-test-connection': async (msg) => FaceCheckRemote.health(FaceCheckSettings.clean(msg.settings), 5000),
  'facecheck-report-delete': deleteReports,
};
const PAGES_ONLY = new Set(['facecheck-scan-set', 'facecheck-scan-small', 'facecheck-test-connection',
  'facecheck-report-delete']);

chrome.runtime.onMessage.addListener((/** @type {WorkerMessage} */ msg, sender, sendResponse) => {
  // (Each handler takes its own message type, which msg.type selects.)
  const handler = /** @type {Handler | undefined} */ (msg && handlers[msg.type]);
  if (!handler || (PAGES_ONLY.has(msg.type) && !fromExtensionPage(sender))) return false;
  handler(msg, sender).then(sendResponse, (e) => sendResponse({ error: String(e && e.message) }));
  return true; // answer asynchronously
});
