// @ts-check
/* Scan mode, in each frame of a tab: find the images worth checking and tell the service worker.
 *
 * Injected (after content.js, which draws the badges) when scan mode is turned on for the tab.
 * "Worth checking": loaded, displayed, at least the minimum size from the options on both sides,
 * and not sent before. Images that appear or load later (infinite scroll, loading="lazy",
 * srcset switches) are caught by a MutationObserver and by `load` events, which do not bubble but
 * can be captured at the document.
 */

/**
 * @typedef {object} Scanner  globalThis.FaceCheckScanner, for an injection that finds it running
 * @property {() => Promise<void>} start  asks the worker whether scan mode is on, then sweeps
 * @property {() => void} stop
 */

(() => {
  'use strict';
  if (globalThis.FaceCheckScanner) {
    globalThis.FaceCheckScanner.start();
    return;
  }
  // content.js, always injected just before this file, draws the badges.
  const badgeApi = /** @type {Badges} */ (globalThis.FaceCheckBadges);

  const DEBOUNCE_MS = 150;
  const sent = new Set(); // image URLs already checked in this frame
  let minSize = 96;
  let active = false;
  let timer = 0;

  /** @param {HTMLImageElement} img */
  function worthChecking(img) {
    if (!img.complete || !img.naturalWidth) return false;
    const r = img.getBoundingClientRect();
    if (r.width < minSize || r.height < minSize) return false;
    const cs = getComputedStyle(img);
    return cs.visibility !== 'hidden' && Number(cs.opacity) > 0;
  }

  function sweep() {
    timer = 0;
    if (!active) return;
    const srcs = [];
    for (const img of document.images) {
      const src = img.currentSrc || img.src;
      if (!src || sent.has(src) || !worthChecking(img)) continue;
      sent.add(src);
      srcs.push(src);
      badgeApi.pending(src, resend);
    }
    if (srcs.length) chrome.runtime.sendMessage({ type: 'facecheck-scan-images', srcs }).catch(() => {});
  }
  const schedule = () => { if (active && !timer) timer = setTimeout(sweep, DEBOUNCE_MS); };
  // The worker stopped before checking `src`: forget it was sent, so the next sweep sends it again.
  /** @param {string} src */
  function resend(src) {
    sent.delete(src);
    if (active) schedule();
    else badgeApi.clear(src);
  }

  // Our own badges come and go (and move on scroll): those mutations are not new images.
  const ours = (/** @type {Node} */ node) => node instanceof Element && node.localName === 'facecheck-badge';
  const observer = new MutationObserver((records) => {
    const relevant = (/** @type {MutationRecord} */ r) => (r.type === 'attributes' ? !ours(r.target)
      : ![...r.addedNodes, ...r.removedNodes].every(ours));
    if (records.some(relevant)) schedule();
  });
  const onLoad = (/** @type {Event} */ e) => { if (e.target instanceof HTMLImageElement) schedule(); };

  async function start() {
    const config = await chrome.runtime.sendMessage({ type: 'facecheck-scan-config' }).catch(() => null);
    if (!config || !config.on) return;
    minSize = config.minSize;
    if (!active) {
      active = true;
      observer.observe(document.documentElement, { childList: true, subtree: true, attributes: true,
        attributeFilter: ['src', 'srcset', 'style', 'class', 'hidden'] });
      document.addEventListener('load', onLoad, true);
      addEventListener('resize', schedule, { passive: true });
    }
    sweep();
  }

  function stop() {
    active = false;
    observer.disconnect();
    document.removeEventListener('load', onLoad, true);
    removeEventListener('resize', schedule);
  }

  chrome.runtime.onMessage.addListener((msg) => {
    if (msg.type === 'facecheck-scan-off') stop();
    return false;
  });

  globalThis.FaceCheckScanner = { start, stop };
  start();
})();
