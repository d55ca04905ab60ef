/**
 * The rest of the API, for servers holding a secret key. Resources and methods carry the Python
 * SDK's names in camelCase (`retrieve`, `orders.refunds.create`, `apiKeys.roll`, …).
 */
import type { HttpClient, HttpRequest, RequestOptions } from '../core/http.js';
import { PagePromise, type Page } from '../core/pagination.js';
import type {
  BodyOf, CartOperations as C, CheckoutOperations as K, QueryOf, ResultOf, WebhookOperations as W,
} from '../types.js';
import { Products } from './products.js';

const e = encodeURIComponent;

class Resource {
  constructor(protected readonly http: HttpClient) {}

  protected call<T>(method: HttpRequest['method'], path: string, body?: unknown, options?: RequestOptions,
                    query?: HttpRequest['query']): Promise<T> {
    return this.http.request<T>({ ...options, method, path, body, query });
  }

  protected async items<T>(path: string, options?: RequestOptions): Promise<T[]> {
    return (await this.call<{ data: T[] }>('GET', path, undefined, options)).data;
  }

  protected pages<T>(path: string, query?: Record<string, string | number | boolean | null | undefined>,
                     options?: RequestOptions): PagePromise<T> {
    return new PagePromise((cursor) => this.call<Page<T>>('GET', path, undefined, options,
                                                          { ...query, cursor: cursor ?? query?.['cursor'] }));
  }
}

type Item<O> = ResultOf<O> extends { data: (infer T)[] } ? T : never;

export class ProductsAdmin extends Products {
  create(body: BodyOf<C['createProduct']>, options?: RequestOptions): Promise<ResultOf<C['createProduct']>> {
    return this.http.request({ ...options, method: 'POST', path: '/api/v1/products', body });
  }
  update(productId: string, body: BodyOf<C['updateProduct']>, options?: RequestOptions): Promise<ResultOf<C['updateProduct']>> {
    return this.http.request({ ...options, method: 'PATCH', path: `/api/v1/products/${e(productId)}`, body });
  }
  addVariant(productId: string, body: BodyOf<C['addVariant']>, options?: RequestOptions): Promise<ResultOf<C['addVariant']>> {
    return this.http.request({ ...options, method: 'POST', path: `/api/v1/products/${e(productId)}/variants`, body });
  }
  updateVariant(productId: string, variantId: string, body: BodyOf<C['updateVariant']>,
                options?: RequestOptions): Promise<ResultOf<C['updateVariant']>> {
    return this.http.request({ ...options, method: 'PATCH', body,
                               path: `/api/v1/products/${e(productId)}/variants/${e(variantId)}` });
  }
}

export class ShippingMethods extends Resource {
  create(body: BodyOf<C['createShippingMethod']>, o?: RequestOptions): Promise<ResultOf<C['createShippingMethod']>> {
    return this.call('POST', '/api/v1/shipping-methods', body, o);
  }
  list(o?: RequestOptions): Promise<Item<C['listShippingMethods']>[]> {
    return this.items('/api/v1/shipping-methods', o);
  }
  retrieve(id: string, o?: RequestOptions): Promise<ResultOf<C['getShippingMethod']>> {
    return this.call('GET', `/api/v1/shipping-methods/${e(id)}`, undefined, o);
  }
  update(id: string, body: BodyOf<C['updateShippingMethod']>, o?: RequestOptions): Promise<ResultOf<C['updateShippingMethod']>> {
    return this.call('PATCH', `/api/v1/shipping-methods/${e(id)}`, body, o);
  }
  delete(id: string, o?: RequestOptions): Promise<void> {
    return this.call('DELETE', `/api/v1/shipping-methods/${e(id)}`, undefined, o);
  }
}

export class TaxRates extends Resource {
  create(body: BodyOf<C['createTaxRate']>, o?: RequestOptions): Promise<ResultOf<C['createTaxRate']>> {
    return this.call('POST', '/api/v1/tax-rates', body, o);
  }
  list(o?: RequestOptions): Promise<Item<C['listTaxRates']>[]> {
    return this.items('/api/v1/tax-rates', o);
  }
  delete(id: string, o?: RequestOptions): Promise<void> {
    return this.call('DELETE', `/api/v1/tax-rates/${e(id)}`, undefined, o);
  }
}

