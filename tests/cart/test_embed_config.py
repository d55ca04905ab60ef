"""Embed config: the abandonment threshold, the recovery URL template, allowed origins and branding,
per application (so per environment), with validation that names the field and the allowed range."""

from __future__ import annotations

import pytest

from tests.conftest import Tenant, make_tenant
from tests.support.envelopes import assert_envelope

PATH = "/api/v1/embed-config"


async def test_defaults_then_changes_field_by_field(tenant: Tenant) -> None:
    assert (await tenant.get(PATH)).json() == {
        "cartAbandonmentThresholdMinutes": None, "effectiveCartAbandonmentThresholdMinutes": 1440,
        "cartRecoveryUrlTemplate": None, "allowedOrigins": [], "branding": None, "updatedAt": None,
        "recoveryIncentive": None}
    first = await tenant.put(PATH, {"cartAbandonmentThresholdMinutes": 60})
    assert first.status_code == 200, first.text
    assert first.json()["cartAbandonmentThresholdMinutes"] == 60
    assert first.json()["effectiveCartAbandonmentThresholdMinutes"] == 60 and first.json()["updatedAt"]
    template = "https://shop.example/cart/{cartId}?t={token}"
    second = (await tenant.put(PATH, {"cartRecoveryUrlTemplate": template})).json()
    assert second["cartAbandonmentThresholdMinutes"] == 60  # an absent field is left alone
    assert second["cartRecoveryUrlTemplate"] == template
    cleared = (await tenant.put(PATH, {"cartAbandonmentThresholdMinutes": None})).json()  # null clears
    assert cleared["cartAbandonmentThresholdMinutes"] is None
    assert cleared["effectiveCartAbandonmentThresholdMinutes"] == 1440 and cleared["cartRecoveryUrlTemplate"] == template
    assert (await tenant.get(PATH)).json() == cleared
    for edge in (15, 129600):
        assert (await tenant.put(PATH, {"cartAbandonmentThresholdMinutes": edge})).json()[
            "cartAbandonmentThresholdMinutes"] == edge


async def test_per_application_and_environment(backend) -> None:  # type: ignore[no-untyped-def]
    test_app, live_app = await make_tenant(backend, "test"), await make_tenant(backend, "live")
    await test_app.put(PATH, {"cartAbandonmentThresholdMinutes": 30})
    assert (await live_app.get(PATH)).json()["cartAbandonmentThresholdMinutes"] is None
    assert (await test_app.get(PATH)).json()["cartAbandonmentThresholdMinutes"] == 30


@pytest.mark.parametrize("value", [14, 0, -5, 129601, 10**12])
async def test_threshold_out_of_range_names_the_field_and_range(tenant: Tenant, value: int) -> None:
    error = assert_envelope(await tenant.put(PATH, {"cartAbandonmentThresholdMinutes": value}), 422,
                            "validation_error", "cartAbandonmentThresholdMinutes")
    assert "15" in error["message"] and "129600" in error["message"]
    assert error["details"] == {"min": 15, "max": 129600, "default": 1440}
    assert (await tenant.get(PATH)).json()["cartAbandonmentThresholdMinutes"] is None  # nothing was stored


@pytest.mark.parametrize("value", ["sixty", 60.5, True, [60], {"minutes": 60}])
async def test_threshold_of_another_type(tenant: Tenant, value: object) -> None:
    assert_envelope(await tenant.put(PATH, {"cartAbandonmentThresholdMinutes": value}), 422, "validation_error",
                    "cartAbandonmentThresholdMinutes")


@pytest.mark.parametrize(("template", "why"), [
    ("https://shop.example/cart/{cartId}?t={tokn}", "unknown placeholder {tokn}"),
    ("https://shop.example/cart/{id}", "unknown placeholder {id}"),
    ("https://shop.example/cart?t={token}", "must contain {cartId}"),
    ("https://shop.example/cart/{cartId}/{", "unbalanced braces"),
    ("https://shop.example/cart/{cartId", "must contain {cartId}"),
    ("shop.example/cart/{cartId}", "https://"),
    ("ftp://shop.example/{cartId}", "https://"),
    ("https:///{cartId}", "host"),
    ("https://shop.example/a b/{cartId}", "spaces"),
    ("", "validation"),
])
async def test_bad_templates(tenant: Tenant, template: str, why: str) -> None:
    error = assert_envelope(await tenant.put(PATH, {"cartRecoveryUrlTemplate": template}), 422, "validation_error",
                            "cartRecoveryUrlTemplate")
    assert why in error["message"] or why == "validation", error


