// @ts-check
/* FaceCheck's service worker: routing only.
 *
 *   context menu "Check face" -> checkFace(info, tab) -> one check -> badges in that frame
 *   popup / keyboard shortcut -> scan mode for a tab -> scanner.js reports images -> checks
 *   options page              -> "Test connection"
 *
 * Checks run in the browser (inference.js, the JS predictor) or on the user's server (remote.js);
 * content.js draws the badges. Chrome stops this worker whenever it likes: everything that must
 * outlive it (scan mode per tab, results for the popup) is in chrome.storage.session, and all
 * listeners are registered synchronously below so a restarted worker still receives the event
 * that woke it.
 */

/**
 * Messages to content.js and scanner.js in a tab (chrome.tabs.sendMessage):
 * @typedef {{type: 'facecheck-result', src: string, view: View}} ResultMessage  answered with Drawn
 * @typedef {{type: 'facecheck-pending', src: string}} PendingMessage  answered with Drawn
 * @typedef {{type: 'facecheck-scan-off'}} ScanOffMessage
 * @typedef {ResultMessage | PendingMessage | ScanOffMessage} TabMessage
 * @typedef {{drawn: number, error?: string}} Drawn  how many badges were drawn
 *
 * Messages to this worker (chrome.runtime.sendMessage), and their answers:
 * @typedef {{type: 'facecheck-ping'}} PingMessage  -> {ok: true}
 * @typedef {{type: 'facecheck-scan-config'}} ScanConfigMessage  -> ScanConfig (content scripts)
 * @typedef {{type: 'facecheck-scan-images', srcs: string[]}} ScanImagesMessage  -> {queued: number}
 * @typedef {{type: 'facecheck-scan-set', tabId: number, on: boolean}} ScanSetMessage  -> ScanAnswer
 * @typedef {{type: 'facecheck-test-connection', settings: Record<string, unknown>}} TestConnectionMessage
 *   -> Health (the options page's form, not yet saved)
 * @typedef {PingMessage | ScanConfigMessage | ScanImagesMessage | ScanSetMessage | TestConnectionMessage} WorkerMessage
 * @typedef {{on: boolean, minSize: number}} ScanConfig  a frame's scanner asks whether to scan
 * @typedef {{on: boolean, error?: string}} ScanAnswer
 *
 * @typedef {import('./settings.js').View} View
 * @typedef {{on: boolean, images: number}} ScanState  a tab's scan mode, and images sent so far
 * @typedef {object} ResultEntry  one row of the popup's list (chrome.storage.session `results:TAB`)
 * @property {string} src
 * @property {string} thumb  a data: URL
 * @property {import('./settings.js').Verdict} verdict
 * @property {string} label
 * @property {number | null} p_fake
 * @property {number} faces  how many
 * @property {'browser' | 'server' | undefined} ranOn
 * @property {string} reason
 * @property {number} at  Date.now() when it was checked
 */

importScripts('settings.js', 'inference.js', 'remote.js', 'checks.js');

const MENU_ID = 'check-face';
const COMMAND_SCAN = 'toggle-scan';
const MAX_RESULTS = 200; // per tab, for the popup
// What draws badges in a page, in injection order (content.js places them with geometry.js).
const BADGE_SCRIPTS = ['src/geometry.js', 'src/content.js'];

// See FaceCheckInference.importCode: lets later worker starts import TF.js lazily. A failure
// here must not stop the worker installing; the first check reports it instead.
self.addEventListener('install', () => {
  try { FaceCheckInference.importCode(); } catch (e) { console.error('FaceCheck: TF.js did not load:', e); }
});

chrome.runtime.onInstalled.addListener(() => {
  chrome.contextMenus.removeAll(() => {
    chrome.contextMenus.create({ id: MENU_ID, title: 'Check face', contexts: ['image'] });
  });
});

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
/** @param {number} tabId
 * @param {string} src
 * @param {View} view */