export class TaxSettings extends Resource {
  retrieve(o?: RequestOptions): Promise<ResultOf<C['getTaxSettings']>> {
    return this.call('GET', '/api/v1/tax-settings', undefined, o);
  }
  update(body: BodyOf<C['updateTaxSettings']>, o?: RequestOptions): Promise<ResultOf<C['updateTaxSettings']>> {
    return this.call('PUT', '/api/v1/tax-settings', body, o);
  }
}

export class EmbedConfigs extends Resource {
  retrieve(o?: RequestOptions): Promise<ResultOf<C['getEmbedConfig']>> {
    return this.call('GET', '/api/v1/embed-config', undefined, o);
  }
  /** Changes the fields named (allowedOrigins, cartAbandonmentThresholdMinutes, …); `null` clears one. */
  update(body: BodyOf<C['updateEmbedConfig']>, o?: RequestOptions): Promise<ResultOf<C['updateEmbedConfig']>> {
    return this.call('PUT', '/api/v1/embed-config', body, o);
  }
}

export class AbandonedCarts extends Resource {
  list(query?: QueryOf<C['listAbandonedCarts']>, o?: RequestOptions): PagePromise<Item<C['listAbandonedCarts']>> {
    return this.pages('/api/v1/abandoned-carts', query, o);
  }
  summary(query?: QueryOf<C['summarizeAbandonedCarts']>, o?: RequestOptions): Promise<ResultOf<C['summarizeAbandonedCarts']>> {
    return this.call('GET', '/api/v1/abandoned-carts/summary', undefined, o, query);
  }
  /** Carts abandoned and recovered per day over the last `days` (default 30), in the IANA `timeZone`. */
  daily(query?: QueryOf<C['abandonedCartsDaily']>, o?: RequestOptions): Promise<ResultOf<C['abandonedCartsDaily']>> {
    return this.call('GET', '/api/v1/abandoned-carts/daily', undefined, o, query);
  }
}

export class Campaigns extends Resource {
  create(body: BodyOf<C['createCampaign']>, o?: RequestOptions): Promise<ResultOf<C['createCampaign']>> {
    return this.call('POST', '/api/v1/campaigns', body, o);
  }
  list(query?: QueryOf<C['listCampaigns']>, o?: RequestOptions): PagePromise<Item<C['listCampaigns']>> {
    return this.pages('/api/v1/campaigns', query, o);
  }
  retrieve(id: string, o?: RequestOptions): Promise<ResultOf<C['getCampaign']>> {
    return this.call('GET', `/api/v1/campaigns/${e(id)}`, undefined, o);
  }
  update(id: string, body: BodyOf<C['updateCampaign']>, o?: RequestOptions): Promise<ResultOf<C['updateCampaign']>> {
    return this.call('PATCH', `/api/v1/campaigns/${e(id)}`, body, o);
  }
  activate(id: string, o?: RequestOptions): Promise<ResultOf<C['activateCampaign']>> {
    return this.call('POST', `/api/v1/campaigns/${e(id)}/activate`, undefined, o);
  }
  deactivate(id: string, o?: RequestOptions): Promise<ResultOf<C['deactivateCampaign']>> {
    return this.call('POST', `/api/v1/campaigns/${e(id)}/deactivate`, undefined, o);
  }
  stats(id: string, o?: RequestOptions): Promise<ResultOf<C['getCampaignStats']>> {
    return this.call('GET', `/api/v1/campaigns/${e(id)}/stats`, undefined, o);
  }
  /** Hidden from lists (`list({ archived: true })` shows it) and switched off. */
  archive(id: string, o?: RequestOptions): Promise<ResultOf<C['archiveCampaign']>> {
    return this.call('POST', `/api/v1/campaigns/${e(id)}/archive`, undefined, o);
  }
  /** Back in the lists, still off until `activate`. */
  unarchive(id: string, o?: RequestOptions): Promise<ResultOf<C['unarchiveCampaign']>> {
    return this.call('POST', `/api/v1/campaigns/${e(id)}/unarchive`, undefined, o);
  }
  /** With its codes; `CampaignHasRedemptionsError` (409) once it was reserved or redeemed. */
  delete(id: string, o?: RequestOptions): Promise<void> {
    return this.call('DELETE', `/api/v1/campaigns/${e(id)}`, undefined, o);
  }
}

