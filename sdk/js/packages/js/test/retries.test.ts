// Retries reuse the request's Idempotency-Key, so the server runs a POST once however often it is sent.
import assert from 'node:assert/strict';
import { createServer, type IncomingMessage } from 'node:http';
import { test } from 'node:test';
import { InternalServerError } from '@kassa/js';
import { baseUrl, faultyFetch, server, setupShop, storefront } from './helpers.js';

/** A gateway in front of the real Kassa that loses Kassa's answer to the first POST and says 502. */
async function lossyGateway() {
  const seen: { status: number; replayed: boolean; key: string | undefined }[] = [];
  let posts = 0;
  const gateway = createServer((req: IncomingMessage, res) => {
    void (async () => {
      const chunks: Buffer[] = [];
      for await (const chunk of req) chunks.push(chunk as Buffer);
      const headers = Object.fromEntries(Object.entries(req.headers).filter(
        ([name]) => !['host', 'connection', 'content-length'].includes(name)) as [string, string][]);
      const upstream = await fetch(baseUrl + req.url, { method: req.method!, headers,
                                                        body: chunks.length ? Buffer.concat(chunks) : undefined });
      const body = await upstream.text();
      seen.push({ status: upstream.status, replayed: upstream.headers.get('idempotent-replayed') === 'true',
                  key: req.headers['idempotency-key'] as string | undefined });
      if (req.method === 'POST' && ++posts === 1) {
        res.writeHead(502, { 'content-type': 'text/html' }).end('<html><h1>502 Bad Gateway</h1></html>');
        return;
      }
      res.writeHead(upstream.status, { 'content-type': upstream.headers.get('content-type') ?? 'application/json' })
        .end(body);
    })();
  });
  await new Promise<void>((resolve) => gateway.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(gateway.address() as { port: number }).port}`;
  return { url, seen, close: () => new Promise((resolve) => gateway.close(resolve)) };
}

test('a 502 from a gateway after Kassa ran the POST: retried with the same key, replayed, one effect', async () => {
  const { variantId } = await setupShop();
  const cart = await storefront().carts.create({ currency: 'EUR' });
  const gateway = await lossyGateway();
  try {
    const kassa = storefront({ baseUrl: gateway.url });
    kassa.carts.remember(cart.id, cart.clientSecret!);
    const after = await kassa.carts.addLineItem(cart.id, { variantId, quantity: 1 });
    assert.deepEqual(gateway.seen.map((s) => [s.status, s.replayed]), [[200, false], [200, true]],
                     'Kassa ran it once and replayed it to the retry');
    assert.equal(gateway.seen[1]!.key, gateway.seen[0]!.key);
    assert.equal(after.lineItems[0]!.quantity, 1);
    assert.equal((await server().carts.retrieve(cart.id)).itemCount, 1, 'the server saw one effect');
  } finally {
    await gateway.close();
  }
});

test('a lost answer is retried with the same key and the server replays it: one line added, not two', async () => {
  const { variantId } = await setupShop();
  const cart = await storefront().carts.create({ currency: 'EUR' });
  const transport = faultyFetch(async (attempt, url, init) => {
    if (attempt === 1) {
      await fetch(url, init); // the server runs it ...
      throw new TypeError('fetch failed: socket hang up'); // ... and the answer is lost on the way back
    }
    return undefined;
  });
  const kassa = storefront({ fetch: transport.fetch });
  kassa.carts.remember(cart.id, cart.clientSecret!);
  const after = await kassa.carts.addLineItem(cart.id, { variantId, quantity: 1 });
  assert.equal(transport.seen.length, 2);
  const [first, second] = transport.seen;
  assert.ok(first!.idempotencyKey);
  assert.equal(second!.idempotencyKey, first!.idempotencyKey);
  assert.equal(after.lineItems.length, 1);
  assert.equal(after.lineItems[0]!.quantity, 1, 'the server saw one effect');
  assert.equal((await server().carts.retrieve(cart.id)).itemCount, 1);
});

test('a duplicate sent while the first still runs waits for it and gets the same cart', async () => {
  const transport = faultyFetch(async (attempt, url, init) => {
    if (attempt === 1) {
      void fetch(url, init); // still running on the server when the retry arrives
      throw new TypeError('fetch failed: connection reset');
    }
    return undefined;
  });
  const created = await storefront({ fetch: transport.fetch }).carts.create({ currency: 'EUR', metadata: { n: '1' } });
  assert.equal(transport.seen.length, 2);
  assert.equal(transport.seen[1]!.idempotencyKey, transport.seen[0]!.idempotencyKey);
  // The replay is the first request's cart: the same id, one cart made.
  const again = await server().carts.retrieve(created.id);
  assert.equal(again.id, created.id);
});

test('429 and 5xx are retried after Retry-After; 4xx are not; the retries end', async () => {
  let calls = 0;
  const started = Date.now();
  const transport = faultyFetch(async (attempt) => {
    calls = attempt;
    if (attempt === 1) return Response.json({ error: { code: 'rate_limited', message: 'slow down' } },
                                            { status: 429, headers: { 'Retry-After': '0.2' } });
    if (attempt === 2) return Response.json({ error: { code: 'service_unavailable', message: 'db' } },
                                            { status: 503, headers: { 'Retry-After': '0' } });
    return undefined;
  });
  const cart = await storefront({ fetch: transport.fetch }).carts.create({ currency: 'EUR' });
  assert.equal(cart.status, 'open');
  assert.equal(calls, 3);
  assert.ok(Date.now() - started >= 200, 'Retry-After was honoured');
  assert.equal(new Set(transport.seen.map((s) => s.idempotencyKey)).size, 1);

  const failing = faultyFetch(async () => Response.json({ error: { code: 'internal_error', message: 'boom' } },
                                                        { status: 500, headers: { 'Retry-After': '0' } }));
  const error = await storefront({ fetch: failing.fetch, maxRetries: 2 }).carts.create({ currency: 'EUR' })
    .catch((e: unknown) => e);
  assert.ok(error instanceof InternalServerError);
  assert.equal(failing.seen.length, 3, 'two retries, then the error');

  const notFound = faultyFetch(async () => undefined);
  await assert.rejects(storefront({ fetch: notFound.fetch }).carts.retrieve('cart_missing'));
  assert.equal(notFound.seen.length, 1, 'a 404 is not retried');
});

test('a GET carries no Idempotency-Key; every POST gets its own', async () => {
  const transport = faultyFetch(async () => undefined);
  const kassa = storefront({ fetch: transport.fetch });
  const a = await kassa.carts.create({ currency: 'EUR' });
  await kassa.carts.create({ currency: 'EUR' });
  await kassa.carts.retrieve(a.id);
  const [k1, k2, k3] = transport.seen.map((s) => s.idempotencyKey);
  assert.ok(k1 && k2 && k1 !== k2);
  assert.equal(k3, null);
});
