export { KassaProvider, useKassa } from './context.js';
export {
  rebuildCart, useKassaCheckout,
  type CartReset, type CheckoutStatus, type KassaCheckout, type Totals, type UseKassaCheckoutOptions,
} from './checkout.js';
export { CheckoutEmbed, type CheckoutEmbedProps } from './embed.js';
export type { CheckoutError, CheckoutStep, EmbedToken } from '@kassa/embed';