export class CampaignGroups extends Resource {
  create(body: BodyOf<C['createCampaignGroup']>, o?: RequestOptions): Promise<ResultOf<C['createCampaignGroup']>> {
    return this.call('POST', '/api/v1/campaign-groups', body, o);
  }
  /** Newest first; a group's campaigns: `campaigns.list({ group })`. */
  list(query?: QueryOf<C['listCampaignGroups']>, o?: RequestOptions): PagePromise<Item<C['listCampaignGroups']>> {
    return this.pages('/api/v1/campaign-groups', query, o);
  }
  retrieve(id: string, o?: RequestOptions): Promise<ResultOf<C['getCampaignGroup']>> {
    return this.call('GET', `/api/v1/campaign-groups/${e(id)}`, undefined, o);
  }
  update(id: string, body: BodyOf<C['updateCampaignGroup']>, o?: RequestOptions): Promise<ResultOf<C['updateCampaignGroup']>> {
    return this.call('PATCH', `/api/v1/campaign-groups/${e(id)}`, body, o);
  }
  /** Its campaigns leave the group and keep running. */
  delete(id: string, o?: RequestOptions): Promise<void> {
    return this.call('DELETE', `/api/v1/campaign-groups/${e(id)}`, undefined, o);
  }
}

export class PromotionSettings extends Resource {
  retrieve(o?: RequestOptions): Promise<ResultOf<C['getPromotionSettings']>> {
    return this.call('GET', '/api/v1/promotion-settings', undefined, o);
  }
  update(body: BodyOf<C['updatePromotionSettings']>, o?: RequestOptions): Promise<ResultOf<C['updatePromotionSettings']>> {
    return this.call('PUT', '/api/v1/promotion-settings', body, o);
  }
}

export class Codes extends Resource {
  /** One code (`code`), or `count` generated ones, in a campaign. */
  create(campaignId: string, body: BodyOf<C['createCodes']>, o?: RequestOptions): Promise<ResultOf<C['createCodes']>> {
    return this.call('POST', `/api/v1/campaigns/${e(campaignId)}/codes`, body, o);
  }
  /** Existing codes (up to 100,000) into a campaign. */
  importCodes(campaignId: string, body: BodyOf<C['importCodes']>, o?: RequestOptions): Promise<ResultOf<C['importCodes']>> {
    return this.call('POST', `/api/v1/campaigns/${e(campaignId)}/codes/import`, body, o);
  }
  list(campaignId: string, query?: QueryOf<C['listCodes']>, o?: RequestOptions): PagePromise<Item<C['listCodes']>> {
    return this.pages(`/api/v1/campaigns/${e(campaignId)}/codes`, query, o);
  }
  retrieve(code: string, o?: RequestOptions): Promise<ResultOf<C['getCode']>> {
    return this.call('GET', `/api/v1/codes/${e(code)}`, undefined, o);
  }
  /** `externalId`, `metadata`, `expiresAt`. */
  update(code: string, body: BodyOf<C['updateCode']>, o?: RequestOptions): Promise<ResultOf<C['updateCode']>> {
    return this.call('PATCH', `/api/v1/codes/${e(code)}`, body, o);
  }
  assign(code: string, body: BodyOf<C['assignCode']>, o?: RequestOptions): Promise<ResultOf<C['assignCode']>> {
    return this.call('POST', `/api/v1/codes/${e(code)}/assign`, body, o);
  }
  /** Many codes to customers, all or nothing: a refused item fails the call (`error.field`: `assignments[i].code`). */
  async assignMany(body: BodyOf<C['assignCodes']>, o?: RequestOptions): Promise<ResultOf<C['assignCodes']>['data']> {
    return (await this.call<ResultOf<C['assignCodes']>>('POST', '/api/v1/codes/assign', body, o)).data;
  }
  distribute(code: string, o?: RequestOptions): Promise<ResultOf<C['distributeCode']>> {
    return this.call('POST', `/api/v1/codes/${e(code)}/distribute`, undefined, o);
  }
  deactivate(code: string, o?: RequestOptions): Promise<ResultOf<C['deactivateCode']>> {
    return this.call('POST', `/api/v1/codes/${e(code)}/deactivate`, undefined, o);
  }
}

