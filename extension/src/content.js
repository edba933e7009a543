// @ts-check
/* FaceCheck badges: draws, places and removes them; nothing else.
 *
 * Injected on demand (chrome.scripting), after geometry.js, into the frame that shows the image;
 * injecting it again is harmless. The service worker sends {type: 'facecheck-result', src, view}
 * and gets back {drawn: n} once the badges are in the page (background.js's TabMessage).
 *
 * One badge per face, placed just above the face (below it when there is no room), never on it.
 * Each badge is a <facecheck-badge> element carrying data-facecheck-src / -verdict / -p (the
 * view's p_fake; the attribute's name is public, docs/extension.md) for tests and users'
 * tooling; its look lives in a shadow root so page styles cannot break it, and page styles never
 * see ours.
 */

/**
 * @typedef {object} Badge  a badge in the page
 * @property {HTMLElement} host  the <facecheck-badge> element
 * @property {HTMLImageElement} img  the image it belongs to
 * @property {number[] | null} box  its face, [x, y, w, h] in the picture's pixels
 * @property {number} [width]  the picture's size in those pixels
 * @property {number} [height]
 *
 * @typedef {object} Badges  what content.js offers scanner.js (globalThis.FaceCheckBadges)
 * @property {(src: string, view: import('./settings.js').View) => number} draw  a result -> badges
 * @property {(src: string, retry?: (src: string) => void) => number} pending  "Checking..." badges
 * @property {(src: string) => void} clear  removes the badges of `src`
 */

