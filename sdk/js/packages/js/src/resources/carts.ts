import type { HttpClient, HttpRequest, RequestOptions } from '../core/http.js';
import type { BodyOf, Cart, CartOperations as Op, CartRecovery, ShippingOption } from '../types.js';

/** Where the client keeps the secret of each cart it created (in memory unless you pass a store). */
export interface SecretStore {
  get(id: string): string | null | undefined;
  set(id: string, secret: string): void;
}

export interface CartRequestOptions extends RequestOptions {
  /** The cart's client secret, or a recovery link's token. Default: the one remembered from `create`. */
  cartSecret?: string;
}

export class Carts {
  constructor(private readonly http: HttpClient, private readonly secrets: SecretStore,
              private readonly shopperToken: () => string | null | undefined = () => undefined) {}

  /**
   * Creates a cart; its client secret is remembered, so the other calls on it work with a publishable key.
   * With a shopper token (the client's `shopperToken`), the cart belongs to the signed-in shopper.
   */
  async create(body: BodyOf<Op['createCart']>, options?: RequestOptions): Promise<Cart> {
    const cart = await this.http.request<Cart>({ ...options, method: 'POST', path: '/api/v1/carts', body,
                                                 headers: this.withShopper(options?.headers) });
    if (cart.clientSecret) this.secrets.set(cart.id, cart.clientSecret);
    return cart;
  }

  /** Remembers a cart's secret you kept yourself (after a page reload, or a recovery link's token). */
  remember(cartId: string, cartSecret: string): void {
    this.secrets.set(cartId, cartSecret);
  }

  retrieve(cartId: string, options?: CartRequestOptions): Promise<Cart> {
    return this.call('GET', cartId, '', undefined, options);
  }

  /**
   * Email, addresses (the canonical `CartAddress`), metadata; `null` clears a field. With a shopper token,
   * a guest cart becomes the signed-in shopper's.
   */
  update(cartId: string, body: BodyOf<Op['updateCart']>, options?: CartRequestOptions): Promise<Cart> {
    return this.call('PATCH', cartId, '', body, { ...options, headers: this.withShopper(options?.headers) });
  }

  addLineItem(cartId: string, body: BodyOf<Op['addLineItem']>, options?: CartRequestOptions): Promise<Cart> {
    return this.call('POST', cartId, '/line-items', body, this.asShopper(options));
  }

  /** Sets a line's quantity (0 removes it). */
  updateLineItem(cartId: string, lineId: string, body: BodyOf<Op['updateLineItem']>,
                 options?: CartRequestOptions): Promise<Cart> {
    return this.call('PATCH', cartId, `/line-items/${encodeURIComponent(lineId)}`, body, this.asShopper(options));
  }

  removeLineItem(cartId: string, lineId: string, options?: CartRequestOptions): Promise<Cart> {
    return this.call('DELETE', cartId, `/line-items/${encodeURIComponent(lineId)}`, undefined, this.asShopper(options));
  }

  /** The methods that ship to the cart's address, each priced for this cart. */
  async listShippingMethods(cartId: string, options?: CartRequestOptions): Promise<ShippingOption[]> {
    return (await this.call<{ data: ShippingOption[] }>('GET', cartId, '/shipping-methods', undefined, options)).data;
  }

  /** One atomic call: the answer is the whole recomputed cart, the source of truth for totals. */
  selectShippingMethod(cartId: string, body: BodyOf<Op['selectShippingMethod']>,
                       options?: CartRequestOptions): Promise<Cart> {
    return this.call('PUT', cartId, '/shipping-method', body, this.asShopper(options));
  }

  /** Applies a code, or throws `DiscountInvalidError` with the reason in `details`. */
  applyDiscountCode(cartId: string, body: BodyOf<Op['applyDiscountCode']>, options?: CartRequestOptions): Promise<Cart> {
    return this.call('POST', cartId, '/discount-codes', body, this.asShopper(options));
  }

  removeDiscountCode(cartId: string, code: string, options?: CartRequestOptions): Promise<Cart> {
    return this.call('DELETE', cartId, `/discount-codes/${encodeURIComponent(code)}`, undefined,
                     this.asShopper(options));
  }

  /**
   * Restores a cart from its recovery link on any device (`token`: the link's token): re-priced against
   * today's catalog and promotions, with `changes` (prices, items no longer sold, ended promotions, each with
   * a `message` to show) and the cart's recovery incentive applied. The token is then remembered as the
   * cart's secret for the calls that follow.
   */
  async recover(cartId: string, token: string, options?: RequestOptions): Promise<CartRecovery> {
    const recovery = await this.call<CartRecovery>('POST', cartId, '/recover', undefined,
                                                   this.asShopper({ ...options, cartSecret: token }));
    this.secrets.set(cartId, token);
    return recovery;
  }

  private asShopper(options?: CartRequestOptions): CartRequestOptions | undefined {
    const headers = this.withShopper(options?.headers);
    return headers === options?.headers ? options : { ...options, headers };
  }

  private withShopper(headers?: Record<string, string>): Record<string, string> | undefined {
    const token = this.shopperToken();
    return token ? { ...headers, 'X-Shopper-Token': token } : headers;
  }

  private call<T = Cart>(method: HttpRequest['method'], cartId: string, sub: string, body: unknown,
                         options?: CartRequestOptions): Promise<T> {
    const secret = options?.cartSecret ?? this.secrets.get(cartId);
    return this.http.request<T>({
      ...options, method, body, path: `/api/v1/carts/${encodeURIComponent(cartId)}${sub}`,
      headers: secret ? { ...options?.headers, 'X-Cart-Secret': secret } : options?.headers,
    });
  }
}
