import { HttpClient, type ClientOptions, type HttpRequest } from './core/http.js';
import type { ApiVersion } from './generated/version.js';
import { Carts, type SecretStore } from './resources/carts.js';
import { Checkout, PaymentMethods } from './resources/checkout.js';
import { Products } from './resources/products.js';

export interface KassaOptions extends ClientOptions {
  /**
   * Where cart and session secrets are kept between calls. Default: in memory, for this client.
   * Pass a store backed by `sessionStorage` to keep a shopper's cart across page loads.
   */
  secrets?: SecretStore;
}

/**
 * The storefront client: carts, the catalog, checkout sessions, payment methods. In a browser, give it a
 * publishable key; on a server, a secret key (and import `KassaServer` from `@kassa/js/server`
 * for the rest of the API). Every request names the API version this SDK was generated for
 * (`Kassa-Version: API_VERSION`), so a change of the application's pin never changes what it reads.
 */
export class Kassa {
  readonly carts: Carts;
  readonly products: Products;
  readonly checkout: Checkout;
  readonly paymentMethods: PaymentMethods;
  /** The API version every request names (`Kassa-Version`): `API_VERSION` unless `apiVersion` said otherwise. */
  readonly apiVersion: ApiVersion;
  protected readonly http: HttpClient;
  protected readonly secrets: SecretStore;

  constructor(options: KassaOptions) {
    this.http = new HttpClient(options);
    this.apiVersion = this.http.apiVersion;
    this.secrets = options.secrets ?? new Map<string, string>();
    this.carts = new Carts(this.http, this.secrets);
    this.products = new Products(this.http);
    this.checkout = new Checkout(this.http, this.secrets);
    this.paymentMethods = new PaymentMethods(this.http);
  }

  /** Any call the typed resources do not cover yet, with the same retries, keys and errors. */
  request<T = unknown>(request: HttpRequest): Promise<T> {
    return this.http.request<T>(request);
  }
}
