// The storefront journey with a publishable key, the session created server-side with a secret key.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ADDRESS, OK_CARD, server, setupShop, storefront } from './helpers.js';

test('a shopper builds a cart with a publishable key and pays a session the server created', async () => {
  const { variantId, shippingMethodId, code } = await setupShop();
  const kassa = storefront();

  const products = await kassa.products.list({ limit: 50 });
  assert.ok(products.data.some((p) => p.variants.some((v) => v.id === variantId)));

  let cart = await kassa.carts.create({ currency: 'EUR', customerEmail: 'ada@example.com' });
  assert.equal(cart.status, 'open');
  assert.ok(cart.clientSecret, 'the client secret comes back once, on create');
  // No secret passed below: the client remembered it and sends X-Cart-Secret itself.
  cart = await kassa.carts.addLineItem(cart.id, { variantId, quantity: 2 });
  assert.equal(cart.subtotal, 5000);
  cart = await kassa.carts.update(cart.id, { shippingAddress: ADDRESS });
  assert.equal(cart.shippingAddress?.city, 'Berlin');
  const options = await kassa.carts.listShippingMethods(cart.id);
  assert.deepEqual(options.map((o) => o.id), [shippingMethodId]);
  cart = await kassa.carts.selectShippingMethod(cart.id, { shippingMethodId });
  assert.equal(cart.shippingMethod?.id, shippingMethodId);
  assert.equal(cart.shippingTotal, 490);
  cart = await kassa.carts.applyDiscountCode(cart.id, { code });
  assert.equal(cart.discountTotal, 500);
  assert.equal(cart.total, 5000 - 500 + 490 + cart.taxTotal * Number(!cart.taxesIncluded));
  assert.deepEqual(await kassa.carts.retrieve(cart.id), cart);

  // The storefront's server opens the session with its secret key and hands id and secret to the page.
  const session = await server().checkout.sessions.create({ cartId: cart.id });
  assert.equal(session.status, 'open');
  const read = await kassa.checkout.sessions.retrieve(session.id, { clientSecret: session.clientSecret! });
  assert.equal(read.id, session.id);
  const methods = await kassa.paymentMethods.list({ sessionId: session.id },
                                                          { clientSecret: session.clientSecret! });
  assert.ok(methods.some((m) => m.type === 'card'));
  const paid = await kassa.checkout.sessions.complete(session.id, { paymentMethod: OK_CARD },
                                                      { clientSecret: session.clientSecret! });
  assert.equal(paid.status, 'complete');
  assert.ok(paid.orderId);
  const order = await server().orders.retrieve(paid.orderId!);
  assert.equal(order.total, cart.total);
  assert.equal((await kassa.carts.retrieve(cart.id)).status, 'converted');
});
