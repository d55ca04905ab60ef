"""Shopper identity: X-Shopper-Token verified against a real JWKS served over loopback (RSA and EC
keys), the customer found by issuer + subject and created at its first token, every forged or stale
token refused with 401 `shopper_token_invalid` and nothing done; a secret key's `customerId`;
per-customer limits counted by customer id."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import httpx
import pytest
from kassa_cart.shopper_identity import REFETCH_SECONDS, ShopperIdentity, jwks_fetcher, parse_jwks
from kassa_contract.errors import KassaError
from kassa_platform import ssrf
from kassa_platform.db import transaction
from kassa_promotions.store.redemptions import RedemptionStore, ReservationRequest

from tests.cart.conftest import events_of
from tests.conftest import Tenant, make_tenant
from tests.support.campaigns import campaign, code
from tests.support.envelopes import assert_envelope
from tests.support.jwks import IdentityProvider, JwksServer, SigningKey, configure


@pytest.fixture
def idp() -> IdentityProvider:
    return IdentityProvider(issuer=f"https://id-{uuid.uuid4().hex[:6]}.example/", audience="shop-web",
                            keys=[SigningKey.rsa(), SigningKey.ec()])


@pytest.fixture
def jwks(idp: IdentityProvider) -> Iterator[JwksServer]:
    with JwksServer(idp.keys) as server:
        yield server


def _now(tenant: Tenant) -> float:
    return tenant.backend.clock.timestamp()


async def _storefront_cart(tenant: Tenant, token: str, **body: object):  # type: ignore[no-untyped-def]
    return await tenant.post("/api/v1/carts", {"currency": "EUR", **body}, key=tenant.publishable_key,
                             headers={"X-Shopper-Token": token})


async def test_shopper_auth_setting(tenant: Tenant) -> None:
    assert (await tenant.get("/api/v1/shopper-auth")).json() == {"jwksUrl": None, "issuer": None, "audience": None,
                                                                 "updatedAt": None}
    first = (await tenant.put("/api/v1/shopper-auth", {"jwksUrl": "https://id.example/jwks", "issuer": "https://id.example/",
                                                       "audience": "web"})).json()
    assert first["jwksUrl"] == "https://id.example/jwks" and first["updatedAt"]
    second = (await tenant.put("/api/v1/shopper-auth", {"audience": None})).json()
    assert second["issuer"] == "https://id.example/" and second["audience"] is None  # absent kept, null cleared
    assert (await tenant.get("/api/v1/shopper-auth")).json() == second
    live = await make_tenant(tenant.backend, "live")
    assert_envelope(await live.put("/api/v1/shopper-auth", {"jwksUrl": "http://id.example/jwks"}), 422,
                    "validation_error", "jwksUrl")
    assert_envelope(await tenant.put("/api/v1/shopper-auth", {"jwksUrl": "ftp://id.example/jwks"}), 422,
                    "validation_error", "jwksUrl")
    assert_envelope(await tenant.put("/api/v1/shopper-auth", {"jwks": "x"}), 422, "validation_error", "jwks")
    # Not configured: every token is refused.
    token = IdentityProvider("https://x/", "y", [SigningKey.ec()]).token("s", _now(tenant))
    error = assert_envelope(await _storefront_cart(tenant, token), 401, "shopper_token_invalid")
    assert error["details"]["reason"] == "not_configured"


async def test_first_token_creates_the_customer_then_finds_it(tenant: Tenant, idp: IdentityProvider,
                                                              jwks: JwksServer) -> None:
    await configure(tenant, jwks, idp)
    email = f"ada.{uuid.uuid4().hex[:6]}@example.com"
    rsa_token = idp.token("user-1", _now(tenant), email=email, email_verified=True, given_name="Ada",
                          family_name="Lovelace", locale="en-GB")
    made = await _storefront_cart(tenant, rsa_token)
    assert made.status_code == 201, made.text
    cart = made.json()
    customer = cart["customer"]
    assert customer["id"].startswith("cus_") and customer["email"] == email
    assert customer["firstName"] == "Ada" and customer["lastName"] == "Lovelace"
    assert cart["customerEmail"] == email  # the guest cart had none: the verified email fills it
    stored = (await tenant.get(f"/api/v1/customers/{customer['id']}")).json()
    assert stored["identity"] == {"issuer": idp.issuer, "subject": "user-1"} and stored["locale"] == "en-GB"
    # The same subject, through the EC key: the same customer; the JWKS was fetched once.
    ec_token = idp.token("user-1", _now(tenant), key=idp.keys[1])
    again = (await _storefront_cart(tenant, ec_token)).json()
    assert again["customer"]["id"] == customer["id"]
    assert jwks.hits == 1
    assert len((await tenant.get("/api/v1/customers")).json()["data"]) == 1
    assert len(await events_of(tenant, "customer.created")) == 1
    # The cart shows its customer when read back, with the publishable key and its secret.
    read = await tenant.get(f"/api/v1/carts/{cart['id']}", key=tenant.publishable_key,
                            headers={"X-Cart-Secret": cart["clientSecret"]})
    assert read.json()["customer"] == customer


async def test_only_a_verified_email_reaches_a_customer(tenant: Tenant, idp: IdentityProvider,
                                                        jwks: JwksServer) -> None:
    await configure(tenant, jwks, idp)
    email = f"guest.{uuid.uuid4().hex[:6]}@example.com"
    merchant_made = (await tenant.post("/api/v1/customers", {"email": email, "firstName": "Known"})).json()
    # Unverified: a new customer without the email; the guest cart keeps its own email.
    unverified = idp.token("user-u", _now(tenant), email=email, email_verified=False)
    cart = (await _storefront_cart(tenant, unverified, customerEmail="typed@example.com")).json()
    assert cart["customer"]["id"] != merchant_made["id"] and cart["customer"]["email"] is None
    assert cart["customerEmail"] == "typed@example.com"
    # Verified: the customer the merchant made with that email becomes this shopper's.
    verified = idp.token("user-v", _now(tenant), email=email.upper(), email_verified=True)
    claimed = (await _storefront_cart(tenant, verified)).json()
    assert claimed["customer"]["id"] == merchant_made["id"]
    stored = (await tenant.get(f"/api/v1/customers/{merchant_made['id']}")).json()
    assert stored["identity"] == {"issuer": idp.issuer, "subject": "user-v"} and stored["email"] == email
    # A guest cart made before signing in is attached by the token on PATCH.
    guest = await tenant.cart(customerEmail=None)
    attached = await tenant.patch(f"/api/v1/carts/{guest['id']}", {}, key=tenant.publishable_key,
                                  headers={"X-Cart-Secret": guest["clientSecret"], "X-Shopper-Token": verified})
    assert attached.status_code == 200, attached.text
    assert attached.json()["customer"]["id"] == merchant_made["id"] and attached.json()["customerEmail"] == email
    # Another shopper cannot take it over.
    other = idp.token("user-w", _now(tenant))
    assert_envelope(await tenant.patch(f"/api/v1/carts/{guest['id']}", {}, key=tenant.publishable_key,
                                       headers={"X-Cart-Secret": guest["clientSecret"], "X-Shopper-Token": other}),
                    403, "cart_customer_mismatch")


REFUSALS = ["expired", "not_yet_valid", "wrong_issuer", "wrong_audience", "unknown_key", "alg_none",
            "hmac_with_public_key", "another_application", "garbage", "tampered"]


@pytest.mark.parametrize("case", REFUSALS)
async def test_refused_tokens_do_nothing(tenant: Tenant, idp: IdentityProvider, jwks: JwksServer, case: str) -> None:
    await configure(tenant, jwks, idp)
    now = _now(tenant)
    other_idp = IdentityProvider(idp.issuer, "another-shop", idp.keys)
    token = {
        "expired": lambda: idp.token("s", now, exp=int(now) - 120),
        "not_yet_valid": lambda: idp.token("s", now, nbf=int(now) + 600),
        "wrong_issuer": lambda: IdentityProvider("https://evil.example/", idp.audience, idp.keys).token("s", now),
        "wrong_audience": lambda: IdentityProvider(idp.issuer, "someone-else", idp.keys).token("s", now),
        "unknown_key": lambda: idp.token("s", now, key=SigningKey.rsa()),
        "alg_none": lambda: idp.unsigned("s", now),
        "hmac_with_public_key": lambda: idp.hmac_with_public_key("s", now),
        "another_application": lambda: other_idp.token("s", now),
        "garbage": lambda: "not.a.jwt",
        "tampered": lambda: idp.token("s", now)[:-6] + "AAAAAA",
    }[case]()
    if case == "another_application":  # a second application of the merchant, with its own audience
        second = await make_tenant(tenant.backend)
        await configure(second, jwks, other_idp)
        assert (await _storefront_cart(second, token)).status_code == 201  # valid there, not here
    answer = await _storefront_cart(tenant, token)
    error = assert_envelope(answer, 401, "shopper_token_invalid")
    assert "details" in error and error["details"]["reason"]
    assert await events_of(tenant, "cart.created") == []
    assert (await tenant.get("/api/v1/customers")).json()["data"] == []
    # On an existing cart: refused, the cart unchanged.
    cart = await tenant.cart()
    patched = await tenant.patch(f"/api/v1/carts/{cart['id']}", {"metadata": {"x": "1"}}, key=tenant.publishable_key,
                                 headers={"X-Cart-Secret": cart["clientSecret"], "X-Shopper-Token": token})
    assert_envelope(patched, 401, "shopper_token_invalid")
    assert (await tenant.get(f"/api/v1/carts/{cart['id']}")).json()["metadata"] is None


async def test_key_rotation_and_rate_limited_refetch(tenant: Tenant, idp: IdentityProvider,
                                                     jwks: JwksServer) -> None:
    await configure(tenant, jwks, idp)
    clock = tenant.backend.clock
    old_rsa, ec_key = idp.keys
    assert (await _storefront_cart(tenant, idp.token("rot", _now(tenant)))).status_code == 201
    assert jwks.hits == 1
    # Unknown kids refetch at most once per window: a flood of made-up kids costs one fetch.
    clock.advance(seconds=REFETCH_SECONDS + 1)
    for _ in range(3):
        forged = idp.token("rot", _now(tenant), key=SigningKey.rsa())
        assert_envelope(await _storefront_cart(tenant, forged), 401, "shopper_token_invalid")
    assert jwks.hits == 2
    # The provider rotates: a new RSA key replaces the old one, the EC key stays.
    new_rsa = SigningKey.rsa("PS256")
    jwks.keys = [new_rsa, ec_key]
    clock.advance(seconds=REFETCH_SECONDS + 1)
    rotated = await _storefront_cart(tenant, idp.token("rot", _now(tenant), key=new_rsa))
    assert rotated.status_code == 201, rotated.text  # an unknown kid fetched the new set
    assert jwks.hits == 3
    first_customer = rotated.json()["customer"]["id"]
    assert (await _storefront_cart(tenant, idp.token("rot", _now(tenant), key=ec_key))).json()["customer"][
        "id"] == first_customer
    # The removed key no longer opens anything.
    error = assert_envelope(await _storefront_cart(tenant, idp.token("rot", _now(tenant), key=old_rsa)), 401,
                            "shopper_token_invalid")
    assert error["details"]["reason"] == "unknown_key"
    assert jwks.hits == 3  # within the window: no refetch for it


async def test_a_secret_key_names_the_customer(tenant: Tenant) -> None:
    customer = (await tenant.post("/api/v1/customers", {"email": f"c.{uuid.uuid4().hex[:6]}@example.com",
                                                        "firstName": "Cy"})).json()
    cart = await tenant.cart(customerId=customer["id"])
    assert cart["customer"] == {"id": customer["id"], "email": customer["email"], "firstName": "Cy", "lastName": None}
    detached = (await tenant.patch(f"/api/v1/carts/{cart['id']}", {"customerId": None})).json()
    assert detached["customer"] is None
    again = (await tenant.patch(f"/api/v1/carts/{cart['id']}", {"customerId": customer["id"]})).json()
    assert again["customer"]["id"] == customer["id"]
    assert_envelope(await tenant.post("/api/v1/carts", {"currency": "EUR", "customerId": "cus_nope"}), 404,
                    "customer_not_found", "customerId")
    assert_envelope(await tenant.post("/api/v1/carts", {"currency": "EUR", "customerId": customer["id"]},
                                      key=tenant.publishable_key), 403, "forbidden", "customerId")
    updated = (await tenant.get(f"/api/v1/carts/{cart['id']}")).json()
    assert updated["customer"]["id"] == customer["id"]
    [event] = [e for e in await events_of(tenant, "cart.updated", cart["id"]) if e["data"]["sequence"] == 3]
    assert event["data"]["cart"]["customer"]["id"] == customer["id"]


async def test_per_customer_limits_count_by_customer_id(tenant: Tenant) -> None:
    camp = await campaign(tenant, reward={"type": "fixed_off", "amounts": {"EUR": 500}}, rules={"perCustomerLimit": 1})
    await code(tenant, camp["id"], code="ONCE")
    variant = await tenant.variant({"EUR": 3000})
    customer = (await tenant.post("/api/v1/customers", {})).json()
    first = await tenant.cart(lineItems=[{"variantId": variant}], discountCodes=["ONCE"], customerId=customer["id"],
                              customerEmail="first@example.com")
    code_id = (await tenant.get("/api/v1/codes/ONCE")).json()["id"]
    async with transaction(tenant.backend.runtime.db) as conn:
        await RedemptionStore().reserve(
            conn, app_id=tenant.app_id, cart_id=first["id"], customer=customer["id"], currency="EUR",
            requests=[ReservationRequest(campaign_id=camp["id"], amount=500, code="ONCE", code_id=code_id)],
            now=tenant.backend.clock.now(), ttl=timedelta(minutes=30))
    # Same customer, another email: the limit still holds (it counts the customer, not the email).
    second = await tenant.cart(lineItems=[{"variantId": variant}], customerId=customer["id"],
                               customerEmail="second@example.com")
    refused = await tenant.post(f"/api/v1/carts/{second['id']}/discount-codes", {"code": "ONCE"})
    assert assert_envelope(refused, 422, "discount_invalid")["details"]["reason"] == "customer_limit_reached"
    stranger = await tenant.cart(lineItems=[{"variantId": variant}], customerEmail="first@example.com")
    assert (await tenant.post(f"/api/v1/carts/{stranger['id']}/discount-codes", {"code": "ONCE"})).status_code == 200


async def test_a_token_once_verified_still_expires(tenant: Tenant, idp: IdentityProvider, jwks: JwksServer) -> None:
    await configure(tenant, jwks, idp)
    token = idp.token("kept", _now(tenant))  # valid for 600 s
    assert (await _storefront_cart(tenant, token)).status_code == 201
    assert (await _storefront_cart(tenant, token)).status_code == 201  # the process kept it verified
    tenant.backend.clock.advance(seconds=700)
    error = assert_envelope(await _storefront_cart(tenant, token), 401, "shopper_token_invalid")
    assert error["details"]["reason"] == "expired"
    # A customer deleted here is not served from the process's cache: the next token creates a new one.
    fresh = idp.token("kept", _now(tenant))
    first = (await _storefront_cart(tenant, fresh)).json()["customer"]["id"]
    await tenant.delete(f"/api/v1/customers/{first}")
    assert (await _storefront_cart(tenant, fresh)).json()["customer"]["id"] != first


async def test_concurrent_first_tokens_of_a_subject_make_one_customer(pg_tenant: Tenant, idp: IdentityProvider,
                                                                      jwks: JwksServer) -> None:
    import asyncio

    await configure(pg_tenant, jwks, idp)
    token = idp.token("racer", _now(pg_tenant), email=f"r.{uuid.uuid4().hex[:6]}@example.com", email_verified=True)
    answers = await asyncio.gather(*(_storefront_cart(pg_tenant, token) for _ in range(8)))
    assert [a.status_code for a in answers] == [201] * 8, [a.text for a in answers if a.status_code != 201]
    assert len({a.json()["customer"]["id"] for a in answers}) == 1
    assert len((await pg_tenant.get("/api/v1/customers")).json()["data"]) == 1


@pytest.mark.parametrize("url", ["http://127.0.0.1:9/jwks.json", "https://", "http://[::1"])
async def test_an_unreachable_jwks_refuses_the_token(tenant: Tenant, idp: IdentityProvider, url: str) -> None:
    await tenant.put("/api/v1/shopper-auth", {"jwksUrl": url, "issuer": idp.issuer, "audience": idp.audience})
    error = assert_envelope(await _storefront_cart(tenant, idp.token("s", _now(tenant))), 401,
                            "shopper_token_invalid")
    assert error["details"]["reason"] == "jwks_unavailable"


async def test_first_order_offers_know_the_customer_by_id(tenant: Tenant) -> None:
    import sqlalchemy as sa
    from kassa_cart.tables import carts

    await campaign(tenant, trigger="automatic", name="First order", reward={"type": "fixed_off", "amounts": {"EUR": 300}},
                   rules={"firstOrderOnly": True})
    variant = await tenant.variant({"EUR": 3000})
    customer = (await tenant.post("/api/v1/customers", {})).json()  # no email at all
    first = await tenant.cart(lineItems=[{"variantId": variant}], customerId=customer["id"])
    assert first["discountTotal"] == 300
    async with transaction(tenant.backend.runtime.db) as conn:  # as if it became an order
        await conn.execute(sa.update(carts).where(carts.c.id == first["id"]).values(status="converted"))
    second = await tenant.cart(lineItems=[{"variantId": variant}], customerId=customer["id"],
                               customerEmail=f"new.{uuid.uuid4().hex[:6]}@example.com")
    assert second["discountTotal"] == 0  # a new email does not make a returning customer new


async def test_every_storefront_cart_write_honours_the_shopper_token(tenant: Tenant, idp: IdentityProvider,
                                                                     jwks: JwksServer) -> None:
    """Not only create: a guest cart gets its customer at the first write with a token (any write), a
    refused token changes nothing, and a token of another shopper cannot take the cart."""
    await configure(tenant, jwks, idp)
    variant = await tenant.variant({"EUR": 1000})
    guest = (await tenant.post("/api/v1/carts", {"currency": "EUR"}, key=tenant.publishable_key)).json()
    secret = guest["clientSecret"]
    token = idp.token("writer-1", _now(tenant))

    async def write(method: str, path: str, body: object | None, token: str) -> Any:
        return await tenant.request(method, f"/api/v1/carts/{guest['id']}{path}", json=body,
                                    key=tenant.publishable_key,
                                    headers={"X-Cart-Secret": secret, "X-Shopper-Token": token})

    forged = idp.token("writer-1", _now(tenant), exp=int(_now(tenant)) - 3600)
    assert_envelope(await write("POST", "/line-items", {"variantId": variant, "quantity": 1}, forged), 401,
                    "shopper_token_invalid")
    assert (await tenant.get(f"/api/v1/carts/{guest['id']}")).json()["itemCount"] == 0  # nothing done
    added = await write("POST", "/line-items", {"variantId": variant, "quantity": 1}, token)
    assert added.status_code == 200, added.text
    customer = added.json()["customer"]
    assert customer and customer["id"].startswith("cus_")
    line = added.json()["lineItems"][0]["id"]
    for method, path, body in (("PATCH", f"/line-items/{line}", {"quantity": 2}),
                               ("PUT", "/shipping-method", {"shippingMethodId": None})):
        answer = await write(method, path, body, token)
        assert answer.status_code == 200, (path, answer.text)
        assert answer.json()["customer"]["id"] == customer["id"]
    other = idp.token("writer-2", _now(tenant))
    error = assert_envelope(await write("DELETE", f"/line-items/{line}", None, other), 403, "cart_customer_mismatch")
    assert error["message"] == "This cart belongs to another customer"
    assert (await tenant.get(f"/api/v1/carts/{guest['id']}")).json()["itemCount"] == 2


async def test_the_jwks_fetch_goes_through_the_ssrf_guard(jwks: JwksServer) -> None:
    with pytest.raises(httpx.ConnectError) as blocked:  # the JWKS is on loopback: guarded, it is not reached
        await jwks_fetcher()(jwks.url)
    assert ssrf.was_blocked(blocked.value) and jwks.hits == 0
    assert parse_jwks(await jwks_fetcher(allow_private=True)(jwks.url))  # the operator's switch
    for url in ("http://169.254.169.254/latest/meta-data", "http://localhost:8080/jwks", "https://0177.0.0.1/k",
                "http://[::ffff:10.0.0.1]/jwks", "http://10.1.2.3/jwks"):
        with pytest.raises(KassaError) as refused:
            ShopperIdentity.check_jwks_host(url, allow_private=False)
        assert refused.value.field == "jwksUrl", url
    ShopperIdentity.check_jwks_host("https://id.example.com/.well-known/jwks.json", allow_private=False)
