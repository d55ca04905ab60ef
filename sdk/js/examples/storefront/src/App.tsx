// The example storefront's page: a product, the cart built in the browser with the publishable key,
// the address and shipping, then the checkout session, which the shop's backend creates with its
// secret key (`POST {backendUrl}/session`).
import { useKassaCheckout, type KassaCheckout } from '@kassa/react';
import type { Cart, CartAddress } from '@kassa/js';
import { formatMoney } from './cart.js';

export interface ShopConfig {
  /** Kassa's base URL (the checkout frame comes from there). */
  kassaUrl: string;
  /** Where the shop's backend answers `POST /session` and `POST /embed-token`. */
  backendUrl: string;
  variantId: string;
  address: CartAddress;
}

async function post<T>(url: string, body: unknown): Promise<T> {
  const answer = await fetch(url, { method: 'POST', headers: { 'Content-Type': 'application/json' },
                                    body: JSON.stringify(body) });
  if (!answer.ok) throw new Error(`${url} answered ${answer.status}`);
  return (await answer.json()) as T;
}

function Summary({ checkout }: { checkout: KassaCheckout }) {
  const { totals, selectedMethod } = checkout;
  if (!totals) return null;
  return (
    <dl id="summary">
      <dt>Items</dt><dd id="items">{totals.itemCount}</dd>
      <dt>Shipping</dt><dd id="shipping">{selectedMethod ? selectedMethod.name : '—'}</dd>
      <dt>Total</dt><dd id="total">{formatMoney(totals.total, totals.currency)}</dd>
    </dl>
  );
}

export function App({ cart, config }: { cart: Cart; config: ShopConfig }) {
  const checkout = useKassaCheckout(cart, {
    createSession: (c) => post<{ id: string }>(`${config.backendUrl}/session`, { cartId: c.id }),
  });

  return (
    <main data-status={checkout.status}>
      <h1>Example shop</h1>
      <Summary checkout={checkout} />
      {checkout.error ? <p role="alert" id="error">{(checkout.error as { code?: string }).code ?? String(checkout.error)}</p> : null}
      <button id="add" type="button" onClick={() => void checkout.addLineItem({ variantId: config.variantId, quantity: 2 })}>
        Add two mugs
      </button>
      <button id="address" type="button" onClick={() => void checkout.setShippingAddress(config.address)}>
        Ship to {config.address.city}
      </button>
      <fieldset id="methods">
        {checkout.shippingMethods.map((m) => (
          <button key={m.id} type="button" data-method={m.id} aria-pressed={checkout.selectedMethod?.id === m.id}
                  onClick={() => void checkout.selectMethod(m.id)}>
            {m.name} {formatMoney(m.amount, m.currency)}
          </button>
        ))}
      </fieldset>
      <button id="pay" type="button" disabled={!checkout.totals?.itemCount} onClick={() => void checkout.createSession()}>
        Pay
      </button>
      {checkout.sessionId ? <p id="session">{checkout.sessionId}</p> : null}
      <p id="status">{checkout.status}</p>
    </main>
  );
}
