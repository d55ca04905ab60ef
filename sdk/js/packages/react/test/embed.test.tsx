// <CheckoutEmbed> in jsdom, fed by useKassaCheckout().createSession() against a real Kassa: the
// session the shop's server created is framed with a real embed token, the frame's messages drive
// the hook (completed), `submitDisabled` reaches the frame, and unmounting removes the iframe.
import { root } from './dom.js';
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { useState } from 'react';
import { createRoot } from 'react-dom/client';
import { Kassa, type Cart } from '@kassa/js';
import { KassaServer } from '@kassa/js/server';
import { CheckoutEmbed, KassaProvider, useKassaCheckout, type CheckoutStep, type EmbedToken, type KassaCheckout } from '@kassa/react';

const baseUrl = process.env.KASSA_URL!;
const kassa = new Kassa({ apiKey: process.env.KASSA_PUBLISHABLE_KEY!, baseUrl });
const server = new KassaServer({ apiKey: process.env.KASSA_SECRET_KEY!, baseUrl, dangerouslyAllowSecretKeyInBrowser: true });
const window = root.ownerDocument.defaultView!;

async function until(check: () => boolean, what: string): Promise<void> {
  for (let i = 0; i < 400; i++) {
    if (check()) return;
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
  assert.fail(`timed out waiting for ${what}`);
}

function fromFrame(iframe: HTMLIFrameElement, data: Record<string, unknown>) {
  window.dispatchEvent(new window.MessageEvent('message', { data, origin: new URL(iframe.src).origin,
                                                           source: iframe.contentWindow }));
}

test('createSession() flows into <CheckoutEmbed>, whose completion completes the hook', async () => {
  const product = await server.products.create({ name: 'Mug', variants: [{ sku: `e-${Date.now()}`, prices: { EUR: 1500 } }] });
  const cart = await kassa.carts.create({ currency: 'EUR', lineItems: [{ variantId: product.variants[0]!.id, quantity: 1 }] });
  const tokens: EmbedToken[] = [];
  const steps: CheckoutStep[] = [];
  let view: KassaCheckout | undefined;
  let accept: (accepted: boolean) => void = () => undefined;

  function Checkout({ start }: { start: Cart }) {
    const checkout = useKassaCheckout(start, {
      createSession: async (c) => (await server.checkout.sessions.create({ cartId: c.id })).id,  // the shop's server
    });
    const [accepted, setAccepted] = useState(false);
    view = checkout;
    accept = setAccepted;
    if (checkout.status === 'completed') return <p id="thanks">Order {checkout.orderId}</p>;
    if (!checkout.sessionId) return <p>Loading</p>;
    return (
      <CheckoutEmbed sessionId={checkout.sessionId} locale="de" submitDisabled={!accepted}
                     fetchEmbedToken={async () => {
                       const token = await server.checkout.sessions.createEmbedToken({ sessionId: checkout.sessionId!,
                                                                              origin: 'http://shop.test' }) as EmbedToken;
                       tokens.push(token);
                       return token;
                     }}
                     onStepChange={(step) => steps.push(step)}
                     onComplete={({ orderId }) => checkout.markCompleted(orderId)} />
    );
  }

  const reactRoot = createRoot(root);
  reactRoot.render(<KassaProvider kassa={kassa}><Checkout start={cart} /></KassaProvider>);
  try {
    await until(() => view !== undefined, 'the first render');
    const sessionId = await view!.createSession();
    await until(() => !!root.querySelector('iframe')?.src, 'the iframe');
    const iframe = root.querySelector('iframe')!;
    assert.equal(tokens.length, 1);
    assert.equal(tokens[0]!.sessionId, sessionId);
    assert.equal(tokens[0]!.origin, 'http://shop.test');
    assert.equal(iframe.src, `${tokens[0]!.url}&locale=de`);
    assert.equal(iframe.title, 'Checkout');

    const posted: unknown[] = [];
    (iframe.contentWindow as unknown as { postMessage: unknown }).postMessage = (data: unknown, origin: string) => {
      assert.equal(origin, new URL(baseUrl).origin);
      posted.push(data);
    };
    fromFrame(iframe, { type: 'kassa.ready', sessionId });
    assert.deepEqual(posted, [{ type: 'kassa.submitDisabled', sessionId, disabled: true }]);
    accept(true);
    await until(() => posted.length === 2, 'the flag to reach the frame');
    assert.deepEqual(posted[1], { type: 'kassa.submitDisabled', sessionId, disabled: false });
    fromFrame(iframe, { type: 'kassa.resize', sessionId, height: 540 });
    assert.equal(iframe.style.height, '540px');
    fromFrame(iframe, { type: 'kassa.step.changed', sessionId, step: 'payment' });
    assert.deepEqual(steps, ['payment']);
    assert.equal(root.querySelectorAll('iframe').length, 1, 're-renders did not mount a second checkout');

    fromFrame(iframe, { type: 'kassa.completed', sessionId, orderId: 'ord_from_frame' });
    await until(() => view!.status === 'completed', 'completed');
    assert.equal(view!.orderId, 'ord_from_frame');
    assert.equal(root.querySelector('#thanks')?.textContent, 'Order ord_from_frame');
    assert.equal(root.querySelector('iframe'), null, 'the checkout unmounted with its component');
  } finally {
    reactRoot.unmount();
  }
});
