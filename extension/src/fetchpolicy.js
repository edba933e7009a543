// @ts-check
/* What the service worker may fetch for a check, and how: pure decisions on URLs, no I/O, so Node
 * runs them in the unit tests (extension/test/fetchpolicy.test.js). inference.js applies them.
 *
 * The worker holds <all_urls> host permission, so a fetch of its own could reach what the page
 * never could (docs/security.md). Hence:
 *   - only http(s) goes to the network; data: URLs are decoded here (size-capped); blob: URLs are
 *     read by the frame's content script, the only code that can (same origin as the blob);
 *     every other scheme (file:, ftp:, chrome:, filesystem:, javascript:, ...) is refused;
 *   - cookies (and HTTP auth) only when the image is same-origin with the tab's page and with the
 *     frame that shows it, else `credentials: 'omit'`;
 *   - no redirect is followed (inference.js fetches with redirect: 'manual');
 *   - a loopback or private-network host is fetched only for a page (top-level and frame) that is
 *     itself on one. Only what the URL says is judged: a public name that DNS resolves to a
 *     private address cannot be told from the worker.
 */

/**
 * @typedef {object} Origin  where an image is shown: URLs (or origins) of the tab's top-level
 *   page and of the frame; '' when unknown (a missing frame counts as the top-level page)
 * @property {string} top
 * @property {string} [frame]
 * @typedef {{kind: 'fetch', url: string, credentials: 'include' | 'omit'} | {kind: 'data'} |
 *   {kind: 'blob'} | {kind: 'refuse', reason: string}} Plan
 */

