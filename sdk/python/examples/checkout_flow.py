"""A merchant back end's checkout, with the blocking client: a cart, a hosted checkout session, then
the orders and a refund. Run against `kassa serve` with KASSA_API_KEY, KASSA_BASE_URL and
KASSA_VARIANT_ID set (./dev serve prints them)."""

from __future__ import annotations

import os

from kassa_sdk import CartNotFoundError, Kassa, KassaApiError
from kassa_sdk.types import CardInput, CartAddress, LineItemInput, PaymentMethodInput

ADDRESS = CartAddress(address_line1="Unter den Linden 1", city="Berlin", country_code="DE")


def main() -> None:
    with Kassa() as kassa:  # KASSA_API_KEY and KASSA_BASE_URL from the environment
        cart = kassa.carts.create(currency="EUR", shipping_address=ADDRESS, customer_email="ana@example.com",
                                  line_items=[LineItemInput(variant_id=os.environ["KASSA_VARIANT_ID"], quantity=1)])
        methods = kassa.carts.list_shipping_methods(cart.id)  # priced for this cart's address
        if methods:
            cart = kassa.carts.select_shipping_method(cart.id, shipping_method_id=methods[0].id)
        session = kassa.checkout.sessions.create(cart_id=cart.id, metadata={"order_ref": "A-1001"},
                                                 options={"idempotency_key": f"checkout-{cart.id}"})
        print(f"send the shopper to {session.url}")

        # What the hosted page does when the shopper pays (here with a test card).
        card = PaymentMethodInput(type="card", card=CardInput(number="4242424242424242", exp_month=12, exp_year=2030))
        paid = kassa.checkout.sessions.complete(session.id, payment_method=card, shipping_address=ADDRESS)
        assert paid.order_id is not None

        order = kassa.orders.retrieve(paid.order_id)
        refund = kassa.orders.refunds.create(order.id, amount=order.total // 2, reason="one item returned")
        print(f"order {order.id}: {order.total} {order.currency}, refunded {refund.amount}")

        recent = sum(1 for _ in kassa.orders.list(limit=20).auto_paging_iter())
        print(f"{recent} orders in total")

        try:
            kassa.carts.retrieve("cart_does_not_exist")
        except CartNotFoundError as error:
            print(f"as expected: {error.code} (request {error.request_id})")
        except KassaApiError as error:
            raise SystemExit(f"unexpected: {error}") from error


if __name__ == "__main__":
    main()
