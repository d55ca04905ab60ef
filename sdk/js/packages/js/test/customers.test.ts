// kassa.customers and kassa.shopperAuth against the real API, and the storefront client sending the
// shopper token (X-Shopper-Token) with cart creates and updates.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { CustomerEmailTakenError, CustomerNotFoundError, ErasureNotFoundError, Kassa, ValidationError, type Customer,
         type Erasure } from '@kassa/js';
import { server, storefront } from './helpers.js';

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

test('customers.erase: the rows redacted per place, zeros on a repeat, typed errors', async () => {
  const admin = server();
  await admin.customers.updateSettings({ personalMetadataKeys: ['note'] });
  assert.deepEqual((await admin.customers.retrieveSettings()).personalMetadataKeys, ['note']);
  const email = `erase.${Math.random().toString(36).slice(2, 10)}@example.com`;
  const made = await admin.customers.create({ email, lastName: 'Doe', metadata: { note: 'ring twice' } });
  const erased: Erasure = await admin.customers.erase({ customerId: made.id });
  assert.deepEqual([erased.status, erased.customerId, erased.redacted.customers], ['completed', made.id, 1]);
  assert.deepEqual((await admin.customers.retrieveErasure(erased.id)).redacted, erased.redacted);
  const again = await admin.customers.erase({ email });
  assert.ok(Object.values(again.redacted).every((n) => n === 0));
  await assert.rejects(admin.customers.erase({ customerId: 'cus_nobody' }), CustomerNotFoundError);
  await assert.rejects(admin.customers.retrieveErasure('era_nobody'), ErasureNotFoundError);
  await assert.rejects(admin.customers.erase({ customerId: made.id, email }), ValidationError);
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

test('a storefront cart with a shopper token belongs to the signed-in shopper (a JWKS served by this test)', async () => {
  const { generateKeyPairSync, sign } = await import('node:crypto');
  const { createServer } = await import('node:http');
  const { publicKey, privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const jwk = { ...publicKey.export({ format: 'jwk' }), kid: 'js-test', use: 'sig', alg: 'ES256' };
  const jwks = createServer((_, res) => {
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ keys: [jwk] }));
  });
  await new Promise<void>((resolve) => jwks.listen(0, '127.0.0.1', resolve));
  try {
    const port = (jwks.address() as { port: number }).port;
    const issuer = `https://id-${Math.random().toString(36).slice(2, 8)}.example/`;
    await server().shopperAuth.update({ jwksUrl: `http://127.0.0.1:${port}/jwks.json`, issuer, audience: 'js-shop' });
    const b64 = (value: object | Buffer) =>
      (Buffer.isBuffer(value) ? value : Buffer.from(JSON.stringify(value))).toString('base64url');
    const now = Math.floor(Date.now() / 1000);
    const input = `${b64({ alg: 'ES256', kid: 'js-test', typ: 'JWT' })}.${b64({
      iss: issuer, aud: 'js-shop', sub: 'js-shopper', iat: now, exp: now + 600 })}`;
    const signature = sign('sha256', Buffer.from(input), { key: privateKey, dsaEncoding: 'ieee-p1363' });
    const shop = storefront({ shopperToken: `${input}.${b64(signature)}` });
    const cart = await shop.carts.create({ currency: 'EUR' });
    assert.match(cart.customer?.id ?? '', /^cus_/);
    const again = await shop.carts.create({ currency: 'EUR' });
    assert.equal(again.customer?.id, cart.customer?.id, 'the same shopper, the same customer');
    shop.setShopperToken(null);
    assert.equal((await shop.carts.create({ currency: 'EUR' })).customer, null, 'signed out: a guest cart');
  } finally {
    jwks.close();
  }
});
