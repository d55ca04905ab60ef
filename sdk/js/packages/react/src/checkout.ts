/**
 * `useKassaCheckout(cart)`: a storefront's checkout over one cart.
 *
 * The cart the server last answered is the only state: totals and the selected shipping method
 * are read from it, never kept beside it. Changes run one at a time (a queue), each answered by
 * the whole recomputed cart. `status` is a small state machine:
 *
 *     idle ─▶ loading ─▶ ready ⇄ submitting ─▶ ready | error ;  any ─▶ completed (markCompleted)
 *
 * Stale-cart recovery: when a change fails with 409 `cart_not_open` (the cart went into checkout
 * or was converted elsewhere) or 404 `cart_not_found`, the hook builds a new cart from the last
 * known lines, addresses, email and codes, selects the same shipping method when it still
 * applies, replays the change once, and says so (`reset`, `onCartReset`).
 */
import { useCallback, useEffect, useMemo, useReducer, useRef } from 'react';
import {
  CartNotFoundError, CartNotOpenError, DiscountInvalidError, KassaError,
  type Cart, type CartAddress, type CreateCartInput, type Kassa, type LineItemInput, type ShippingOption,
} from '@kassa/js';
import { useKassa } from './context.js';

export type CheckoutStatus = 'idle' | 'loading' | 'ready' | 'submitting' | 'completed' | 'error';

export interface CartReset {
  previousCartId: string;
  cartId: string;
  reason: 'cart_not_open' | 'cart_not_found';
}

export interface UseKassaCheckoutOptions {
  /** The storefront client; default: the one from <KassaProvider>. */
  kassa?: Kassa;
  /** Asks your server to create the checkout session (secret key) and answers its id. */
  createSession?: (cart: Cart) => Promise<string | { id: string }>;
  /** The cart was rebuilt (stale-cart recovery): store the new id where you kept the old one. */
  onCartReset?: (reset: CartReset, cart: Cart) => void;
}

export interface Totals {
  currency: string;
  subtotal: number;
  discountTotal: number;
  shippingTotal: number;
  taxTotal: number;
  total: number;
  taxesIncluded: boolean;
  itemCount: number;
}

interface State {
  status: CheckoutStatus;
  cart: Cart | null;
  shippingMethods: ShippingOption[];
  error: unknown;
  reset: CartReset | null;
  sessionId: string | null;
  orderId: string | null;
}

type Action =
  | { type: 'load' }
  | { type: 'submit' }
  | { type: 'settled'; cart?: Cart; shippingMethods?: ShippingOption[] }
  | { type: 'failed'; error: unknown }
  | { type: 'reset'; reset: CartReset; cart: Cart }
  | { type: 'session'; sessionId: string }
  | { type: 'completed'; orderId: string | null };

function reducer(state: State, action: Action): State {
  switch (action.type) {
    case 'load':
      return { ...state, status: 'loading', error: null };
    case 'submit':
      return { ...state, status: 'submitting', error: null };
    case 'settled':
      return { ...state, status: 'ready', cart: action.cart ?? state.cart,
               shippingMethods: action.shippingMethods ?? state.shippingMethods };
    case 'failed':
      return { ...state, status: 'error', error: action.error };
    case 'reset':
      return { ...state, cart: action.cart, reset: action.reset, sessionId: null };
    case 'session':
      return { ...state, status: 'ready', sessionId: action.sessionId };
    case 'completed':
      return { ...state, status: 'completed', orderId: action.orderId };
  }
}

function initial(cart: Cart | string | null | undefined): State {
  const given = typeof cart === 'object' && cart ? cart : null;
  return { status: given ? 'ready' : 'idle', cart: given, shippingMethods: [], error: null, reset: null,
           sessionId: null, orderId: null };
}

/** A new open cart with what the stale one held: catalog lines, addresses, email, metadata, codes, method. */
export async function rebuildCart(kassa: Kassa, stale: Cart): Promise<Cart> {
  const body: CreateCartInput = {
    currency: stale.currency,
    lineItems: stale.lineItems.filter((l) => l.variantId).map((l) => ({ variantId: l.variantId!, quantity: l.quantity })),
    ...(stale.customerEmail ? { customerEmail: stale.customerEmail } : {}),
    ...(stale.shippingAddress ? { shippingAddress: stale.shippingAddress } : {}),
    ...(stale.billingAddress ? { billingAddress: stale.billingAddress } : {}),
    ...(stale.metadata ? { metadata: stale.metadata } : {}),
  };
  const codes = stale.discounts.filter((d) => d.code && d.applied !== false).map((d) => d.code!);
  let cart: Cart;
  try {
    cart = await kassa.carts.create(codes.length ? { ...body, discountCodes: codes } : body);
  } catch (error) {
    if (!(error instanceof DiscountInvalidError)) throw error;
    cart = await kassa.carts.create(body); // a code that no longer applies does not block the shopper
  }
  if (stale.shippingMethod) {
    try {
      cart = await kassa.carts.selectShippingMethod(cart.id, { shippingMethodId: stale.shippingMethod.id });
    } catch (error) {
      if (!(error instanceof KassaError)) throw error; // no longer offered: the shopper chooses again
    }
  }
  return cart;
}

