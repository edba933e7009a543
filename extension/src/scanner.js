// @ts-check
/* Scan mode, in each frame of a tab: find the images worth checking and tell the service worker.
 *
 * Injected (after content.js, which draws the badges) when scan mode is turned on for the tab,
 * and again when the popup's "Include small images" lowers the minimum for this scan.
 * "Worth checking": loaded, displayed, at least the minimum size on both sides (the options', from
 * the worker's ScanConfig), and not sent before. Displayed images smaller than that on a side are
 * "skipped": the worker is told how many, so the popup can say so. Images that appear or load
 * later (infinite scroll, loading="lazy", srcset switches) are caught by a MutationObserver and by
 * `load` events, which do not bubble but can be captured at the document.
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
  let minSize = 0; // the worker's ScanConfig says (start() runs before any sweep)
  let skippedSent = -1; // the count of skipped images last told to the worker
  let active = false;
  let timer = 0;

  /** 'check', 'small' (displayed, but smaller than the minimum on a side) or null (not shown).
   * @param {HTMLImageElement} img
   * @returns {'check' | 'small' | null} */
  function sizeUp(img) {
    if (!img.complete || !img.naturalWidth) return null;
    const r = img.getBoundingClientRect();
    if (!r.width || !r.height) return null;
    const cs = getComputedStyle(img);
    if (cs.visibility === 'hidden' || Number(cs.opacity) === 0) return null;
    return r.width < minSize || r.height < minSize ? 'small' : 'check';
  }

  function sweep() {
    timer = 0;
    if (!active) return;
    /** @type {string[]} */
    const srcs = [];
    const skipped = new Set();
    for (const img of document.images) {
      const src = img.currentSrc || img.src;
      const size = src && !sent.has(src) ? sizeUp(img) : null;
      if (size === 'small') skipped.add(src);
      if (size !== 'check') continue;
      sent.add(src);
      srcs.push(src);
      badgeApi.pending(src, resend);
    }
    for (const src of srcs) skipped.delete(src); // shown small here but big there: checked
    if (!srcs.length && skipped.size === skippedSent) return;
    skippedSent = skipped.size;
    /** @type {ScanImagesMessage} */
    const message = { type: 'facecheck-scan-images', srcs, skipped: skipped.size, minSize };
    chrome.runtime.sendMessage(message).catch(() => { skippedSent = -1; });
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
    const config = /** @type {ScanConfig | null} */ (
      await chrome.runtime.sendMessage({ type: 'facecheck-scan-config' }).catch(() => null));
    if (!config || !config.on) return;
    minSize = config.minSize;
    skippedSent = -1; // a (re)started scan's state counts nothing yet
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
