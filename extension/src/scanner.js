// @ts-check
/* Scan mode, in each frame of a tab: find the images worth checking and tell the service worker.
 *
 * Injected (after content.js, which draws the badges) when scan mode is turned on for the tab,
 * and again when the popup's "Include small images" lowers the minimum for this scan.
 * "Worth checking": loaded, displayed, at least the minimum size on both sides (the options', from
 * the worker's ScanConfig), and not sent before. Displayed images smaller than that on a side are
 * "skipped", and <img>s whose picture failed to load (missing, undecodable) are "broken": the
 * worker is told how many of each, so the popup can say so. Images that appear or load later
 * (infinite scroll, loading="lazy") are caught by a MutationObserver and by `load` and `error`
 * events, which do not bubble but can be captured at the document.
 *
 * What counts as one picture:
 * - an <img> is one picture while its `src` and `srcset` (and its <picture>'s <source> srcsets) stay
 *   the same: a srcset switch (a resize that picks another candidate) is not sent or counted again;
 * - any other element whose CSS `background-image` is a url() (its first url() layer) shows that
 *   picture: content.js is told the element shows it (badgeApi.track) before its badge is drawn.
 * Scan mode turned off removes the badges of every picture this frame sent, and forgets them: a
 * scan turned on again checks them again.
 */

/**
 * @typedef {object} Scanner  globalThis.FaceCheckScanner, for an injection that finds it running
 * @property {() => Promise<void>} start  asks the worker whether scan mode is on, then sweeps
 * @property {() => void} stop
 *
 * @typedef {object} Shown  what an <img> was showing when this frame sent (or met) its picture
 * @property {string} key  its src, srcset and <source> srcsets (pictureKey())
 * @property {string} url  the address sent (its currentSrc then)
 *
 * @typedef {object} Found  one sweep's findings
 * @property {string[]} srcs  new pictures to check, in page order
 * @property {Set<string>} skipped  pictures shown smaller than the minimum on a side
 * @property {Set<string>} broken  <img> pictures that failed to load
 */