export class Vouchers extends Resource {
  /** What a code would give a basket, and why not, reserving nothing. */
  validate(body: BodyOf<C['validateVoucher']>, o?: RequestOptions): Promise<ResultOf<C['validateVoucher']>> {
    return this.call('POST', '/api/v1/vouchers/validate', body, o);
  }
}

export class Redemptions extends Resource {
  list(query?: QueryOf<C['listRedemptions']>, o?: RequestOptions): PagePromise<Item<C['listRedemptions']>> {
    return this.pages('/api/v1/redemptions', query, o);
  }
  /** Every matching redemption as CSV text (header line first). */
  export(query?: QueryOf<C['exportRedemptions']>, o?: RequestOptions): Promise<string> {
    return this.call('GET', '/api/v1/redemptions/export', undefined, o, query);
  }
  cancel(body: BodyOf<C['cancelRedemptions']>, o?: RequestOptions): Promise<ResultOf<C['cancelRedemptions']>> {
    return this.call('POST', '/api/v1/redemptions/cancel', body, o);
  }
  /** Two-step redemption, step one: hold the discounts of `codes` on a cart or a basket snapshot. */
  reserve(body: BodyOf<C['reserveRedemption']>, o?: RequestOptions): Promise<ResultOf<C['reserveRedemption']>> {
    return this.call('POST', '/api/v1/redemptions', body, o);
  }
  retrieve(redemptionId: string, o?: RequestOptions): Promise<ResultOf<C['getRedemption']>> {
    return this.call('GET', `/api/v1/redemptions/${e(redemptionId)}`, undefined, o);
  }
  /** Step two: the held discounts are redeemed (a retry with the same `transactionId` is harmless). */
  confirm(redemptionId: string, body: BodyOf<C['confirmRedemption']>,
          o?: RequestOptions): Promise<ResultOf<C['confirmRedemption']>> {
    return this.call('POST', `/api/v1/redemptions/${e(redemptionId)}/confirm`, body, o);
  }
  /** Gives a held redemption back (the sale did not happen). */
  release(redemptionId: string, o?: RequestOptions): Promise<ResultOf<C['cancelRedemption']>> {
    return this.call('POST', `/api/v1/redemptions/${e(redemptionId)}/cancel`, undefined, o);
  }
  /** A return: gives back `amount` of a confirmed redemption's discounts (default: all that is left). */
  rollback(redemptionId: string, body: BodyOf<C['rollbackRedemption']>,
           o?: RequestOptions): Promise<ResultOf<C['rollbackRedemption']>> {
    return this.call('POST', `/api/v1/redemptions/${e(redemptionId)}/rollback`, body, o);
  }
  /** The redemption lines of the redemption confirmed with this transaction id (each names it in
   * `redemptionId`); empty when there is none. */
  async findByTransaction(transactionId: string, o?: RequestOptions): Promise<Item<C['listRedemptions']>[]> {
    return (await this.call<{ data: Item<C['listRedemptions']>[] }>('GET', '/api/v1/redemptions', undefined, o,
                                                                    { transactionId })).data;
  }
}