(function (root, factory) {
  if (typeof module === 'object' && module.exports) module.exports = factory();
  else root.FaceCheckFetchPolicy = factory();
// eslint-disable-next-line max-lines-per-function -- the module's UMD factory, not a function in that sense
})(globalThis, function () {
  'use strict';

  /** The most bytes a data: or blob: image may have (a 40-megapixel JPEG fits). */
  const MAX_INLINE_BYTES = 20 * 1024 * 1024;
  /** The most bytes a downloaded (http) image may have: a page's server could otherwise answer
   * with an endless body and fill the worker's memory. The local server's default body limit. */
  const MAX_DOWNLOAD_BYTES = 64 * 1024 * 1024;

  const REASONS = {
    redirect: "the image's server redirected elsewhere; FaceCheck does not follow redirects",
    private: "a public page's image points at a private network address; FaceCheck does not fetch it",
    invalid: 'the image address is not a valid URL',
    tooLarge: 'the image is larger than FaceCheck reads',
    badData: 'the image is an unreadable data: URL',
    /** @param {string} scheme e.g. 'file:' */
    scheme: (scheme) => `FaceCheck downloads images only over http and https, not ${scheme} addresses`,
  };

  // Names that only ever mean a host on the user's own network (RFC 6761, 6762, 8375, ICANN's
  // .internal, and suffixes in common private use). Single-label names (intranet hosts, `router`)
  // are private too.
  const PRIVATE_SUFFIXES = ['localhost', 'local', 'localdomain', 'internal', 'intranet', 'lan', 'home',
    'corp', 'home.arpa'];

  /** [address, prefix length] of IPv4 blocks that are not the public internet. */
  const PRIVATE_V4 = /** @type {[string, number][]} */ ([
    ['0.0.0.0', 8], ['10.0.0.0', 8], ['100.64.0.0', 10], ['127.0.0.0', 8], ['169.254.0.0', 16],
    ['172.16.0.0', 12], ['192.0.0.0', 24], ['192.168.0.0', 16], ['198.18.0.0', 15],
    ['224.0.0.0', 4], ['240.0.0.0', 4], // multicast; reserved and broadcast
  ]);

  /** Dotted-quad IPv4 -> a 32-bit number, or null.
   * @param {string} text */
  function ipv4(text) {
    const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(text);
    if (!m) return null;
    const parts = m.slice(1).map(Number);
    if (parts.some((p) => p > 255)) return null;
    return ((parts[0] << 24) >>> 0) + (parts[1] << 16) + (parts[2] << 8) + parts[3];
  }

  /** PRIVATE_V4 as [network, mask] numbers, worked out once. */
  const PRIVATE_V4_MASKS = PRIVATE_V4.map(([net, bits]) => {
    const mask = bits === 0 ? 0 : (~0 << (32 - bits)) >>> 0;
    return [((/** @type {number} */ (ipv4(net))) & mask) >>> 0, mask];
  });

  /** @param {number} addr a 32-bit IPv4 address */
  function privateV4(addr) {
    return PRIVATE_V4_MASKS.some(([net, mask]) => ((addr & mask) >>> 0) === net);
  }

  /** An IPv6 address (no brackets) -> its eight 16-bit groups, or null.
   * @param {string} text */
  function ipv6(text) {
    let s = text.toLowerCase();
    const tail = /(\d{1,3}(?:\.\d{1,3}){3})$/.exec(s); // an embedded dotted IPv4 tail
    if (tail) {
      const v4 = ipv4(tail[1]);
      if (v4 === null) return null;
      s = `${s.slice(0, -tail[1].length)}${(v4 >>> 16).toString(16)}:${(v4 & 0xffff).toString(16)}`;
    }
    const halves = s.split('::');
    if (halves.length > 2) return null;
    const groups = (/** @type {string} */ h) => (h ? h.split(':') : []);
    const head = groups(halves[0]);
    const rest = halves.length === 2 ? groups(halves[1]) : [];
    const missing = 8 - head.length - rest.length;
    if (halves.length === 2 ? missing < 1 : missing !== 0) return null;
    const all = [...head, ...Array(halves.length === 2 ? missing : 0).fill('0'), ...rest];
    if (!all.every((g) => /^[0-9a-f]{1,4}$/.test(g))) return null;
    return all.map((g) => parseInt(g, 16));
  }

  /** @param {number[]} g the eight groups of an IPv6 address */
  function privateV6(g) {
    const embedded = (/** @type {number} */ hi, /** @type {number} */ lo) => privateV4(((hi << 16) >>> 0) + lo);
    const zeros = (/** @type {number} */ n) => g.slice(0, n).every((x) => x === 0);
    if (zeros(5) && (g[5] === 0xffff || g[5] === 0)) return embedded(g[6], g[7]); // mapped, compatible, ::1, ::
    if (zeros(4) && g[4] === 0xffff && g[5] === 0) return embedded(g[6], g[7]); // SIIT
    if (g[0] === 0x64 && g[1] === 0xff9b) return g[2] === 1 || embedded(g[6], g[7]); // NAT64
    if (g[0] === 0x2002) return embedded(g[1], g[2]); // 6to4
    return (g[0] & 0xfe00) === 0xfc00 // unique local fc00::/7
      || (g[0] & 0xffc0) === 0xfe80 // link-local fe80::/10
      || (g[0] & 0xffc0) === 0xfec0 // site-local (deprecated) fec0::/10
      || (g[0] & 0xff00) === 0xff00; // multicast
  }

  /** Is this host (a URL's `hostname`: canonical IPv4, bracketed IPv6, or a name) loopback, on
   * a private network, or a name that can only mean one?
   * @param {string} hostname */
  function isPrivateHost(hostname) {
    const host = hostname.toLowerCase().replace(/\.+$/, '');
    if (!host) return true;
    if (host.startsWith('[')) {
      const g = ipv6(host.slice(1, -1).split('%')[0]);
      return g === null || privateV6(g);
    }
    const v4 = ipv4(host);
    if (v4 !== null) return privateV4(v4);
    if (!host.includes('.')) return true; // single label: `localhost`, `router`, `nas`
    return PRIVATE_SUFFIXES.some((s) => host === s || host.endsWith(`.${s}`));
  }

  /** @param {string} text
   * @returns {URL | null} */
  function parse(text) {
    try {
      return text ? new URL(text) : null;
    } catch {
      return null;
    }
  }

  const web = (/** @type {URL | null} */ u) => Boolean(u && (u.protocol === 'http:' || u.protocol === 'https:'));

  /** Is the page (a URL or origin) on a loopback or private host? Unknown, opaque or non-http(s)
   * pages are not: they get the public pages' rules.
   * @param {string} page */
  function pageIsPrivate(page) {
    const u = parse(page);
    return web(u) && isPrivateHost(/** @type {URL} */ (u).hostname);
  }

  /** Same scheme, host and port (an opaque or unknown origin is never the same).
   * @param {string} a
   * @param {string} b */
  function sameOrigin(a, b) {
    const ua = parse(a), ub = parse(b);
    return web(ua) && web(ub) && /** @type {URL} */ (ua).origin === /** @type {URL} */ (ub).origin;
  }

  /** How to get an image's bytes, or why not.
   * @param {string} src
   * @param {Origin} from
   * @returns {Plan} */
  function plan(src, from) {
    const u = parse(src);
    if (!u) return { kind: 'refuse', reason: REASONS.invalid };
    if (u.protocol === 'data:') return { kind: 'data' };
    if (u.protocol === 'blob:') return { kind: 'blob' };
    if (!web(u)) return { kind: 'refuse', reason: REASONS.scheme(u.protocol) };
    const top = from.top || '';
    const frame = from.frame || top;
    if (isPrivateHost(u.hostname) && !(pageIsPrivate(top) && pageIsPrivate(frame))) {
      return { kind: 'refuse', reason: REASONS.private };
    }
    const own = sameOrigin(u.href, top) && sameOrigin(u.href, frame);
    return { kind: 'fetch', url: u.href, credentials: own ? 'include' : 'omit' };
  }

  /** The bytes of a data: URL's text body: UTF-8, with %XX escapes decoded (the URL standard's
   * percent-decode).
   * @param {string} text */
  function percentDecode(text) {
    const raw = new TextEncoder().encode(text);
    const out = new Uint8Array(raw.length);
    const hex = (/** @type {number} */ c) => (c >= 48 && c <= 57 ? c - 48 : (c | 32) >= 97 && (c | 32) <= 102 ? (c | 32) - 87 : -1);
    let n = 0;
    for (let i = 0; i < raw.length; i++) {
      const hi = raw[i] === 37 && i + 2 < raw.length ? hex(raw[i + 1]) : -1;
      const lo = hi >= 0 ? hex(raw[i + 2]) : -1;
      if (lo >= 0) {
        out[n++] = hi * 16 + lo;
        i += 2;
      } else out[n++] = raw[i];
    }
    return out.slice(0, n);
  }

  /** A data: URL -> its bytes and media type, without the network.
   * @param {string} src
   * @param {number} [maxBytes]
   * @returns {{type: string, bytes: Uint8Array}} */
  function decodeDataUrl(src, maxBytes = MAX_INLINE_BYTES) {
    const comma = src.indexOf(',');
    if (!/^data:/i.test(src) || comma < 0) throw new Error(REASONS.badData);
    const meta = src.slice(5, comma).split(';').map((s) => s.trim());
    const base64 = meta.slice(1).some((p) => p.toLowerCase() === 'base64');
    const body = src.slice(comma + 1);
    // The decoded size is at most 3/4 of the base64 text, or the text's length: checked first.
    if ((base64 ? Math.floor(body.length * 3 / 4) : body.length) > maxBytes * (base64 ? 1 : 3)) {
      throw new Error(REASONS.tooLarge);
    }
    let bytes;
    try {
      if (base64) {
        const bin = atob(decodeURIComponent(body).replace(/\s+/g, ''));
        bytes = Uint8Array.from(bin, (c) => c.charCodeAt(0));
      } else {
        bytes = percentDecode(body);
      }
    } catch {
      throw new Error(REASONS.badData);
    }
    if (bytes.length > maxBytes) throw new Error(REASONS.tooLarge);
    return { type: meta[0].toLowerCase(), bytes };
  }

  return { MAX_INLINE_BYTES, MAX_DOWNLOAD_BYTES, REASONS, isPrivateHost, pageIsPrivate, sameOrigin, plan, decodeDataUrl };
});
