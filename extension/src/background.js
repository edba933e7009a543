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
importScripts('settings.js', 'inference.js', 'remote.js', 'checks.js');

const MENU_ID = 'check-face';
const COMMAND_SCAN = 'toggle-scan';
const MAX_RESULTS = 200; // per tab, for the popup

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
const unsaved = new Map(); // tabId -> [entry], newest last
let saving = Promise.resolve();
let flushTimer = 0;
function remember(tabId, src, view) {
  const entry = { src, thumb: view.thumb || '', verdict: view.verdict, label: view.label, p: view.p,
    faces: view.faces.length, ranOn: view.ranOn, reason: view.reason || '', at: Date.now() };
  if (!unsaved.has(tabId)) unsaved.set(tabId, []);
  unsaved.get(tabId).push(entry);
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
    const list = ((await chrome.storage.session.get(key))[key] || []).filter((r) => !fresh.has(r.src));
    await chrome.storage.session.set({ [key]: [...entries.reverse(), ...list].slice(0, MAX_RESULTS) });
  }
}

/* Results go to the frame that shows the image; content.js answers once the badges are drawn. */
async function deliver(tabId, frameId, src, view) {
  const { thumb, ...message } = view; // the page does not need the thumbnail
  try {
    return await chrome.tabs.sendMessage(tabId, { type: 'facecheck-result', src, view: message }, { frameId });
  } catch (e) {
    return { drawn: 0, error: 'the page went away before the badges could be drawn' };
  }
}

async function inject(target, files) {
  await chrome.scripting.executeScript({ target, files });
}

// ---- the context menu ------------------------------------------------------------------------

/* "Check face" on an image. Resolves when the badges are drawn: {src, view, drawn}. */
async function checkFace(info, tab) {
  const tabId = tab.id;
  const frameId = info.frameId || 0;
  const src = info.srcUrl;
  await inject({ tabId, frameIds: [frameId] }, ['src/content.js']);
  // A "Checking..." badge right away: the first check after a worker start loads the model.
  chrome.tabs.sendMessage(tabId, { type: 'facecheck-pending', src }, { frameId }).catch(() => {});
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

async function scanState(tabId) {
  const key = `scan:${tabId}`;
  const got = (await chrome.storage.session.get(key))[key];
  if (got) return got;
  return { on: (await FaceCheckSettings.load()).scanByDefault, images: 0 };
}

async function setScan(tabId, on) {
  await chrome.storage.session.set({ [`scan:${tabId}`]: { on, images: 0 } });
  if (!on) {
    chrome.tabs.sendMessage(tabId, { type: 'facecheck-scan-off' }).catch(() => {});
    return { on };
  }
  // Every frame we may access; frames we may not (other extensions' pages) are skipped. When the
  // page itself is off limits (chrome:// pages, the Web Store), scan mode stays on for the tab's
  // next page, and the popup says why nothing happens here.
  try {
    await inject({ tabId, allFrames: true }, ['src/content.js', 'src/scanner.js']);
    return { on };
  } catch (e) {
    return { on, error: 'Chrome does not let extensions read this page.' };
  }
}
async function toggleScan(tabId) {
  return setScan(tabId, !(await scanState(tabId)).on);
}
self.toggleScan = toggleScan;

/* A frame's scanner found new images: check them in order, badge each as it is done. */
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

/* The keyboard shortcut (Alt+Shift+F by default): scan mode on or off for the tab. Named and on the
 * global scope, like checkFace, so tests call it as Chrome does. */
async function onCommand(command, tab) {
  if (command !== COMMAND_SCAN || !tab) return null;
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
    scanState(tabId).then((s) => s.on && setScan(tabId, true)).catch(() => {});
  }
});
chrome.tabs.onRemoved.addListener((tabId) => {
  chrome.storage.session.remove([`results:${tabId}`, `scan:${tabId}`]);
});

// Content scripts hold a port while they wait for results, only to learn if this worker stops.
chrome.runtime.onConnect.addListener(() => {});

// ---- messages from the popup, the options page and content scripts ----------------------------

const handlers = {
  'facecheck-ping': async () => ({ ok: true }),
  'facecheck-scan-config': async (msg, sender) => {
    const [state, settings] = await Promise.all([scanState(sender.tab.id), FaceCheckSettings.load()]);
    return { on: state.on, minSize: settings.minImageSize };
  },
  'facecheck-scan-images': async (msg, sender) => {
    scanImages(sender.tab.id, sender.frameId, msg.srcs).catch((e) => console.error('FaceCheck:', e));
    return { queued: msg.srcs.length };
  },
  // From the extension's own pages only (the popup, the options page), not from content scripts.
  'facecheck-scan-set': async (msg) => setScan(msg.tabId, Boolean(msg.on)),
  'facecheck-test-connection': async (msg) => FaceCheckRemote.health(FaceCheckSettings.clean(msg.settings), 5000),
};
const PAGES_ONLY = new Set(['facecheck-scan-set', 'facecheck-test-connection']);

chrome.runtime.onMessage.addListener((msg, sender, sendResponse) => {
  const handler = msg && handlers[msg.type];
  const fromOurPage = String(sender.url || '').startsWith(chrome.runtime.getURL(''));
  if (!handler || (PAGES_ONLY.has(msg.type) && !fromOurPage)) return false;
  handler(msg, sender).then(sendResponse, (e) => sendResponse({ error: String(e && e.message) }));
  return true; // answer asynchronously
});