function remember(tabId, src, view) {
  /** @type {ResultEntry} */
  const entry = { src, thumb: view.thumb || '', verdict: view.verdict, label: view.label, p_fake: view.p_fake,
    faces: view.faces.length, ranOn: view.ranOn, reason: view.reason || '', at: Date.now() };
  const entries = unsaved.get(tabId) || [];
  unsaved.set(tabId, entries);
  entries.push(entry);
  if (!flushTimer) {
    flushTimer = setTimeout(() => {
      flushTimer = 0;
      saving = saving.then(flush).catch((e) => console.error('FaceCheck: results not saved:', e));
    }, FLUSH_MS);
  }
}
async function flush() {
  for (const [tabId, entries] of [...unsaved]) {
    unsaved.delete(tabId);
    const key = `results:${tabId}`;
    const fresh = new Set(entries.map((e) => e.src));
    const stored = /** @type {ResultEntry[] | undefined} */ ((await chrome.storage.session.get(key))[key]) || [];
    const list = stored.filter((r) => !fresh.has(r.src));
    await chrome.storage.session.set({ [key]: [...entries.reverse(), ...list].slice(0, MAX_RESULTS) });
  }
}

/** Results go to the frame that shows the image; content.js answers once the badges are drawn.
 * @param {number} tabId
 * @param {number} frameId
 * @param {string} src
 * @param {View} view
 * @returns {Promise<Drawn>} */
async function deliver(tabId, frameId, src, view) {
  const { thumb, ...page } = view; // the page does not need the thumbnail
  /** @type {ResultMessage} */
  const message = { type: 'facecheck-result', src, view: page };
  try {
    return await chrome.tabs.sendMessage(tabId, message, { frameId });
  } catch {
    return { drawn: 0, error: 'the page went away before the badges could be drawn' };
  }
}

/** @param {chrome.scripting.InjectionTarget} target
 * @param {string[]} files */
async function inject(target, files) {
  await chrome.scripting.executeScript({ target, files });
}

// ---- the context menu ------------------------------------------------------------------------

/** "Check face" on an image. Resolves when the badges are drawn.
 * @param {chrome.contextMenus.OnClickData} info
 * @param {chrome.tabs.Tab} tab
 * @returns {Promise<{src: string, view: View, drawn: number}>} */
async function checkFace(info, tab) {
  const tabId = tab.id;
  const frameId = info.frameId || 0;
  const src = info.srcUrl;
  if (tabId === undefined || !src) throw new Error('"Check face" needs an image in a tab');
  await inject({ tabId, frameIds: [frameId] }, BADGE_SCRIPTS);
  // A "Checking..." badge right away: the first check after a worker start loads the model.
  /** @type {PendingMessage} */
  const pendingMessage = { type: 'facecheck-pending', src };
  chrome.tabs.sendMessage(tabId, pendingMessage, { frameId }).catch(() => {});
  const settings = await FaceCheckSettings.load();
  const useServer = settings.runWhere === 'server'; // 'auto' keeps single checks in the browser
  const view = await FaceCheckChecks.check(src, settings, { lane: 'now', useServer });
  remember(tabId, src, view);
  const ack = await deliver(tabId, frameId, src, view);
  return { src, view, drawn: ack ? ack.drawn : 0 };
}
self.checkFace = checkFace;

chrome.contextMenus.onClicked.addListener((info, tab) => {
  if (info.menuItemId === MENU_ID && tab) checkFace(info, tab).catch((e) => console.error('FaceCheck:', e));
});

// ---- scan mode ---------------------------------------------------------------------------------

/** @param {number} tabId
 * @returns {Promise<ScanState>} */
async function scanState(tabId) {
  const key = `scan:${tabId}`;
  const got = /** @type {ScanState | undefined} */ ((await chrome.storage.session.get(key))[key]);
  if (got) return got;
  return { on: (await FaceCheckSettings.load()).scanByDefault, images: 0 };
}

/** @param {number} tabId
 * @param {boolean} on
 * @returns {Promise<ScanAnswer>} */
