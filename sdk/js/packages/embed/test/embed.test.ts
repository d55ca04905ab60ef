// mountCheckout in jsdom: the iframe it makes, the messages it accepts (only from its own frame, from
// Kassa's origin, for its session) and routes, what it posts to the frame and where, token refresh,
// and unmount. The real page in a real browser: tests/browser/test_embedded_checkout.py.
import assert from 'node:assert/strict';
import { mock, test } from 'node:test';
import { JSDOM } from 'jsdom';
import { mountCheckout, type CheckoutError, type EmbedToken, type MountCheckoutOptions } from '@kassa/embed';

const KASSA = 'https://pay.kassa.test';

function page() {
  const dom = new JSDOM('<!doctype html><html><body><div id="a"></div><div id="b"></div></body></html>',
                        { url: 'https://shop.test/checkout' });
  return { window: dom.window, a: dom.window.document.getElementById('a')!, b: dom.window.document.getElementById('b')! };
}

function token(sessionId: string, expiresInMs = 15 * 60_000, n = 1): EmbedToken {
  return { token: `tok${n}`, sessionId, origin: 'https://shop.test', expiresAt: new Date(Date.now() + expiresInMs).toISOString(),
           url: `${KASSA}/s/${sessionId}?embed=tok${n}` };
}

/** Callbacks recorded in order, as `name:value`. */
function recorder() {
  const seen: string[] = [];
  const errors: CheckoutError[] = [];
  const callbacks: Partial<MountCheckoutOptions> = {
    onReady: () => seen.push('ready'),
    onStepChange: (step) => seen.push(`step:${step}`),
    onComplete: ({ orderId, sessionId }) => seen.push(`completed:${sessionId}:${orderId}`),
    onError: (error) => { errors.push(error); seen.push(`error:${error.code}`); },
  };
  return { seen, errors, callbacks };
}

const settle = () => new Promise((resolve) => setImmediate(resolve));

/** The frame's window, with what is posted to it recorded (jsdom never loads the cross-origin page). */
function frameOf(host: HTMLElement) {
  const iframe = host.querySelector('iframe')!;
  const posted: [unknown, string][] = [];
  (iframe.contentWindow as unknown as { postMessage: unknown }).postMessage = (data: unknown, origin: string) =>
    posted.push([data, origin]);
  return { iframe, posted };
}

function send(window: Window & typeof globalThis, data: unknown, source: Window | null, origin = KASSA) {
  window.dispatchEvent(new window.MessageEvent('message', { data, origin, source }));
}

test('the iframe, its size, and every frame message routed', async () => {
  const { window, a } = page();
  const { seen, errors, callbacks } = recorder();
  const checkout = mountCheckout(a, { sessionId: 'cs_1', fetchEmbedToken: async () => token('cs_1'), locale: 'de',
                                      ...callbacks });
  await settle();
  const { iframe, posted } = frameOf(a);
  assert.equal(iframe.src, `${KASSA}/s/cs_1?embed=tok1&locale=de`);
  assert.equal(iframe.title, 'Checkout');
  assert.equal(iframe.getAttribute('allow'), 'payment');
  assert.equal(iframe.getAttribute('scrolling'), 'no');
  assert.equal(iframe.style.width, '100%');
  const frame = iframe.contentWindow!;

  checkout.setSubmitDisabled(true); // before ready: kept, sent on ready
  assert.equal(posted.length, 0);
  send(window, { type: 'kassa.ready', sessionId: 'cs_1' }, frame);
  assert.deepEqual(posted, [[{ type: 'kassa.submitDisabled', sessionId: 'cs_1', disabled: true }, KASSA]]);
  send(window, { type: 'kassa.resize', sessionId: 'cs_1', height: 612.4 }, frame);
  assert.equal(iframe.style.height, '613px');
  send(window, { type: 'kassa.resize', sessionId: 'cs_1', height: 'tall' }, frame);
  assert.equal(iframe.style.height, '613px', 'a height that is no number is ignored');
  send(window, { type: 'kassa.step.changed', sessionId: 'cs_1', step: 'billing' }, frame);
  send(window, { type: 'kassa.error', sessionId: 'cs_1', code: 'card_declined', message: 'Declined', field: 'card.number' },
       frame);
  checkout.setSubmitDisabled(false);
  // The frame loads its next page: it says ready again and is told the flag again; onReady was once.
  send(window, { type: 'kassa.ready', sessionId: 'cs_1' }, frame);
  send(window, { type: 'kassa.completed', sessionId: 'cs_1', orderId: 'ord_9' }, frame);
  assert.deepEqual(seen, ['ready', 'step:billing', 'error:card_declined', 'completed:cs_1:ord_9']);
  assert.deepEqual(errors[0], { code: 'card_declined', message: 'Declined', field: 'card.number' });
  assert.deepEqual(posted.map(([data]) => (data as { disabled: boolean }).disabled), [true, false, false]);
  assert.ok(posted.every(([, origin]) => origin === KASSA), 'posted to Kassa only, never "*"');
  checkout.unmount();
  window.close();
});

