// The model cache's freshness rule (Cache-Control max-age, less Age), which decides when a warm
// load skips the revalidation HEAD. The cache itself needs the Cache API: the browser suite
// (js/test/browser/suite.mjs, "model cache") checks it end to end.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { freshUntil } from '../dist/model-cache.js';

test('freshUntil: max-age less Age; no-cache, no-store, no max-age or nothing left: 0', () => {
  const now = 1_000_000;
  const at = (cc, age) => freshUntil(new Response('', { headers: { ...(cc === undefined ? {} : { 'cache-control': cc }), ...(age === undefined ? {} : { age }) } }), now);
  assert.equal(at('max-age=60'), now + 60_000);
  assert.equal(at('public, max-age=3600, immutable'), now + 3_600_000);
  assert.equal(at('max-age=60', '10'), now + 50_000);
  assert.equal(at('max-age=60', '60'), 0);
  assert.equal(at('max-age=0'), 0);
  assert.equal(at('no-cache, max-age=60'), 0);
  assert.equal(at('max-age=60, no-store'), 0);
  assert.equal(at('s-maxage=60'), 0);
  assert.equal(at(undefined), 0);
});
