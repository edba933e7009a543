/* Unit tests of src/access.js: which sites a check asks for, and how a request without a user
 * gesture falls back to what is granted. (tests/test_permissions.py checks the real prompts'
 * paths in Chromium.) */
'use strict';
const test = require('node:test');
const assert = require('node:assert/strict');
const access = require('../src/access.js');

test('originPattern(): the host of http(s) URLs, any port; nothing for other schemes', () => {
  assert.equal(access.originPattern('https://cdn.example.com:8443/a/b.jpg?x=1'), 'https://cdn.example.com/*');
  assert.equal(access.originPattern('http://127.0.0.1:8000/'), 'http://127.0.0.1/*');
  assert.equal(access.originPattern('http://[::1]:9/x'), 'http://[::1]/*');
  for (const url of ['data:image/png;base64,AAAA', 'blob:https://a.example/1234', 'file:///etc/passwd',
    'chrome://settings', 'javascript:alert(1)', 'not a url', '', undefined]) {
    assert.equal(access.originPattern(url), null, String(url));
  }
});

test('patternsFor(): the image and the frame, once each', () => {
  assert.deepEqual(access.patternsFor(['https://a.example/x.jpg', 'https://a.example/page', undefined]),
    ['https://a.example/*']);
  assert.deepEqual(access.patternsFor(['https://cdn.example/x.jpg', 'https://news.example/']),
    ['https://cdn.example/*', 'https://news.example/*']);
  assert.deepEqual(access.patternsFor(['data:image/png;base64,AAAA']), []);
});

/** A fake chrome.permissions: `granted` origins, and whether a user gesture is active. */
function fakeChrome(granted, gesture, answer = true) {
  const asked = [];
  globalThis.chrome = { permissions: {
    contains: async ({ origins }) => origins.every((o) => granted.includes(o)),
    request: ({ origins }) => {
      asked.push(origins);
      if (!gesture) return Promise.reject(new Error('This function must be called during a user gesture'));
      return Promise.resolve(answer);
    },
  } };
  return asked;
}

test('request(): the user\'s answer with a gesture; what is granted without one', async () => {
  let asked = fakeChrome([], true, true);
  assert.equal(await access.request(['https://a.example/*']), true);
  assert.deepEqual(asked, [['https://a.example/*']]);
  fakeChrome([], true, false);
  assert.equal(await access.request(['https://a.example/*']), false);
  fakeChrome(['https://a.example/*'], false);
  assert.equal(await access.request(['https://a.example/*']), true);
  fakeChrome([], false);
  assert.equal(await access.request(['https://a.example/*']), false);
  asked = fakeChrome([], false);
  assert.equal(await access.request([]), true);
  assert.deepEqual(asked, [], 'nothing to ask for: no prompt');
  delete globalThis.chrome;
});