export function useKassaCheckout(cart: Cart | string | null | undefined, options: UseKassaCheckoutOptions = {}) {
  const kassa = useKassa(options.kassa);
  const [state, dispatch] = useReducer(reducer, cart, initial);
  const current = useRef<Cart | null>(state.cart);
  const queue = useRef<Promise<unknown>>(Promise.resolve());
  const latestOptions = useRef(options);
  latestOptions.current = options;
  const cartId = typeof cart === 'string' ? cart : null;

  useEffect(() => {
    if (!cartId) return;
    let cancelled = false; // StrictMode and a new id: an answer for an old request is dropped
    dispatch({ type: 'load' });
    const load = async () => {
      const loaded = await kassa.carts.retrieve(cartId);
      const methods = loaded.shippingAddress ? await kassa.carts.listShippingMethods(cartId) : undefined;
      return { loaded, methods };
    };
    queue.current = queue.current.then(load).then(
      ({ loaded, methods }) => {
        if (cancelled) return;
        current.current = loaded;
        dispatch({ type: 'settled', cart: loaded, ...(methods ? { shippingMethods: methods } : {}) });
      },
      (error: unknown) => { if (!cancelled) dispatch({ type: 'failed', error }); },
    );
    return () => { cancelled = true; };
  }, [kassa, cartId]);

  /** Runs a task after the ones before it, as `submitting`; a failure leaves `error` and the cart as it was. */
  const enqueue = useCallback(<T,>(task: () => Promise<T>): Promise<T> => {
    const next = queue.current.then(async () => {
      dispatch({ type: 'submit' });
      try {
        return await task();
      } catch (error) {
        dispatch({ type: 'failed', error });
        throw error;
      }
    });
    queue.current = next.catch(() => undefined);
    return next;
  }, []);

  /** One change to the cart; a stale cart is rebuilt and the change replayed once. */
  const run = useCallback((change: (cartId: string) => Promise<Cart>, withMethods = false) => enqueue(async () => {
    const before = current.current;
    if (!before) throw new KassaError('No cart yet: pass a cart or its id to useKassaCheckout');
    let after: Cart;
    try {
      after = await change(before.id);
    } catch (error) {
      if (!(error instanceof CartNotOpenError || error instanceof CartNotFoundError)) throw error;
      const rebuilt = await rebuildCart(kassa, before);
      const reset: CartReset = { previousCartId: before.id, cartId: rebuilt.id,
                                 reason: error instanceof CartNotOpenError ? 'cart_not_open' : 'cart_not_found' };
      current.current = rebuilt;
      dispatch({ type: 'reset', reset, cart: rebuilt });
      latestOptions.current.onCartReset?.(reset, rebuilt);
      after = await change(rebuilt.id); // once: a second failure is the shopper's to see
    }
    current.current = after;
    const methods = withMethods && after.shippingAddress ? await kassa.carts.listShippingMethods(after.id) : undefined;
    dispatch({ type: 'settled', cart: after, ...(methods ? { shippingMethods: methods } : {}) });
    return after;
  }), [kassa, enqueue]);

  const createSession = useCallback(() => enqueue(async () => {
    const make = latestOptions.current.createSession;
    const cart = current.current;
    if (!make) throw new KassaError('Pass createSession to useKassaCheckout: your server creates the session');
    if (!cart) throw new KassaError('No cart yet');
    const answer = await make(cart);
    const id = typeof answer === 'string' ? answer : answer.id;
    dispatch({ type: 'session', sessionId: id });
    return id;
  }), [enqueue]);

  const actions = useMemo(() => ({
    addLineItem: (line: LineItemInput) => run((id) => kassa.carts.addLineItem(id, line)),
    updateLineItem: (lineId: string, quantity: number) => run((id) => kassa.carts.updateLineItem(id, lineId, { quantity })),
    removeLineItem: (lineId: string) => run((id) => kassa.carts.removeLineItem(id, lineId)),
    setEmail: (customerEmail: string | null) => run((id) => kassa.carts.update(id, { customerEmail })),
    /** Saves the address and loads the shipping methods that now apply. */
    setShippingAddress: (shippingAddress: CartAddress) => run((id) => kassa.carts.update(id, { shippingAddress }), true),
    setBillingAddress: (billingAddress: CartAddress | null) => run((id) => kassa.carts.update(id, { billingAddress })),
    /** One call: the answer is the recomputed cart with the method selected and the totals it implies. */
    selectMethod: (shippingMethodId: string) => run((id) => kassa.carts.selectShippingMethod(id, { shippingMethodId })),
    applyDiscountCode: (code: string) => run((id) => kassa.carts.applyDiscountCode(id, { code })),
    removeDiscountCode: (code: string) => run((id) => kassa.carts.removeDiscountCode(id, code)),
    refresh: () => run((id) => kassa.carts.retrieve(id), true),
    createSession,
    /** The embedded checkout reported the order (`<CheckoutEmbed onComplete>`). */
    markCompleted: (orderId: string | null = null) => dispatch({ type: 'completed', orderId }),
  }), [kassa, run, createSession]);

  const c = state.cart;
  const totals: Totals | null = useMemo(() => c && {
    currency: c.currency, subtotal: c.subtotal, discountTotal: c.discountTotal, shippingTotal: c.shippingTotal,
    taxTotal: c.taxTotal, total: c.total, taxesIncluded: c.taxesIncluded, itemCount: c.itemCount,
  }, [c]);

  return {
    status: state.status,
    cart: c,
    totals,
    /** Read from the cart the server answered, never from a client copy. */
    selectedMethod: c?.shippingMethod ?? null,
    shippingMethods: state.shippingMethods,
    error: state.error,
    /** Set when the hook rebuilt a stale cart. */
    reset: state.reset,
    sessionId: state.sessionId,
    orderId: state.orderId,
    ...actions,
  };
}

export type KassaCheckout = ReturnType<typeof useKassaCheckout>;
