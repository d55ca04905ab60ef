// Run by tests/sdk_js/test_retries_js.py against a Kassa whose write limit is low (3 per second per
// key and browser): the client meets real 429 `rate_limited` answers, waits as Retry-After says,
// and retries with the same Idempotency-Key; every change lands once.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Kassa } from '@kassa/js';
import { recordingFetch } from './recorder.js';

test('429 rate_limited from Kassa is retried after Retry-After, with the same key, one effect per call', async () => {
  const variantId = process.env.KASSA_VARIANT_ID!;
  const recorder = recordingFetch();
  const kassa = new Kassa({ apiKey: process.env.KASSA_PUBLISHABLE_KEY!, baseUrl: process.env.KASSA_URL!,
                            fetch: recorder.fetch, maxRetries: 8 });
  // Six shoppers' worth of carts at once from one browser: three fit the bucket, the rest must wait.
  const calls = 6;
  const carts = await Promise.all(Array.from({ length: calls }, () =>
    kassa.carts.create({ currency: 'EUR', lineItems: [{ variantId, quantity: 1 }] })));
  assert.equal(new Set(carts.map((c) => c.id)).size, calls);
  assert.ok(carts.every((c) => c.itemCount === 1));

  const attempts = recorder.attempts;
  const refused = attempts.filter((a) => a.status === 429);
  // At least one: on a loaded machine the six requests may span more than the bucket's second.
  assert.ok(refused.length >= 1, `the limit was met: ${JSON.stringify(attempts.map((a) => a.status))}`);
  for (const r of refused) {
    assert.equal(r.code, 'rate_limited');
    assert.ok(r.retryAfterMs !== null && r.retryAfterMs > 0, 'Kassa says how long to wait');
    const next = attempts.find((a) => a.at > r.at && a.idempotencyKey === r.idempotencyKey);
    assert.ok(next, 'the retry carries the same key');
    assert.ok(next.at - r.at >= r.retryAfterMs! - 5, `waited ${next.at - r.at} ms of ${r.retryAfterMs}`);
  }
  const keys = attempts.filter((a) => a.status < 300).map((a) => a.idempotencyKey);
  assert.equal(new Set(keys).size, calls, 'one success per call, each under its own key');
  console.log(`statuses: ${attempts.map((a) => a.status).join(' ')}`);
});
