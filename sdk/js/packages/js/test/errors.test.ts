// Every typed error, from the real server's answers (and the transport's failures).
import assert from 'node:assert/strict';
import { createServer } from 'node:net';
import { test } from 'node:test';
import * as sdk from '@kassa/js';
import {
  AddressRequiredError, apiError, CartNotFoundError, CartNotOpenError, CheckoutSessionNotFoundError, ConflictError,
  DiscountInvalidError, ERROR_CLASSES, ForbiddenError, IdempotencyKeyReusedError, Kassa, KassaAbortError,
  KassaApiError, KassaConnectionError, KassaTimeoutError, NotFoundError, OriginNotAllowedError, PaymentDeclinedError,
  PaymentRequiredError, ServiceUnavailableError, STATUS_CLASSES, UnauthorizedError, UnprocessableEntityError,
  ValidationError,
} from '@kassa/js';
import { ADDRESS, baseUrl, DECLINED_CARD, OK_CARD, server, setupShop, storefront } from './helpers.js';

async function rejects<E extends KassaApiError>(call: Promise<unknown>, cls: new (...a: never[]) => E,
                                                code: string, status: number): Promise<E> {
  const error = await call.then(() => assert.fail(`expected ${cls.name}`), (e: unknown) => e);
  assert.ok(error instanceof cls, `expected ${cls.name}, got ${String(error)}`);
  assert.ok(error instanceof KassaApiError);
  assert.equal(error.code, code);
  assert.equal(error.status, status);
  assert.match(error.requestId ?? '', /^req_/);
  assert.ok(error.message.length > 0);
  return error;
}

test('cart lifecycle errors extend KassaApiError', async () => {
  const { variantId, shippingMethodId } = await setupShop();
  const kassa = storefront();
  const missing = await rejects(kassa.carts.retrieve('cart_missing'), CartNotFoundError, 'cart_not_found', 404);
  assert.ok(missing instanceof NotFoundError);
  // Another shopper's cart without its secret looks missing too.
  const theirs = await server().carts.create({ currency: 'EUR' });
  await rejects(storefront().carts.retrieve(theirs.id), CartNotFoundError, 'cart_not_found', 404);

  const cart = await kassa.carts.create({ currency: 'EUR', lineItems: [{ variantId, quantity: 1 }],
                                         shippingAddress: ADDRESS });
  await kassa.carts.selectShippingMethod(cart.id, { shippingMethodId });
  const session = await server().checkout.sessions.create({ cartId: cart.id });
  await kassa.checkout.sessions.complete(session.id, { paymentMethod: OK_CARD },
                                         { clientSecret: session.clientSecret! });
  const closed = await rejects(kassa.carts.addLineItem(cart.id, { variantId, quantity: 1 }), CartNotOpenError,
                               'cart_not_open', 409);
  assert.ok(closed instanceof ConflictError);
});

test('validation errors name the field and its replacement', async () => {
  const kassa = storefront();
  const cart = await kassa.carts.create({ currency: 'EUR' });
  const error = await rejects(kassa.carts.update(cart.id, { shippingAddress: { line1: 'x', city: 'Berlin',
                                                                               countryCode: 'DE' } as never }),
                              ValidationError, 'validation_error', 422);
  assert.ok(error instanceof UnprocessableEntityError);
  assert.equal(error.field, 'shippingAddress.line1');
  assert.deepEqual(error.details, { replacement: 'addressLine1' });
});

test('keys: unknown, publishable on a secret route, a foreign browser origin', async () => {
  await rejects(new Kassa({ apiKey: 'pk_test_unknown', baseUrl }).carts.create({ currency: 'EUR' }),
                UnauthorizedError, 'unauthorized', 401);
  const publishable = server({ apiKey: process.env.KASSA_PUBLISHABLE_KEY! });
  await rejects(publishable.orders.retrieve('ord_x'), ForbiddenError, 'forbidden', 403);
  // A live-like restriction: this application lists one origin, and the request comes from another.
  await server().embedConfig.update({ allowedOrigins: ['http://shop.test'] });
  try {
    const foreign = storefront({ headers: { Origin: 'http://elsewhere.test' } });
    const refused = await rejects(foreign.carts.create({ currency: 'EUR' }), OriginNotAllowedError,
                                  'origin_not_allowed', 403);
    assert.match(refused.message, /allowedOrigins/);
    const allowed = storefront({ headers: { Origin: 'http://shop.test' } });
    assert.equal((await allowed.carts.create({ currency: 'EUR' })).status, 'open');
  } finally {
    await server().embedConfig.update({ allowedOrigins: null });
  }
});

