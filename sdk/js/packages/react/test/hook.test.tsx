// useKassaCheckout in jsdom against a real Kassa: the state machine, the cart as the source of
// truth, one change at a time, and stale-cart recovery.
import { root } from './dom.js';
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { useEffect } from 'react';
import { createRoot } from 'react-dom/client';
import { DiscountInvalidError, Kassa, type Cart } from '@kassa/js';
import { KassaServer } from '@kassa/js/server';
import { KassaProvider, useKassaCheckout, type CartReset, type KassaCheckout } from '@kassa/react';

const baseUrl = process.env.KASSA_URL!;
const kassa = new Kassa({ apiKey: process.env.KASSA_PUBLISHABLE_KEY!, baseUrl });
// The merchant's server, here in the same process (jsdom makes it look like a browser).
const server = new KassaServer({ apiKey: process.env.KASSA_SECRET_KEY!, baseUrl, dangerouslyAllowSecretKeyInBrowser: true });
const ADDRESS = { addressLine1: 'Unter den Linden 1', city: 'Berlin', countryCode: 'DE' as const };
const CARD = { type: 'card', card: { number: '4242424242424242', expMonth: 12, expYear: 2030, cvc: '123' } };

async function shop() {
  const sku = () => `r-${Math.random().toString(36).slice(2, 10)}`;
  const product = await server.products.create({ name: 'Mug', variants: [{ sku: sku(), prices: { EUR: 1500 } },
                                                                          { sku: sku(), prices: { EUR: 900 } }] });
  const method = await server.shippingMethods.create({ name: 'Post', prices: { EUR: 500 }, countries: ['DE'] });
  return { mug: product.variants[0]!.id, saucer: product.variants[1]!.id, methodId: method.id };
}

/** Renders the hook; `view()` is its latest result, `statuses` every status it went through. */
function render(cart: Cart | string, onCartReset?: (reset: CartReset, cart: Cart) => void) {
  const statuses: string[] = [];
  let latest: KassaCheckout | undefined;
  commits = 0;
  function Probe() {
    const checkout = useKassaCheckout(cart, {
      createSession: async (c) => (await server.checkout.sessions.create({ cartId: c.id })).id, onCartReset,
    });
    latest = checkout;
    useEffect(() => {
      commits++;
      if (statuses.at(-1) !== checkout.status) statuses.push(checkout.status);
    });
    return <output id="total">{checkout.totals ? `${checkout.totals.total} ${checkout.totals.currency}` : '-'}</output>;
  }
  const reactRoot = createRoot(root);
  reactRoot.render(<KassaProvider kassa={kassa}><Probe /></KassaProvider>);
  return { view: () => latest as KassaCheckout, statuses, unmount: () => reactRoot.unmount() };
}

const tick = () => new Promise((resolve) => setTimeout(resolve, 5));

async function until(check: () => boolean, what: string): Promise<void> {
  for (let i = 0; i < 400; i++) {
    if (check()) return;
    await tick();
  }
  assert.fail(`timed out waiting for ${what}`);
}

let commits = 0;

/** An action of the hook; resolves (or answers its error) once React has committed the state it ends in. */
async function step<T>(call: () => Promise<T>, view: () => KassaCheckout): Promise<T> {
  const before = commits;
  const out = await call().catch((error: unknown) => error as T);
  await until(() => commits > before && view().status !== 'submitting', 'the change to settle');
  return out;
}

test('the state machine, totals bound to the cart the server answered, and the session', async () => {
  const { mug, methodId } = await shop();
  const created = await kassa.carts.create({ currency: 'EUR' });
  const { view, statuses, unmount } = render(created.id);
  try {
    await until(() => view()?.status === 'ready', 'the cart to load');
    let cart = await step(() => view().addLineItem({ variantId: mug, quantity: 2 }), view);
    assert.equal(view().totals?.subtotal, 3000);
    await step(() => view().setShippingAddress(ADDRESS), view);
    assert.deepEqual(view().shippingMethods.map((m) => m.id), [methodId]);
    cart = await step(() => view().selectMethod(methodId), view);
    assert.equal(view().selectedMethod?.id, methodId);
    assert.equal(view().cart, cart, 'the state is the answer itself');
    assert.equal(view().totals?.total, cart.total);
    assert.equal(root.querySelector('#total')?.textContent, `${cart.total} EUR`);
    const server_copy = await server.carts.retrieve(cart.id);
    assert.equal(server_copy.total, view().totals?.total);

    const error = await step(() => view().applyDiscountCode('NOT-A-CODE'), view);
    assert.ok(error instanceof DiscountInvalidError);
    assert.equal(view().status, 'error');
    assert.equal(view().error, error);
    assert.equal(view().cart, cart, 'a refused change leaves the cart as it was');

    const sessionId = await step(() => view().createSession(), view);
    assert.match(sessionId, /^cs_/);
    assert.equal(view().sessionId, sessionId);
    view().markCompleted('ord_x');
    await until(() => statuses.at(-1) === 'completed', 'completed to be committed'); // effects run after the render
    assert.deepEqual(statuses, ['idle', 'loading', 'ready', 'submitting', 'ready', 'submitting', 'ready',
                                'submitting', 'ready', 'submitting', 'error', 'submitting', 'ready', 'completed']);
  } finally {
    unmount();
  }
});

