/**
 * Names for the generated wire types (src/generated, from Kassa's OpenAPI documents), and the
 * helpers that read a request body, query or result off an operation.
 */
import type { components, operations } from './generated/api.js';

/** Every operation of the API by its operation id (one document: the services' merged). The three
 * names say which service answers; they are the same type. */
export type { operations as CartOperations, operations as CheckoutOperations, operations as WebhookOperations };
type Schemas = components['schemas'];
type CartSchemas = Schemas;
type CheckoutSchemas = Schemas;
type WebhookSchemas = Schemas;

type Json<C> = C extends { content: { 'application/json': infer T } } ? T : undefined;
/** The JSON body an operation takes. */
export type BodyOf<O> = O extends { requestBody: infer R } ? Json<R> : O extends { requestBody?: infer R } ? Json<NonNullable<R>> : never;
/** The query parameters an operation takes. */
export type QueryOf<O> = O extends { parameters: { query?: infer Q } } ? NonNullable<Q> : never;
/** What an operation answers on success. */
export type ResultOf<O> = O extends { responses: infer R }
  ? 200 extends keyof R ? Json<R[200]> : 201 extends keyof R ? Json<R[201]> : undefined
  : never;

// Carts
export type Cart = CartSchemas['Cart'];
export type CartRecovery = CartSchemas['CartRecovery'];
/** The one canonical address: `addressLine1`, `city`, `countryCode` required. */
export type CartAddress = CartSchemas['CartAddress'];
export type LineItem = CartSchemas['LineItem'];
export type CreateCartInput = CartSchemas['CreateCart'];
export type UpdateCartInput = CartSchemas['UpdateCart'];
export type LineItemInput = CartSchemas['LineItemInput'];
export type ShippingOption = CartSchemas['ShippingOption'];
export type AppliedDiscount = CartSchemas['AppliedDiscount'];
// Catalog
export type Product = CartSchemas['Product'];
export type Variant = CartSchemas['Variant'];
// Checkout
export type CheckoutSession = CheckoutSchemas['CheckoutSession'];
export type CreateCheckoutSessionInput = CheckoutSchemas['CreateCheckoutSession'];
export type CompleteCheckoutSessionInput = CheckoutSchemas['CompleteCheckoutSession'];
export type EmbedToken = CheckoutSchemas['EmbedToken'];
/** The session and the storefront origin. The document's `allowedMethods` is left out on purpose: Kassa
 * refuses it (400 `allowed_methods_unsupported`); restrict methods on the session (`allowedMethods`). */
export type EmbedTokenInput = Omit<CheckoutSchemas['EmbedTokenRequest'], 'allowedMethods'>;
export type PaymentMethod = CheckoutSchemas['PaymentMethod'];
export type Payment = CheckoutSchemas['Payment'];
export type Order = CheckoutSchemas['Order'];
export type OrderSummary = CheckoutSchemas['OrderSummary'];
export type AbandonmentDaily = CartSchemas['AbandonmentDaily'];
export type Refund = CheckoutSchemas['Refund'];
export type PaymentIntentHandle = CheckoutSchemas['PaymentIntentHandle'];
export type PaymentSettings = CheckoutSchemas['PaymentSettings'];
export type UpdatePaymentSettingsInput = CheckoutSchemas['UpdatePaymentSettings'];
// Server-side resources
export type EmbedConfig = CartSchemas['EmbedConfig'];
export type AbandonedCart = CartSchemas['AbandonedCart'];
export type AbandonedCartSummary = CartSchemas['AbandonedCartSummary'];
export type Campaign = CartSchemas['Campaign'];
export type Code = CartSchemas['Code'];
export type ShippingMethod = CartSchemas['ShippingMethod'];
export type ApiKey = CartSchemas['ApiKey'];
// Teams (docs/team.md)
export type Member = Schemas['Member'];
export type Invitation = Schemas['Invitation'];
export type Permissions = Schemas['Permissions'];
export type AuditEntry = CartSchemas['AuditEntry'];
export type Customer = CartSchemas['Customer'];
export type CustomerVoucher = CartSchemas['CustomerVoucher'];
export type CartCustomer = CartSchemas['CartCustomer'];
export type Erasure = CartSchemas['Erasure'];
export type CustomerSettings = CartSchemas['CustomerSettings'];
export type ShopperAuth = CartSchemas['ShopperAuth'];
export type TaxRate = CartSchemas['TaxRate'];
export type BasketRedemption = CartSchemas['BasketRedemption'];
export type RedemptionRollback = CartSchemas['RedemptionRollback'];
export type CreateRedemptionInput = CartSchemas['CreateRedemption'];
export type WebhookEndpoint = WebhookSchemas['WebhookEndpoint'];
export type WebhookDelivery = WebhookSchemas['WebhookDelivery'];
export type WebhookEvent = WebhookSchemas['Event'];
