"""The SDK against the distributed deployment on PostgreSQL: cart and checkout as separate processes
behind the gateway, over real HTTP. A lost answer is retried with the same Idempotency-Key and the
payment provider charges once."""

from __future__ import annotations

import asyncio

import httpx
import kassa_sdk
import pytest
from kassa_sdk.types import CardInput, CartAddress, LineItemInput, PaymentMethodInput, VariantInput

from tests.support import cards
from tests.support.ledger import provider_ledger

pytestmark = pytest.mark.slow

ADDRESS = CartAddress(address_line1="Unter den Linden 1", city="Berlin", country_code="DE")
CARD = PaymentMethodInput(type="card", card=CardInput(number=cards.GOOD, exp_month=12, exp_year=2030))


class LoseFirstAnswer(httpx.BaseTransport):
    """Real HTTP, except that the first answer to a `complete` is dropped after the server sent it."""

    def __init__(self) -> None:
        self.http = httpx.HTTPTransport()
        self.keys: list[str | None] = []

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        response = self.http.handle_request(request)
        if request.url.path.endswith("/complete"):
            self.keys.append(request.headers.get("idempotency-key"))
            if len(self.keys) == 1:
                response.read()
                response.close()
                raise httpx.RemoteProtocolError("Server disconnected without sending a response.", request=request)
        return response

    def close(self) -> None:
        self.http.close()


def test_the_sdk_against_cart_and_checkout_processes_behind_the_gateway(deployment: dict) -> None:  # noqa: F811
    lossy = LoseFirstAnswer()
    # More retries than the default: the machine's PostgreSQL is shared with other test runs, and a
    # moment without a free connection is a 503 (retried after its Retry-After).
    with kassa_sdk.Kassa(deployment["key"], base_url=deployment["gateway"].base, transport=lossy,
                         max_retries=5) as kassa:
        product = kassa.products.create(name="Cap", variants=[VariantInput(sku="SDK-1", prices={"EUR": 900})])
        cart = kassa.carts.create(currency="EUR", shipping_address=ADDRESS,
                                  line_items=[LineItemInput(variant_id=product.variants[0].id, quantity=2)])
        session = kassa.checkout.sessions.create(cart_id=cart.id)
        paid = kassa.checkout.sessions.complete(session.id, payment_method=CARD, shipping_address=ADDRESS)
        assert paid.status == "complete" and paid.order_id
        assert len(lossy.keys) == 2 and lossy.keys[0] == lossy.keys[1]
        charged = asyncio.run(provider_ledger(deployment["db"], session.id))
        assert [tuple(r) for r in charged] == [("captured", 1800, 1)]  # the provider charged once
        assert [o.id for o in kassa.orders.list().auto_paging_iter()] == [paid.order_id]
        assert kassa.carts.retrieve(cart.id).status == "converted"
        with pytest.raises(kassa_sdk.CartNotOpenError):
            kassa.carts.add_line_item(cart.id, variant_id=product.variants[0].id)
        refund = kassa.orders.refunds.create(paid.order_id, amount=500)
        assert refund.status == "succeeded" and kassa.orders.retrieve(paid.order_id).amount_refunded == 500
        deployment["checkout"].stop()
        with pytest.raises(kassa_sdk.ServiceUnavailableError):  # retried, then raised
            kassa.orders.retrieve(paid.order_id, options={"max_retries": 1})
