// @ts-check
/* Badge geometry for content.js: where a picture's pixels are drawn inside its <img>, and where a
 * face's badge goes. Arithmetic on rectangles only (content.js reads them from the page), so Node
 * runs it in the unit tests (extension/test/geometry.test.js).
 *
 * A badge sits just above its face, inside the picture when there is room, else below the face,
 * else above the picture, else below it; never on the face. Without a face box (no face, an
 * error, "Checking...") it sits in the picture's top-left corner.
 */

/**
 * @typedef {{x: number, y: number, w: number, h: number}} Rect  viewport pixels
 * @typedef {{content: Rect, drawn: Rect}} ImageFrame  an <img>'s content box (inside its border
 *   and padding), and where its picture is drawn in it (they differ under object-fit)
 * @typedef {{scrollX: number, scrollY: number, width: number}} Page  the page's scroll offsets
 *   and the viewport's width (without scroll bars)
 */

(function (root, factory) {
  if (typeof module === 'object' && module.exports) module.exports = factory();
  else root.FaceCheckGeometry = factory();
})(globalThis, function () {
  'use strict';

  const GAP = 4; // px between a badge and its face, or the picture's corner

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

  /** The badge's viewport position for a face: image pixels -> viewport, the face clipped to
   * what the <img> shows (object-fit: cover), then above or below it.
   * @param {ImageFrame} frame
   * @param {number[]} box  [x, y, w, h] in the picture's pixels
   * @param {{width: number, height: number}} image  the picture's size, in the same pixels
   * @param {{w: number, h: number}} badge  the badge's size
   * @param {number} scrollY
   * @returns {{left: number, top: number}} */
  function besideFace({ content, drawn }, box, image, badge, scrollY) {
    const sx = drawn.w / image.width;
    const sy = drawn.h / image.height;
    const fx = Math.max(content.x, drawn.x + box[0] * sx);
    const fy = Math.max(content.y, drawn.y + box[1] * sy);
    const fw = Math.min(content.x + content.w, drawn.x + (box[0] + box[2]) * sx) - fx;
    const fh = Math.min(content.y + content.h, drawn.y + (box[1] + box[3]) * sy) - fy;
    let left = fx + fw / 2 - badge.w / 2;
    if (content.w >= badge.w) left = Math.min(Math.max(left, content.x), content.x + content.w - badge.w);
    const above = fy - GAP - badge.h;
    const below = fy + fh + GAP;
    let top;
    if (above >= content.y) top = above; // inside the picture, above the face
    else if (below + badge.h <= content.y + content.h) top = below; // inside, below the face
    else if (above + scrollY >= 0) top = above; // above the picture
    else top = below; // below the picture
    return { left, top };
  }

  /** Where a badge goes, in document pixels (rounded), kept inside the viewport's width.
   * @param {ImageFrame} frame
   * @param {number[] | null} box  the face, [x, y, w, h] in the picture's pixels; null: the corner
   * @param {{width?: number, height?: number}} image  the picture's size (needed with a box)
   * @param {{w: number, h: number}} badge  the badge's size
   * @param {Page} page
   * @returns {{left: number, top: number}} */
  function badgePosition(frame, box, image, badge, page) {
    const { width, height } = image;
    const spot = box && width && height
      ? besideFace(frame, box, { width, height }, badge, page.scrollY)
      : { left: frame.content.x + GAP, top: frame.content.y + GAP };
    const left = Math.max(0, Math.min(spot.left, page.width - badge.w)) + page.scrollX;
    return { left: Math.round(left), top: Math.round(spot.top + page.scrollY) };
  }

  return { drawnRect, badgePosition };
});
