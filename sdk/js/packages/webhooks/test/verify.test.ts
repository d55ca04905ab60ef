// verifyWebhook on real deliveries from Kassa, against the verdict of the official svix library on
// the same payloads (the cases file comes from tests/sdk_js/test_webhooks_js.py).
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { EVENT_TYPES, isEvent, verifyWebhook, WebhookVerificationError } from '@kassa/webhooks';

interface Case {
  name: string;
  body: string;
  headers: Record<string, string>;
  secrets: string[];
  now: number;
  svix: 'ok' | 'error';
  reason?: string;
}

const cases: Case[] = JSON.parse(readFileSync(process.env.KASSA_WEBHOOK_CASES!, 'utf8'));

test('every case: the same verdict as svix, and the reason named', async () => {
  assert.ok(cases.length >= 10);
  for (const c of cases) {
    const outcome = await verifyWebhook(c.body, c.headers, c.secrets, { now: c.now }).then(
      (event) => ({ ok: true as const, event }),
      (error: unknown) => ({ ok: false as const, error }),
    );
    assert.equal(outcome.ok ? 'ok' : 'error', c.svix, `${c.name}: svix says ${c.svix}`);
    if (outcome.ok) {
      const parsed = JSON.parse(c.body);
      assert.equal(outcome.event.id, parsed.id);
      assert.ok((EVENT_TYPES as readonly string[]).includes(outcome.event.type), outcome.event.type);
    } else {
      assert.ok(outcome.error instanceof WebhookVerificationError, `${c.name}: ${String(outcome.error)}`);
      if (c.reason) assert.equal(outcome.error.reason, c.reason, c.name);
    }
  }
});

test('bodies as bytes, headers in any case, typed data', async () => {
  const c = cases.find((x) => x.name.startsWith('delivery') && x.body.includes('"cart.created"'))!;
  const upper = Object.fromEntries(Object.entries(c.headers).map(([k, v]) => [k.toUpperCase(), v]));
  const bytes = new TextEncoder().encode(c.body);
  for (const body of [bytes, bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength)]) {
    const event = await verifyWebhook(body, new Headers(c.headers), c.secrets, { now: c.now });
    assert.equal(event.type, 'cart.created');
    const again = await verifyWebhook(body, upper, c.secrets[0]!, { now: c.now });
    if (isEvent(again, 'cart.created')) assert.equal(again.data.cart.id, again.data.cartId);
    else assert.fail('expected cart.created');
  }
  const parsed = JSON.parse(c.body) as unknown;
  const error = await verifyWebhook(parsed as string, c.headers, c.secrets, { now: c.now }).catch((e: unknown) => e);
  assert.ok(error instanceof WebhookVerificationError && error.reason === 'invalid_body');
});