export class Refunds extends Resource {
  /** Refunds `amount` (default: the rest) of an order. */
  create(orderId: string, body?: BodyOf<K['createRefund']>, o?: RequestOptions): Promise<ResultOf<K['createRefund']>> {
    return this.call('POST', `/api/v1/orders/${e(orderId)}/refunds`, body ?? {}, o);
  }
  list(orderId: string, o?: RequestOptions): Promise<Item<K['listRefunds']>[]> {
    return this.items(`/api/v1/orders/${e(orderId)}/refunds`, o);
  }
}

export class Orders extends Resource {
  readonly refunds: Refunds;

  constructor(http: HttpClient) {
    super(http);
    this.refunds = new Refunds(http);
  }
  list(query?: QueryOf<K['listOrders']>, o?: RequestOptions): PagePromise<Item<K['listOrders']>> {
    return this.pages('/api/v1/orders', query, o);
  }
  retrieve(id: string, o?: RequestOptions): Promise<ResultOf<K['getOrder']>> {
    return this.call('GET', `/api/v1/orders/${e(id)}`, undefined, o);
  }
  /** Orders, revenue and refunds per day over the last `days` (default 30), in the IANA `timeZone`. */
  summary(query?: QueryOf<K['summarizeOrders']>, o?: RequestOptions): Promise<ResultOf<K['summarizeOrders']>> {
    return this.call('GET', '/api/v1/orders/summary', undefined, o, query);
  }
}

/**
 * Which provider takes the application's payments (scopes `payments:read`, `payments:write`): the built-in
 * `test` one (test applications only) or Stripe. Secrets go in and come back as their last four only.
 */
export class ApplicationResource extends Resource {
  /** The application: its `apiVersion` pin, the newest version and every version there is. */
  retrieve(o?: RequestOptions): Promise<ResultOf<C['getApplication']>> {
    return this.call('GET', '/api/v1/application', undefined, o);
  }
  /** Move the pin forward (never back: `ApiVersionDowngradeError`). Read the API's version changelog first. */
  upgradeVersion(version: string, o?: RequestOptions): Promise<ResultOf<C['upgradeApiVersion']>> {
    return this.call('POST', '/api/v1/application/upgrade-version', { version }, o);
  }
}

export class PaymentSettingsResource extends Resource {
  /** The provider, capture method, Stripe's publishable key, and the `webhookUrl` to register in Stripe. */
  retrieve(o?: RequestOptions): Promise<ResultOf<K['getPaymentSettings']>> {
    return this.call('GET', '/api/v1/payment-settings', undefined, o);
  }
  /**
   * `{ provider: 'stripe', secretKey, publishableKey, webhookSecret?, captureMethod? }`: keys in the application's
   * mode, a new secret key checked once against Stripe (`PaymentProviderAuthFailedError`); a later update may leave
   * a secret out to keep the stored one. `{ provider: 'test' }` for a test application.
   */
  update(body: BodyOf<K['updatePaymentSettings']>, o?: RequestOptions): Promise<ResultOf<K['updatePaymentSettings']>> {
    return this.call('PUT', '/api/v1/payment-settings', body, o);
  }
}

const ENDPOINTS = '/api/v1/webhook-endpoints';

