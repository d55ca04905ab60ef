"""Every decimal field refuses what is not a plain number: NaN, infinities and exponents out of
range are a 422 `validation_error` naming the field, never a 500 (decimal.InvalidOperation).

The decimal fields of the API: a reward's `percent` (percent_off, buy_x_get_y, shipping_off) and
a tax rate's `rate`."""

from __future__ import annotations

import pytest

from tests.conftest import Tenant
from tests.support.envelopes import assert_envelope

NOT_PLAIN_NUMBERS = ["NaN", "nan", "-NaN", "sNaN", "Infinity", "-Infinity", "inf", "1E+999999999", "1E-999999999",
                     "1e-5", "0.00001", "", "ten"]
REWARDS = [{"type": "percent_off"}, {"type": "buy_x_get_y", "buy": 2}, {"type": "shipping_off"}]


@pytest.mark.parametrize("value", NOT_PLAIN_NUMBERS)
@pytest.mark.parametrize("reward", REWARDS, ids=lambda r: r["type"])
async def test_a_reward_percent_that_is_not_a_plain_number_is_refused(tenant: Tenant, reward: dict, value: str) -> None:
    answer = await tenant.post("/api/v1/campaigns", {"name": "Odd", "reward": {**reward, "percent": value}})
    assert_envelope(answer, 422, "validation_error", "reward.percent")
    made = await tenant.post("/api/v1/campaigns", {"name": "Fine", "reward": {**reward, "percent": "12.5"}})
    assert made.status_code == 201, made.text
    changed = await tenant.patch(f"/api/v1/campaigns/{made.json()['id']}", {"reward": {**reward, "percent": value}})
    assert_envelope(changed, 422, "validation_error", "reward.percent")


async def test_a_number_too_large_for_json_is_refused_by_the_decoder(tenant: Tenant) -> None:
    body = b'{"name": "Odd", "reward": {"type": "percent_off", "percent": 1e400}}'
    answer = await tenant.request("POST", "/api/v1/campaigns", content=body, headers={"content-type": "application/json"})
    assert "Number out of range" in assert_envelope(answer, 400, "malformed_json")["message"]


async def test_a_number_too_small_for_json_is_zero_and_refused(tenant: Tenant) -> None:
    body = b'{"name": "Odd", "reward": {"type": "percent_off", "percent": 1e-400}}'
    answer = await tenant.request("POST", "/api/v1/campaigns", content=body, headers={"content-type": "application/json"})
    assert_envelope(answer, 422, "validation_error", "reward.percent")


@pytest.mark.parametrize("value", ["12.5", 12.5, 10, "100", "0.0001", "1E+1", "33.3300"])
async def test_plain_percentages_are_accepted(tenant: Tenant, value: object) -> None:
    made = await tenant.post("/api/v1/campaigns", {"name": "Fine", "reward": {"type": "percent_off", "percent": value}})
    assert made.status_code == 201, made.text


@pytest.mark.parametrize("value", NOT_PLAIN_NUMBERS)
async def test_a_tax_rate_that_is_not_a_plain_number_is_refused(tenant: Tenant, value: str) -> None:
    answer = await tenant.post("/api/v1/tax-rates", {"countryCode": "DE", "rate": value, "name": "VAT"})
    assert_envelope(answer, 422, "validation_error", "rate")
