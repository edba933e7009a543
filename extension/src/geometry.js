// @ts-check
/* Badge geometry for content.js: where a picture's pixels are drawn inside its <img>, which part
 * of it the page lets the user see, where a face's badge goes and where its details panel opens.
 * Arithmetic on rectangles only (content.js reads them from the page), so Node runs it in the
 * unit tests (extension/test/geometry.test.js).
 *
 * A badge is shown only while its anchor (the face's centre; the picture's centre for a badge
 * without a face) is inside the visible part of the picture. It sits next to its face inside the
 * visible picture (above, else below; beside only in a picture of one face), else (onFace) on the
 * face's top edge, else (outside, a last resort) beyond the picture's edge; never over another
 * face or anything in `avoid`, and nearer its own face than any other. Without a face box (no
 * face, an error, "Checking...") it sits in the visible picture's top-left corner. Pictures
 * rendered narrower than COMPACT_BELOW get a compact chip (icon and number), never the headline.
 */

/**
 * @typedef {{x: number, y: number, w: number, h: number}} Rect  viewport pixels
 * @typedef {{content: Rect, drawn: Rect, visible?: Rect}} ImageFrame  an <img>'s content box
 *   (inside its border and padding), where its picture is drawn in it (they differ under
 *   object-fit), and the part of the content box no overflow-clipping ancestor cuts off
 *   (the content box when absent)
 * @typedef {{scrollX: number, scrollY: number, width: number}} Page  the page's scroll offsets
 *   and the viewport's width (without scroll bars)
 * @typedef {{w: number, h: number}} Size
 */

/**
 * @typedef {object} SpotQuery  what spotFor() weighs
 * @property {Rect} area  the visible part of the picture
 * @property {Rect} content  the whole picture
 * @property {Rect | null} face  the badge's face; null: a badge without one (a corner)
 * @property {Size} badge
 * @property {Rect[]} avoid  what the badge may never cover: the picture's other faces, the
 *   badges already placed, other pictures
 * @property {Rect[]} [others]  the picture's other faces: the badge keeps nearer its own face
 *   than any of them, and never goes beside its face
 * @property {(r: Rect) => boolean} [free]  false where the page covers `r` (a sticky header)
 * @property {boolean} [onFace]  may sit inside its own face box, at its top edge
 * @property {boolean} [outside]  may sit beyond the picture's edge (a last resort)
 * @property {number} [scrollY]  the page's scroll offset (room above the page's top)
 * @typedef {{x: number, y: number, outside: 'above' | 'below' | null}} Spot  viewport px
 * @typedef {{r: Rect, within: Rect | null, outside: 'above' | 'below' | null}} Candidate
 */