export class WebhookEndpoints extends Resource {
  /** The answer carries the `whsec_…` secret once: keep it for `verifyWebhook`. */
  create(body: BodyOf<W['createWebhookEndpoint']>, o?: RequestOptions): Promise<ResultOf<W['createWebhookEndpoint']>> {
    return this.call('POST', ENDPOINTS, body, o);
  }
  list(query?: QueryOf<W['listWebhookEndpoints']>, o?: RequestOptions): PagePromise<Item<W['listWebhookEndpoints']>> {
    return this.pages(ENDPOINTS, query, o);
  }
  retrieve(id: string, o?: RequestOptions): Promise<ResultOf<W['getWebhookEndpoint']>> {
    return this.call('GET', `${ENDPOINTS}/${e(id)}`, undefined, o);
  }
  update(id: string, body: BodyOf<W['updateWebhookEndpoint']>, o?: RequestOptions): Promise<ResultOf<W['updateWebhookEndpoint']>> {
    return this.call('PATCH', `${ENDPOINTS}/${e(id)}`, body, o);
  }
  delete(id: string, o?: RequestOptions): Promise<void> {
    return this.call('DELETE', `${ENDPOINTS}/${e(id)}`, undefined, o);
  }
  rotateSecret(id: string, body: BodyOf<W['rotateWebhookSecret']>, o?: RequestOptions): Promise<ResultOf<W['rotateWebhookSecret']>> {
    return this.call('POST', `${ENDPOINTS}/${e(id)}/rotate-secret`, body ?? {}, o);
  }
  sendTest(id: string, o?: RequestOptions): Promise<ResultOf<W['sendTestWebhook']>> {
    return this.call('POST', `${ENDPOINTS}/${e(id)}/test`, undefined, o);
  }
  recover(id: string, body: BodyOf<W['recoverWebhookDeliveries']>, o?: RequestOptions): Promise<ResultOf<W['recoverWebhookDeliveries']>> {
    return this.call('POST', `${ENDPOINTS}/${e(id)}/recover`, body, o);
  }
  stats(id: string, query?: QueryOf<W['getWebhookEndpointStats']>, o?: RequestOptions): Promise<ResultOf<W['getWebhookEndpointStats']>> {
    return this.call('GET', `${ENDPOINTS}/${e(id)}/stats`, undefined, o, query);
  }
  listDeliveries(id: string, query?: QueryOf<W['listEndpointDeliveries']>,
                 o?: RequestOptions): PagePromise<Item<W['listEndpointDeliveries']>> {
    return this.pages(`${ENDPOINTS}/${e(id)}/deliveries`, query, o);
  }
}

export class WebhookDeliveries extends Resource {
  retrieve(id: string, o?: RequestOptions): Promise<ResultOf<W['getWebhookDelivery']>> {
    return this.call('GET', `/api/v1/webhook-deliveries/${e(id)}`, undefined, o);
  }
  listAttempts(id: string, query?: QueryOf<W['listWebhookAttempts']>, o?: RequestOptions): PagePromise<Item<W['listWebhookAttempts']>> {
    return this.pages(`/api/v1/webhook-deliveries/${e(id)}/attempts`, query, o);
  }
  resend(id: string, o?: RequestOptions): Promise<ResultOf<W['resendWebhookDelivery']>> {
    return this.call('POST', `/api/v1/webhook-deliveries/${e(id)}/resend`, undefined, o);
  }
}

export class Events extends Resource {
  list(query?: QueryOf<W['listEvents']>, o?: RequestOptions): PagePromise<Item<W['listEvents']>> {
    return this.pages('/api/v1/events', query, o);
  }
  retrieve(id: string, o?: RequestOptions): Promise<ResultOf<W['getEvent']>> {
    return this.call('GET', `/api/v1/events/${e(id)}`, undefined, o);
  }
  listDeliveries(id: string, query?: QueryOf<W['listEventDeliveries']>, o?: RequestOptions): PagePromise<Item<W['listEventDeliveries']>> {
    return this.pages(`/api/v1/events/${e(id)}/deliveries`, query, o);
  }
}

const KEYS = '/api/v1/api-keys';

/** The application's API keys (scopes `keys:read`, `keys:write`); a key never grants more than its own scopes. */
export class ApiKeys extends Resource {
  /** Prefix and last four of each key, never the secret; `includeInactive` adds revoked and expired ones. */
  list(query?: QueryOf<C['listApiKeys']>, o?: RequestOptions): PagePromise<Item<C['listApiKeys']>> {
    return this.pages(KEYS, query, o);
  }
  retrieve(id: string, o?: RequestOptions): Promise<ResultOf<C['getApiKey']>> {
    return this.call('GET', `${KEYS}/${e(id)}`, undefined, o);
  }
  /** A new key; its `secret` is in this answer only. */
  create(body: BodyOf<C['createApiKey']>, o?: RequestOptions): Promise<ResultOf<C['createApiKey']>> {
    return this.call('POST', KEYS, body, o);
  }
  /** A new secret (in this answer only); the old one keeps working for `expiresInHours` (0: stops at once). */
  roll(id: string, body?: BodyOf<C['rollApiKey']>, o?: RequestOptions): Promise<ResultOf<C['rollApiKey']>> {
    return this.call('POST', `${KEYS}/${e(id)}/roll`, body ?? {}, o);
  }
  /** Revokes the key at once, in every process of the deployment. */
  revoke(id: string, o?: RequestOptions): Promise<ResultOf<C['revokeApiKey']>> {
    return this.call('DELETE', `${KEYS}/${e(id)}`, undefined, o);
  }
}

