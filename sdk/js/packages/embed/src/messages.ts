/**
 * The postMessage protocol between a storefront page (the parent) and Kassa's checkout page in
 * its iframe (docs/embedded-checkout.md). Every message is `{type, sessionId, ...}`, posted to
 * one exact origin, never `"*"`.
 */

/** The checkout's steps, in order; each is shown only when the session collects it. */
export type CheckoutStep = 'contact' | 'shipping' | 'shipping_method' | 'billing' | 'payment';

/** Frame → parent. */
export type FrameMessage =
  | { type: 'kassa.ready'; sessionId: string }
  | { type: 'kassa.step.changed'; sessionId: string; step: CheckoutStep }
  | { type: 'kassa.resize'; sessionId: string; height: number }
  | { type: 'kassa.completed'; sessionId: string; orderId: string }
  | { type: 'kassa.error'; sessionId: string; code: string; message: string; field?: string };

/** Parent → frame. */
export type ParentMessage = { type: 'kassa.submitDisabled'; sessionId: string; disabled: boolean };

/** What the storefront's server answers: `POST /api/v1/checkout-sessions/embed-token` passed on as is. */
export interface EmbedToken {
  token: string;
  sessionId: string;
  /** The storefront origin the token is bound to: only a page on it may frame the checkout. */
  origin: string;
  /** ISO 8601: after it the token no longer opens the checkout (a loaded checkout keeps working). */
  expiresAt: string;
  /** The checkout page to frame: Kassa's `/s/{sessionId}?embed={token}`. */
  url: string;
}

/** A failure reported to `onError`: the frame's `kassa.error`, or the embed's own. */
export interface CheckoutError {
  /** The checkout's error code (`payment_declined`, `validation_error`, …), or the embed's own:
   * `embed_token_failed`, `embed_load_timeout`. */
  code: string;
  message: string;
  /** The field it concerns, when there is one (`customerEmail`, `billingAddress`, `number`, …). */
  field?: string;
  /** What the embed caught, for `embed_token_failed`. */
  cause?: unknown;
}
