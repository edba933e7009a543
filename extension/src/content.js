// @ts-check
/* FaceCheck badges: draws, places, hides and removes them; nothing else.
 *
 * Injected on demand (chrome.scripting), after geometry.js, into the frame that shows the image;
 * injecting it again is harmless. The service worker sends {type: 'facecheck-result', src, view}
 * and gets back {drawn: n} once the badges are in the page (background.js's TabMessage).
 *
 * One badge per face, each where it cannot be read as another's (findSpot(), geometry.js
 * spotFor(); docs/extension.md "Where badges go"): next to its face inside the picture, else on
 * its face's top edge, never over another face, picture or badge. It folds to a compact chip
 * ("⚠ 68%", "?", "✓") or the icon alone where the full headline does not fit (always on pictures
 * narrower than geometry.js COMPACT_BELOW); hover or focus shows the short label, Enter or a click
 * the details. Each badge is inserted right after its picture (tab order = reading order).
 *
 * A badge belongs to its <img>: it is shown only while the point it is about (the face's centre)
 * is visible: the image connected, displayed, not cut off by a scrolling panel or any other
 * overflow-clipping ancestor, nor under a fixed or sticky layer (a header, a dialog). It is
 * removed when the image leaves the page or starts showing another picture (a src or srcset
 * swap); in scan mode scanner.js then checks the new picture. Scrolls (of any element), resizes,
 * DOM and style changes, transitions and intersection changes re-place badges once per frame.
 *
 * Every page is hostile (docs/security.md): it may neither read what the extension
 * learnt nor press its buttons. Each badge is a bare <facecheck-badge> element whose content
 * lives in a CLOSED shadow root (`.badge` the chip, carrying data-src / -verdict / -p (the view's
 * p_fake) / -model-verdict for the tests' CDP access; `.main` its toggle, `.detail` the details
 * panel): page scripts get `shadowRoot === null`, page styles cannot break it, and ours never leak
 * out. The service worker sends no failure reason (background.js deliver()): an error badge says
 * "Could not check" and points at the popup. Every handler acts on trusted (user) events only.
 * Results are announced to screen readers in one polite live region per frame (<facecheck-live>,
 * closed too).
 */

/**
 * @typedef {object} Badge  a badge in the page
 * @property {HTMLElement} host  the <facecheck-badge> element
 * @property {HTMLElement} chip  its visible body (in the closed shadow root)
 * @property {HTMLElement} detail  its details panel
 * @property {HTMLElement} img  the picture it belongs to: an <img>, or an element showing it as its
 *   CSS background (scanner.js tracks those)
 * @property {string} src  the address checked
 * @property {string} srcAttr  img.src when it was drawn
 * @property {string} shown  img.currentSrc when it was drawn (either changing: another picture)
 * @property {number[] | null} faceBox  its face, [x, y, w, h] in the picture's pixels
 * @property {number} [width]  the picture's size in those pixels
 * @property {number} [height]
 * @property {Record<Fold, {w: number, h: number}> | null} sizes  its size in each fold
 * @property {import('./geometry.js').Rect | null} spot  where it was last placed (viewport px, folded)
 * @property {string} srcset  the <img>'s srcset when it was drawn (a switch between its candidates
 *   is the same picture)
 * @property {FaceMap | null} [map]  its face's evidence map ("Why?"), once asked for
 *
 * @typedef {object} FaceMap  a face's evidence map over the face (a <facecheck-map> in the page)
 * @property {HTMLElement} host
 * @property {number[]} square  the square it covers, [x, y, side, side] in the picture's pixels
 * @property {boolean} on  shown (a second "Why?" click hides it)
 *
 * @typedef {'full' | 'compact' | 'tiny'} Fold  the headline; icon and number; the icon alone
 *
 * @typedef {object} BadgeSpec  what one badge says
 * @property {string} src
 * @property {string} verdict  a Verdict, or 'pending'
 * @property {number | null} p  p_fake
 * @property {string} modelVerdict
 * @property {string} text  the headline
 * @property {string} alt  the image's alt text
 * @property {string} of  " (face 2 of 3)" or ""
 * @property {{index: number, count: number} | null} [face]  which face, left to right, of several
 *
 * @typedef {object} Badges  what content.js offers scanner.js (globalThis.FaceCheckBadges)
 * @property {(src: string, view: import('./settings.js').View) => number} draw  a result -> badges
 * @property {(src: string, retry?: (src: string) => void) => number} pending  "Checking..." badges
 * @property {(src: string) => void} clear  removes the badges of `src`
 * @property {(element: HTMLElement, src: string) => void} track  `element` shows `src` as its CSS
 *   background: badges of `src` go on it too
 */