const CUSTOMERS = '/api/v1/customers';

/** The application's customers (scopes `customers:read`, `customers:write`), their segments and vouchers. */
export class Customers extends Resource {
  /** `email` and `externalId` are unique per application; `phone` is E.164, `locale` BCP 47. */
  create(body: BodyOf<C['createCustomer']>, o?: RequestOptions): Promise<ResultOf<C['createCustomer']>> {
    return this.call('POST', CUSTOMERS, body, o);
  }
  retrieve(id: string, o?: RequestOptions): Promise<ResultOf<C['getCustomer']>> {
    return this.call('GET', `${CUSTOMERS}/${e(id)}`, undefined, o);
  }
  /** Changes the fields named; `null` clears one (`segments: null` empties them). */
  update(id: string, body: BodyOf<C['updateCustomer']>, o?: RequestOptions): Promise<ResultOf<C['updateCustomer']>> {
    return this.call('PATCH', `${CUSTOMERS}/${e(id)}`, body, o);
  }
  /** Newest first; filters `email`, `externalId`, `segment`, `createdFrom`, `createdTo`. */
  list(query?: QueryOf<C['listCustomers']>, o?: RequestOptions): PagePromise<Item<C['listCustomers']>> {
    return this.pages(CUSTOMERS, query, o);
  }
  delete(id: string, o?: RequestOptions): Promise<ResultOf<C['deleteCustomer']>> {
    return this.call('DELETE', `${CUSTOMERS}/${e(id)}`, undefined, o);
  }
  /** Adds then removes segments; repeating a call changes nothing. */
  updateSegments(id: string, body: BodyOf<C['updateCustomerSegments']>,
                 o?: RequestOptions): Promise<ResultOf<C['updateCustomerSegments']>> {
    return this.call('POST', `${CUSTOMERS}/${e(id)}/segments`, body, o);
  }
  /** The codes the customer may use now: generic codes they qualify for, codes assigned to them. */
  listVouchers(id: string, o?: RequestOptions): Promise<Item<C['listCustomerVouchers']>[]> {
    return this.items(`${CUSTOMERS}/${e(id)}/vouchers`, o);
  }
  /**
   * Erases a person's data (GDPR art. 17; scope `customers:erase`), by exactly one of `customerId` and
   * `email` (the customer with that email, or a guest known by it only). Answers the rows redacted per
   * place; a repeat answers zeros. Unknown `customerId`: `CustomerNotFoundError`.
   */
  erase(body: BodyOf<C['eraseCustomer']>, o?: RequestOptions): Promise<ResultOf<C['eraseCustomer']>> {
    return this.call('POST', `${CUSTOMERS}/erase`, body, o);
  }
  /** An erasure by its id (`era_…`): its status and counts. */
  retrieveErasure(id: string, o?: RequestOptions): Promise<ResultOf<C['getCustomerErasure']>> {
    return this.call('GET', `/api/v1/customer-erasures/${e(id)}`, undefined, o);
  }
  /** Which metadata keys hold personal data (scope `settings:read`). */
  retrieveSettings(o?: RequestOptions): Promise<ResultOf<C['getCustomerSettings']>> {
    return this.call('GET', '/api/v1/customer-settings', undefined, o);
  }
  /** Names the metadata keys whose values erasure redacts; replaces the list (scope `settings:write`). */
  updateSettings(body: BodyOf<C['updateCustomerSettings']>,
                 o?: RequestOptions): Promise<ResultOf<C['updateCustomerSettings']>> {
    return this.call('PUT', '/api/v1/customer-settings', body, o);
  }
}

