/**
 * `mountCheckout(element, options)`: Kassa's checkout in an iframe of the storefront's page.
 *
 * It asks the storefront's server for an embed token (`fetchEmbedToken`), frames the token's `url`,
 * follows the frame's height, and routes the frame's messages to the callbacks. A message counts
 * only when it comes from that very frame (`event.source`), from Kassa's origin (exact equality of
 * `new URL(url).origin`) and for this session, so several checkouts on one page never cross-talk
 * and no other window can pose as the checkout. Messages to the frame go to Kassa's origin only.
 */
import type { CheckoutError, CheckoutStep, EmbedToken, FrameMessage } from './messages.js';

export type { CheckoutError, CheckoutStep, EmbedToken, FrameMessage, ParentMessage } from './messages.js';

export interface MountCheckoutOptions {
  sessionId: string;
  /** Asks your server for an embed token for this session (it calls Kassa with its secret key) and
   * answers it unchanged. Called again when the token expires before the checkout loaded. */
  fetchEmbedToken: (signal: AbortSignal) => Promise<EmbedToken>;
  /** The checkout's language (`en`, `de`, …); default: the shopper's browser's. */
  locale?: string;
  /** The iframe's accessible name. */
  title?: string;
  /** The pay button starts disabled by the storefront (see `setSubmitDisabled`). */
  submitDisabled?: boolean;
  /** How long the checkout may take, from mounting, to say it is ready (Kassa unreachable, a
   * `frame-src` of your page's CSP that leaves Kassa out, …) before `onError` gets
   * `embed_load_timeout`, once. Default 15 000 ms; 0 turns it off. The frame stays: a checkout that
   * loads later still calls `onReady`. */
  loadTimeoutMs?: number;
  onReady?: () => void;
  onStepChange?: (step: CheckoutStep) => void;
  onComplete?: (result: { sessionId: string; orderId: string }) => void;
  onError?: (error: CheckoutError) => void;
}

export interface EmbeddedCheckout {
  /** The storefront's own veto on the pay button: it is disabled while the form is incomplete OR this is true. */
  setSubmitDisabled(disabled: boolean): void;
  /** Removes the iframe and every listener; safe to call more than once. */
  unmount(): void;
}

const MARGIN = 5_000; // refresh a token this long before it expires: it must still be valid on arrival
const LOAD_TIMEOUT = 15_000; // the default of `loadTimeoutMs`

export function mountCheckout(element: HTMLElement, options: MountCheckoutOptions): EmbeddedCheckout {
  const { sessionId } = options;
  const doc = element.ownerDocument;
  const win = doc.defaultView!;
  const iframe = doc.createElement('iframe');
  iframe.title = options.title ?? 'Checkout';
  iframe.setAttribute('allow', 'payment');
  iframe.setAttribute('scrolling', 'no');
  iframe.style.cssText = 'display:block;width:100%;height:0;border:0;overflow:hidden';
  let origin = '';
  let disabled = !!options.submitDisabled;
  let ready = false;
  let mounted = true;
  let timer: ReturnType<typeof setTimeout> | undefined;
  let loading: ReturnType<typeof setTimeout> | undefined;
  let abort = new AbortController();

  const post = () => {
    if (ready) iframe.contentWindow?.postMessage({ type: 'kassa.submitDisabled', sessionId, disabled }, origin);
  };

  const load = async (): Promise<void> => {
    abort = new AbortController();
    let token: EmbedToken;
    let url: URL;
    try {
      token = await options.fetchEmbedToken(abort.signal);
      url = new URL(token.url);
    } catch (cause) {
      clearTimeout(loading); // reported already: no second error for the same empty box
      if (mounted) options.onError?.({ code: 'embed_token_failed', message: 'No embed token with a `url`', cause });
      return;
    }
    if (!mounted || ready) return;
    if (options.locale) url.searchParams.set('locale', options.locale);
    origin = url.origin;
    iframe.src = url.href;
    // The token opens the checkout: if the frame has not loaded before it expires, ask for a new one.
    timer = setTimeout(load, Math.max(Date.parse(token.expiresAt) - Date.now() - MARGIN, 1_000));
  };

  const onMessage = (event: MessageEvent) => {
    const data = event.data as FrameMessage | null;
    if (event.source !== iframe.contentWindow || event.origin !== origin || !origin
        || typeof data !== 'object' || !data || data.sessionId !== sessionId) return;
    switch (data.type) {
      case 'kassa.ready': {
        clearTimeout(timer);
        clearTimeout(loading);
        // Sent again by every page the frame loads (each step may be one): the flag goes to each.
        const first = !ready;
        ready = true;
        post();
        if (first) options.onReady?.();
        break;
      }
      case 'kassa.resize':
        if (Number.isFinite(data.height) && data.height >= 0) iframe.style.height = `${Math.ceil(data.height)}px`;
        break;
      case 'kassa.step.changed':
        options.onStepChange?.(data.step);
        break;
      case 'kassa.completed':
        options.onComplete?.({ sessionId, orderId: data.orderId });
        break;
      case 'kassa.error':
        options.onError?.({ code: data.code, message: data.message, ...(data.field ? { field: data.field } : {}) });
    }
  };

  win.addEventListener('message', onMessage);
  element.appendChild(iframe);
  const limit = options.loadTimeoutMs ?? LOAD_TIMEOUT;
  if (limit > 0 && Number.isFinite(limit)) {
    loading = setTimeout(() => {
      if (mounted && !ready) {
        options.onError?.({ code: 'embed_load_timeout', message: `The checkout did not load within ${limit} ms` });
      }
    }, limit);
  }
  void load();

  return {
    setSubmitDisabled(value: boolean) {
      disabled = value;
      post();
    },
    unmount() {
      if (!mounted) return;
      mounted = false;
      clearTimeout(timer);
      clearTimeout(loading);
      abort.abort();
      win.removeEventListener('message', onMessage);
      iframe.remove();
    },
  };
}
