/* Unit tests of src/fetchpolicy.js: which image fetches the service worker makes, and how.
 * (tests/test_fetch_security.py checks the same in Chromium, against servers that log requests.) */
'use strict';
const test = require('node:test');
const assert = require('node:assert/strict');
const policy = require('../src/fetchpolicy.js');

const { isPrivateHost, pageIsPrivate, sameOrigin, plan, decodeDataUrl, REASONS } = policy;
/** A URL's host as the worker sees it (the URL parser canonicalises IPv4 and IPv6). */
const host = (url) => new URL(url).hostname;

test('isPrivateHost(): loopback and private IPv4, however it is written', () => {
  for (const url of ['http://127.0.0.1/', 'http://127.255.1.2/', 'http://2130706433/', 'http://0x7f.1/',
    'http://0177.0.0.1/', 'http://10.1.2.3/', 'http://172.16.0.1/', 'http://172.31.255.255/',
    'http://192.168.1.1/', 'http://169.254.169.254/', 'http://100.64.0.1/', 'http://100.127.255.255/',
    'http://0.0.0.0/', 'http://0/', 'http://255.255.255.255/', 'http://224.0.0.1/']) {
    assert.equal(isPrivateHost(host(url)), true, url);
  }
  for (const url of ['http://8.8.8.8/', 'http://172.15.255.255/', 'http://172.32.0.0/', 'http://100.63.255.255/',
    'http://100.128.0.0/', 'http://11.0.0.1/', 'http://192.169.0.1/', 'http://169.253.0.1/', 'http://1.1.1.1/']) {
    assert.equal(isPrivateHost(host(url)), false, url);
  }
});

test('isPrivateHost(): IPv6 loopback, unique-local, link-local and IPv4 inside IPv6', () => {
  for (const url of ['http://[::1]/', 'http://[::]/', 'http://[0:0:0:0:0:0:0:1]/', 'http://[fc00::1]/',
    'http://[fd12:3456::1]/', 'http://[fe80::1]/', 'http://[febf::1]/', 'http://[fec0::1]/',
    'http://[::ffff:127.0.0.1]/', 'http://[::ffff:7f00:1]/', 'http://[::ffff:192.168.0.1]/', 'http://[::127.0.0.1]/',
    'http://[::ffff:0:10.0.0.1]/', 'http://[64:ff9b::10.0.0.1]/', 'http://[64:ff9b:1::1]/',
    'http://[2002:c0a8:101::1]/', 'http://[ff02::1]/']) {
    assert.equal(isPrivateHost(host(url)), true, url);
  }
  for (const url of ['http://[2001:4860:4860::8888]/', 'http://[::ffff:8.8.8.8]/', 'http://[64:ff9b::8.8.8.8]/',
    'http://[2606:4700::1111]/', 'http://[fbff::1]/', 'http://[fe00::1]/']) {
    assert.equal(isPrivateHost(host(url)), false, url);
  }
});

test('isPrivateHost(): names that can only be private', () => {
  for (const name of ['localhost', 'LOCALHOST.', 'app.localhost', 'router', 'nas.', 'printer.local',
    'db.internal', 'wiki.corp', 'box.home.arpa', 'pi.lan', 'host.localdomain', 'portal.intranet', 'x.home', '']) {
    assert.equal(isPrivateHost(name), true, name);
  }
  for (const name of ['example.com', 'victim.test', 'localhost.example.com', 'local.example.org', 'lan.com',
    'internal.example.net', 'home.arpa.example.com', 'xn--bcher-kva.example']) {
    assert.equal(isPrivateHost(name), false, name);
  }
});

test('pageIsPrivate() and sameOrigin()', () => {
  assert.equal(pageIsPrivate('http://127.0.0.1:8000/page.html'), true);
  assert.equal(pageIsPrivate('http://intranet/'), true);
  assert.equal(pageIsPrivate('https://example.com/'), false);
  for (const odd of ['', 'null', 'file:///home/me/page.html', 'about:blank', 'chrome://settings/']) {
    assert.equal(pageIsPrivate(odd), false, odd);
  }
  assert.equal(sameOrigin('https://a.example/x.jpg', 'https://a.example/page'), true);
  assert.equal(sameOrigin('https://a.example/x.jpg', 'https://a.example'), true); // an origin, as sender.origin
  assert.equal(sameOrigin('https://a.example:443/x.jpg', 'https://a.example/'), true);
  assert.equal(sameOrigin('http://a.example/x.jpg', 'https://a.example/'), false);
  assert.equal(sameOrigin('https://a.example:8443/x.jpg', 'https://a.example/'), false);
  assert.equal(sameOrigin('https://b.a.example/x.jpg', 'https://a.example/'), false);
  assert.equal(sameOrigin('https://a.example/x.jpg', 'null'), false);
  assert.equal(sameOrigin('https://a.example/x.jpg', ''), false);
});