test('messages from another origin, another window or about another session are ignored', async () => {
  const { window, a, b } = page();
  const one = recorder();
  const two = recorder();
  const mounted = [mountCheckout(a, { sessionId: 'cs_1', fetchEmbedToken: async () => token('cs_1'), ...one.callbacks }),
                   mountCheckout(b, { sessionId: 'cs_2', fetchEmbedToken: async () => token('cs_2'), ...two.callbacks })];
  await settle();
  const first = frameOf(a);
  const second = frameOf(b);
  const done = { type: 'kassa.completed', sessionId: 'cs_1', orderId: 'ord_forged' };
  send(window, done, first.iframe.contentWindow, 'https://evil.test');
  send(window, done, first.iframe.contentWindow, 'https://pay.kassa.test.evil.test');
  send(window, done, first.iframe.contentWindow, 'http://pay.kassa.test');
  send(window, done, window); // the right origin cannot be claimed by another window
  send(window, done, null);
  send(window, done, second.iframe.contentWindow); // Kassa's other frame, about another session
  send(window, { ...done, sessionId: 'cs_2' }, first.iframe.contentWindow);
  send(window, 'kassa.completed', first.iframe.contentWindow);
  send(window, null, first.iframe.contentWindow);
  send(window, { type: 'kassa.resize', sessionId: 'cs_1', height: 900 }, second.iframe.contentWindow);
  assert.deepEqual(one.seen, []);
  assert.deepEqual(two.seen, []);
  assert.equal(first.iframe.style.height, '0px');
  send(window, { type: 'kassa.completed', sessionId: 'cs_2', orderId: 'ord_2' }, second.iframe.contentWindow);
  assert.deepEqual(two.seen, ['completed:cs_2:ord_2']);
  assert.deepEqual(one.seen, []);
  for (const checkout of mounted) checkout.unmount();
  window.close();
});

test('a token that expires before the frame loads is fetched again; after ready it is not', async (t) => {
  t.mock.timers.enable({ apis: ['setTimeout', 'Date'], now: Date.parse('2026-06-01T10:00:00Z') });
  const { window, a } = page();
  let n = 0;
  const checkout = mountCheckout(a, { sessionId: 'cs_1', fetchEmbedToken: async () => token('cs_1', 60_000, ++n) });
  await settle();
  const { iframe } = frameOf(a);
  assert.equal(iframe.src, `${KASSA}/s/cs_1?embed=tok1`);
  t.mock.timers.tick(54_000);
  await settle();
  assert.equal(n, 1, 'still valid');
  t.mock.timers.tick(1_000); // 5 s before it expires
  await settle();
  assert.equal(n, 2);
  assert.equal(iframe.src, `${KASSA}/s/cs_1?embed=tok2`);
  send(window, { type: 'kassa.ready', sessionId: 'cs_1' }, iframe.contentWindow);
  t.mock.timers.tick(10 * 60_000);
  await settle();
  assert.equal(n, 2, 'a loaded checkout needs no new token');
  checkout.unmount();
  window.close();
});