async def test_http_templates_and_origins_are_for_test_applications_only(backend) -> None:  # type: ignore[no-untyped-def]
    test_app, live_app = await make_tenant(backend, "test"), await make_tenant(backend, "live")
    body = {"cartRecoveryUrlTemplate": "http://localhost:3000/cart/{cartId}",
            "allowedOrigins": ["http://localhost:3000"]}
    assert (await test_app.put(PATH, body)).status_code == 200
    assert_envelope(await live_app.put(PATH, {"cartRecoveryUrlTemplate": body["cartRecoveryUrlTemplate"]}), 422,
                    "validation_error", "cartRecoveryUrlTemplate")
    assert_envelope(await live_app.put(PATH, {"allowedOrigins": body["allowedOrigins"]}), 422, "validation_error",
                    "allowedOrigins[0]")
    assert_envelope(await live_app.put(PATH, {"branding": {"logoUrl": "http://cdn.example/logo.png"}}), 422,
                    "validation_error", "branding.logoUrl")


async def test_allowed_origins_are_normalized_and_checked(tenant: Tenant) -> None:
    body = {"allowedOrigins": ["https://Shop.Example", "https://shop.example:443", "https://shop.example:8443",
                               "http://127.0.0.1:5173", "https://[::1]:8443"]}
    got = (await tenant.put(PATH, body)).json()
    assert got["allowedOrigins"] == ["https://shop.example", "https://shop.example:8443", "http://127.0.0.1:5173",
                                     "https://[::1]:8443"]
    for i, bad in enumerate(["https://shop.example/", "https://shop.example/checkout", "shop.example", "*",
                             "https://user@shop.example", "https://shop.example:99999", "https://-bad.example"]):
        error = assert_envelope(await tenant.put(PATH, {"allowedOrigins": ["https://ok.example", bad]}), 422,
                                "validation_error", "allowedOrigins[1]")
        assert error["message"], (i, bad)
    too_many = [f"https://s{i}.example" for i in range(51)]
    assert_envelope(await tenant.put(PATH, {"allowedOrigins": too_many}), 422, "validation_error", "allowedOrigins")
    assert (await tenant.put(PATH, {"allowedOrigins": None})).json()["allowedOrigins"] == []


async def test_branding(tenant: Tenant) -> None:
    body = {"branding": {"displayName": "Ana's Shop", "primaryColor": "#1A2B3C", "logoUrl": "https://cdn.example/l.png"}}
    got = (await tenant.put(PATH, body)).json()
    assert got["branding"] == {"displayName": "Ana's Shop", "primaryColor": "#1a2b3c",
                               "logoUrl": "https://cdn.example/l.png", "locale": None, "currency": None}
    assert_envelope(await tenant.put(PATH, {"branding": {"primaryColor": "red"}}), 422, "validation_error",
                    "branding.primaryColor")
    assert_envelope(await tenant.put(PATH, {"branding": {"displayName": ""}}), 422, "validation_error",
                    "branding.displayName")
    assert_envelope(await tenant.put(PATH, {"branding": {"font": "Comic"}}), 422, "validation_error", "branding.font")
    assert (await tenant.put(PATH, {"branding": None})).json()["branding"] is None


async def test_unknown_fields_malformed_bodies_and_scopes(tenant: Tenant) -> None:
    assert_envelope(await tenant.put(PATH, {"abandonmentThreshold": 60}), 422, "validation_error",
                    "abandonmentThreshold")
    malformed = await tenant.request("PUT", PATH, content=b"{nope", headers={"Content-Type": "application/json"})
    assert_envelope(malformed, 400, "malformed_json")
    reader = await tenant.scoped_key(["settings:read"])
    assert (await tenant.get(PATH, key=reader)).status_code == 200
    assert_envelope(await tenant.put(PATH, {"cartAbandonmentThresholdMinutes": 60}, key=reader), 403, "forbidden")
    assert_envelope(await tenant.get(PATH, key=await tenant.scoped_key(["carts:read"])), 403, "forbidden")
    assert_envelope(await tenant.get(PATH, key=tenant.publishable_key), 403, "forbidden")