/** Whose shopper tokens (`X-Shopper-Token`) the application trusts (scopes `settings:read`, `settings:write`). */
export class ShopperAuthResource extends Resource {
  retrieve(o?: RequestOptions): Promise<ResultOf<C['getShopperAuth']>> {
    return this.call('GET', '/api/v1/shopper-auth', undefined, o);
  }
  /** Changes the fields named (`jwksUrl`, `issuer`, `audience`); `null` clears one. */
  update(body: BodyOf<C['updateShopperAuth']>, o?: RequestOptions): Promise<ResultOf<C['updateShopperAuth']>> {
    return this.call('PUT', '/api/v1/shopper-auth', body, o);
  }
}

const WORKSPACES = '/api/v1/workspaces';

/** The members of the key's workspace (scopes `members:read`, `members:write`, granted by name: `*`
 * does not include them). A key manages `member`s only, with roles on its own application. */
export class Members extends Resource {
  list(workspaceId: string, o?: RequestOptions): Promise<Item<C['listMembers']>[]> {
    return this.items(`${WORKSPACES}/${e(workspaceId)}/members`, o);
  }
  /** Changes the workspace `role` and/or replaces the `applications` roles; the member is told by mail. */
  update(workspaceId: string, userId: string, body: BodyOf<C['updateMember']>,
         o?: RequestOptions): Promise<ResultOf<C['updateMember']>> {
    return this.call('PATCH', `${WORKSPACES}/${e(workspaceId)}/members/${e(userId)}`, body, o);
  }
  /** The last owner stays (`LastOwnerError`). */
  remove(workspaceId: string, userId: string, o?: RequestOptions): Promise<void> {
    return this.call('DELETE', `${WORKSPACES}/${e(workspaceId)}/members/${e(userId)}`, undefined, o);
  }
}

/** Invitations to the key's workspace: mailed links valid 7 days, usable once, only by the invited address. */
export class Invitations extends Resource {
  create(workspaceId: string, body: BodyOf<C['createInvitation']>,
         o?: RequestOptions): Promise<ResultOf<C['createInvitation']>> {
    return this.call('POST', `${WORKSPACES}/${e(workspaceId)}/invitations`, body, o);
  }
  list(workspaceId: string, o?: RequestOptions): Promise<Item<C['listInvitations']>[]> {
    return this.items(`${WORKSPACES}/${e(workspaceId)}/invitations`, o);
  }
  /** A new link (the old one stops working), valid 7 more days. */
  resend(workspaceId: string, invitationId: string, o?: RequestOptions): Promise<ResultOf<C['resendInvitation']>> {
    return this.call('POST', `${WORKSPACES}/${e(workspaceId)}/invitations/${e(invitationId)}/resend`, undefined, o);
  }
  /** The link stops working at once. */
  revoke(workspaceId: string, invitationId: string, o?: RequestOptions): Promise<ResultOf<C['revokeInvitation']>> {
    return this.call('DELETE', `${WORKSPACES}/${e(workspaceId)}/invitations/${e(invitationId)}`, undefined, o);
  }
}

/** What the key may do: its scopes and team permissions. */
export class PermissionsResource extends Resource {
  retrieve(o?: RequestOptions): Promise<ResultOf<C['getPermissions']>> {
    return this.call('GET', '/api/v1/auth/permissions', undefined, o);
  }
}

/** Who changed what in the application, newest first (scope `audit:read`; secrets are never in an entry). */
export class AuditLog extends Resource {
  /** Filters `actorId`, `actorType`, `resourceType`, `resourceId`, `action`, `createdFrom` (inclusive), `createdTo`. */
  list(query?: QueryOf<C['listAuditLog']>, o?: RequestOptions): PagePromise<Item<C['listAuditLog']>> {
    return this.pages('/api/v1/audit-log', query, o);
  }
}