test('changes run one at a time, in order', async () => {
  const { mug, saucer } = await shop();
  const created = await kassa.carts.create({ currency: 'EUR' });
  const { view, unmount } = render(created);
  try {
    await until(() => view() !== undefined, 'the first render');
    assert.equal(view().status, 'ready', 'a cart object is ready at once');
    const results = await step(() => Promise.all([
      view().addLineItem({ variantId: mug, quantity: 1 }),
      view().addLineItem({ variantId: saucer, quantity: 1 }),
      view().addLineItem({ variantId: mug, quantity: 1 }),
    ]), view);
    assert.deepEqual(results.map((c) => c.itemCount), [1, 2, 3]);
    assert.equal(view().cart?.itemCount, 3);
  } finally {
    unmount();
  }
});

test('a cart that left "open" elsewhere is rebuilt from its lines and address, and the change replayed once', async () => {
  const { mug, saucer, methodId } = await shop();
  const resets: CartReset[] = [];
  const created = await kassa.carts.create({ currency: 'EUR', customerEmail: 'ada@example.com' });
  const { view, unmount } = render(created, (reset) => resets.push(reset));
  try {
    await until(() => view() !== undefined, 'the first render');
    await step(() => view().addLineItem({ variantId: mug, quantity: 2 }), view);
    await step(() => view().setShippingAddress(ADDRESS), view);
    await step(() => view().selectMethod(methodId), view);
    // In another tab, the shopper paid for this very cart: it is converted now.
    const session = await server.checkout.sessions.create({ cartId: created.id });
    await server.checkout.sessions.complete(session.id, { paymentMethod: CARD });
    assert.equal((await server.carts.retrieve(created.id)).status, 'converted');

    const after = await step(() => view().addLineItem({ variantId: saucer, quantity: 1 }), view);
    assert.notEqual(after.id, created.id);
    assert.deepEqual(view().reset, { previousCartId: created.id, cartId: after.id, reason: 'cart_not_open' });
    assert.deepEqual(resets, [view().reset]);
    assert.equal(after.status, 'open');
    assert.deepEqual(after.lineItems.map((l) => [l.variantId, l.quantity]), [[mug, 2], [saucer, 1]]);
    assert.equal(after.shippingAddress?.city, 'Berlin');
    assert.equal(after.customerEmail, 'ada@example.com');
    assert.equal(after.shippingMethod?.id, methodId, 'the method is selected again');
    assert.equal(view().status, 'ready');
    assert.equal(view().cart?.id, after.id);
    // The new cart is the hook's from now on: its secret was kept by the client.
    const next = await step(() => view().updateLineItem(after.lineItems[1]!.id, 3), view);
    assert.equal(next.id, after.id);
    assert.equal(next.itemCount, 5);
  } finally {
    unmount();
  }
});

test('a cart this browser cannot see any more (404) is rebuilt too, and the change replayed once only', async () => {
  const { mug, saucer } = await shop();
  // Made by the server: this browser's client never got its secret, so to it the cart is not found.
  const theirs = await server.carts.create({ currency: 'EUR', lineItems: [{ variantId: mug, quantity: 2 }] });
  const resets: CartReset[] = [];
  const { view, statuses, unmount } = render(theirs, (reset) => resets.push(reset));
  try {
    await until(() => view() !== undefined, 'the first render');
    const error = await step(() => view().applyDiscountCode('NOT-A-CODE'), view);
    // Rebuilt from the lines it knew, then the code tried once on the new cart: refused there too.
    assert.ok(error instanceof DiscountInvalidError, String(error));
    const rebuilt = view().cart!;
    assert.notEqual(rebuilt.id, theirs.id);
    assert.deepEqual(view().reset, { previousCartId: theirs.id, cartId: rebuilt.id, reason: 'cart_not_found' });
    assert.deepEqual(resets, [view().reset]);
    assert.deepEqual(rebuilt.lineItems.map((l) => [l.variantId, l.quantity]), [[mug, 2]]);
    assert.equal(view().status, 'error');
    assert.equal(view().error, error);
    const next = await step(() => view().addLineItem({ variantId: saucer, quantity: 1 }), view);
    assert.equal(next.id, rebuilt.id, 'no second rebuild: the new cart is this browser\'s');
    assert.equal(view().status, 'ready');
    assert.deepEqual(statuses, ['ready', 'submitting', 'error', 'submitting', 'ready']);
  } finally {
    unmount();
  }
});
