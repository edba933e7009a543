// @ts-check
/* Site access, asked for when it is first needed and not before (least privilege).
 *
 * The manifest asks at install only for `activeTab` and lists host access as
 * `optional_host_permissions`: nothing is readable on any site until the user acts.
 *   - "Check face" on an image asks for the sites it needs: the image's, and the frame's (to draw
 *     the badge). Chrome shows its own prompt ("Read and change your data on example.com") the
 *     first time; once allowed it does not ask again.
 *   - Scanning pages (the popup's "Scan this page", the keyboard shortcut, "scan every page" in
 *     the options) asks for all sites, since a page's images come from any number of hosts.
 * chrome.permissions.request() must be called while Chrome still counts the user's click or key
 * press as a gesture: callers start it before their first `await`. Called without a gesture (the
 * tests drive the worker directly) it throws; what is already granted still counts then.
 *
 * Loaded by the service worker (importScripts), the popup and the options page; Node loads it
 * for its unit tests (extension/test/access.test.js).
 */

(function (root, factory) {
  if (typeof module === 'object' && module.exports) module.exports = factory();
  else root.FaceCheckAccess = factory();
})(globalThis, function () {
  'use strict';

  /** Host access for scanning: every site. */
  const ALL_SITES = ['<all_urls>'];

  /** What the user reads when access is missing (the popup and the popup's result row). */
  const WHY_SCAN = 'To scan pages, FaceCheck needs to read the images on the sites you scan. ' +
    'Chrome asks you once; nothing is read from a site until you check or scan there.';
  const DENIED_CHECK = 'FaceCheck was not allowed to read images on this site. ' +
    'Choose “Check face” again and allow it when Chrome asks.';
  const DENIED_SCAN = 'FaceCheck was not allowed to read images on the sites you scan, so scan mode ' +
    'stays off. Press “Scan this page” again and allow it when Chrome asks.';

  /** The match pattern covering one URL's host (any port), or null when the URL needs no host
   * access (data:, blob: and other schemes, which FaceCheck never fetches from the network).
   * @param {string | undefined} url
   * @returns {string | null} */
  function originPattern(url) {
    let u;
    try {
      u = new URL(String(url || ''));
    } catch {
      return null;
    }
    if (u.protocol !== 'http:' && u.protocol !== 'https:') return null;
    return `${u.protocol}//${u.hostname}/*`;
  }

  /** The patterns a check of `urls` needs, without repeats.
   * @param {(string | undefined)[]} urls
   * @returns {string[]} */
  function patternsFor(urls) {
    const patterns = urls.map(originPattern).filter((p) => p !== null);
    return [...new Set(/** @type {string[]} */ (patterns))];
  }

  /** Already granted?
   * @param {string[]} origins
   * @returns {Promise<boolean>} */
  async function has(origins) {
    if (!origins.length) return true;
    return chrome.permissions.contains({ origins });
  }

  /** Ask for `origins` (Chrome prompts only for what is not granted yet). Call it before the
   * caller's first `await`. Without a user gesture Chrome refuses to ask; then the answer is
   * whether they are granted already.
   * @param {string[]} origins
   * @returns {Promise<boolean>} */
  function request(origins) {
    if (!origins.length) return Promise.resolve(true);
    let asked;
    try {
      asked = chrome.permissions.request({ origins });
    } catch {
      return has(origins);
    }
    return asked.catch(() => has(origins));
  }

  return { ALL_SITES, WHY_SCAN, DENIED_CHECK, DENIED_SCAN, originPattern, patternsFor, has, request };
});
