// Run by tests/sdk_js/test_retries_js.py while the first request under this Idempotency-Key still
// runs in Kassa (the harness sent it and holds its cart row): Kassa answers the duplicate 409
// `idempotency_key_in_progress`, the client retries with the same key, and once the first request
// finishes, the retry gets its answer replayed. One line added, not two.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Kassa } from '@kassa/js';
import { recordingFetch } from './recorder.js';

test('409 idempotency_key_in_progress is retried until the first request finishes, then replayed', async () => {
  const env = process.env as Record<string, string>;
  const recorder = recordingFetch();
  const kassa = new Kassa({ apiKey: env['KASSA_PUBLISHABLE_KEY']!, baseUrl: env['KASSA_URL']!, fetch: recorder.fetch,
                            maxRetries: 5 });
  const cart = await kassa.carts.addLineItem(env['KASSA_CART_ID']!, { variantId: env['KASSA_VARIANT_ID']!, quantity: 1 },
                                             { idempotencyKey: env['KASSA_IDEMPOTENCY_KEY']!,
                                               cartSecret: env['KASSA_CART_SECRET']! });
  const attempts = recorder.attempts;
  assert.equal(attempts[0]!.status, 409);
  assert.equal(attempts[0]!.code, 'idempotency_key_in_progress');
  const last = attempts.at(-1)!;
  assert.equal(last.status, 200);
  assert.ok(last.replayed, 'the answer is the first request\'s, replayed');
  assert.ok(attempts.every((a) => a.idempotencyKey === env['KASSA_IDEMPOTENCY_KEY']));
  assert.equal(cart.lineItems[0]!.quantity, 1);
  console.log(`statuses: ${attempts.map((a) => a.status).join(' ')}`);
});
