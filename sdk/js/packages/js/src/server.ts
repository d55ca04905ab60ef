/**
 * `@kassa/js/server`: the whole API for a server holding a secret key. `KassaServer` is the
 * storefront client plus the merchant's resources.
 */
import { Kassa, type KassaOptions } from './client.js';
import {
  AbandonedCarts, ApiKeys, ApplicationResource, AuditLog, CampaignGroups, Campaigns, Codes, Customers, EmbedConfigs, Events, Invitations, Members, Orders,
  PaymentSettingsResource, PermissionsResource, ProductsAdmin, PromotionSettings, Redemptions, ShippingMethods, ShopperAuthResource, TaxRates, TaxSettings, Vouchers, WebhookDeliveries, WebhookEndpoints,
} from './resources/admin.js';

export class KassaServer extends Kassa {
  declare readonly products: ProductsAdmin;
  readonly orders: Orders;
  readonly paymentSettings: PaymentSettingsResource;
  readonly shippingMethods: ShippingMethods;
  readonly taxRates: TaxRates;
  readonly taxSettings: TaxSettings;
  readonly embedConfig: EmbedConfigs;
  readonly abandonedCarts: AbandonedCarts;
  readonly campaigns: Campaigns;
  readonly campaignGroups: CampaignGroups;
  readonly promotionSettings: PromotionSettings;
  readonly codes: Codes;
  readonly vouchers: Vouchers;
  readonly redemptions: Redemptions;
  readonly webhookEndpoints: WebhookEndpoints;
  readonly webhookDeliveries: WebhookDeliveries;
  readonly events: Events;
  readonly apiKeys: ApiKeys;
  readonly application: ApplicationResource;
  readonly customers: Customers;
  readonly shopperAuth: ShopperAuthResource;
  readonly members: Members;
  readonly invitations: Invitations;
  readonly permissions: PermissionsResource;
  readonly auditLog: AuditLog;

  constructor(options: KassaOptions) {
    super(options);
    const http = this.http;
    (this as { products: ProductsAdmin }).products = new ProductsAdmin(http);
    this.orders = new Orders(http);
    this.paymentSettings = new PaymentSettingsResource(http);
    this.shippingMethods = new ShippingMethods(http);
    this.taxRates = new TaxRates(http);
    this.taxSettings = new TaxSettings(http);
    this.embedConfig = new EmbedConfigs(http);
    this.abandonedCarts = new AbandonedCarts(http);
    this.campaigns = new Campaigns(http);
    this.campaignGroups = new CampaignGroups(http);
    this.promotionSettings = new PromotionSettings(http);
    this.codes = new Codes(http);
    this.vouchers = new Vouchers(http);
    this.redemptions = new Redemptions(http);
    this.webhookEndpoints = new WebhookEndpoints(http);
    this.webhookDeliveries = new WebhookDeliveries(http);
    this.events = new Events(http);
    this.apiKeys = new ApiKeys(http);
    this.application = new ApplicationResource(http);
    this.customers = new Customers(http);
    this.shopperAuth = new ShopperAuthResource(http);
    this.members = new Members(http);
    this.invitations = new Invitations(http);
    this.permissions = new PermissionsResource(http);
    this.auditLog = new AuditLog(http);
  }
}

export * from './index.js';
export * from './resources/admin.js';
