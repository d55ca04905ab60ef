"""Checkout sessions: create, read, cancel, expire; payment methods; embed tokens."""

from __future__ import annotations

from kassa_checkout import jobs
from kassa_platform.signed_tokens import verify_token

from tests.conftest import make_tenant
from tests.support.cards import THREE_DS_CARD
from tests.support.envelopes import assert_envelope
from tests.support.shop import Shop


async def test_create_returns_the_hosted_url_and_a_secret_and_leaves_the_cart_open(shop: Shop) -> None:
    cart = await shop.cart(metadata={"channel": "web"})
    session = await shop.session(cart["id"], successUrl="https://shop.example/thanks")
    assert session["id"].startswith("cs_") and session["status"] == "open"
    assert session["url"].endswith(f"/s/{session['id']}")
    assert session["clientSecret"].startswith(f"{session['id']}_secret_")
    assert session["collect"] == {"shippingAddress": True, "billingAddress": False}
    assert (session["amountTotal"], session["currency"], session["paymentStatus"]) == (3000, "EUR", "unpaid")
    assert session["successUrl"] == "https://shop.example/thanks"
    assert (await shop.get_cart(cart["id"]))["status"] == "open"
    again = (await shop.t.get(f"/api/v1/checkout/sessions/{session['id']}")).json()
    assert again["clientSecret"] is None and again["id"] == session["id"]
    # the other spelling of the path answers too
    assert (await shop.t.get(f"/api/v1/checkout-sessions/{session['id']}")).json()["id"] == session["id"]


async def test_metadata_reserved_keys_are_stripped_and_caps_enforced(shop: Shop) -> None:
    meta = {"campaign": "spring", "mode": "payment", "amount": 1, "currency": "EUR", "recurring": True,
            "customer_prefill": {}, "externalCartId": "x"}
    session = await shop.session(metadata=meta)
    assert session["metadata"] == {"campaign": "spring"}
    cart = await shop.cart()
    too_many = await shop.t.post("/api/v1/checkout/sessions", {"cartId": cart["id"],
                                                              "metadata": {f"k{i}": i for i in range(51)}})
    assert_envelope(too_many, 422, "metadata_too_large", "metadata")
    too_big = await shop.t.post("/api/v1/checkout/sessions", {"cartId": cart["id"], "metadata": {"blob": "x" * 10_300}})
    assert_envelope(too_big, 422, "metadata_too_large", "metadata")


async def test_create_refuses_bad_carts_codes_and_fields(shop: Shop) -> None:
    t = shop.t
    assert_envelope(await t.post("/api/v1/checkout/sessions", {"cartId": "cart_nope"}), 404, "cart_not_found")
    empty = await t.cart()
    assert_envelope(await t.post("/api/v1/checkout/sessions", {"cartId": empty["id"]}), 422, "cart_empty", "cartId")
    cart = await shop.cart()
    bad_code = await t.post("/api/v1/checkout/sessions", {"cartId": cart["id"], "discountCode": "NOPE"})
    assert assert_envelope(bad_code, 422, "discount_invalid")["details"]["reason"] == "code_not_found"
    assert_envelope(await t.post("/api/v1/checkout/sessions", {"cartId": cart["id"], "allowedMethods": ["bitcoin"]}),
                    422, "validation_error", "allowedMethods")
    assert_envelope(await t.post("/api/v1/checkout/sessions", {"cartId": cart["id"], "colect": {}}),
                    422, "validation_error")
    assert_envelope(await t.post("/api/v1/checkout/sessions", {"cartId": cart["id"], "successUrl": "javascript:x"}),
                    422, "validation_error", "successUrl")
    other = await make_tenant(shop.backend)
    assert_envelope(await other.post("/api/v1/checkout/sessions", {"cartId": cart["id"]}), 404, "cart_not_found")


async def test_an_invalid_discount_code_names_the_field_of_the_session_request(shop: Shop) -> None:
    """The cart service names its own field (`code`); the session's caller sent `discountCode`."""
    cart = await shop.cart()
    unknown = await shop.t.post("/api/v1/checkout/sessions", {"cartId": cart["id"], "discountCode": "NOPE"})
    assert_envelope(unknown, 422, "discount_invalid", "discountCode")
    assert (await shop.get_cart(cart["id"]))["discounts"] == []