(() => {
  'use strict';
  if (globalThis.FaceCheckScanner) {
    globalThis.FaceCheckScanner.start();
    return;
  }
  // content.js, always injected just before this file, draws the badges; its track() draws the
  // badges of a picture on an element that is not an <img> (checked for before use).
  const badgeApi = /** @type {Badges & {track?: (element: HTMLElement, src: string) => void}} */ (
    globalThis.FaceCheckBadges);

  const DEBOUNCE_MS = 150;
  const sent = new Set(); // picture URLs already sent for checking from this frame
  // Sent before scan mode was last turned off (their results stay in the popup's list): not
  // "skipped" if a scan turned on again finds them smaller than its minimum.
  const forgotten = new Set();
  /** @type {WeakMap<HTMLImageElement, Shown>} */
  const shownBy = new WeakMap();
  /** @type {WeakMap<HTMLElement, string>} element -> the background picture it was tracked with */
  const trackedBg = new WeakMap();
  let minSize = 0; // the worker's ScanConfig says (start() runs before any sweep)
  let skippedSent = -1; // the count of skipped images last told to the worker
  let brokenSent = -1; // the count of broken images last told to the worker
  let active = false;
  let timer = 0;

  /** Displayed and not made invisible: 'check', 'small' (smaller than the minimum on a side) or
   * null (not shown).
   * @param {Element} el */
  function sizeUpBox(el) {
    const r = el.getBoundingClientRect();
    if (!r.width || !r.height) return null;
    const cs = getComputedStyle(el);
    if (cs.visibility === 'hidden' || Number(cs.opacity) === 0) return null;
    return r.width < minSize || r.height < minSize ? 'small' : 'check';
  }

  /** What makes an <img> another picture when it changes (its size, or which srcset candidate the
   * browser picks, do not).
   * @param {HTMLImageElement} img */
  function pictureKey(img) {
    const parent = img.parentElement;
    const sources = parent && parent.localName === 'picture'
      ? [...parent.children].filter((e) => e.localName === 'source').map((e) => e.getAttribute('srcset') || '')
      : [];
    return [img.src, img.getAttribute('srcset') || '', ...sources].join('\n');
  }

  /** A picture that finished loading and failed (missing, not an image), in a displayed <img>.
   * @param {HTMLImageElement} img */
  const isBroken = (img) => img.complete && img.naturalWidth === 0 && Boolean(img.currentSrc || img.src)
    && img.getClientRects().length > 0 && getComputedStyle(img).visibility !== 'hidden';

  /** One <img> -> `found`.
   * @param {HTMLImageElement} img
   * @param {Found} found */
  function sweepImage(img, found) {
    const key = pictureKey(img);
    const before = shownBy.get(img);
    // The same picture, maybe another srcset candidate of it, already sent: nothing new.
    if (before && before.key === key && sent.has(before.url)) return;
    const src = img.currentSrc || img.src;
    if (!src) return;
    if (isBroken(img)) {
      found.broken.add(src);
      return;
    }
    if (sent.has(src)) {
      shownBy.set(img, { key, url: src }); // another <img> of a picture already sent
      return;
    }
    const size = img.complete && img.naturalWidth ? sizeUpBox(img) : null;
    if (size === 'small') found.skipped.add(src);
    if (size !== 'check') return;
    shownBy.set(img, { key, url: src });
    sent.add(src);
    found.srcs.push(src);
    badgeApi.pending(src, resend);
  }

  const BG_URL = /url\(\s*"((?:[^"\\]|\\.)*)"\s*\)/;
  const BG_SCHEMES = new Set(['http:', 'https:', 'data:', 'blob:']);

  /** The first url() layer of a computed `background-image` ('' if none, or not a picture we
   * may check).
   * @param {string} value */
  function backgroundUrl(value) {
    const m = value.indexOf('url(') < 0 ? null : BG_URL.exec(value);
    if (!m) return '';
    const url = m[1].replace(/\\(.)/g, '$1');
    try {
      return BG_SCHEMES.has(new URL(url, document.baseURI).protocol) ? url : '';
    } catch {
      return '';
    }
  }

  /** One element that is not an <img> (nor ours) -> `found`, if a picture is its background.
   * @param {HTMLElement} el
   * @param {Found} found */
  function sweepBackground(el, found) {
    const url = backgroundUrl(getComputedStyle(el).backgroundImage);
    if (!url) return;
    const known = sent.has(url);
    if (known && trackedBg.get(el) === url) return;
    const size = sizeUpBox(el);
    if (size === 'small' && !known) found.skipped.add(url);
    if (size !== 'check') return;
    if (typeof badgeApi.track === 'function') badgeApi.track(el, url);
    trackedBg.set(el, url);
    if (known) return; // another element with a picture already sent
    sent.add(url);
    found.srcs.push(url);
    badgeApi.pending(url, resend);
  }

  /** Every HTML element of the document except <img>s, our own (facecheck-*) elements and what
   * is not displayed (display: none, and all inside it). */
  function* otherElements() {
    const walker = document.createTreeWalker(document.documentElement, NodeFilter.SHOW_ELEMENT, {
      acceptNode: (node) => (/** @type {Element} */ (node).localName.startsWith('facecheck-')
        || getComputedStyle(/** @type {Element} */ (node)).display === 'none'
        ? NodeFilter.FILTER_REJECT : NodeFilter.FILTER_ACCEPT),
    });
    for (let node = /** @type {Node | null} */ (walker.currentNode); node; node = walker.nextNode()) {
      if (node instanceof HTMLElement && node.localName !== 'img') yield node;
    }
  }

  function sweep() {
    timer = 0;
    if (!active) return;
    /** @type {Found} */
    const found = { srcs: [], skipped: new Set(), broken: new Set() };
    for (const img of document.images) sweepImage(img, found);
    for (const el of otherElements()) sweepBackground(el, found);
    // Shown small here but big there, or checked before: not skipped.
    for (const src of [...sent, ...forgotten]) found.skipped.delete(src);
    const { srcs, skipped, broken } = found;
    if (!srcs.length && skipped.size === skippedSent && broken.size === brokenSent) return;
    skippedSent = skipped.size;
    brokenSent = broken.size;
    const message = /** @type {ScanImagesMessage} */ ({ type: 'facecheck-scan-images', srcs,
      skipped: skipped.size, broken: broken.size, minSize });
    chrome.runtime.sendMessage(message).catch(() => { skippedSent = -1; brokenSent = -1; });
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
  const ours = (/** @type {Node} */ node) => node instanceof Element && node.localName.startsWith('facecheck-');
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
    brokenSent = -1;
    if (!active) {
      active = true;
      observer.observe(document.documentElement, { childList: true, subtree: true, attributes: true,
        attributeFilter: ['src', 'srcset', 'style', 'class', 'hidden'] });
      document.addEventListener('load', onLoad, true);
      document.addEventListener('error', onLoad, true);
      addEventListener('resize', schedule, { passive: true });
    }
    sweep();
  }

  function stop() {
    active = false;
    clearTimeout(timer);
    timer = 0;
    observer.disconnect();
    document.removeEventListener('load', onLoad, true);
    document.removeEventListener('error', onLoad, true);
    removeEventListener('resize', schedule);
  }

  /** Scan mode turned off: no more sweeps, and no badge left of what this frame sent. */
  function off() {
    stop();
    const gone = [...sent];
    sent.clear(); // a scan turned on again checks them again
    for (const src of gone) {
      forgotten.add(src);
      badgeApi.clear(src);
    }
  }

  chrome.runtime.onMessage.addListener((msg) => {
    if (msg.type === 'facecheck-scan-off') off();
    return false;
  });

  globalThis.FaceCheckScanner = { start, stop };
  start();
})();
