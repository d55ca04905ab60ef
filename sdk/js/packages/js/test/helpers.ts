// Shared by the @kassa/js tests: the Kassa the harness started (tests/sdk_js), and a shop in it.
import { Kassa } from '@kassa/js';
import { KassaServer } from '@kassa/js/server';

function env(name: string): string {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is not set: run these tests through pytest (tests/sdk_js)`);
  return value;
}

export const baseUrl = env('KASSA_URL');
export const secretKey = env('KASSA_SECRET_KEY');
export const publishableKey = env('KASSA_PUBLISHABLE_KEY');

export const server = (options: Partial<ConstructorParameters<typeof KassaServer>[0]> = {}) =>
  new KassaServer({ apiKey: secretKey, baseUrl, ...options });
export const storefront = (options: Partial<ConstructorParameters<typeof Kassa>[0]> = {}) =>
  new Kassa({ apiKey: publishableKey, baseUrl, ...options });

export const ADDRESS = { firstName: 'Ada', addressLine1: 'Unter den Linden 1', city: 'Berlin', postalCode: '10117',
                         countryCode: 'DE' as const };
export const OK_CARD = { type: 'card', card: { number: '4242424242424242', expMonth: 12, expYear: 2030, cvc: '123' } };
export const DECLINED_CARD = { type: 'card', card: { number: '4000000000000002' } };

let shop: Promise<{ variantId: string; shippingMethodId: string; code: string }> | undefined;

/** A product at 25.00 EUR, a 4.90 EUR shipping method to Germany, and a code worth 5.00 EUR. */
export function setupShop() {
  return (shop ??= (async () => {
    const kassa = server();
    const sku = `sku-${Math.random().toString(36).slice(2, 10)}`;
    const product = await kassa.products.create({ name: 'Espresso cup', categories: ['cups'],
                                                  variants: [{ sku, prices: { EUR: 2500 } }] });
    const method = await kassa.shippingMethods.create({ name: 'DHL', prices: { EUR: 490 }, countries: ['DE'] });
    const campaign = await kassa.campaigns.create({ name: 'Five off', reward: { type: 'fixed_off', amounts: { EUR: 500 } } });
    const code = `FIVE-${sku}`.toUpperCase();
    await kassa.codes.create(campaign.id, { code });
    return { variantId: product.variants[0]!.id, shippingMethodId: method.id, code };
  })());
}

/** A `fetch` that lets tests break the transport (a lost answer, a refused connection) around the real one. */
export function faultyFetch(fault: (attempt: number, url: string, init: RequestInit) => Promise<Response | undefined>) {
  const seen: { url: string; method: string; idempotencyKey: string | null }[] = [];
  const fetchImpl = async (url: string, init: RequestInit) => {
    const headers = new Headers(init.headers);
    seen.push({ url, method: init.method ?? 'GET', idempotencyKey: headers.get('idempotency-key') });
    const injected = await fault(seen.length, url, init);
    return injected ?? fetch(url, init);
  };
  return { fetch: fetchImpl, seen };
}