(function (root, factory) {
  if (typeof module === 'object' && module.exports) module.exports = factory();
  else root.FaceCheckGeometry = factory();
// eslint-disable-next-line max-lines-per-function -- the module's UMD factory, not a function in that sense
})(globalThis, function () {
  'use strict';

  const GAP = 4; // px between a badge and its face, or the picture's corner
  // Pictures rendered narrower than this (px) get a compact chip: a full headline badge is
  // 160-210 px wide and would cover an avatar's face and the name beside it.
  const COMPACT_BELOW = 160;

  /** @type {Record<string, (w: number, h: number, nw: number, nh: number) => number>} */
  const FIT = {
    contain: (w, h, nw, nh) => Math.min(w / nw, h / nh),
    cover: (w, h, nw, nh) => Math.max(w / nw, h / nh),
    none: () => 1,
    'scale-down': (w, h, nw, nh) => Math.min(1, w / nw, h / nh),
  };

  /** One `object-position` component -> the offset into the free space (px or %; centred if absent).
   * @param {string | undefined} value
   * @param {number} free */
  const offset = (value, free) => (value && value.endsWith('px') ? parseFloat(value)
    : free * (value ? parseFloat(value) / 100 : 0.5));

  /** Where a picture of natural size nw x nh is drawn in an <img>'s content box, honouring the
   * computed `object-fit` and `object-position` ('fill', and pictures of unknown size, fill it).
   * @param {Rect} content
   * @param {number} nw
   * @param {number} nh
   * @param {string} objectFit
   * @param {string} objectPosition
   * @returns {Rect} */
  function drawnRect(content, nw, nh, objectFit, objectPosition) {
    const fit = FIT[objectFit];
    if (!nw || !nh || !fit) return content;
    const { x, y, w, h } = content;
    const scale = fit(w, h, nw, nh);
    const dw = nw * scale;
    const dh = nh * scale;
    const [posX, posY] = (objectPosition || '50% 50%').split(/\s+/);
    return { x: x + offset(posX, w - dw), y: y + offset(posY, h - dh), w: dw, h: dh };
  }

  /** `r` cut to `by` on the axes an overflow clips (an empty rectangle has w or h 0).
   * @param {Rect} r
   * @param {Rect} by
   * @param {boolean} [onX]  clip horizontally (default true)
   * @param {boolean} [onY]  clip vertically (default true)
   * @returns {Rect} */
  function clip(r, by, onX = true, onY = true) {
    const x = onX ? Math.max(r.x, by.x) : r.x;
    const y = onY ? Math.max(r.y, by.y) : r.y;
    const right = onX ? Math.min(r.x + r.w, by.x + by.w) : r.x + r.w;
    const bottom = onY ? Math.min(r.y + r.h, by.y + by.h) : r.y + r.h;
    return { x, y, w: Math.max(0, right - x), h: Math.max(0, bottom - y) };
  }

  /** A face box in the picture's pixels -> viewport pixels, cut to what the <img> shows.
   * @param {ImageFrame} frame
   * @param {number[]} box  [x, y, w, h] in the picture's pixels
   * @param {{width: number, height: number}} image  the picture's size, in the same pixels
   * @returns {Rect} */
  function faceRect({ content, drawn }, box, image) {
    const sx = drawn.w / image.width;
    const sy = drawn.h / image.height;
    return clip({ x: drawn.x + box[0] * sx, y: drawn.y + box[1] * sy, w: box[2] * sx, h: box[3] * sy }, content);
  }

  /** The face (a face box and the picture's size), or null for a badge without one.
   * @param {ImageFrame} frame
   * @param {number[] | null} box
   * @param {{width?: number, height?: number}} image
   * @returns {Rect | null} */
  function faceOf(frame, box, image) {
    const { width, height } = image;
    return box && width && height ? faceRect(frame, box, { width, height }) : null;
  }

  /** Whether a badge is shown: its anchor (the face's centre, else the content box's centre) lies
   * inside the visible part of the picture.
   * @param {ImageFrame} frame
   * @param {number[] | null} box
   * @param {{width?: number, height?: number}} image
   * @returns {{x: number, y: number} | null} the anchor (viewport px) when shown, else null */
  function shownAt(frame, box, image) {
    const visible = frame.visible || frame.content;
    const face = faceOf(frame, box, image);
    const r = face && face.w && face.h ? face : frame.content;
    const x = r.x + r.w / 2;
    const y = r.y + r.h / 2;
    const inside = visible.w > 0 && visible.h > 0 && x >= visible.x && x <= visible.x + visible.w &&
      y >= visible.y && y <= visible.y + visible.h;
    return inside ? { x, y } : null;
  }

  /** Whether a picture shown in `frame` gets a compact chip.
   * @param {ImageFrame} frame */
  const isCompact = (frame) => frame.content.w < COMPACT_BELOW;

  /** Whether two rectangles share more than a hairline.
   * @param {Rect} a
   * @param {Rect} b */
  const overlaps = (a, b) => a.x < b.x + b.w - 0.5 && b.x < a.x + a.w - 0.5 &&
    a.y < b.y + b.h - 0.5 && b.y < a.y + a.h - 0.5;

  /** Whether `inner` lies inside `outer`.
   * @param {Rect} inner
   * @param {Rect} outer */
  const inside = (inner, outer) => inner.x >= outer.x - 0.5 && inner.y >= outer.y - 0.5 &&
    inner.x + inner.w <= outer.x + outer.w + 0.5 && inner.y + inner.h <= outer.y + outer.h + 0.5;


  /** The gap between two rectangles (0 when they touch or overlap).
   * @param {Rect} a
   * @param {Rect} b */
  const gap = (a, b) => Math.hypot(Math.max(0, a.x - (b.x + b.w), b.x - (a.x + a.w)),
    Math.max(0, a.y - (b.y + b.h), b.y - (a.y + a.h)));

  /** The spots to try for a badge next to its face, best first: above the face inside the
   * picture (centred on the face, else flush with its left or right edge), below it, beside it
   * (only in a picture of one face: between two people a badge reads as either's), then (onFace)
   * inside the face box at its top edge, then (outside) beyond the picture's top or bottom edge
   * (not past an edge a scrolling panel cuts: beyond it is the page around the panel), spilling
   * over the picture's sides when it is narrower than the badge.
   * @param {SpotQuery} q
   * @param {Rect} face
   * @returns {Candidate[]} */
  function candidates(q, face) {
    const { area, content, badge: { w, h } } = q;
    const xs = [face.x + face.w / 2 - w / 2, face.x, face.x + face.w - w]
      .map((x) => (area.w >= w ? Math.min(Math.max(x, area.x), area.x + area.w - w) : x));
    const sideY = Math.min(Math.max(face.y, area.y), area.y + area.h - h);
    /** @type {Candidate[]} */
    const out = [];
    const add = (/** @type {number} */ x, /** @type {number} */ y, /** @type {Rect | null} */ within,
      /** @type {'above' | 'below' | null} */ outside = null) => out.push({ r: { x, y, w, h }, within, outside });
    for (const y of [face.y - GAP - h, face.y + face.h + GAP]) for (const x of xs) add(x, y, area);
    if (!(q.others || []).length) {
      add(face.x + face.w + GAP, sideY, area);
      add(face.x - GAP - w, sideY, area);
    }
    if (q.onFace) {
      const top = Math.min(Math.max(face.y + GAP / 2, area.y), area.y + area.h - h);
      for (const x of xs) add(x, top, area);
    }
    if (q.outside) {
      const cutAbove = area.y > content.y + 0.5;
      const cutBelow = area.y + area.h < content.y + content.h - 0.5;
      const edgeAbove = area.y - GAP - h;
      if (area.w < w) add(xs[0], Math.max(face.y + GAP / 2, area.y), null);
      if (edgeAbove + (q.scrollY || 0) >= 0 && (!cutAbove || cutBelow)) add(xs[0], edgeAbove, null, 'above');
      if (!cutBelow || cutAbove) add(xs[0], area.y + area.h + GAP, null, 'below');
    }
    return out;
  }

  /** Where a badge goes (viewport px), or null when no spot is clear: the first candidate that
   * lies inside the visible picture (for spots inside it), covers none of `avoid` and is `free`.
   * A badge without a face takes the visible picture's top-left corner (else another corner).
   * @param {SpotQuery} q
   * @returns {Spot | null} */
  function spotFor(q) {
    const { area, badge: { w, h } } = q;
    const corners = [[area.x + GAP, area.y + GAP], [area.x + area.w - GAP - w, area.y + GAP],
      [area.x + GAP, area.y + area.h - GAP - h], [area.x + area.w - GAP - w, area.y + area.h - GAP - h]];
    const list = q.face ? candidates(q, q.face)
      : corners.map(([x, y]) => ({ r: { x, y, w, h }, within: area, outside: null }));
    const free = q.free || (() => true);
    const others = q.others || [];
    for (const c of list) {
      if (c.within && !inside(c.r, c.within)) continue;
      if (q.avoid.some((a) => overlaps(c.r, a)) || !free(c.r)) continue;
      // Nearer its own face than any other, so that no one reads it as another person's.
      const own = q.face ? gap(c.r, q.face) : 0;
      if (others.some((o) => gap(c.r, o) <= own)) continue;
      return { x: Math.round(c.r.x), y: Math.round(c.r.y), outside: c.outside };
    }
    return null;
  }

  /** Where a badge's details panel opens (viewport px): below the badge, else above it, else on
   * the side with more room, moved left and down as needed to stay on screen.
   * @param {Rect} badge  the badge
   * @param {Size} panel  the panel's size
   * @param {{width: number, height: number}} viewport
   * @returns {{left: number, top: number}} */
  function panelPosition(badge, panel, viewport) {
    const below = badge.y + badge.h;
    const above = badge.y - panel.h;
    let top;
    if (below + panel.h <= viewport.height) top = below;
    else if (above >= 0) top = above;
    else top = viewport.height - below >= badge.y ? below : above;
    top = Math.max(0, Math.min(top, viewport.height - panel.h));
    const left = Math.max(0, Math.min(badge.x, viewport.width - panel.w));
    return { left: Math.round(left), top: Math.round(top) };
  }

  return { COMPACT_BELOW, drawnRect, clip, faceRect, faceOf, shownAt, isCompact, overlaps, spotFor, panelPosition };
});
