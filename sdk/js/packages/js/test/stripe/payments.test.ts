// Payment settings and a headless Stripe checkout, against the real Kassa with localstripe as Stripe
// (tests/sdk_js/test_payments_js.py points the Kassa's Stripe calls at it and sets the LOCALSTRIPE_* variables).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  PaymentConnectorUnavailableError, PaymentProviderAuthFailedError, ValidationError, type PaymentSettings,
} from '@kassa/js';
import { ADDRESS, OK_CARD, server, setupShop, storefront } from '../helpers.js';

const stripeUrl = process.env['LOCALSTRIPE_URL']!;
const secretKey = process.env['LOCALSTRIPE_SECRET_KEY']!;
const publishableKey = process.env['LOCALSTRIPE_PUBLISHABLE_KEY']!;
const rejectedKey = process.env['LOCALSTRIPE_REJECTED_KEY']!;

/** What Stripe.js does in the shopper's browser: a card becomes a payment method that confirms the intent. */
async function confirmWithCard(paymentIntentId: string): Promise<{ status: string }> {
  const stripe = (path: string, form: Record<string, string> = {}) => fetch(`${stripeUrl}/v1/${path}`, {
    method: 'POST', body: new URLSearchParams(form),
    headers: { Authorization: `Bearer ${secretKey}`, 'Content-Type': 'application/x-www-form-urlencoded' },
  }).then(async (r) => { assert.equal(r.status, 200, await r.clone().text()); return r.json(); });
  const method = await stripe('payment_methods', { type: 'card', 'card[number]': '4242424242424242',
                                                   'card[exp_month]': '12', 'card[exp_year]': '2030', 'card[cvc]': '123' });
  await stripe(`payment_intents/${paymentIntentId}`, { payment_method: method.id });
  return stripe(`payment_intents/${paymentIntentId}/confirm`);
}

test('payment settings, then a session paid with a PaymentIntent the page confirmed', async () => {
  assert.ok(stripeUrl && secretKey && publishableKey && rejectedKey, 'run through tests/sdk_js/test_payments_js.py');
  const { variantId, shippingMethodId } = await setupShop();
  const admin = server();
  const shopper = storefront();
  const settings: PaymentSettings = await admin.paymentSettings.retrieve();
  assert.deepEqual([settings.provider, settings.captureMethod, settings.webhookUrl ?? null], ['test', 'automatic', null]);

  const made = await shopper.carts.create({ currency: 'EUR', lineItems: [{ variantId }], shippingAddress: ADDRESS });
  const cart = await shopper.carts.selectShippingMethod(made.id, { shippingMethodId });
  const session = await admin.checkout.sessions.create({ cartId: cart.id });
  const asShopper = { clientSecret: session.clientSecret! };
  await assert.rejects(shopper.checkout.sessions.createPaymentIntent(session.id, asShopper),
                       PaymentConnectorUnavailableError, 'the test provider makes no intents');

  await assert.rejects(admin.paymentSettings.update({ provider: 'stripe', secretKey: `sk_live_${'a'.repeat(24)}`, publishableKey }),
                       (e: unknown) => e instanceof ValidationError && e.field === 'secretKey');
  await assert.rejects(admin.paymentSettings.update({ provider: 'stripe', secretKey: rejectedKey, publishableKey }),
                       PaymentProviderAuthFailedError);
  const saved = await admin.paymentSettings.update({ provider: 'stripe', secretKey, publishableKey,
                                                    webhookSecret: 'whsec_jstest9876', captureMethod: 'automatic' });
  assert.deepEqual([saved.provider, saved.publishableKey, saved.secretKeyLast4, saved.webhookSecretLast4],
                   ['stripe', publishableKey, secretKey.slice(-4), '9876']);
  assert.match(saved.webhookUrl ?? '', new RegExp(`/webhooks/stripe/${process.env['KASSA_APP_ID']}$`));
  assert.deepEqual(await admin.paymentSettings.retrieve(), saved);

  const handle = await shopper.checkout.sessions.createPaymentIntent(session.id, asShopper);
  assert.match(handle.paymentIntentId, /^pi_/);
  assert.deepEqual([handle.provider, handle.amount, handle.currency, handle.publishableKey],
                   ['stripe', cart.total, 'EUR', publishableKey]);
  assert.ok(handle.clientSecret);
  assert.equal((await shopper.checkout.sessions.createPaymentIntent(session.id, asShopper)).paymentIntentId,
               handle.paymentIntentId, 'one intent per session');
  assert.equal((await confirmWithCard(handle.paymentIntentId)).status, 'succeeded');
  await assert.rejects(shopper.checkout.sessions.complete(session.id, { paymentMethod: OK_CARD }, asShopper),
                       (e: unknown) => e instanceof ValidationError && e.field === 'paymentMethod.card');
  const paid = await shopper.checkout.sessions.complete(
    session.id, { paymentMethod: { type: 'stripe', paymentIntentId: handle.paymentIntentId } }, asShopper);
  assert.equal(paid.status, 'complete');
  assert.equal((await admin.orders.retrieve(paid.orderId!)).total, cart.total);

  const back = await admin.paymentSettings.update({ provider: 'test' });
  assert.deepEqual([back.provider, back.secretKeyLast4 ?? null], ['test', null]);
});
