"""Segments end to end: a customer put in `vip` through the API, a vip-only campaign, a storefront cart
with the customer's shopper token gets the discount; a shopper outside the segment does not."""

from __future__ import annotations

import uuid

from tests.conftest import Tenant
from tests.support.campaigns import campaign
from tests.support.jwks import IdentityProvider, JwksServer, SigningKey, configure


async def test_segment_limited_campaign_applies_to_the_customers_storefront_cart(tenant: Tenant) -> None:
    idp = IdentityProvider(f"https://id-{uuid.uuid4().hex[:6]}.example/", "shop-web", [SigningKey.rsa()])
    with JwksServer(idp.keys) as server:
        await configure(tenant, server, idp)
        variant = await tenant.variant({"EUR": 4000})
        await campaign(tenant, trigger="automatic", name="VIP 10%", reward={"type": "percent_off", "percent": 10},
                       rules={"segments": ["vip"]})

        async def storefront_cart(subject: str) -> dict:
            token = idp.token(subject, tenant.backend.clock.timestamp())
            answer = await tenant.post("/api/v1/carts", {"currency": "EUR", "lineItems": [{"variantId": variant}]},
                                       key=tenant.publishable_key, headers={"X-Shopper-Token": token})
            assert answer.status_code == 201, answer.text
            return answer.json()

        first = await storefront_cart("vip-shopper")  # creates the customer, not yet in the segment
        assert first["discountTotal"] == 0
        customer_id = first["customer"]["id"]
        added = await tenant.post(f"/api/v1/customers/{customer_id}/segments", {"add": ["vip"]})
        assert added.json()["segments"] == ["vip"]

        vip_cart = await storefront_cart("vip-shopper")
        assert vip_cart["customer"]["id"] == customer_id
        assert vip_cart["discountTotal"] == 400 and vip_cart["discounts"][0]["name"] == "VIP 10%"
        # The customer's earlier cart gets it at its next change.
        bumped = await tenant.post(f"/api/v1/carts/{first['id']}/line-items", {"variantId": variant},
                                   key=tenant.publishable_key, headers={"X-Cart-Secret": first["clientSecret"]})
        assert bumped.json()["discountTotal"] == 800

        outsider = await storefront_cart("regular-shopper")
        assert outsider["customer"]["id"] != customer_id and outsider["discountTotal"] == 0
        guest = await tenant.cart(lineItems=[{"variantId": variant}])
        assert guest["discountTotal"] == 0

        await tenant.post(f"/api/v1/customers/{customer_id}/segments", {"remove": ["vip"]})
        assert (await storefront_cart("vip-shopper"))["discountTotal"] == 0