test('plan(): cookies only for the page\'s own origin, and only if the frame is that origin too', () => {
  const top = 'https://victim.example/account';
  assert.deepEqual(plan('https://victim.example/me.jpg', { top }),
    { kind: 'fetch', url: 'https://victim.example/me.jpg', credentials: 'include' });
  assert.equal(plan('https://victim.example/me.jpg', { top, frame: 'https://victim.example' }).credentials, 'include');
  // A cross-site frame in the victim's page: the page's own request would carry no SameSite cookie.
  assert.equal(plan('https://victim.example/me.jpg', { top, frame: 'https://ads.example' }).credentials, 'omit');
  assert.equal(plan('https://victim.example/me.jpg', { top: 'https://attacker.example/' }).credentials, 'omit');
  assert.equal(plan('https://cdn.victim.example/me.jpg', { top }).credentials, 'omit');
  assert.equal(plan('http://victim.example/me.jpg', { top }).credentials, 'omit');
  assert.equal(plan('https://victim.example/me.jpg', { top: '' }).credentials, 'omit');
});

test('plan(): a public page never reaches a private host; a private page may', () => {
  const pub = { top: 'https://attacker.example/' };
  for (const src of ['http://127.0.0.1:8080/x.jpg', 'http://localhost/x.jpg', 'http://[::1]/x.jpg',
    'http://192.168.1.1/x.jpg', 'http://router/x.jpg', 'http://nas.local/x.jpg', 'http://[::ffff:10.0.0.1]/x.jpg',
    'http://2130706433/x.jpg']) {
    assert.deepEqual(plan(src, pub), { kind: 'refuse', reason: REASONS.private }, src);
  }
  const local = { top: 'http://127.0.0.1:8000/faces.html' };
  assert.equal(plan('http://localhost:8000/x.jpg', local).kind, 'fetch');
  assert.equal(plan('http://192.168.1.1/x.jpg', { top: 'http://intranet.corp/' }).kind, 'fetch');
  // A public frame in a private page, or a private frame in a public one: public rules.
  assert.equal(plan('http://192.168.1.1/x.jpg', { ...local, frame: 'https://ads.example' }).kind, 'refuse');
  assert.equal(plan('http://192.168.1.1/x.jpg', { top: 'https://a.example', frame: 'http://192.168.1.1' }).kind, 'refuse');
  assert.equal(plan('http://192.168.1.1/x.jpg', { top: 'file:///tmp/page.html' }).kind, 'refuse');
  assert.equal(plan('https://example.com/x.jpg', pub).kind, 'fetch');
});

test('plan(): only http(s) goes to the network; data: and blob: have their own paths', () => {
  const from = { top: 'https://a.example/' };
  assert.deepEqual(plan('data:image/png;base64,iVBORw0KGgo=', from), { kind: 'data' });
  assert.deepEqual(plan('blob:https://a.example/0b8c5e1a-1111-4222-8333-444455556666', from), { kind: 'blob' });
  for (const [src, scheme] of [['file:///etc/passwd', 'file:'], ['ftp://example.com/x.jpg', 'ftp:'],
    ['chrome://settings/', 'chrome:'], ['filesystem:https://a.example/temporary/x.jpg', 'filesystem:'],
    ['javascript:alert(1)', 'javascript:'], ['chrome-extension://abc/x.png', 'chrome-extension:'],
    ['about:blank', 'about:'], ['ws://a.example/', 'ws:']]) {
    assert.deepEqual(plan(src, from), { kind: 'refuse', reason: REASONS.scheme(scheme) }, src);
  }
  assert.deepEqual(plan('not a url', from), { kind: 'refuse', reason: REASONS.invalid });
  assert.deepEqual(plan('', from), { kind: 'refuse', reason: REASONS.invalid });
});

test('decodeDataUrl(): base64 and percent-encoded bodies, size-capped', () => {
  const png = decodeDataUrl('data:image/png;base64,iVBORw0KGgo=');
  assert.equal(png.type, 'image/png');
  assert.deepEqual([...png.bytes], [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
  assert.deepEqual([...decodeDataUrl('DATA:image/x;charset=x;BASE64,QUJD').bytes], [65, 66, 67]);
  assert.deepEqual([...decodeDataUrl('data:,a%20b%ff%zz').bytes], [97, 32, 98, 0xff, 37, 122, 122]);
  assert.deepEqual([...decodeDataUrl('data:text/plain,\u00e9').bytes], [0xc3, 0xa9]);
  assert.throws(() => decodeDataUrl('data:image/png;base64,QUJDRA==', 3), { message: REASONS.tooLarge });
  assert.throws(() => decodeDataUrl(`data:image/png;base64,${'A'.repeat(4000)}`, 1000), { message: REASONS.tooLarge });
  assert.throws(() => decodeDataUrl('data:,abcd', 3), { message: REASONS.tooLarge });
  assert.throws(() => decodeDataUrl('data:image/png;base64,!!!'), { message: REASONS.badData });
  assert.throws(() => decodeDataUrl('data:image/png;base64'), { message: REASONS.badData });
  assert.throws(() => decodeDataUrl('http://a.example/,x'), { message: REASONS.badData });
});