(() => {
  'use strict';
  if (globalThis.FaceCheckBadges) return;

  const TAG = 'facecheck-badge';
  /** @type {Set<Badge>} */
  const badges = new Set();

  // Colour says it, and so do the icon and the words: never colour alone.
  /** @type {Record<string, {icon: string, cls: string}>} */
  const LOOK = {
    fake: { icon: '\u26A0', cls: 'fake' },
    real: { icon: '\u2713', cls: 'real' },
    unsure: { icon: '?', cls: 'unsure' },
    'no-face': { icon: '\u2205', cls: 'neutral' },
    'too-small': { icon: '\u2022', cls: 'neutral' },
    error: { icon: '!', cls: 'neutral' },
    pending: { icon: '\u2026', cls: 'neutral' },
  };

  const STYLE = `
    :host { all: initial; }
    .badge { position: relative; display: inline-flex; align-items: center; gap: 2px;
      font: 600 13px/1.2 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif;
      border: 2px solid #fff; border-radius: 6px; box-shadow: 0 0 0 1px #000, 0 2px 6px rgba(0,0,0,.45);
      white-space: nowrap; }
    .fake { background: #a50021; color: #fff; }
    .real { background: #0b5d2a; color: #fff; }
    .unsure { background: #ffd23f; color: #111; }
    .neutral { background: #263238; color: #fff; }
    button { all: unset; cursor: pointer; padding: 3px 6px; }
    button:focus-visible { outline: 2px solid currentColor; outline-offset: -3px; }
    .close { padding: 3px 6px 3px 2px; opacity: .85; }
    .close:hover { opacity: 1; }
    .detail { display: none; position: absolute; top: calc(100% + 4px); left: -2px; z-index: 1;
      min-width: 220px; max-width: 320px; white-space: normal; padding: 6px 8px;
      background: #fff; color: #111; border: 2px solid #111; border-radius: 6px;
      font: 400 12px/1.4 system-ui, sans-serif; }
    .badge:hover .detail, .badge:focus-within .detail, .badge.open .detail { display: block; }
    .detail p { margin: 0 0 2px; }`;

  /** @param {string} src */
  const imagesFor = (src) => [...document.images].filter((img) => img.currentSrc === src || img.src === src);

  /** @param {Badge} b */
  function removeBadge(b) {
    b.host.remove();
    badges.delete(b);
  }
  /** @param {HTMLImageElement} img */
  function clearImage(img) {
    for (const b of [...badges]) if (b.img === img) removeBadge(b);
  }

  /** The lines of a badge's detail panel.
   * @param {import('./settings.js').View} view
   * @param {import('./settings.js').FaceView} [face]  the badge's face; none: the whole image's
   * @param {number} [index]  the face's index in view.faces
   * @returns {string[]} */
  function detailLines(view, face, index = 0) {
    const lines = [];
    if (face && typeof face.p_fake === 'number') {
      const of = view.faces.length > 1 ? ` (face ${index + 1} of ${view.faces.length})` : '';
      lines.push(`Probability generated: ${(face.p_fake * 100).toFixed(1)}%${of}`);
    } else if (face) {
      lines.push('This face is too small to judge.');
    }
    if (face && typeof face.score === 'number') lines.push(`Face detector confidence: ${face.score.toFixed(2)}`);
    if (view.reason) lines.push(`Reason: ${view.reason}.`);
    if (typeof view.threshold === 'number') {
      lines.push(`Threshold: ${view.threshold.toFixed(3)} (${view.thresholdFromOptions ? 'from your options' : "the model's"})`);
      if (typeof view.unsureFrom === 'number') {
        const whose = view.bandFromOptions ? 'your band'
          : view.thresholdFromOptions ? "the model's band width, below your threshold" : "the model's band";
        lines.push(`Unsure from ${view.unsureFrom.toFixed(3)} up to the threshold (${whose})`);
      } else {
        lines.push('No unsure band');
      }
    }
    if (view.modelVersion) lines.push(`Model: ${view.modelVersion}`);
    if (view.ranOn) lines.push(view.ranOn === 'server' ? 'Checked on your FaceCheck server' : 'Checked in this browser');
    if (view.note) lines.push(view.note);
    return lines;
  }

  /** A <facecheck-badge>, not yet in the page.
   * @param {string} src
   * @param {string} verdict  a Verdict, or 'pending'
   * @param {number | null} p  p_fake
   * @param {string} modelVerdict
   * @param {string} text  the words on the badge
   * @param {string[]} lines  its detail panel
   * @returns {HTMLElement} */
  function makeBadge(src, verdict, p, modelVerdict, text, lines) {
    const host = document.createElement(TAG);
    host.setAttribute('data-facecheck-src', src);
    host.setAttribute('data-facecheck-verdict', verdict);
    host.setAttribute('data-facecheck-p', typeof p === 'number' ? p.toFixed(4) : '');
    host.setAttribute('data-facecheck-model-verdict', modelVerdict || verdict);
    host.style.cssText = 'all: initial; position: absolute; z-index: 2147483647; left: 0; top: 0;';
    const root = host.attachShadow({ mode: 'open' });
    const style = document.createElement('style');
    style.textContent = STYLE;
    const look = LOOK[verdict] || LOOK.error;
    const box = document.createElement('div');
    box.className = `badge ${look.cls}`;
    box.setAttribute('role', 'group');
    const main = document.createElement('button');
    main.className = 'main';
    main.setAttribute('aria-label', `FaceCheck: ${text}. Show details`);
    main.setAttribute('aria-expanded', 'false');
    main.textContent = `${look.icon} ${text}`;
    const close = document.createElement('button');
    close.className = 'close';
    close.textContent = '\u00D7';
    close.setAttribute('aria-label', 'Remove this FaceCheck badge');
    const detail = document.createElement('div');
    detail.className = 'detail';
    detail.setAttribute('role', 'note');
    for (const line of lines) detail.appendChild(document.createElement('p')).textContent = line;
    main.addEventListener('click', (e) => {
      e.preventDefault();
      e.stopPropagation(); // the badge often sits inside a link
      main.setAttribute('aria-expanded', String(box.classList.toggle('open')));
    });
    close.addEventListener('click', (e) => {
      e.preventDefault();
      e.stopPropagation();
      for (const b of badges) if (b.host === host) removeBadge(b);
    });
    box.append(main, close, detail);
    root.append(style, box);
    return host;
  }

  /** The <img>'s content box and where its picture is drawn in it (viewport px).
   * @param {HTMLImageElement} img
   * @returns {import('./geometry.js').ImageFrame} */
  function imageFrame(img) {
    const r = img.getBoundingClientRect();
    const cs = getComputedStyle(img);
    const px = (/** @type {string} */ v) => parseFloat(v) || 0;
    const x = r.left + px(cs.borderLeftWidth) + px(cs.paddingLeft);
    const y = r.top + px(cs.borderTopWidth) + px(cs.paddingTop);
    const w = r.right - px(cs.borderRightWidth) - px(cs.paddingRight) - x;
    const h = r.bottom - px(cs.borderBottomWidth) - px(cs.paddingBottom) - y;
    const content = { x, y, w, h };
    const drawn = FaceCheckGeometry.drawnRect(content, img.naturalWidth, img.naturalHeight, cs.objectFit,
      cs.objectPosition);
    return { content, drawn };
  }

  /** @param {Badge} b */
  function place(b) {
    const { left, top } = FaceCheckGeometry.badgePosition(imageFrame(b.img), b.box,
      { width: b.width, height: b.height }, { w: b.host.offsetWidth, h: b.host.offsetHeight },
      { scrollX: window.scrollX, scrollY: window.scrollY, width: document.documentElement.clientWidth });
    b.host.style.left = `${left}px`;
    b.host.style.top = `${top}px`;
  }

  let frame = 0;
  function relayout() {
    frame = 0;
    for (const b of [...badges]) {
      if (!b.img.isConnected) removeBadge(b);
      else place(b);
    }
  }
  const scheduleLayout = () => { if (!frame) frame = requestAnimationFrame(relayout); };
  addEventListener('scroll', scheduleLayout, { capture: true, passive: true });
  addEventListener('resize', scheduleLayout, { passive: true });
  const resized = new ResizeObserver(scheduleLayout);
  if (document.body) resized.observe(document.body);

  /** @param {HTMLImageElement} img
   * @param {HTMLElement} host
   * @param {number[] | null} box
   * @param {{width?: number, height?: number}} view  the picture's size
   * @returns {Badge} */
  function add(img, host, box, view) {
    const b = { host, img, box, width: view.width, height: view.height };
    document.documentElement.appendChild(host);
    badges.add(b);
    resized.observe(img);
    place(b);
    return b;
  }

  /** One result -> badges on every <img> showing `src`.
   * @param {string} src
   * @param {import('./settings.js').View} view
   * @returns {number} how many were drawn */
  function draw(src, view) {
    let n = 0;
    for (const img of imagesFor(src)) {
      clearImage(img);
      const perFace = view.faces.length && view.verdict !== 'error' && view.verdict !== 'no-face';
      if (perFace) {
        view.faces.forEach((face, i) => {
          add(img, makeBadge(src, face.verdict, face.p_fake, face.modelVerdict, face.label,
            detailLines(view, face, i)), face.box, view);
          n += 1;
        });
      } else {
        add(img, makeBadge(src, view.verdict, view.p_fake, view.modelVerdict, view.label, detailLines(view)), null, view);
        n += 1;
      }
    }
    return n;
  }

  /* "Checking..." badges, and what happens if the worker dies before answering.
   *
   * While any check is pending this frame holds a port to the service worker. Chrome closes it
   * when the worker stops, so a lost check is noticed at once: a scan's image is handed back to
   * the scanner (`retry`) to be sent again, which wakes a fresh worker; a right-click's badge says
   * the check was interrupted. */
  /** @type {Map<string, ((src: string) => void) | null>} src -> retry callback or null */
  const waiting = new Map();
  /** @type {chrome.runtime.Port | null} */
  let port = null;

  function watchWorker() {
    if (port) return;
    port = chrome.runtime.connect({ name: 'facecheck-pending' });
    port.onDisconnect.addListener(() => {
      port = null;
      const lost = [...waiting];
      waiting.clear();
      for (const [src, retry] of lost) {
        if (retry) retry(src);
        else {
          draw(src, { verdict: 'error', modelVerdict: 'error', p_fake: null, label: 'Check failed', faces: [],
            reason: 'the check was interrupted because the extension restarted; please try again' });
        }
      }
    });
  }

  /** @param {string} src */
  function settle(src) {
    waiting.delete(src);
    if (!waiting.size && port) {
      port.disconnect();
      port = null;
    }
  }

  /** "Checking..." badges on every <img> showing `src`.
   * @param {string} src
   * @param {(src: string) => void} [retry]  called if the worker stops before answering
   * @returns {number} how many were drawn */
  function pending(src, retry) {
    const imgs = imagesFor(src);
    for (const img of imgs) {
      clearImage(img);
      add(img, makeBadge(src, 'pending', null, 'pending', 'Checking\u2026', []), null, {});
    }
    waiting.set(src, retry || null);
    watchWorker();
    return imgs.length;
  }

  chrome.runtime.onMessage.addListener((/** @type {TabMessage} */ msg, sender, sendResponse) => {
    if (msg.type === 'facecheck-result') {
      settle(msg.src);
      sendResponse({ drawn: draw(msg.src, msg.view) });
    }
    else if (msg.type === 'facecheck-pending') sendResponse({ drawn: pending(msg.src) });
    return false;
  });

  const clear = (/** @type {string} */ src) => imagesFor(src).forEach(clearImage);
  globalThis.FaceCheckBadges = { draw, pending, clear };
})();