async def test_discount_code_is_applied_to_the_cart(shop: Shop) -> None:
    camp = (await shop.t.post("/api/v1/campaigns", {"name": "Ten", "reward": {"type": "fixed_off",
                                                                               "amounts": {"EUR": 1000}}})).json()
    assert (await shop.t.post(f"/api/v1/campaigns/{camp['id']}/codes", {"code": "TEN"})).status_code == 201
    session = await shop.session(discountCode="ten")
    assert session["amountTotal"] == 2000 and session["discountCode"] == "ten"
    cart = await shop.get_cart(session["cartId"])
    assert [d["code"] for d in cart["discounts"]] == ["TEN"] and cart["total"] == 2000


async def test_get_is_scoped_to_the_application_and_to_the_secret_for_browsers(shop: Shop) -> None:
    session = await shop.session()
    path = f"/api/v1/checkout/sessions/{session['id']}"
    other = await make_tenant(shop.backend)
    assert_envelope(await other.get(path), 404, "checkout_session_not_found")
    pk = shop.t.publishable_key
    assert_envelope(await shop.t.get(path, key=pk), 404, "checkout_session_not_found")
    seen = await shop.t.get(path, key=pk, headers={"X-Checkout-Secret": session["clientSecret"]})
    assert seen.status_code == 200 and seen.json()["id"] == session["id"]
    assert_envelope(await shop.t.post("/api/v1/checkout/sessions", {"cartId": session["cartId"]}, key=pk),
                    403, "forbidden")
    assert_envelope(await shop.t.get("/api/v1/checkout/sessions/cs_unknown"), 404, "checkout_session_not_found")


async def test_cancel_is_idempotent_and_reopens_a_cart_in_checkout(shop: Shop) -> None:
    session = await shop.session()
    # a payment waiting for its second step holds the cart in checkout
    assert (await shop.complete(session["id"], THREE_DS_CARD)).status_code == 402
    assert (await shop.get_cart(session["cartId"]))["status"] == "checkout"
    path = f"/api/v1/checkout/sessions/{session['id']}"
    first = await shop.t.delete(path)
    assert first.status_code == 200 and first.json()["status"] == "cancelled" and first.json()["cancelledAt"]
    assert (await shop.get_cart(session["cartId"]))["status"] == "open"
    second = await shop.t.delete(path)
    assert second.status_code == 200 and second.json() == first.json()
    assert [e["data"]["sessionId"] for e in await shop.events("checkout.session.cancelled")] == [session["id"]]
    assert_envelope(await shop.complete(session["id"]), 409, "checkout_session_not_open")
    assert_envelope(await shop.t.delete("/api/v1/checkout/sessions/cs_unknown"), 404, "checkout_session_not_found")


async def test_cancel_of_a_completed_session_is_refused_and_never_reopens_the_cart(shop: Shop) -> None:
    session = await shop.session()
    assert (await shop.complete(session["id"])).status_code == 200
    refused = await shop.t.delete(f"/api/v1/checkout/sessions/{session['id']}")
    assert_envelope(refused, 422, "already_completed")
    assert (await shop.get_cart(session["cartId"]))["status"] == "converted"


async def test_cancel_leaves_a_cart_that_another_session_holds(shop: Shop) -> None:
    cart = await shop.cart()
    first = await shop.session(cart["id"])
    second = await shop.session(cart["id"])
    assert (await shop.complete(first["id"], THREE_DS_CARD)).status_code == 402
    await shop.t.delete(f"/api/v1/checkout/sessions/{second['id']}")
    assert (await shop.get_cart(cart["id"]))["status"] == "checkout"  # still the first session's


async def test_sessions_expire_through_the_job_and_give_the_cart_back(shop: Shop) -> None:
    session = await shop.session(expiresInMinutes=60)
    assert (await shop.complete(session["id"], THREE_DS_CARD)).status_code == 402
    ctx = shop.backend.runtime.job_context()
    shop.backend.clock.advance(minutes=59)
    await jobs.expire_checkout_sessions(ctx)
    assert (await shop.t.get(f"/api/v1/checkout/sessions/{session['id']}")).json()["status"] == "open"
    shop.backend.clock.advance(minutes=2)
    assert await jobs.expire_checkout_sessions(ctx) >= 1
    assert (await shop.t.get(f"/api/v1/checkout/sessions/{session['id']}")).json()["status"] == "expired"
    assert (await shop.get_cart(session["cartId"]))["status"] == "open"
    assert [e["data"]["sessionId"] for e in await shop.events("checkout.session.expired")] == [session["id"]]
    assert_envelope(await shop.complete(session["id"]), 409, "checkout_session_not_open")
    # cancelling an expired session changes nothing
    assert (await shop.t.delete(f"/api/v1/checkout/sessions/{session['id']}")).json()["status"] == "expired"