(() => {
  'use strict';
  if (globalThis.FaceCheckBadges) return;

  const TAG = 'facecheck-badge';
  const LIVE_TAG = 'facecheck-live';
  const MAP_TAG = 'facecheck-map';
  const Z_TOP = 2147483647; // the badge being read, so its details cover every other badge
  const Z = Z_TOP - 1;
  const JUDGED = ['fake', 'unsure', 'real'];
  const REPORTED = 'Reported \u2014 kept on this computer only; see FaceCheck options';
  // Why a check failed is the popup's to say: the page never gets the reason.
  const SEE_POPUP = 'The reason is in the FaceCheck popup (its toolbar button).';
  /** @type {Set<Badge>} */
  const badges = new Set();

  // Colour says it, and so do the icon, the shape and the words: never colour alone. The colours
  // stay apart under red-green colour blindness (generated: dark magenta, real: dark blue,
  // unsure: amber, the rest light grey), and every text on them has a contrast of 4.5:1 or more.
  // The icons are settings.js's, as on the drop page.
  const { ICONS } = FaceCheckSettings;
  /** @type {Record<string, {icon: string, cls: string}>} */
  const LOOK = {
    fake: { icon: ICONS.fake, cls: 'fake' },
    real: { icon: ICONS.real, cls: 'real' },
    unsure: { icon: ICONS.unsure, cls: 'unsure' },
    'no-face': { icon: ICONS['no-face'], cls: 'neutral' },
    'too-small': { icon: ICONS['too-small'], cls: 'neutral' },
    error: { icon: ICONS.error, cls: 'neutral' },
    pending: { icon: '\u2026', cls: 'neutral' },
  };

  const STYLE = `
    :host { all: initial; }
    .badge { --tail-x: 50%; position: relative; display: inline-flex; align-items: stretch; box-sizing: border-box;
      font: 600 13px/1.2 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif;
      border: 2px solid #fff; border-radius: 6px; box-shadow: 0 0 0 1px #000, 0 2px 6px rgba(0,0,0,.45);
      white-space: nowrap; }
    .fake { --bg: #8e0152; background: var(--bg); color: #fff; border-radius: 1px; }
    .real { --bg: #1f4e8c; background: var(--bg); color: #fff; border-radius: 14px; }
    .unsure { --bg: #ffc20a; background: var(--bg); color: #111; border-style: dashed; border-color: #111; }
    .neutral { --bg: #e3e3e3; background: var(--bg); color: #111; }
    /* Outside its picture (a tight list of avatars), a tail points at the face it is about. */
    .badge[data-outside]::after { content: ''; position: absolute; left: var(--tail-x);
      margin-left: -5px; border: 5px solid transparent; pointer-events: none; }
    .badge[data-outside=above]::after { top: calc(100% + 2px); border-bottom-width: 0; border-top-color: var(--bg); }
    .badge[data-outside=below]::after { bottom: calc(100% + 2px); border-top-width: 0; border-bottom-color: var(--bg); }
    button { all: unset; box-sizing: border-box; cursor: pointer; min-width: 24px; min-height: 24px;
      display: inline-flex; align-items: center; justify-content: center; }
    .main { gap: 4px; padding: 2px 6px; }
    .close { padding: 0 4px; }
    .badge > button:focus-visible { outline: 2px solid currentColor; outline-offset: -4px; }
    .short, .compact .words, .tiny .words, .badge:not(.open) .close { display: none; }
    .compact .short, .compact.show .words, .tiny.show .words { display: inline; }
    .compact.show .short { display: none; }
    .detail { display: none; position: absolute; left: 0; top: 100%; z-index: 1; box-sizing: border-box;
      width: max-content; min-width: 220px; max-width: min(320px, calc(100vw - 8px));
      max-height: calc(100vh - 8px); overflow: auto; white-space: normal; padding: 8px 10px;
      background: #fff; color: #111; border: 2px solid #111; border-radius: 6px;
      box-shadow: 0 4px 12px rgba(0,0,0,.4); font: 400 13px/1.4 system-ui, sans-serif; }
    .open .detail { display: block; }
    .detail p { margin: 0 0 4px; }
    .detail .headline { font-weight: 700; }
    .detail summary { cursor: pointer; min-height: 24px; line-height: 24px; }
    .detail .report { margin-top: 4px; padding: 2px 10px; border: 1px solid #111; border-radius: 4px;
      background: #f2f2f2; color: #111; }
    .detail .report[disabled] { cursor: default; opacity: .7; }
    .detail .why { display: block; min-height: 24px; margin: 2px 0 4px; color: #1f4e8c; text-decoration: underline; }
    .detail .why-legend { font-size: 12px; }
    .detail :focus-visible { outline: 2px solid #1f4e8c; outline-offset: 2px; }`;

  /** Elements that show a picture as their CSS background (scanner.js), by its address.
   * @type {Map<string, Set<HTMLElement>>} */
  const tracked = new Map();

  /** The first url() of an element's CSS background ('' for none).
   * @param {Element} e */
  function backgroundUrl(e) {
    const m = /url\(\s*(["']?)(.*?)\1\s*\)/.exec(getComputedStyle(e).backgroundImage);
    return m ? m[2] : '';
  }

  /** Whether `e` still shows `src` (an <img>: as its src or chosen candidate; else as its background).
   * @param {HTMLElement} e
   * @param {string} src */
  const shows = (e, src) => (e instanceof HTMLImageElement ? e.currentSrc === src || e.src === src
    : e.isConnected && backgroundUrl(e) === src);

  /** Every element showing `src`: <img> elements, and the tracked backgrounds that still show it.
   * @param {string} src
   * @returns {HTMLElement[]} */
  function imagesFor(src) {
    const found = /** @type {HTMLElement[]} */ ([...document.images].filter((img) => shows(img, src)));
    const backgrounds = tracked.get(src);
    if (backgrounds) {
      for (const e of [...backgrounds]) if (!shows(e, src)) backgrounds.delete(e);
      found.push(...backgrounds);
    }
    return found;
  }

  /** @param {HTMLElement} element
   * @param {string} src */
  function track(element, src) {
    if (element instanceof HTMLImageElement) return;
    const set = tracked.get(src) || new Set();
    tracked.set(src, set.add(element));
  }

  /** @param {string} tag
   * @param {string} [cls]
   * @param {string} [text] */
  function el(tag, cls, text) {
    const e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text) e.textContent = text;
    return e;
  }

  // ---- screen readers --------------------------------------------------------------------------

  /* One polite live region per frame, in a shadow root, visually hidden but in the accessibility
   * tree. It is put in the page when this script loads, before any result: screen readers only
   * announce changes to a region they already know. */
  const liveHost = el(LIVE_TAG);
  liveHost.style.cssText = 'all: initial; position: fixed; left: 0; top: 0; width: 1px; height: 1px; ' +
    'overflow: hidden; clip-path: inset(50%); white-space: nowrap;';
  const liveRegion = el('div');
  liveRegion.setAttribute('role', 'status');
  liveRegion.setAttribute('aria-live', 'polite');
  liveHost.attachShadow({ mode: 'closed' }).append(liveRegion);
  document.documentElement.appendChild(liveHost);
  const KEEP_SAID = 5; // the region keeps the last few announcements; each new one is added

  /** Say something: a new line added to the region (what polite regions read out).
   * @param {string} text */
  function announce(text) {
    liveRegion.append(el('p', '', text));
    while (liveRegion.childElementCount > KEEP_SAID) liveRegion.firstElementChild?.remove();
  }

  /** "FaceCheck: Likely generated, 68% — <alt>"
   * @param {string} text
   * @param {string} alt */
  const spoken = (text, alt) => `FaceCheck: ${text}${alt ? ` \u2014 ${alt}` : ''}`;

  // ---- badges ----------------------------------------------------------------------------------

  /** @param {Badge} b */
  function removeBadge(b) {
    b.host.remove();
    if (b.map) b.map.host.remove();
    badges.delete(b);
    if (![...badges].some((o) => o.img === b.img)) {
      resized.unobserve(b.img);
      seen.unobserve(b.img);
    }
  }
  /** @param {HTMLElement} img */
  function clearImage(img) {
    for (const b of [...badges]) if (b.img === img) removeBadge(b);
  }

  /** The engineer's part of the details, for a face (or the whole image without one).
   * @param {import('./settings.js').View} view
   * @param {import('./settings.js').FaceView} [face]
   * @returns {string[]} */
  function technicalLines(view, face) {
    const lines = FaceCheckSettings.technicalLines({ ...view, unsureFrom: view.unsureFrom ?? null,
      p_fake: face ? face.p_fake : undefined, score: face ? face.score : undefined });
    // A picture that claims nothing: why not, under the figures (a claim is in the plain words).
    const detail = FaceCheckSettings.provenanceDetail(view.provenance);
    if (detail && !FaceCheckSettings.provenanceText(view.provenance)) lines.push(`Provenance: ${detail}`);
    return lines;
  }

  /** The plain-words part of the details, after the headline.
   * @param {import('./settings.js').View} view
   * @param {import('./settings.js').FaceView} [face]  the badge's face; none: the whole image's
   * @returns {string[]} */
  function plainLines(view, face) {
    const lines = [];
    const p = face ? face.p_fake : view.p_fake;
    const band = typeof view.threshold === 'number' ? { threshold: view.threshold, unsureFrom: view.unsureFrom ?? null }
      : undefined;
    if (typeof p === 'number') lines.push(FaceCheckSettings.probabilityText(p, band));
    else if (face) lines.push('This face is too small to judge.');
    // (No view.reason: the worker keeps it from the page. A note is the extension's own words.)
    if (view.note) lines.push(view.note);
    else if (!face && (view.verdict === 'error' || view.verdict === 'too-small')) lines.push(SEE_POPUP);
    if (view.ranOn) lines.push(view.ranOn === 'server' ? 'Checked on your FaceCheck server' : 'Checked in this browser');
    // Where the picture says it came from (its Content Credentials or metadata), when it says
    // anything: beside the verdict, never part of it.
    const origin = FaceCheckSettings.provenanceText(view.provenance);
    if (origin) lines.push(`${origin}. ${FaceCheckSettings.provenanceDetail(view.provenance)}`);
    return lines;
  }

  /** A "This is wrong" button and the line that says what became of the report.
   * @param {Record<string, unknown>} report  the 'facecheck-report' message's report
   * @returns {HTMLElement[]} */
  function reportParts(report) {
    const button = /** @type {HTMLButtonElement} */ (el('button', 'report', 'This is wrong'));
    const status = el('p', 'report-status'); // said through the frame's live region too
    button.addEventListener('click', async (e) => {
      e.preventDefault();
      e.stopPropagation();
      if (!e.isTrusted) return; // a person's click, never a script's
      button.disabled = true;
      /** @type {{ok?: boolean, error?: string} | undefined} */
      let answer;
      try {
        answer = await chrome.runtime.sendMessage({ type: 'facecheck-report', report });
      } catch (err) {
        answer = { ok: false, error: String(/** @type {Error} */ (err).message || err) };
      }
      const ok = Boolean(answer && answer.ok);
      status.textContent = ok ? REPORTED
        : `The report could not be saved: ${(answer && answer.error) || 'the extension did not answer'}`;
      announce(status.textContent);
      button.disabled = ok;
    });
    return [button, status];
  }

  /** "Why?": the face's evidence map (explain.js, run in the service worker on a person's click),
   * drawn over the face in the page (a <facecheck-map> placed with its badge: placeMap()); a second
   * click hides it. A failure says only that it failed, as a badge does (the reason is not the
   * page's to see).
   * @param {string} src
   * @param {number[]} box  the face's box
   * @returns {HTMLElement[]} */
  function whyParts(src, box) {
    const button = /** @type {HTMLButtonElement} */ (el('button', 'why', WHY));
    button.setAttribute('aria-expanded', 'false');
    const legend = el('p', 'why-legend', 'The map is over the face in the page. Red: hiding that part lowers the ' +
      'probability it is generated (evidence of generation). Blue: that part looks real. Faint: no part stands out.');
    legend.hidden = true;
    const status = el('p', 'why-status');
    button.addEventListener('click', trusted(async (e) => {
      e.preventDefault();
      e.stopPropagation();
      const b = [...badges].find((o) => o.detail.contains(button));
      if (!b) return;
      if (!b.map) {
        button.disabled = true;
        status.textContent = 'Drawing the map\u2026';
        b.map = await fetchMap(src, box);
        button.disabled = false;
        status.textContent = b.map ? '' : 'The map could not be drawn; please try again.';
        if (!b.map) return;
        b.host.after(b.map.host);
      }
      b.map.on = !b.map.on || !b.map.host.isConnected;
      legend.hidden = !b.map.on;
      button.setAttribute('aria-expanded', String(b.map.on));
      button.textContent = b.map.on ? 'Hide the map' : WHY;
      if (b.map.on) {
        // The details would cover the face: they close, the focus back on the badge, which says
        // what the colours mean (its details' "Hide the map" takes it away).
        setOpen(b, false);
        /** @type {HTMLElement} */ (b.chip.querySelector('.main')).focus({ preventScroll: true });
        announce(legend.textContent || '');
      }
      layoutNow();
    }));
    return [button, status, legend];
  }
  const WHY = 'Why? Show where it looks';

  /** The worker's map of a face, as a <facecheck-map> not yet in the page; null if it failed.
   * @param {string} src
   * @param {number[]} box
   * @returns {Promise<FaceMap | null>} */
  async function fetchMap(src, box) {
    /** @type {{ok?: boolean, size?: number, overlay?: string, square?: number[]} | undefined} */
    let answer;
    try {
      answer = await chrome.runtime.sendMessage({ type: 'facecheck-explain', src, box });
    } catch {
      answer = undefined;
    }
    if (!answer || !answer.ok || !answer.size || !answer.overlay || !answer.square) return null;
    const host = el(MAP_TAG); // like a badge: nothing on it says what it shows
    host.style.cssText = `all: initial; position: fixed; z-index: ${Z}; left: 0; top: 0; pointer-events: none;`;
    host.popover = 'manual';
    host.setAttribute('aria-hidden', 'true'); // the details' words say what it shows
    const canvas = /** @type {HTMLCanvasElement} */ (el('canvas'));
    canvas.width = canvas.height = answer.size;
    canvas.style.cssText = 'display: block; width: 100%; height: 100%;';
    const bytes = Uint8ClampedArray.from(atob(answer.overlay), (c) => c.charCodeAt(0));
    /** @type {CanvasRenderingContext2D} */ (canvas.getContext('2d')).putImageData(
      new ImageData(bytes, answer.size, answer.size), 0, 0);
    // What the colours mean, on the map itself (the details close to uncover the face).
    const key = el('span', '', 'Red: looks generated \u00B7 Blue: looks real');
    key.style.cssText = 'position: absolute; left: 0; bottom: 0; padding: 1px 4px; background: rgba(255,255,255,.9); ' +
      'color: #111; font: 11px/1.3 system-ui, sans-serif;';
    const root = host.attachShadow({ mode: 'closed' });
    root.append(canvas, key);
    host.style.cssText += 'box-sizing: border-box; border: 1px dashed #fff; outline: 1px dashed #111;';
    return { host, square: answer.square, on: false };
  }

  /** Lay a badge's map over its face's square (the part of it the picture shows), under the badge.
   * @param {Badge} b
   * @param {import('./geometry.js').ImageFrame | null} frame  null: the badge is hidden */
  function placeMap(b, frame) {
    const m = b.map;
    if (!m) return;
    const { drawn } = frame || { drawn: null };
    const shown = Boolean(m.on && frame && drawn && b.width && b.height && m.host.isConnected);
    if (!shown || !frame || !drawn || !b.width || !b.height) {
      if (m.host.matches(':popover-open')) m.host.hidePopover();
      return;
    }
    const [x, y, side] = m.square;
    const r = { x: drawn.x + (x * drawn.w) / b.width, y: drawn.y + (y * drawn.h) / b.height,
      w: (side * drawn.w) / b.width, h: (side * drawn.h) / b.height };
    const v = FaceCheckGeometry.clip(r, frame.visible || frame.content);
    Object.assign(m.host.style, { left: `${r.x}px`, top: `${r.y}px`, width: `${r.w}px`, height: `${r.h}px`,
      clipPath: `inset(${v.y - r.y}px ${r.x + r.w - v.x - v.w}px ${r.y + r.h - v.y - v.h}px ${v.x - r.x}px)` });
    if (!m.host.matches(':popover-open')) {
      m.host.showPopover();
      raise(b); // the badge above its map
    }
  }

  /** A badge's details panel.
   * @param {BadgeSpec} spec
   * @param {import('./settings.js').View} view
   * @param {import('./settings.js').FaceView} [face]
   * @returns {HTMLElement} */
  function makeDetail(spec, view, face) {
    const detail = el('div', 'detail');
    detail.setAttribute('role', 'note');
    detail.append(el('p', 'headline', spec.text + spec.of));
    for (const line of plainLines(view, face)) detail.append(el('p', '', line));
    if (JUDGED.includes(spec.verdict)) detail.append(el('p', 'scope', FaceCheckSettings.SCOPE));
    if (face && typeof face.p_fake === 'number') detail.append(...whyParts(spec.src, face.box));
    const technical = technicalLines(view, face);
    if (technical.length) {
      const more = el('details');
      more.append(el('summary', '', 'Technical details'));
      for (const line of technical) more.append(el('p', '', line));
      detail.append(more);
    }
    if (JUDGED.includes(spec.verdict)) {
      detail.append(...reportParts({ imageUrl: spec.src, pageUrl: location.href, verdict: spec.verdict,
        p_fake: spec.p, modelVersion: view.modelVersion || '', ...(spec.face ? { face: spec.face } : {}) }));
    }
    return detail;
  }

  /** The chip's folded text: the icon, and for "Likely generated" its percentage.
   * @param {BadgeSpec} spec */
  const shortText = (spec) => (spec.verdict === 'fake' && typeof spec.p === 'number'
    ? `${FaceCheckSettings.pct(spec.p)}%` : '');

  /** A <facecheck-badge>, not yet in the page.
   * @param {BadgeSpec} spec
   * @param {HTMLElement} detail
   * @returns {{host: HTMLElement, chip: HTMLElement}} */
  function makeBadge(spec, detail) {
    const host = el(TAG); // nothing on it says what the badge says
    host.style.cssText = `all: initial; position: fixed; z-index: ${Z}; left: 0; top: 0;`;
    host.popover = 'manual';
    const look = LOOK[spec.verdict] || LOOK.error;
    const box = el('div', `badge ${look.cls}`);
    Object.assign(box.dataset, { src: spec.src, verdict: spec.verdict, modelVerdict: spec.modelVerdict || spec.verdict,
      p: typeof spec.p === 'number' ? spec.p.toFixed(4) : '' });
    box.setAttribute('role', 'group');
    box.setAttribute('aria-label', `FaceCheck result for ${spec.alt || 'this image'}`);
    const main = el('button', 'main');
    main.setAttribute('aria-label', `${spoken(spec.text, spec.alt)}${spec.of}. Show details`);
    main.setAttribute('aria-expanded', 'false');
    const icon = el('span', 'icon', look.icon);
    icon.setAttribute('aria-hidden', 'true');
    main.append(icon, el('span', 'short', shortText(spec)), el('span', 'words', spec.text));
    const close = el('button', 'close', '\u00D7');
    close.setAttribute('aria-label', 'Remove this FaceCheck badge');
    box.append(main, close, detail);
    const style = el('style', '', STYLE);
    host.attachShadow({ mode: 'closed' }).append(style, box);
    return { host, chip: box };
  }

  // ---- opening the details ---------------------------------------------------------------------

  /** Keep the details of the badge being read on screen.
   * @param {Badge} b */
  function fitDetail(b) {
    const open = b.chip.classList.contains('open');
    b.host.style.zIndex = String(open ? Z_TOP : Z);
    if (!open) return;
    const d = b.detail;
    d.style.left = '0px';
    d.style.top = '100%';
    const r = b.chip.getBoundingClientRect();
    const at = FaceCheckGeometry.panelPosition({ x: r.left, y: r.top, w: r.width, h: r.height },
      { w: d.offsetWidth, h: d.offsetHeight },
      { width: document.documentElement.clientWidth, height: window.innerHeight });
    d.style.left = `${at.left - r.left - b.chip.clientLeft}px`;
    d.style.top = `${at.top - r.top - b.chip.clientTop}px`;
  }

  /** Re-place every badge now (not at the next frame). */
  function layoutNow() {
    if (frameRequest) cancelAnimationFrame(frameRequest);
    relayout();
  }

  /** Hovered or focused, a folded chip unfolds to its headline (the short label only: the
   * details open on a click, Enter or Space).
   * @param {Badge} b
   * @param {boolean} on */
  function setShown(b, on) {
    if (b.chip.classList.contains('show') === on) return;
    b.chip.classList.toggle('show', on);
    layoutNow();
  }

  /** Bring a badge to the top of the top layer (above the other badges), keeping its focus.
   * @param {Badge} b */
  function raise(b) {
    const focused = b.chip.querySelector(':focus');
    b.host.hidePopover();
    b.host.showPopover();
    if (focused instanceof HTMLElement) focused.focus({ preventScroll: true });
  }

  /** @param {Badge} b
   * @param {boolean} on  pinned open (a click on the chip, Enter or Space) */
  function setOpen(b, on) {
    if (on) for (const o of badges) if (o !== b && o.chip.classList.contains('open')) setOpen(o, false);
    b.chip.classList.toggle('open', on);
    const main = b.chip.querySelector('.main');
    if (main) main.setAttribute('aria-expanded', String(on));
    if (on) raise(b);
    layoutNow();
  }

  /* Only a person presses a badge: events a script made (`click()`, dispatchEvent: isTrusted
   * false) are stopped before any control sees them, their default actions (a <summary>'s
   * toggle) cancelled, and every handler checks again. */
  const SCRIPTED = ['click', 'auxclick', 'dblclick', 'mousedown', 'mouseup', 'pointerdown', 'pointerup',
    'keydown', 'keyup', 'keypress'];
  /** @param {Event} e */
  function refuseScripted(e) {
    if (e.isTrusted) return;
    e.preventDefault();
    e.stopImmediatePropagation();
  }
  /** `handler`, for trusted events only.
   * @template {Event} E
   * @param {(e: E) => void} handler
   * @returns {(e: E) => void} */
  const trusted = (handler) => (e) => { if (e.isTrusted) handler(e); };

  /** The badge sits in the page's tree, after its picture and perhaps inside a link: a person's
   * clicks and keys in it are not the page's (they go no further, and a click on its text does
   * not follow the link around it; its own buttons and <summary> still work).
   * @param {Event} e */
  function keepInside(e) {
    e.stopPropagation();
    if (e.type !== 'click' && e.type !== 'auxclick') return;
    const path = e.composedPath();
    const own = path.slice(0, Math.max(0, path.indexOf(/** @type {EventTarget} */ (e.currentTarget))));
    if (!own.some((n) => n instanceof HTMLButtonElement || (n instanceof HTMLElement && n.localName === 'summary'))) {
      e.preventDefault();
    }
  }

  /** @param {Badge} b */
  function wire(b) {
    const box = b.chip;
    for (const type of SCRIPTED) {
      box.addEventListener(type, refuseScripted, true);
      box.addEventListener(type, keepInside);
    }
    const stop = (/** @type {Event} */ e) => { e.preventDefault(); e.stopPropagation(); };
    const main = /** @type {HTMLElement} */ (box.querySelector('.main'));
    main.addEventListener('click', trusted((e) => {
      stop(e); // not the page's click: a badge often lies over a link
      setOpen(b, !box.classList.contains('open'));
    }));
    box.querySelector('.close')?.addEventListener('click', trusted((e) => { stop(e); removeBadge(b); }));
    box.addEventListener('mouseenter', trusted(() => setShown(b, true)));
    box.addEventListener('mouseleave', trusted(() => setShown(b, box.matches(':focus-within'))));
    box.addEventListener('focusin', trusted(() => setShown(b, true)));
    box.addEventListener('focusout', trusted((e) => {
      if (!box.contains(/** @type {Node | null} */ (e.relatedTarget))) setShown(b, box.matches(':hover'));
    }));
    box.addEventListener('keydown', trusted((e) => {
      if (e.key !== 'Escape' || !box.classList.contains('open')) return;
      setOpen(b, false);
      main.focus({ preventScroll: true });
    }));
  }

  // ---- where badges go, and whether they show --------------------------------------------------

  const CLIPS = /hidden|scroll|auto|clip/;

  /** The flat-tree parent (through slots and shadow roots).
   * @param {Element} e
   * @returns {Element | null} */
  const parentOf = (e) => e.assignedSlot || e.parentElement ||
    (e.parentNode instanceof ShadowRoot ? e.parentNode.host : null);

  /** Whether an element with style `cs` is the containing block of a box positioned `mode`.
   * @param {CSSStyleDeclaration} cs
   * @param {string} mode  the box's `position` */
  function holds(cs, mode) {
    const transformed = cs.transform !== 'none' || cs.perspective !== 'none' || cs.filter !== 'none' ||
      /paint|layout|strict|content/.test(cs.contain);
    if (mode === 'fixed') return transformed;
    if (mode === 'absolute') return cs.position !== 'static' || transformed;
    return true;
  }

  /** `r` cut to the padding box of `e` on the axes its overflow clips.
   * @param {Element} e
   * @param {CSSStyleDeclaration} cs
   * @param {import('./geometry.js').Rect} r */
  function clipTo(e, cs, r) {
    const onX = CLIPS.test(cs.overflowX);
    const onY = CLIPS.test(cs.overflowY);
    if ((!onX && !onY) || !(e instanceof HTMLElement) || /^(inline|contents)$/.test(cs.display)) return r;
    const box = e.getBoundingClientRect();
    const sx = e.offsetWidth ? box.width / e.offsetWidth : 1; // under a scale transform
    const sy = e.offsetHeight ? box.height / e.offsetHeight : 1;
    const by = { x: box.left + e.clientLeft * sx, y: box.top + e.clientTop * sy,
      w: e.clientWidth * sx, h: e.clientHeight * sy };
    return FaceCheckGeometry.clip(r, by, onX, onY);
  }

  /** The part of `rect` (the image's content box) that no overflow-clipping ancestor of `img`
   * cuts off: scrolling panels, overflow: hidden boxes. Ancestors that are not in the image's
   * chain of containing blocks (under position: absolute / fixed) do not clip it.
   * @param {HTMLElement} img
   * @param {import('./geometry.js').Rect} rect */
  function unclipped(img, rect) {
    const root = document.documentElement;
    // The body's overflow is the viewport's unless the root element has its own.
    const bodyClips = getComputedStyle(root).overflow !== 'visible';
    let mode = getComputedStyle(img).position;
    let r = rect;
    for (let e = parentOf(img); e && e !== root && r.w > 0 && r.h > 0; e = parentOf(e)) {
      const cs = getComputedStyle(e);
      if (!holds(cs, mode)) continue;
      if (e !== document.body || bodyClips) r = clipTo(e, cs, r);
      mode = cs.position;
    }
    return r;
  }

  /** Whether the page shows something fixed or sticky (a header, a dialog) over the image at
   * (x, y), viewport px. Other boxes over an image (links, overlays in the flow) do not hide it.
   * @param {HTMLElement} img
   * @param {number} x
   * @param {number} y */
  function coveredAt(img, x, y) {
    if (x < 0 || y < 0 || x >= innerWidth || y >= innerHeight) return false;
    const top = document.elementsFromPoint(x, y).find((e) => e.localName !== TAG && e.localName !== LIVE_TAG);
    if (!top || top === img || top.contains(img)) return false;
    for (let e = /** @type {Element | null} */ (top); e && !e.contains(img); e = e.parentElement) {
      const position = getComputedStyle(e).position;
      if (position === 'fixed' || position === 'sticky') return true;
    }
    return false;
  }

  /** Where a CSS background of natural size nw x nh is drawn in an element's padding box (its
   * first layer: background-size cover, contain, auto or 100% 100%; others are taken as filling it).
   * @param {import('./geometry.js').Rect} box
   * @param {CSSStyleDeclaration} cs
   * @param {number} nw
   * @param {number} nh */
  function backgroundRect(box, cs, nw, nh) {
    const size = cs.backgroundSize.split(',')[0].trim();
    const fit = { cover: 'cover', contain: 'contain', auto: 'none', 'auto auto': 'none' }[size] || 'fill';
    const position = `${cs.backgroundPositionX.split(',')[0]} ${cs.backgroundPositionY.split(',')[0]}`;
    return FaceCheckGeometry.drawnRect(box, nw, nh, fit, position);
  }

  /** The picture's box (an <img>'s content box; a background's padding box), where its pixels
   * are drawn in it, and what of it shows (viewport px).
   * @param {HTMLElement} img
   * @param {{width?: number, height?: number}} natural  the checked picture's size (backgrounds)
   * @returns {import('./geometry.js').ImageFrame} */
  function imageFrame(img, natural) {
    const r = img.getBoundingClientRect();
    const cs = getComputedStyle(img);
    const px = (/** @type {string} */ v) => parseFloat(v) || 0;
    const isImg = img instanceof HTMLImageElement;
    const pad = (/** @type {string} */ v) => (isImg ? px(v) : 0);
    const x = r.left + px(cs.borderLeftWidth) + pad(cs.paddingLeft);
    const y = r.top + px(cs.borderTopWidth) + pad(cs.paddingTop);
    const w = r.right - px(cs.borderRightWidth) - pad(cs.paddingRight) - x;
    const h = r.bottom - px(cs.borderBottomWidth) - pad(cs.paddingBottom) - y;
    const content = { x, y, w, h };
    const drawn = isImg
      ? FaceCheckGeometry.drawnRect(content, img.naturalWidth, img.naturalHeight, cs.objectFit, cs.objectPosition)
      : backgroundRect(content, cs, natural.width || 0, natural.height || 0);
    return { content, drawn, visible: unclipped(img, content) };
  }

  /** Whether the picture can be seen at all (connected, displayed, not hidden or transparent).
   * @param {HTMLElement} img */
  const displayed = (img) => img.isConnected && (!img.checkVisibility || img.checkVisibility(
    /** @type {CheckVisibilityOptions} */ ({ checkVisibilityCSS: true, visibilityProperty: true,
      checkOpacity: true, opacityProperty: true })));

  /** Whether the page covers any part of `r` (its centre and corners) with a fixed or sticky layer.
   * @param {HTMLElement} img
   * @param {import('./geometry.js').Rect} r */
  const coveredRect = (img, r) => [[0.5, 0.5], [0, 0], [1, 0], [0, 1], [1, 1]].some(([fx, fy]) =>
    coveredAt(img, r.x + 2 + fx * (r.w - 4), r.y + 2 + fy * (r.h - 4)));

  /** @type {readonly Fold[]} */
  const FOLDS = ['full', 'compact', 'tiny'];
  /** @param {Badge} b
   * @param {Fold} fold */
  function setFold(b, fold) {
    b.chip.classList.toggle('compact', fold === 'compact');
    b.chip.classList.toggle('tiny', fold === 'tiny');
  }

  /** The badge's size in each fold, measured once (its words do not change).
   * @param {Badge} b */
  function sizesOf(b) {
    if (b.sizes) return b.sizes;
    const unfolded = b.chip.classList.contains('show');
    b.chip.classList.remove('show');
    /** @type {Record<Fold, {w: number, h: number}>} */
    const sizes = { full: { w: 0, h: 0 }, compact: { w: 0, h: 0 }, tiny: { w: 0, h: 0 } };
    for (const fold of FOLDS) {
      setFold(b, fold);
      sizes[fold] = { w: b.host.offsetWidth, h: b.host.offsetHeight };
    }
    b.chip.classList.toggle('show', unfolded);
    b.sizes = sizes;
    return sizes;
  }

  /**
   * @typedef {object} Pass  one round of placing every badge
   * @property {import('./geometry.js').Rect[]} placed  the badges placed so far (folded)
   * @property {() => {e: Element, r: import('./geometry.js').Rect}[]} pictures  the pictures in view
   */
  /** @returns {Pass} */
  function newPass() {
    /** @type {{e: Element, r: import('./geometry.js').Rect}[] | null} */
    let pictures = null;
    const inView = (/** @type {DOMRect} */ r) => r.width >= 16 && r.height >= 16 && r.bottom > -100 &&
      r.right > -100 && r.top < innerHeight + 100 && r.left < innerWidth + 100;
    return { placed: [], pictures: () => {
      if (!pictures) {
        const all = [...document.images, ...[...tracked.values()].flatMap((set) => [...set])];
        pictures = all.map((e) => ({ e, r: e.getBoundingClientRect() })).filter(({ r }) => inView(r))
          .map(({ e, r }) => ({ e, r: { x: r.left, y: r.top, w: r.width, h: r.height } }));
      }
      return pictures;
    } };
  }

  /** What a badge may not cover: the other faces of its picture, the badges already placed,
   * other pictures (not those its picture lies in).
   * @param {Badge} b
   * @param {import('./geometry.js').ImageFrame} frame
   * @param {Pass} pass */
  function obstacles(b, frame, pass) {
    const image = { width: b.width, height: b.height };
    const faces = [...badges].filter((o) => o !== b && o.img === b.img && o.faceBox)
      .map((o) => FaceCheckGeometry.faceOf(frame, o.faceBox, image))
      .filter((r) => r !== null && r.w > 0 && r.h > 0);
    const c = frame.content;
    const around = (/** @type {import('./geometry.js').Rect} */ r) => r.x <= c.x + 1 && r.y <= c.y + 1 &&
      r.x + r.w >= c.x + c.w - 1 && r.y + r.h >= c.y + c.h - 1;
    const pictures = pass.pictures().filter(({ e, r }) => e !== b.img && !around(r)).map(({ r }) => r);
    const others = /** @type {import('./geometry.js').Rect[]} */ (faces);
    return { others, avoid: [...others, ...pass.placed, ...pictures] };
  }

  /** A badge's spot and fold, best first: next to its face inside the picture (the full headline
   * when the picture is wide enough, else the compact chip, else the icon alone), then inside its
   * face box at its top edge (same order of folds), and only as a last resort, the icon beyond
   * the picture's edge.
   * @param {Badge} b
   * @param {import('./geometry.js').ImageFrame} frame
   * @param {Pass} pass
   * @returns {{spot: import('./geometry.js').Spot, fold: Fold} | null} */
  function findSpot(b, frame, pass) {
    const face = FaceCheckGeometry.faceOf(frame, b.faceBox, { width: b.width, height: b.height });
    const query = { area: frame.visible || frame.content, content: frame.content, face: face && face.w && face.h ? face : null,
      ...obstacles(b, frame, pass), free: (/** @type {import('./geometry.js').Rect} */ r) => !coveredRect(b.img, r),
      scrollY: window.scrollY };
    const sizes = sizesOf(b);
    const folds = FaceCheckGeometry.isCompact(frame) ? FOLDS.slice(1) : FOLDS;
    /** @type {[Fold, boolean, boolean][]} fold, on the face, beyond the picture */
    const tries = [...folds.map((f) => /** @type {[Fold, boolean, boolean]} */ ([f, false, false])),
      // On the face, a headline no wider than the face (a wider one would reach its neighbours).
      ...folds.filter((f) => f === 'tiny' || (query.face && sizes[f].w <= query.face.w))
        .map((f) => /** @type {[Fold, boolean, boolean]} */ ([f, true, false])), ['tiny', true, true]];
    for (const [fold, onFace, outside] of tries) {
      const spot = FaceCheckGeometry.spotFor({ ...query, badge: sizes[fold], onFace, outside });
      if (spot) return { spot, fold };
    }
    return null;
  }

  /** @param {Badge} b */
  function hide(b) {
    b.host.style.display = 'none';
    b.spot = null;
    placeMap(b, null);
  }

  /** Place a badge, or hide it while its face cannot be seen or no spot is clear.
   * @param {Badge} b
   * @param {Pass} pass */
  function place(b, pass) {
    const frame = displayed(b.img) ? imageFrame(b.img, b) : null;
    const anchor = frame && FaceCheckGeometry.shownAt(frame, b.faceBox, { width: b.width, height: b.height });
    if (!frame || !anchor || coveredAt(b.img, anchor.x, anchor.y)) return hide(b);
    b.host.style.display = '';
    placeMap(b, frame);
    const unfolded = b.chip.classList.contains('show') || b.chip.classList.contains('open');
    // Unfolded, it keeps the folded chip's place (it would slip from under the pointer), in view.
    if (unfolded && b.spot) {
      const left = Math.max(0, Math.min(b.spot.x, document.documentElement.clientWidth - b.host.offsetWidth));
      move(b, left, b.spot.y);
      pass.placed.push(b.spot);
      return undefined;
    }
    const found = findSpot(b, frame, pass);
    if (!found) return hide(b);
    setFold(b, found.fold);
    const { x, y } = found.spot;
    move(b, x, y);
    b.spot = { x, y, ...sizesOf(b)[found.fold] };
    pass.placed.push(b.spot);
    pointAt(b, found.spot.outside, anchor.x - x);
    return undefined;
  }

  /** @param {Badge} b
   * @param {number} left  viewport px
   * @param {number} top */
  function move(b, left, top) {
    if (b.host.style.left !== `${left}px`) b.host.style.left = `${left}px`;
    if (b.host.style.top !== `${top}px`) b.host.style.top = `${top}px`;
  }

  /** Give a badge placed outside its picture a tail pointing at its face (x: the face's centre,
   * from the badge's left edge), so it cannot be read as the neighbouring picture's.
   * @param {Badge} b
   * @param {'above' | 'below' | null} outside
   * @param {number} x */
  function pointAt(b, outside, x) {
    if (!outside) {
      delete b.chip.dataset.outside;
      return;
    }
    b.chip.dataset.outside = outside;
    const tail = `${Math.round(Math.max(8, Math.min(x, b.chip.offsetWidth - 8)))}px`;
    if (b.chip.style.getPropertyValue('--tail-x') !== tail) b.chip.style.setProperty('--tail-x', tail);
  }

  /** A badge of a picture that went away, or now shows another picture. A switch between the
   * candidates of an <img>'s srcset (the browser picking another resolution) is the same picture.
   * @param {Badge} b */
  function stale(b) {
    if (!b.img.isConnected || !b.host.isConnected) return true;
    const img = b.img;
    if (!(img instanceof HTMLImageElement)) return !shows(img, b.src);
    if (img.src !== b.srcAttr || img.srcset !== b.srcset) return true;
    return !b.srcset && Boolean(img.currentSrc && b.shown && img.currentSrc !== b.shown);
  }

  /** Whether a transition or animation moves a badged picture (a carousel sliding): badges follow
   * it frame by frame until it ends. */
  function animating() {
    if (!document.getAnimations || !badges.size) return false;
    const pictures = new Set([...badges].map((b) => b.img));
    return document.getAnimations().some((a) => {
      const target = a.playState === 'running' && a.effect instanceof KeyframeEffect ? a.effect.target : null;
      return Boolean(target) && [...pictures].some((p) => target && target.contains(p));
    });
  }

  let frameRequest = 0;
  function relayout() {
    frameRequest = 0;
    const pass = newPass();
    const unfolded = (/** @type {Badge} */ b) => Number(b.chip.classList.contains('show') || b.chip.classList.contains('open'));
    // Badges being read keep their place: the others make room for them.
    for (const b of [...badges].sort((a, c) => unfolded(c) - unfolded(a))) {
      if (stale(b)) removeBadge(b);
      else {
        place(b, pass);
        if (unfolded(b)) fitDetail(b);
      }
    }
    if (animating()) scheduleLayout();
  }
  const scheduleLayout = () => { if (!frameRequest && badges.size) frameRequest = requestAnimationFrame(relayout); };
  const passive = { capture: true, passive: true };
  addEventListener('scroll', scheduleLayout, passive);
  addEventListener('resize', scheduleLayout, { passive: true });
  for (const type of ['transitionrun', 'transitionend', 'animationstart', 'animationend', 'load']) {
    document.addEventListener(type, scheduleLayout, passive);
  }
  const resized = new ResizeObserver(scheduleLayout);
  if (document.body) resized.observe(document.body);
  const seen = new IntersectionObserver(scheduleLayout, { threshold: [0, 0.25, 0.5, 0.75, 1] });
  // Our own badges move (and open) all the time: those changes are not the page's.
  const ours = (/** @type {Node} */ node) => node instanceof Element && (node.localName === TAG || node.localName === LIVE_TAG);
  const pageChanged = (/** @type {MutationRecord} */ r) => (r.type === 'attributes' ? !ours(r.target)
    : ![...r.addedNodes, ...r.removedNodes].every(ours));
  new MutationObserver((records) => { if (badges.size && records.some(pageChanged)) scheduleLayout(); })
    .observe(document.documentElement, { childList: true, subtree: true, attributes: true,
      attributeFilter: ['src', 'srcset', 'sizes', 'style', 'class', 'hidden', 'open'] });

  /** Where a picture's badges go in the page's tree: right after it (after the <picture>, or
   * after a button or label it sits in, where a control may not be nested), so that they come
   * just after it in reading and tab order.
   * @param {HTMLElement} img */
  function anchorOf(img) {
    const last = [...badges].filter((o) => o.img === img).pop();
    if (last) return last.host;
    return img.parentElement && img.parentElement.closest('picture, button, summary, label, [role="button"]') || img;
  }

  /** Put a badge in the page, tied to its picture: in the top layer (a manual popover, so that no
   * page layer or transformed box confines it), placed in viewport pixels.
   * @param {HTMLElement} img
   * @param {BadgeSpec} spec
   * @param {HTMLElement} detail
   * @param {number[] | null} box
   * @param {{width?: number, height?: number}} view  the picture's size */
  function add(img, spec, detail, box, view) {
    const { host, chip } = makeBadge(spec, detail);
    /** @type {Badge} */
    const b = { host, chip, detail, img, src: spec.src, srcAttr: img instanceof HTMLImageElement ? img.src : '',
      shown: img instanceof HTMLImageElement ? img.currentSrc : '', srcset: img.getAttribute('srcset') || '',
      faceBox: box, width: view.width, height: view.height, sizes: null, spot: null };
    if (img instanceof HTMLImageElement) b.srcset = img.srcset;
    wire(b);
    const at = anchorOf(img);
    if (at.parentNode) at.after(host);
    else document.documentElement.appendChild(host);
    host.showPopover();
    badges.add(b);
    resized.observe(img);
    seen.observe(img);
    scheduleLayout();
  }

  /** The picture's alt text (or title, or aria-label), for the badge's label and the announcement.
   * @param {HTMLElement} img */
  const altOf = (img) => ((img instanceof HTMLImageElement ? img.alt : '') || img.title ||
    img.getAttribute('aria-label') || '').trim().replace(/\s+/g, ' ').slice(0, 150);

  /** What each page-side result said, by address: options changes re-judge it (no model run).
   * @type {Map<string, import('./settings.js').View>} */
  const views = new Map();

  /** One result -> badges on every picture showing `src`, its faces numbered left to right.
   * @param {string} src
   * @param {import('./settings.js').View} view
   * @returns {number} how many were drawn */
  function draw(src, view) {
    let n = 0;
    const said = new Set(); // one announcement per picture, however many elements show it
    const perFace = view.faces.length && view.verdict !== 'error' && view.verdict !== 'no-face';
    const faces = [...view.faces].sort((a, c) => a.box[0] - c.box[0] || a.box[1] - c.box[1]);
    views.set(src, view);
    for (const img of imagesFor(src)) {
      clearImage(img);
      const alt = altOf(img);
      const base = { src, alt, of: '' };
      if (perFace) {
        const count = faces.length;
        faces.forEach((face, i) => {
          const spec = { ...base, verdict: face.verdict, p: face.p_fake, modelVerdict: face.modelVerdict,
            text: face.label, of: count > 1 ? ` (face ${i + 1} of ${count})` : '',
            face: count > 1 ? { index: i + 1, count } : null };
          add(img, spec, makeDetail(spec, view, face), face.box, view);
        });
        n += count;
      } else {
        const spec = { ...base, verdict: view.verdict, p: view.p_fake, modelVerdict: view.modelVerdict, text: view.label };
        add(img, spec, makeDetail(spec, view), null, view);
        n += 1;
      }
      said.add(spoken(view.label, alt));
    }
    said.forEach(announce);
    return n;
  }

  /** The options changed the threshold or band: every result on the page re-worded from its
   * stored probabilities (settings.js rejudge()).
   * @param {{threshold?: unknown, unsureBand?: unknown}} band */
  function rejudgeAll(band) {
    const settings = FaceCheckSettings.clean({ threshold: band.threshold ?? null, unsureBand: band.unsureBand ?? null });
    for (const [src, view] of [...views]) {
      if (!imagesFor(src).length) views.delete(src);
      else if ([...badges].some((b) => b.src === src)) draw(src, FaceCheckSettings.rejudge(view, settings));
    }
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
          draw(src, { verdict: 'error', modelVerdict: 'error', p_fake: null, label: 'Could not check', faces: [],
            note: 'The check was interrupted because the extension restarted; please try again.' });
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
      const spec = { src, verdict: 'pending', p: null, modelVerdict: 'pending', text: 'Checking\u2026',
        alt: altOf(img), of: '' };
      const detail = el('div', 'detail');
      detail.append(el('p', 'headline', spec.text));
      add(img, spec, detail, null, {});
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
    else if (msg.type === 'facecheck-rejudge' && msg.band) rejudgeAll(msg.band);
    return false;
  });

  /** No badge of `src` any more, and no wait for its answer (a scan turned off mid-check). */
  const clear = (/** @type {string} */ src) => { settle(src); imagesFor(src).forEach(clearImage); };
  globalThis.FaceCheckBadges = { draw, pending, clear, track };
})();

/* blob: images, for the service worker (inference.js readBlob): a blob: URL can be read only by
 * its own page's origin, so the worker asks this frame for the bytes, as a data: URL (runtime
 * messages are JSON), at most the message's maxBytes (fetchpolicy.js MAX_INLINE_BYTES). Apart from
 * the badges above. */
(() => {
  'use strict';
  if (globalThis.FaceCheckBlobReader) return;
  globalThis.FaceCheckBlobReader = true;

  /** A picture the page shows from a blob: URL it has since revoked: its pixels, as a PNG.
   * @param {string} src
   * @returns {Promise<Blob | null>} */
  async function fromImage(src) {
    const img = [...document.images].find((i) => (i.currentSrc || i.src) === src && i.complete && i.naturalWidth);
    if (!img) return null;
    const canvas = document.createElement('canvas');
    canvas.width = img.naturalWidth;
    canvas.height = img.naturalHeight;
    const ctx = canvas.getContext('2d');
    if (!ctx) return null;
    ctx.drawImage(img, 0, 0);
    return new Promise((done) => canvas.toBlob(done, 'image/png'));
  }

  /** @param {string} src
   * @param {number} maxBytes
   * @returns {Promise<{dataUrl?: string, error?: 'too-large' | 'unreadable'}>} */
  async function readBlob(src, maxBytes) {
    let url;
    try {
      url = new URL(src);
    } catch {
      return { error: 'unreadable' };
    }
    if (url.protocol !== 'blob:' || url.origin !== location.origin) return { error: 'unreadable' };
    const blob = (await fetch(src).then((r) => r.blob()).catch(() => null)) || (await fromImage(src));
    if (!blob) return { error: 'unreadable' };
    if (!(blob.size <= maxBytes)) return { error: 'too-large' };
    const reader = new FileReader();
    return new Promise((done) => {
      reader.onload = () => done({ dataUrl: String(reader.result) });
      reader.onerror = () => done({ error: 'unreadable' });
      reader.readAsDataURL(blob);
    });
  }

  chrome.runtime.onMessage.addListener((msg, sender, sendResponse) => {
    if (!msg || msg.type !== 'facecheck-read-blob' || sender.id !== chrome.runtime.id) return false;
    readBlob(String(msg.src), Number(msg.maxBytes)).then(sendResponse, () => sendResponse({ error: 'unreadable' }));
    return true; // answered asynchronously
  });
})();
