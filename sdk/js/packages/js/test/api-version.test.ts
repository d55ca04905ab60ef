// Every request names the API version the SDK was generated for (Kassa-Version), whatever the
// application is pinned to; `apiVersion` names another; errors tell the version that answered.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { API_VERSION, API_VERSIONS, KassaError, NotFoundError, type ApiVersion } from '@kassa/js';
import { ADDRESS, OK_CARD, server, setupShop } from './helpers.js';

/** The real fetch, recording the version each request names and each answer comes in. */
function versionRecorder() {
  const sent: (string | null)[] = [];
  const answered: (string | null)[] = [];
  const fetchImpl = async (url: string, init: RequestInit) => {
    sent.push(new Headers(init.headers).get('kassa-version'));
    const response = await fetch(url, init);
    answered.push(response.headers.get('kassa-version'));
    return response;
  };
  return { fetch: fetchImpl, sent, answered };
}

test('the newest version is sent by default and answered in; payments name their provider', async () => {
  assert.equal(API_VERSION, API_VERSIONS[0]);
  const { variantId, shippingMethodId } = await setupShop();
  const recorder = versionRecorder();
  const kassa = server({ fetch: recorder.fetch });
  assert.equal(kassa.apiVersion, API_VERSION);
  const cart = await kassa.carts.create({ currency: 'EUR', lineItems: [{ variantId, quantity: 1 }],
                                          shippingAddress: ADDRESS });
  await kassa.carts.selectShippingMethod(cart.id, { shippingMethodId });
  const session = await kassa.checkout.sessions.create({ cartId: cart.id });
  await kassa.checkout.sessions.complete(session.id, { paymentMethod: OK_CARD });
  const payments = await kassa.checkout.sessions.listPayments(session.id);
  assert.deepEqual(payments.map((p) => p.provider), ['test']);
  const missing = await kassa.carts.retrieve('cart_missing').catch((e: unknown) => e);
  assert.ok(missing instanceof NotFoundError);
  assert.equal(missing.apiVersion, API_VERSION);
  assert.ok(recorder.sent.length >= 5 && recorder.sent.every((v) => v === API_VERSION), String(recorder.sent));
  assert.deepEqual(recorder.answered, recorder.sent);
});

test('apiVersion asks for another known version; an unknown one is refused before any request', async () => {
  const first = API_VERSIONS[API_VERSIONS.length - 1]!;
  const recorder = versionRecorder();
  const kassa = server({ fetch: recorder.fetch, apiVersion: first });
  assert.equal(kassa.apiVersion, first);
  const missing = await kassa.carts.retrieve('cart_missing').catch((e: unknown) => e);
  assert.ok(missing instanceof NotFoundError);
  assert.equal(missing.apiVersion, first);
  assert.deepEqual(recorder.sent, [first]);
  assert.throws(() => server({ apiVersion: '2020-01-01' as ApiVersion }),
                (e: unknown) => e instanceof KassaError && e.message.includes(API_VERSION));
});
