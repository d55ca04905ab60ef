import type { HttpClient, RequestOptions } from '../core/http.js';
import type { SecretStore } from './carts.js';
import type {
  BodyOf, CheckoutOperations as Op, CheckoutSession, EmbedToken, EmbedTokenInput, Payment, PaymentIntentHandle,
  PaymentMethod,
} from '../types.js';

export interface SessionRequestOptions extends RequestOptions {
  /** The session's client secret (sent as X-Checkout-Secret), needed with a publishable key. */
  clientSecret?: string;
}

const SESSIONS = '/api/v1/checkout/sessions';

export class CheckoutSessions {
  constructor(private readonly http: HttpClient, private readonly secrets: SecretStore) {}

  /** Server side, with a secret key: a session for a cart, with its hosted `url` and `clientSecret`. */
  async create(body: BodyOf<Op['createCheckoutSession']>, options?: RequestOptions): Promise<CheckoutSession> {
    const session = await this.http.request<CheckoutSession>({ ...options, method: 'POST', path: SESSIONS, body });
    if (session.clientSecret) this.secrets.set(session.id, session.clientSecret);
    return session;
  }

  retrieve(sessionId: string, options?: SessionRequestOptions): Promise<CheckoutSession> {
    return this.call('GET', `${SESSIONS}/${encodeURIComponent(sessionId)}`, undefined, sessionId, options);
  }

  /** Server side: cancels the session (idempotent) and reopens its cart if it is still in checkout. */
  cancel(sessionId: string, options?: RequestOptions): Promise<CheckoutSession> {
    return this.http.request({ ...options, method: 'DELETE', path: `${SESSIONS}/${encodeURIComponent(sessionId)}` });
  }

  /**
   * Stripe, headless: the session's PaymentIntent (one per session, its amount kept up to date with the cart).
   * Confirm it with Stripe.js (`publishableKey`, `clientSecret`), then `complete` the session with
   * `{ paymentMethod: { type: 'stripe', paymentIntentId } }`.
   */
  createPaymentIntent(sessionId: string, options?: SessionRequestOptions): Promise<PaymentIntentHandle> {
    return this.call('POST', `/api/v1/checkout-sessions/${encodeURIComponent(sessionId)}/payment-intent`, undefined,
                     sessionId, options);
  }

  /**
   * Pays and creates the order; throws `PaymentError` on a decline, `AddressRequiredError` naming the field.
   * With Stripe, a card is what Stripe.js made of it (`{ type: 'card', token: 'tok_…' }` or `pm_…`), or the
   * PaymentIntent the page confirmed (`{ type: 'stripe', paymentIntentId: 'pi_…' }`).
   * A payment with a second step (3-D Secure) throws `PaymentActionRequiredError`: once the shopper has
   * passed it, call again with `{ paymentMethod: { actionResult: 'approved' } }` (or `'declined'`). That
   * continues the waiting payment with the method it began with (no card details again); a `type` may be
   * kept if it is that payment's own (`{ type: 'card', actionResult: 'approved' }`), another is refused.
   */
  complete(sessionId: string, body: BodyOf<Op['completeCheckoutSession']>,
           options?: SessionRequestOptions): Promise<CheckoutSession> {
    return this.call('POST', `/api/v1/checkout-sessions/${encodeURIComponent(sessionId)}/complete`, body, sessionId,
                     options);
  }

  async listPayments(sessionId: string, options?: RequestOptions): Promise<Payment[]> {
    const path = `${SESSIONS}/${encodeURIComponent(sessionId)}/payments`;
    return (await this.http.request<{ data: Payment[] }>({ ...options, method: 'GET', path })).data;
  }

  /** Server side: a 15-minute token that lets `origin` embed the session's checkout. It takes no
   * `allowedMethods` (restrict methods when you create the session). */
  createEmbedToken(body: EmbedTokenInput, options?: RequestOptions): Promise<EmbedToken> {
    return this.http.request({ ...options, method: 'POST', path: '/api/v1/checkout-sessions/embed-token', body });
  }

  private call<T>(method: 'GET' | 'POST', path: string, body: unknown, sessionId: string,
                  options?: SessionRequestOptions): Promise<T> {
    const secret = options?.clientSecret ?? this.secrets.get(sessionId);
    return this.http.request<T>({
      ...options, method, path, body,
      headers: secret ? { ...options?.headers, 'X-Checkout-Secret': secret } : options?.headers,
    });
  }
}

export class Checkout {
  readonly sessions: CheckoutSessions;

  constructor(http: HttpClient, secrets: SecretStore) {
    this.sessions = new CheckoutSessions(http, secrets);
  }
}

export class PaymentMethods {
  constructor(private readonly http: HttpClient) {}

  /** The payment methods on offer, narrowed to a session's `allowedMethods` when you name it. */
  async list(query?: { sessionId?: string }, options?: SessionRequestOptions): Promise<PaymentMethod[]> {
    const secret = options?.clientSecret;
    const answer = await this.http.request<{ data: PaymentMethod[] }>({
      ...options, method: 'GET', path: '/api/v1/payment-methods', query,
      headers: secret ? { ...options?.headers, 'X-Checkout-Secret': secret } : options?.headers,
    });
    return answer.data;
  }
}
