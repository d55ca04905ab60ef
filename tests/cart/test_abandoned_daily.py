"""Abandoned carts per day (GET /api/v1/abandoned-carts/daily), the dashboard's overview chart."""

from __future__ import annotations

from tests.cart.conftest import filled_cart, sweep_for
from tests.conftest import Tenant
from tests.support.envelopes import assert_envelope

DAY = 1440


async def test_abandonments_are_counted_on_the_day_they_happened(tenant: Tenant) -> None:
    clock = tenant.backend.clock
    await filled_cart(tenant)
    clock.advance(minutes=DAY + 1)
    await sweep_for(tenant)
    first_day = clock.now().date().isoformat()
    clock.advance(days=3)
    await filled_cart(tenant)
    await filled_cart(tenant, currency="USD")
    clock.advance(minutes=DAY + 1)
    await sweep_for(tenant)
    second_day = clock.now().date().isoformat()
    body = (await tenant.get("/api/v1/abandoned-carts/daily", params={"days": 30})).json()
    assert body["timeZone"] == "UTC"
    assert body["days"] == [
        {"date": first_day, "currency": "EUR", "abandonedCount": 1, "abandonedValue": 5000, "recoveredCount": 0,
         "recoveredValue": 0},
        {"date": second_day, "currency": "EUR", "abandonedCount": 1, "abandonedValue": 5000, "recoveredCount": 0,
         "recoveredValue": 0},
        {"date": second_day, "currency": "USD", "abandonedCount": 1, "abandonedValue": 5400, "recoveredCount": 0,
         "recoveredValue": 0},
    ]
    recent = (await tenant.get("/api/v1/abandoned-carts/daily", params={"days": 2, "timeZone": "Europe/Berlin"})).json()
    assert {d["currency"] for d in recent["days"]} == {"EUR", "USD"} and len(recent["days"]) == 2
    assert_envelope(await tenant.get("/api/v1/abandoned-carts/daily", params={"days": 100}), 400, "validation_error",
                    "days")
    assert_envelope(await tenant.get("/api/v1/abandoned-carts/daily", params={"timeZone": "Nowhere"}), 400,
                    "validation_error", "timeZone")
