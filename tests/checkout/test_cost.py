"""What one complete costs: SQL statements and calls to the cart service, held so that a regression fails.

Counted on the real path (the checkout app over ASGI, its calls to the cart service through
`service_client`), the webhook relay not running. The figures are those of
docs/benchmarks.md ("The cost of a checkout completion") and of `./dev bench checkout_load`.
"""

from __future__ import annotations

from kassa_checkout.service import module_of
from sqlalchemy import event

from tests.conftest import ADDRESS_DE
from tests.support.shop import Shop


async def _counted_complete(shop: Shop) -> tuple[list[str], list[str], int]:
    """(statements, internal calls, transactions begun) of one complete of a priced cart."""
    method = (await shop.t.post("/api/v1/shipping-methods", {"name": "Post", "prices": {"EUR": 490}})).json()
    cart = await shop.cart(shippingAddress=ADDRESS_DE)
    await shop.t.put(f"/api/v1/carts/{cart['id']}/shipping-method", {"shippingMethodId": method["id"]})
    session = await shop.session(cart["id"])
    calls: list[str] = []
    begun: list[object] = []
    client = module_of(shop.backend.runtime).cart.client
    engine = shop.backend.runtime.db.engine.sync_engine
    listener = lambda method, path: calls.append(f"{method} {path}")  # noqa: E731
    began = lambda conn: begun.append(conn)  # noqa: E731
    client.listeners.append(listener)
    event.listen(engine, "begin", began)
    try:
        with shop.backend.counter as counted:
            done = await shop.complete(session["id"])
    finally:
        client.listeners.remove(listener)
        event.remove(engine, "begin", began)
    assert done.status_code == 200 and done.json()["status"] == "complete", done.text
    return counted.statements, calls, len(begun)


async def test_on_postgres_a_complete_is_ten_statements_no_transaction_and_two_calls(pg_shop: Shop) -> None:
    """The saga's own steps are one statement each (claim, attempt, authorize, capture, finish, settled);
    the cart service locks and converts with a read and a version-guarded write each."""
    statements, calls, transactions = await _counted_complete(pg_shop)
    assert [c.split("/")[-1] for c in calls] == ["checkout-lock", "convert"]
    assert len(statements) <= 10, "\n".join(statements)
    assert transactions == 0
    assert not any("FOR UPDATE" in s for s in statements)


async def test_a_complete_costs_at_most_twenty_statements(shop: Shop) -> None:
    statements, calls, _ = await _counted_complete(shop)
    assert len(calls) == 2
    assert len(statements) <= 20, "\n".join(statements)
