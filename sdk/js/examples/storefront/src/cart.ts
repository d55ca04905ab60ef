// A storefront's cart logic on @kassa/js: one Kassa client with the publishable key, the cart id
// and its secret kept in sessionStorage so the cart survives a reload.
import { CartNotFoundError, Kassa, type Cart, type CartAddress, type CreateCartInput, type SecretStore } from '@kassa/js';

const STORAGE_KEY = 'shop.cart';

/** Cart secrets in sessionStorage: a reload finds the shopper's cart again. */
export const sessionSecrets: SecretStore = {
  get: (id) => sessionStorage.getItem(`kassa.secret.${id}`),
  set: (id, secret) => sessionStorage.setItem(`kassa.secret.${id}`, secret),
};

export function createClient(baseUrl: string, publishableKey: string): Kassa {
  return new Kassa({ apiKey: publishableKey, baseUrl, secrets: sessionSecrets });
}

/** The shopper's open cart: the stored one if it still exists, else a new one. */
export async function currentCart(kassa: Kassa, currency: CreateCartInput['currency']): Promise<Cart> {
  const stored = sessionStorage.getItem(STORAGE_KEY);
  if (stored) {
    try {
      const cart = await kassa.carts.retrieve(stored);
      if (cart.status === 'open') return cart;
    } catch (error) {
      if (!(error instanceof CartNotFoundError)) throw error;
    }
  }
  const cart = await kassa.carts.create({ currency });
  sessionStorage.setItem(STORAGE_KEY, cart.id);
  return cart;
}

export async function addToCart(kassa: Kassa, cart: Cart, variantId: string, quantity = 1): Promise<Cart> {
  return kassa.carts.addLineItem(cart.id, { variantId, quantity });
}

export async function shipTo(kassa: Kassa, cart: Cart, address: CartAddress): Promise<Cart> {
  let next = await kassa.carts.update(cart.id, { shippingAddress: address });
  const [cheapest] = (await kassa.carts.listShippingMethods(next.id)).sort((a, b) => a.amount - b.amount);
  if (cheapest) next = await kassa.carts.selectShippingMethod(next.id, { shippingMethodId: cheapest.id });
  return next;
}

export function formatMoney(amount: number, currency: string, locale = 'en-US'): string {
  return new Intl.NumberFormat(locale, { style: 'currency', currency }).format(amount / 100);
}