async def test_payment_methods_follow_the_sessions_allowed_methods(shop: Shop) -> None:
    everything = (await shop.t.get("/api/v1/payment-methods")).json()["data"]
    assert {m["id"] for m in everything} >= {"card", "paypal"}
    session = await shop.session(allowedMethods=["card"])
    only = (await shop.t.get("/api/v1/payment-methods", params={"sessionId": session["id"]})).json()["data"]
    assert [m["id"] for m in only] == ["card"]
    refused = await shop.complete(session["id"], {"type": "paypal", "token": "tok_ok"})
    assert_envelope(refused, 422, "payment_method_not_allowed", "paymentMethod.type")


async def test_embed_token_is_bound_to_session_and_origin_and_refuses_allowed_methods(shop: Shop) -> None:
    session = await shop.session()
    made = await shop.t.post("/api/v1/checkout-sessions/embed-token",
                             {"sessionId": session["id"], "origin": "https://Shop.example"})
    assert made.status_code == 201, made.text
    token = made.json()
    claims = verify_token(shop.backend.runtime.settings.signing_key, "checkout_embed", token["token"],
                          shop.backend.clock.now())
    assert (claims["sid"], claims["origin"], claims["app"]) == (session["id"], "https://shop.example", shop.t.app_id)
    refused = await shop.t.post("/api/v1/checkout-sessions/embed-token",
                                {"sessionId": session["id"], "origin": "https://shop.example", "allowedMethods": ["card"]})
    assert_envelope(refused, 400, "allowed_methods_unsupported")
    assert_envelope(await shop.t.post("/api/v1/checkout-sessions/embed-token",
                                      {"sessionId": session["id"], "origin": "not an origin"}),
                    422, "validation_error", "origin")
    assert_envelope(await shop.t.post("/api/v1/checkout-sessions/embed-token",
                                      {"sessionId": "cs_nope", "origin": "https://shop.example"}),
                    404, "checkout_session_not_found")
    # once the application lists its origins, only those may embed
    assert (await shop.t.put("/api/v1/embed-config", {"allowedOrigins": ["https://shop.example"]})).status_code == 200
    assert (await shop.t.post("/api/v1/checkout-sessions/embed-token",
                              {"sessionId": session["id"], "origin": "https://shop.example"})).status_code == 201
    assert_envelope(await shop.t.post("/api/v1/checkout-sessions/embed-token",
                                      {"sessionId": session["id"], "origin": "https://evil.example"}),
                    422, "origin_not_allowed", "origin")


async def test_internal_cart_endpoints_answer_services_only(shop: Shop) -> None:
    cart = await shop.cart()
    refused = await shop.t.post(f"/internal/carts/{cart['id']}/reopen", {"sessionId": "cs_x", "reason": "x"})
    assert_envelope(refused, 404, "route_not_found")
    token = shop.backend.runtime.settings.service_token
    wrong = await shop.backend.client.post(f"/internal/carts/{cart['id']}/reopen", json={"sessionId": "cs_x", "reason": "x"},
                                           headers={"Authorization": "Service nope", "X-Kassa-Application": shop.t.app_id})
    assert_envelope(wrong, 401, "unauthorized")
    ok = await shop.backend.client.post(f"/internal/carts/{cart['id']}/reopen", json={"sessionId": "cs_x", "reason": "x"},
                                        headers={"Authorization": f"Service {token}", "X-Kassa-Application": shop.t.app_id})
    assert ok.status_code == 200 and ok.json()["status"] == "open"


async def test_the_openapi_document_names_every_checkout_call_once(shop: Shop) -> None:
    doc = (await shop.backend.client.get("/schema/checkout/openapi.json")).json()
    operations = [op["operationId"] for path in doc["paths"].values() for op in path.values()]
    assert len(operations) == len(set(operations))
    assert {"createCheckoutSession", "completeCheckoutSession", "createEmbedToken", "createRefund"} <= set(operations)
    assert "/api/v1/checkout-sessions/{session_id}/complete" in doc["paths"]
    assert not any(op.endswith("Alias") for op in operations)


async def test_live_applications_embed_only_from_listed_origins(shop: Shop) -> None:
    live = Shop(await make_tenant(shop.backend, "live"), "")
    live.variant = await live.t.variant({"EUR": 1500})
    session = await live.session()
    assert_envelope(await live.t.post("/api/v1/checkout-sessions/embed-token",
                                      {"sessionId": session["id"], "origin": "https://shop.example"}),
                    422, "origin_not_allowed", "origin")
    # and without a live payment connector their completes are refused, charging nothing
    assert_envelope(await live.complete(session["id"]), 422, "payment_connector_unavailable")
    assert (await live.get_cart(session["cartId"]))["status"] == "open"