test('a failing token fetch is reported; unmount aborts a pending fetch, removes everything, and may repeat', async () => {
  const { window, a } = page();
  const failing = recorder();
  mountCheckout(a, { sessionId: 'cs_1', fetchEmbedToken: async () => { throw new Error('502 from the shop'); },
                     ...failing.callbacks });
  await settle();
  assert.deepEqual(failing.seen, ['error:embed_token_failed']);
  assert.equal((failing.errors[0]!.cause as Error).message, '502 from the shop');
  a.replaceChildren();

  const { seen, callbacks } = recorder();
  let signal: AbortSignal | undefined;
  let answer: (value: EmbedToken) => void = () => undefined;
  const checkout = mountCheckout(a, { sessionId: 'cs_1', ...callbacks,
                                      fetchEmbedToken: (s) => { signal = s; return new Promise((r) => { answer = r; }); } });
  const iframe = a.querySelector('iframe')!;
  const frame = iframe.contentWindow;
  checkout.unmount();
  assert.equal(signal?.aborted, true);
  assert.equal(a.querySelector('iframe'), null);
  answer(token('cs_1'));
  await settle();
  assert.equal(iframe.getAttribute('src'), null, 'a token that arrives after unmount is not used');
  send(window, { type: 'kassa.ready', sessionId: 'cs_1' }, frame);
  checkout.unmount();
  checkout.setSubmitDisabled(true);
  assert.deepEqual(seen, []);
  window.close();
});

test('a checkout that never says ready is reported once, after loadTimeoutMs (default 15 s), and may still load', async (t) => {
  t.mock.timers.enable({ apis: ['setTimeout', 'Date'], now: Date.parse('2026-06-01T10:00:00Z') });
  const { window, a, b } = page();
  const slow = recorder();
  const checkout = mountCheckout(a, { sessionId: 'cs_1', fetchEmbedToken: async () => token('cs_1'), ...slow.callbacks });
  await settle();
  const { iframe } = frameOf(a);
  t.mock.timers.tick(14_999);
  assert.deepEqual(slow.seen, []);
  t.mock.timers.tick(1);
  assert.deepEqual(slow.seen, ['error:embed_load_timeout']);
  assert.deepEqual(slow.errors[0], { code: 'embed_load_timeout', message: 'The checkout did not load within 15000 ms' });
  assert.ok(a.querySelector('iframe'), 'the frame stays');
  t.mock.timers.tick(60_000);
  send(window, { type: 'kassa.ready', sessionId: 'cs_1' }, iframe.contentWindow);
  assert.deepEqual(slow.seen, ['error:embed_load_timeout', 'ready'], 'once; a late checkout still loads');
  checkout.unmount();

  // A shorter limit of the storefront's; a checkout ready in time, or unmounted first, reports nothing.
  const short = recorder();
  mountCheckout(b, { sessionId: 'cs_2', loadTimeoutMs: 50, fetchEmbedToken: async () => token('cs_2'), ...short.callbacks });
  const inTime = recorder();
  const c = window.document.body.appendChild(window.document.createElement('div'));
  mountCheckout(c, { sessionId: 'cs_3', loadTimeoutMs: 50, fetchEmbedToken: async () => token('cs_3'), ...inTime.callbacks });
  const gone = recorder();
  const d = window.document.body.appendChild(window.document.createElement('div'));
  mountCheckout(d, { sessionId: 'cs_4', loadTimeoutMs: 50, fetchEmbedToken: async () => token('cs_4'), ...gone.callbacks })
    .unmount();
  const off = recorder();
  const e = window.document.body.appendChild(window.document.createElement('div'));
  mountCheckout(e, { sessionId: 'cs_5', loadTimeoutMs: 0, fetchEmbedToken: async () => token('cs_5'), ...off.callbacks });
  await settle();
  send(window, { type: 'kassa.ready', sessionId: 'cs_3' }, c.querySelector('iframe')!.contentWindow);
  t.mock.timers.tick(49);
  assert.deepEqual(short.seen, []);
  t.mock.timers.tick(1);
  assert.deepEqual(short.seen, ['error:embed_load_timeout']);
  assert.equal(short.errors[0]!.message, 'The checkout did not load within 50 ms');
  t.mock.timers.tick(10 * 60_000);
  assert.deepEqual(inTime.seen, ['ready']);
  assert.deepEqual(gone.seen, []);
  assert.deepEqual(off.seen, [], '0 turns the limit off');

  // A failed token fetch is reported as such, not a second time as a timeout.
  const failing = recorder();
  const f = window.document.body.appendChild(window.document.createElement('div'));
  mountCheckout(f, { sessionId: 'cs_6', loadTimeoutMs: 50, fetchEmbedToken: async () => { throw new Error('down'); },
                     ...failing.callbacks });
  await settle();
  t.mock.timers.tick(1_000);
  assert.deepEqual(failing.seen, ['error:embed_token_failed']);
  window.close();
});
