// kassa.customers and kassa.shopperAuth against the real API, and the storefront client sending the
// shopper token (X-Shopper-Token) with cart creates and updates.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { CustomerEmailTakenError, CustomerNotFoundError, Kassa, type Customer } from '@kassa/js';
import { server } from './helpers.js';

test('customers: create, update, segments, list, vouchers, delete; a cart names its customer', async () => {
  const admin = server();
  const email = `js.${Math.random().toString(36).slice(2, 10)}@example.com`;
  const made = await admin.customers.create({ email, firstName: 'Jo', segments: ['a'],
                                              marketingConsent: { email: 'granted', source: 'js' } });
  assert.match(made.id, /^cus_/);
  assert.equal(made.marketingConsent.email, 'granted');
  const changed = await admin.customers.update(made.id, { firstName: null, lastName: 'Doe' });
  assert.deepEqual([changed.firstName, changed.lastName, changed.email], [null, 'Doe', email]);
  assert.deepEqual((await admin.customers.updateSegments(made.id, { add: ['vip'], remove: ['a'] })).segments, ['vip']);
  const vip: Customer[] = [];
  for await (const c of admin.customers.list({ segment: 'vip', limit: 1 })) vip.push(c);
  assert.deepEqual(vip.map((c) => c.id), [made.id]);
  assert.deepEqual(await admin.customers.listVouchers(made.id), []);
  await assert.rejects(admin.customers.create({ email: email.toUpperCase() }), CustomerEmailTakenError);
  const cart = await admin.carts.create({ currency: 'EUR', customerId: made.id });
  assert.equal(cart.customer?.id, made.id);
  const setting = await admin.shopperAuth.update({ jwksUrl: 'https://id.example/jwks', issuer: 'https://id.example/',
                                                   audience: 'web' });
  assert.equal((await admin.shopperAuth.retrieve()).audience, setting.audience);
  assert.equal((await admin.customers.delete(made.id)).id, made.id);
  await assert.rejects(admin.customers.retrieve(made.id), CustomerNotFoundError);
});

test('the storefront client sends the shopper token with cart creates and updates', async () => {
  const seen: { method: string; path: string; token: string | null }[] = [];
  let current: string | null = 'token-1';
  const kassa = new Kassa({
    apiKey: 'pk_test_x', baseUrl: 'http://kassa.test', maxRetries: 0, shopperToken: () => current,
    fetch: async (url, init) => {
      seen.push({ method: init?.method ?? 'GET', path: new URL(String(url)).pathname,
                  token: new Headers(init?.headers).get('x-shopper-token') });
      return Response.json({ id: 'cart_1', clientSecret: 'cart_1_secret_x' });
    },
  });
  await kassa.carts.create({ currency: 'EUR' });
  await kassa.carts.update('cart_1', { customerEmail: 'a@example.com' });
  await kassa.carts.retrieve('cart_1');
  current = 'token-2';
  await kassa.carts.update('cart_1', {});
  kassa.setShopperToken(null);
  await kassa.carts.update('cart_1', {});
  kassa.setShopperToken('token-3');
  await kassa.carts.create({ currency: 'EUR' });
  assert.deepEqual(seen.map((s) => s.token), ['token-1', 'token-1', null, 'token-2', null, 'token-3']);
});