async function setScan(tabId, on) {
  await chrome.storage.session.set({ [`scan:${tabId}`]: { on, images: 0 } });
  if (!on) {
    /** @type {ScanOffMessage} */
    const off = { type: 'facecheck-scan-off' };
    chrome.tabs.sendMessage(tabId, off).catch(() => {});
    return { on };
  }
  // Every frame we may access; frames we may not (other extensions' pages) are skipped. When the
  // page itself is off limits (chrome:// pages, the Web Store), scan mode stays on for the tab's
  // next page, and the popup says why nothing happens here.
  try {
    await inject({ tabId, allFrames: true }, [...BADGE_SCRIPTS, 'src/scanner.js']);
    return { on };
  } catch {
    return { on, error: 'Chrome does not let extensions read this page.' };
  }
}
/** @param {number} tabId */
async function toggleScan(tabId) {
  return setScan(tabId, !(await scanState(tabId)).on);
}
self.toggleScan = toggleScan;

/** A frame's scanner found new images: check them in order, badge each as it is done.
 * @param {number} tabId
 * @param {number} frameId
 * @param {string[]} srcs */
async function scanImages(tabId, frameId, srcs) {
  const state = await scanState(tabId);
  if (!state.on) return;
  state.images += srcs.length;
  await chrome.storage.session.set({ [`scan:${tabId}`]: state });
  const settings = await FaceCheckSettings.load();
  const useServer = settings.runWhere === 'server' || (settings.runWhere === 'auto' &&
    state.images > settings.autoServerOver && (await FaceCheckChecks.serverAnswers(settings)));
  // Queued in page order; each badge is drawn as soon as its image is done.
  await Promise.all(srcs.map(async (src) => {
    const view = await FaceCheckChecks.check(src, settings, { useServer });
    remember(tabId, src, view);
    await deliver(tabId, frameId, src, view);
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
  onCommand(command, tab).catch((e) => console.error('FaceCheck:', e));
});

chrome.tabs.onUpdated.addListener((tabId, change) => {
  if (change.status === 'loading') {
    unsaved.delete(tabId);
    chrome.storage.session.remove(`results:${tabId}`);
  } else if (change.status === 'complete') {
    // Scan mode stays on across navigations in the tab (or starts there if on by default).
    scanState(tabId).then((s) => (s.on ? setScan(tabId, true) : null)).catch(() => {});
  }
});
chrome.tabs.onRemoved.addListener((tabId) => {
  chrome.storage.session.remove([`results:${tabId}`, `scan:${tabId}`]);
});

// Content scripts hold a port while they wait for results, only to learn if this worker stops.
chrome.runtime.onConnect.addListener(() => {});

// ---- messages from the popup, the options page and content scripts ----------------------------

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
    const config = { on: state.on, minSize: settings.minImageSize };
    return config;
  },
  'facecheck-scan-images': async (msg, sender) => {
    const { tabId, frameId } = senderTab(sender);
    scanImages(tabId, frameId, msg.srcs).catch((e) => console.error('FaceCheck:', e));
    return { queued: msg.srcs.length };
  },
  // From the extension's own pages only (the popup, the options page), not from content scripts.
  'facecheck-scan-set': async (msg) => setScan(msg.tabId, Boolean(msg.on)),
  'facecheck-test-connection': async (msg) => FaceCheckRemote.health(FaceCheckSettings.clean(msg.settings), 5000),
};
const PAGES_ONLY = new Set(['facecheck-scan-set', 'facecheck-test-connection']);

chrome.runtime.onMessage.addListener((/** @type {WorkerMessage} */ msg, sender, sendResponse) => {
  // (Each handler takes its own message type, which msg.type selects.)
  const handler = /** @type {Handler | undefined} */ (msg && handlers[msg.type]);
  const fromOurPage = String(sender.url || '').startsWith(chrome.runtime.getURL(''));
  if (!handler || (PAGES_ONLY.has(msg.type) && !fromOurPage)) return false;
  handler(msg, sender).then(sendResponse, (e) => sendResponse({ error: String(e && e.message) }));
  return true; // answer asynchronously
});