test('idempotency: the same key with other parameters is refused, never retried', async () => {
  const seen: string[] = [];
  const kassa = storefront({ fetch: (url, init) => { seen.push(url); return fetch(url, init); } });
  await kassa.carts.create({ currency: 'EUR' }, { idempotencyKey: 'order-42' + Math.random() });
  const key = 'k-' + Math.random();
  await kassa.carts.create({ currency: 'EUR' }, { idempotencyKey: key });
  seen.length = 0;
  const error = await rejects(kassa.carts.create({ currency: 'EUR', customerEmail: 'a@b.example' },
                                                 { idempotencyKey: key }),
                              IdempotencyKeyReusedError, 'idempotency_key_reused', 409);
  assert.ok(error instanceof ConflictError);
  assert.equal(seen.length, 1, 'idempotency_key_reused is never retried');
});

test('checkout errors: discount, address, payment, session', async () => {
  const { variantId, shippingMethodId } = await setupShop();
  const kassa = storefront();
  const cart = await kassa.carts.create({ currency: 'EUR', lineItems: [{ variantId, quantity: 1 }] });
  const bad = await rejects(kassa.carts.applyDiscountCode(cart.id, { code: 'NOPE-NOT-A-CODE' }), DiscountInvalidError,
                            'discount_invalid', 422);
  assert.ok(bad.details);
  const session = await server().checkout.sessions.create({ cartId: cart.id });
  const secret = { clientSecret: session.clientSecret! };
  const address = await rejects(kassa.checkout.sessions.complete(session.id, { paymentMethod: OK_CARD }, secret),
                                AddressRequiredError, 'address_required', 422);
  assert.equal(address.field, 'shippingAddress');
  await kassa.carts.update(cart.id, { shippingAddress: ADDRESS });
  await kassa.carts.selectShippingMethod(cart.id, { shippingMethodId });
  const declined = await rejects(kassa.checkout.sessions.complete(session.id, { paymentMethod: DECLINED_CARD }, secret),
                                 PaymentDeclinedError, 'payment_declined', 402);
  assert.ok(declined instanceof PaymentRequiredError);
  assert.equal(declined.details?.['reason'], 'card_declined');
  await rejects(kassa.checkout.sessions.retrieve(session.id, { clientSecret: 'wrong' }), CheckoutSessionNotFoundError,
                'checkout_session_not_found', 404);
});

test('transport errors: refused connection, timeout, abort', async () => {
  const closed = createServer();
  await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
  const port = (closed.address() as { port: number }).port;
  await new Promise((resolve) => closed.close(resolve));
  const down = new Kassa({ apiKey: 'pk_test_x', baseUrl: `http://127.0.0.1:${port}`, maxRetries: 0 });
  await assert.rejects(down.carts.create({ currency: 'EUR' }), KassaConnectionError);

  // A server that accepts and never answers.
  const sockets: import('node:net').Socket[] = [];
  const silent = createServer((socket) => { sockets.push(socket); });
  await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
  const silentUrl = `http://127.0.0.1:${(silent.address() as { port: number }).port}`;
  try {
    const slow = new Kassa({ apiKey: 'pk_test_x', baseUrl: silentUrl, timeout: 100, maxRetries: 0 });
    const timedOut = await slow.carts.retrieve('cart_x').catch((e: unknown) => e);
    assert.ok(timedOut instanceof KassaTimeoutError);
    assert.ok(timedOut instanceof KassaConnectionError);
    const controller = new AbortController();
    const pending = slow.carts.retrieve('cart_x', { signal: controller.signal, timeout: 10_000 });
    controller.abort();
    await assert.rejects(pending, KassaAbortError);
  } finally {
    sockets.forEach((s) => s.destroy());
    await new Promise((resolve) => silent.close(resolve));
  }
});

test('one class per code of the contract, under the class of its status; unknown codes fall back', () => {
  const codes = Object.keys(ERROR_CLASSES);
  assert.ok(codes.length >= 60, `${codes.length} codes`);
  const headers = new Headers({ 'x-request-id': 'req_1' });
  for (const code of codes) {
    const cls = ERROR_CLASSES[code]!;
    const status = Object.entries(STATUS_CLASSES).find(([, base]) => cls === base || cls.prototype instanceof base);
    assert.ok(status, `${cls.name} (${code}) extends no status class`);
    const error = apiError(Number(status[0]), { error: { code, message: 'm' } }, headers);
    assert.ok(error instanceof cls && error instanceof KassaApiError, code);
    assert.equal(error.name, cls.name, 'the name survives minification');
    assert.equal((sdk as Record<string, unknown>)[cls.name], cls, `${cls.name} is exported`);
    assert.equal(error.requestId, 'req_1');
  }
  const newer = apiError(404, { error: { code: 'brand_new_code', message: 'm' } }, headers);
  assert.equal(newer.constructor, NotFoundError);
  assert.equal(newer.code, 'brand_new_code');
  assert.ok(apiError(503, undefined, headers) instanceof ServiceUnavailableError);
  assert.equal(apiError(502, undefined, headers).constructor, sdk.InternalServerError);
  assert.equal(apiError(418, undefined, headers).constructor, KassaApiError);
  assert.equal(apiError(404, { error: { code: 'toString' } }, headers).constructor, NotFoundError);
});
