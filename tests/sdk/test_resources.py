"""Every resource's calls through the SDK against the real apps, on SQLite and PostgreSQL, with the
async client and with the blocking one (each scenario runs with both)."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import kassa_sdk
import pytest
from kassa_checkout.payments.stripe import StripeConnector, new_client
from kassa_checkout.service import module_of
from kassa_contract.versions import FIRST_VERSION, LATEST_VERSION, VERSIONS
from kassa_sdk import AsyncPage, SyncPage
from kassa_sdk._base import Resource
from kassa_sdk.types import (
    Basket,
    BasketLine,
    BrandingInput,
    CartAddress,
    CollectFlags,
    LineItemInput,
    PaymentMethodInput,
    ValidateLine,
    VariantInput,
)

from tests.cart.conftest import sweep_for
from tests.conftest import Backend
from tests.sdk.conftest import OK_CARD, Shop, delivered, sdk_apps
from tests.support import cards
from tests.support.localstripe import REJECTED_KEY, LocalStripe
from tests.support.old_sdk import pinned_tenant
from tests.webhooks.conftest import make_merchant
from tests.webhooks.receiver import Receiver

FAR_FUTURE = datetime(2100, 1, 1, tzinfo=UTC)  # later than the test clock ever gets
ADDRESS = CartAddress(address_line1="Unter den Linden 1", city="Berlin", country_code="DE")


class Threaded:
    """The blocking client seen through awaitables: each call runs in a worker thread, the event loop
    serves the request meanwhile. Lets one scenario drive both clients."""

    def __init__(self, target: Any) -> None:
        self._target = target

    def __getattr__(self, name: str) -> Any:
        value = getattr(self._target, name)
        if isinstance(value, Resource):
            return Threaded(value)
        return lambda *args, **kwargs: asyncio.to_thread(value, *args, **kwargs)


async def every(page: SyncPage[Any] | AsyncPage[Any]) -> list[Any]:
    """Every item from this page on, whichever client fetched it."""
    if isinstance(page, SyncPage):
        return await asyncio.to_thread(lambda: list(page.auto_paging_iter()))
    return [item async for item in page.auto_paging_iter()]


# Each operation is written once for both clients, so the blocking client runs the scenarios on
# SQLite only, and the async one on both databases.
@pytest.fixture(params=[("async", "sqlite"), ("async", "pg"), ("sync", "sqlite")], ids="-".join)
def api_backend(request: pytest.FixtureRequest) -> Backend:
    return request.getfixturevalue(f"{request.param[1]}_backend")


@pytest.fixture
async def api_shop(api_backend: Backend) -> Shop:
    apps = sdk_apps(api_backend)
    return Shop(await make_merchant(apps.webhooks), apps)


@pytest.fixture
async def api(request: pytest.FixtureRequest, api_shop: Shop) -> AsyncIterator[Any]:
    shop = api_shop
    if request.node.callspec.params["api_backend"][0] == "async":
        async with shop.async_client() as client:
            yield client
    else:
        with shop.sync_client() as blocking:
            yield Threaded(blocking)


def sku() -> str:
    return f"SKU-{uuid.uuid4().hex[:10]}"


async def test_catalog_and_pricing_settings(api: Any) -> None:
    product = await api.products.create(name="Shirt", variants=[VariantInput(sku=sku(), prices={"EUR": 1500})],
                                        categories=["tops"], metadata={"color": "blue"})
    assert product.name == "Shirt" and product.variants[0].prices == {"EUR": 1500}
    assert (await api.products.retrieve(product.id)).id == product.id
    renamed = await api.products.update(product.id, name="T-shirt", description=None)
    assert renamed.name == "T-shirt" and renamed.metadata == {"color": "blue"}  # untouched fields stay
    cleared = await api.products.update(product.id, metadata=None)
    assert cleared.metadata is None
    two = await api.products.add_variant(product.id, sku=sku(), prices={"EUR": 1700, "USD": 1900}, name="Large")
    assert len(two.variants) == 2
    repriced = await api.products.update_variant(product.id, two.variants[1].id, prices={"EUR": 1800})
    assert repriced.variants[1].prices == {"EUR": 1800}
    assert product.id in [p.id for p in await every(await api.products.list(limit=50))]

    method = await api.shipping_methods.create(name="Standard", prices={"EUR": 490}, free_above={"EUR": 5000},
                                               countries=["DE", "AT"])
    assert sorted(method.countries or []) == ["AT", "DE"] and method.tax_class == "shipping"
    assert [m.id for m in await api.shipping_methods.list()] == [method.id]
    assert (await api.shipping_methods.retrieve(method.id)).name == "Standard"
    updated = await api.shipping_methods.update(method.id, free_above=None, active=False)
    assert updated.free_above is None and not updated.active and updated.prices == {"EUR": 490}
    assert await api.shipping_methods.delete(method.id) is None
    with pytest.raises(kassa_sdk.ShippingMethodNotFoundError):
        await api.shipping_methods.retrieve(method.id)

    rate = await api.tax_rates.create(country_code="DE", rate="19", name="USt")
    assert (rate.rate, rate.tax_class) == ("19", "standard")
    assert [r.id for r in await api.tax_rates.list()] == [rate.id]
    assert await api.tax_rates.delete(rate.id) is None
    assert await api.tax_rates.list() == []
    assert (await api.tax_settings.retrieve()).prices_include_tax in (True, False)
    assert (await api.tax_settings.update(prices_include_tax=False)).prices_include_tax is False


async def test_carts_from_create_to_discount(api: Any) -> None:
    product = await api.products.create(name="Mug", variants=[VariantInput(sku=sku(), prices={"EUR": 1000})])
    variant = product.variants[0].id
    await api.shipping_methods.create(name="Post", prices={"EUR": 500})
    campaign = await api.campaigns.create(name="Ten off", reward={"type": "percent_off", "percent": 10})
    await api.codes.create(campaign.id, code="TENOFF")

    cart = await api.carts.create(currency="EUR", line_items=[LineItemInput(variant_id=variant, quantity=2)],
                                  customer_email="ana@example.com", metadata={"src": "sdk"})
    assert cart.status == "open" and cart.subtotal == 2000 and cart.client_secret
    assert (await api.carts.retrieve(cart.id)).client_secret is None  # shown once
    cart = await api.carts.update(cart.id, shipping_address=ADDRESS, customer_email=None)
    assert cart.shipping_address == ADDRESS and cart.customer_email is None and cart.metadata == {"src": "sdk"}
    cart = await api.carts.add_line_item(cart.id, sku="GIFT", name="Gift wrap", unit_price=300)
    assert cart.item_count == 3 and cart.line_items[-1].custom
    cart = await api.carts.update_line_item(cart.id, cart.line_items[0].id, quantity=3)
    assert cart.line_items[0].quantity == 3
    cart = await api.carts.remove_line_item(cart.id, cart.line_items[-1].id)
    assert cart.subtotal == 3000
    options = await api.carts.list_shipping_methods(cart.id)
    assert [o.amount for o in options] == [500] and not options[0].selected
    cart = await api.carts.select_shipping_method(cart.id, shipping_method_id=options[0].id)
    assert cart.shipping_total == 500 and cart.shipping_method and cart.shipping_method.id == options[0].id
    cart = await api.carts.apply_discount_code(cart.id, code="TENOFF")
    assert cart.discount_total == 300 and cart.discounts[0].code == "TENOFF"
    cart = await api.carts.remove_discount_code(cart.id, "TENOFF")
    assert cart.discount_total == 0 and cart.discounts == []
    cart = await api.carts.select_shipping_method(cart.id, shipping_method_id=None)
    assert cart.shipping_method is None


async def test_voucher_lifecycle(api: Any) -> None:
    """Groups, archive and delete, list filters and sorts, codes' externalId/metadata/status filter,
    bulk assignment, promotion settings, and the typed error of each refusal."""
    fiver = {"type": "fixed_off", "amounts": {"EUR": 500}}
    tag = uuid.uuid4().hex[:8].upper()
    group = await api.campaign_groups.create(name=f"Season {tag}", metadata={"tag": tag})
    inside = await api.campaigns.create(name=f"In {tag}", reward=fiver, group_id=group.id)
    outside = await api.campaigns.create(name=f"Out {tag}", reward=fiver)
    assert [c.id for c in await every(await api.campaigns.list(group=group.id, sort="-createdAt", limit=1))] == [
        inside.id]
    assert [c.id for c in await every(await api.campaigns.list(q=tag, type="discount_codes", status="active",
                                                                sort="-updatedAt"))] == [outside.id, inside.id]
    assert (await api.campaign_groups.retrieve(group.id)).campaigns == 1
    assert group.id in [g.id for g in await every(await api.campaign_groups.list())]
    assert (await api.campaign_groups.update(group.id, name=f"Winter {tag}")).name == f"Winter {tag}"
    assert (await api.campaigns.update(inside.id, group_id=None)).group_id is None

    archived = await api.campaigns.archive(outside.id)
    assert archived.archived and not archived.active and archived.status == "inactive"
    with pytest.raises(kassa_sdk.CampaignArchivedError):
        await api.campaigns.activate(outside.id)
    assert [c.id for c in await every(await api.campaigns.list(q=tag, archived=True))] == [outside.id]
    assert not (await api.campaigns.unarchive(outside.id)).archived
    await api.campaigns.delete(outside.id)
    with pytest.raises(kassa_sdk.CampaignNotFoundError):
        await api.campaigns.retrieve(outside.id)
    await api.campaign_groups.delete(group.id)
    with pytest.raises(kassa_sdk.CampaignGroupNotFoundError):
        await api.campaign_groups.retrieve(group.id)
    with pytest.raises(kassa_sdk.ValidationError) as bad:
        await api.campaigns.list(status="running")
    assert bad.value.field == "status"

    made = await api.codes.create(inside.id, code=f"EXT-{tag}", external_id="crm-1", metadata={"a": 1},
                                  expires_at=FAR_FUTURE)
    assert made.codes[0].external_id == "crm-1" and made.codes[0].expires_at == FAR_FUTURE
    assert (await api.codes.update(f"EXT-{tag}", metadata={"a": 2})).metadata == {"a": 2}
    await api.codes.import_codes(inside.id, codes=[f"A-{tag}", f"B-{tag}"])
    assigned = await api.codes.assign_many([(f"A-{tag}", "ana@example.com")])
    assert [(c.status, c.assigned_to) for c in assigned] == [("assigned", "ana@example.com")]
    with pytest.raises(kassa_sdk.CodeNotFoundError) as missing:
        await api.codes.assign_many([(f"B-{tag}", "bo@example.com"), (f"NOPE-{tag}", "cy@example.com")])
    assert missing.value.field == "assignments[1].code"
    assert (await api.codes.retrieve(f"B-{tag}")).assigned_to is None
    assert sorted(c.code for c in await every(await api.codes.list(inside.id, status="created,assigned"))) == [
        f"A-{tag}", f"B-{tag}"]

    before = (await api.promotion_settings.retrieve()).allow_multiple_percentage_basket
    after = await api.promotion_settings.update(allow_multiple_percentage_basket=not before)
    assert after.allow_multiple_percentage_basket is (not before)


async def test_promotions(api: Any) -> None:
    starts = datetime.now(UTC) - timedelta(days=1)
    campaign = await api.campaigns.create(name="Spring", reward={"type": "percent_off", "percent": 20},
                                          starts_at=starts, usage_limit=100, budget=100_000, currency="EUR")
    assert campaign.trigger == "code" and campaign.usage_limit == 100 and campaign.starts_at == starts
    assert (await api.campaigns.retrieve(campaign.id)).name == "Spring"
    campaign = await api.campaigns.update(campaign.id, name="Spring sale", usage_limit=None)
    assert campaign.name == "Spring sale" and campaign.usage_limit is None and campaign.budget == 100_000
    assert not (await api.campaigns.deactivate(campaign.id)).active
    assert (await api.campaigns.activate(campaign.id)).active
    assert campaign.id in [c.id for c in await every(await api.campaigns.list(active=True))]

    generic = await api.codes.create(campaign.id, code="SPRING20")
    assert generic.created == 1 and generic.codes[0].code == "SPRING20"
    unique = await api.codes.create(campaign.id, count=3, prefix="SP-", pattern="####")
    assert unique.created == 3 and all(c.code.startswith("SP-") for c in unique.codes)
    imported = await api.codes.import_codes(campaign.id, codes=["IMPORT-1", "IMPORT-2"])
    assert imported.created == 2
    first = await api.codes.list(campaign.id, limit=2)
    assert len(first.data) == 2 and first.has_more
    assert len(await every(first)) == 6
    assert (await api.codes.retrieve("SPRING20")).uses == 0
    assert (await api.codes.assign("IMPORT-1", customer="ana@example.com")).assigned_to == "ana@example.com"
    assert (await api.codes.distribute("IMPORT-2")).status == "distributed"
    assert (await api.codes.deactivate("IMPORT-2")).status == "deactivated"
    stats = await api.campaigns.stats(campaign.id)
    assert stats.codes == 6 and stats.uses == 0

    valid = await api.vouchers.validate(code="SPRING20", currency="EUR",
                                        line_items=[ValidateLine(unit_price=1000, quantity=2)])
    assert valid.valid and valid.discount_total == 400
    invalid = await api.vouchers.validate(code="IMPORT-2", currency="EUR", line_items=[ValidateLine(unit_price=1000)])
    assert not invalid.valid and invalid.reason

    # A redemption: an order paid with the code, then cancelled.
    product = await api.products.create(name="Hat", variants=[VariantInput(sku=sku(), prices={"EUR": 1000})])
    cart = await api.carts.create(currency="EUR", line_items=[LineItemInput(variant_id=product.variants[0].id)],
                                  discount_codes=["SPRING20"])
    session = await api.checkout.sessions.create(cart_id=cart.id)
    paid = await api.checkout.sessions.complete(session.id, payment_method=OK_CARD, shipping_address=ADDRESS)
    redemptions = await every(await api.redemptions.list(campaign_id=campaign.id))
    # The refused validation of the deactivated code is on record too (a `rejected` redemption).
    assert [(r.code, r.status, r.order_id) for r in redemptions] == [("IMPORT-2", "rejected", None),
                                                                      ("SPRING20", "confirmed", paid.order_id)]
    assert (await api.redemptions.list(created_from=FAR_FUTURE)).data == []
    csv = await api.redemptions.export(campaign_id=campaign.id)
    assert csv.splitlines()[0].startswith("id,campaignId,code") and "SPRING20" in csv
    cancelled = await api.redemptions.cancel(order_id=paid.order_id)
    assert [r.status for r in cancelled] == ["cancelled"]


async def test_two_step_redemptions(api: Any) -> None:
    campaign = await api.campaigns.create(name="Till", reward={"type": "fixed_off", "amounts": {"EUR": 300}},
                                          budget=10_000)
    await api.codes.create(campaign.id, code="TILL3", usage_limit=1)
    basket = Basket(currency="EUR", line_items=[BasketLine(sku="HAT", quantity=2, unit_price=1000)])
    held = await api.redemptions.reserve(codes=["till3"], basket=basket, email="ana@example.com", hold_minutes=5)
    assert held.status == "reserved" and held.amount == 300 and held.allocations[0].code == "TILL3"
    assert (await api.redemptions.retrieve(held.id)).id == held.id
    with pytest.raises(kassa_sdk.DiscountInvalidError):
        await api.redemptions.reserve(codes=["TILL3"], basket=basket)
    done = await api.redemptions.confirm(held.id, transaction_id=f"T-{held.id}")
    assert done.status == "confirmed"
    lines = await api.redemptions.find_by_transaction(f"T-{held.id}")
    assert [(r.redemption_id, r.transaction_id, r.code) for r in lines] == [(held.id, f"T-{held.id}", "TILL3")]
    assert await api.redemptions.find_by_transaction("no-such-transaction") == []
    back = await api.redemptions.rollback(held.id, reason="return", amount=100)
    assert back.amount == 100 and back.redemption_id == held.id
    with pytest.raises(kassa_sdk.RollbackExceedsAmountError):
        await api.redemptions.rollback(held.id, reason="return", amount=201)
    with pytest.raises(kassa_sdk.RedemptionNotReservedError):
        await api.redemptions.release(held.id)
    assert (await api.redemptions.rollback(held.id, reason="return")).amount == 200
    again = await api.redemptions.reserve(codes=["TILL3"], basket=basket)  # the use came back
    assert (await api.redemptions.release(again.id)).status == "cancelled"


async def test_checkout_orders_and_refunds(api: Any) -> None:
    product = await api.products.create(name="Lamp", variants=[VariantInput(sku=sku(), prices={"EUR": 2500})])
    cart = await api.carts.create(currency="EUR", line_items=[LineItemInput(variant_id=product.variants[0].id)])
    session = await api.checkout.sessions.create(cart_id=cart.id, collect=CollectFlags(billing_address=True),
                                                 metadata={"order_ref": "A-1"}, allowed_methods=["card"],
                                                 success_url="https://shop.example/ok")
    assert session.status == "open" and session.url.endswith(f"/s/{session.id}") and session.client_secret
    assert session.allowed_methods == ["card"] and session.metadata == {"order_ref": "A-1"}
    assert (await api.checkout.sessions.retrieve(session.id)).cart_id == cart.id
    assert [m.type for m in await api.payment_methods.list(session_id=session.id)] == ["card"]
    assert len(await api.payment_methods.list()) >= 1
    token = await api.checkout.sessions.create_embed_token(session_id=session.id, origin="https://shop.example")
    assert token.session_id == session.id and token.origin == "https://shop.example" and token.token

    second_step = PaymentMethodInput(type="card", card=kassa_sdk.types.CardInput(number="4000002760003184"))
    with pytest.raises(kassa_sdk.PaymentActionRequiredError):
        await api.checkout.sessions.complete(session.id, payment_method=second_step, shipping_address=ADDRESS,
                                             billing_same_as_shipping=True, customer_email="ana@example.com")
    # the second step as `complete`'s docstring shows it, keeping the method's type
    done = await api.checkout.sessions.complete(session.id, payment_method=PaymentMethodInput(type="card",
                                                                                              action_result="approved"))
    assert done.status == "complete" and done.payment_status == "paid" and done.order_id
    payments = await api.checkout.sessions.list_payments(session.id)
    assert [p.status for p in payments] == ["captured"]

    order = await api.orders.retrieve(done.order_id)
    assert order.total == 2500 and order.metadata["order_ref"] == "A-1" and order.billing_address == ADDRESS
    assert (await api.orders.list(limit=1)).data[0].id == order.id  # newest first
    refund = await api.orders.refunds.create(order.id, amount=1000, reason="damaged")
    assert (refund.amount, refund.status, refund.reason) == (1000, "succeeded", "damaged")
    rest = await api.orders.refunds.create(order.id)
    assert rest.amount == 1500
    assert [r.id for r in await api.orders.refunds.list(order.id)] == [refund.id, rest.id]
    assert (await api.orders.retrieve(order.id)).status == "refunded"

    other = await api.carts.create(currency="EUR", line_items=[LineItemInput(variant_id=product.variants[0].id)])
    open_session = await api.checkout.sessions.create(cart_id=other.id)
    assert (await api.checkout.sessions.cancel(open_session.id)).status == "cancelled"
    assert (await api.checkout.sessions.cancel(open_session.id)).status == "cancelled"  # safe to repeat


async def test_api_keys(api: Any, api_shop: Shop) -> None:
    made = await api.api_keys.create(scopes=["carts:read", "orders:read"], name="reporting")
    assert made.secret and made.secret.startswith("sk_test_") and made.last4 == made.secret[-4:]
    assert (made.name, sorted(made.scopes), made.revoked_at) == ("reporting", ["carts:read", "orders:read"], None)
    publishable = await api.api_keys.create(type="publishable")
    assert publishable.secret and publishable.secret.startswith("pk_test_")

    listed = await every(await api.api_keys.list(limit=1))
    assert {made.id, publishable.id} <= {k.id for k in listed} and all(k.secret is None for k in listed)
    assert (await api.api_keys.retrieve(made.id)).prefix == "sk_test_"

    rolled = await api.api_keys.roll(made.id, expires_in_hours=0)
    assert rolled.secret and rolled.secret != made.secret
    async with api_shop.async_client(key=rolled.secret) as reporting:
        assert (await reporting.orders.list()).data == []
        with pytest.raises(kassa_sdk.ForbiddenError):
            await reporting.products.create(name="Nope", variants=[VariantInput(sku=sku(), prices={"EUR": 1})])
    async with api_shop.async_client(key=made.secret, max_retries=0) as old:
        with pytest.raises(kassa_sdk.UnauthorizedError):
            await old.orders.list()

    revoked = await api.api_keys.revoke(publishable.id)
    assert revoked.revoked_at is not None
    assert publishable.id not in {k.id for k in await every(await api.api_keys.list())}
    assert publishable.id in {k.id for k in await every(await api.api_keys.list(include_inactive=True))}
    with pytest.raises(kassa_sdk.ApiKeyNotFoundError):
        await api.api_keys.retrieve("key_unknown")

    # The audit log holds each change, a page at a time, filtered; no secret in it.
    entries = await every(await api.audit_log.list(resource_id=made.id, limit=1))
    assert [e.action for e in entries] == ["api_key.rolled", "api_key.created"]
    assert entries[0].actor.type == "key" and entries[0].changes.after["replacedBy"] == rolled.id
    assert made.secret not in repr(entries) and rolled.secret not in repr(entries)
    revocations = await api.audit_log.list(action="api_key.revoked", created_from=entries[1].created_at)
    assert [e.resource_id for e in revocations.data] == [publishable.id]


async def test_application_and_its_version_pin(api: Any) -> None:
    application = await api.application.retrieve()
    assert (application.api_version, application.latest_api_version) == (LATEST_VERSION, LATEST_VERSION)
    assert application.api_versions == list(VERSIONS)
    assert (await api.application.upgrade_version(LATEST_VERSION)).api_version == LATEST_VERSION
    with pytest.raises(kassa_sdk.ApiVersionDowngradeError):
        await api.application.upgrade_version(FIRST_VERSION)
    with pytest.raises(kassa_sdk.ApiVersionInvalidError):
        await api.application.upgrade_version("1999-01-01")


async def test_an_application_pinned_to_the_first_version_moves_forward(api_shop: Shop) -> None:
    old = await pinned_tenant(api_shop.backend, FIRST_VERSION)  # an application made before the newest version
    async with api_shop.async_client(key=old.secret_key) as kassa:
        assert (await kassa.application.retrieve()).api_version == FIRST_VERSION
        assert (await kassa.application.upgrade_version(LATEST_VERSION)).api_version == LATEST_VERSION
        assert (await kassa.application.retrieve()).api_version == LATEST_VERSION


async def test_embed_config_and_abandoned_carts(api: Any, api_shop: Shop) -> None:
    shop = api_shop
    config = await api.embed_config.update(cart_abandonment_threshold_minutes=60,
                                           cart_recovery_url_template="https://shop.example/cart/{cartId}",
                                           allowed_origins=["https://shop.example"],
                                           branding=BrandingInput(display_name="Shop", primary_color="#112233"))
    assert config.effective_cart_abandonment_threshold_minutes == 60 and config.allowed_origins == [
        "https://shop.example"]
    config = await api.embed_config.update(cart_abandonment_threshold_minutes=None)
    assert config.cart_abandonment_threshold_minutes is None and config.branding
    assert config.branding.display_name == "Shop"  # untouched fields stay
    assert (await api.embed_config.retrieve()).effective_cart_abandonment_threshold_minutes == 1440
    await api.embed_config.update(cart_abandonment_threshold_minutes=15)

    product = await api.products.create(name="Sock", variants=[VariantInput(sku=sku(), prices={"EUR": 400})])
    cart = await api.carts.create(currency="EUR", customer_email="bo@example.com",
                                  line_items=[LineItemInput(variant_id=product.variants[0].id, quantity=3)])
    shop.backend.clock.advance(minutes=16)
    assert await sweep_for(shop.merchant) == 1
    rows = await every(await api.abandoned_carts.list(recovery_status="not_contacted"))
    assert [(r.cart_id, r.total, r.item_count) for r in rows] == [(cart.id, 1200, 3)]
    assert rows[0].customer and rows[0].customer.email == "bo@example.com"
    assert (await api.abandoned_carts.list(since=FAR_FUTURE)).data == []
    assert (await api.abandoned_carts.list(until=FAR_FUTURE, limit=1)).data[0].cart_id == cart.id
    summary = await api.abandoned_carts.summary(window_days=7)
    assert summary.window_days == 7 and summary.abandoned_count == 1
    assert [(v.currency, v.amount) for v in summary.abandoned_value] == [("EUR", 1200)]
    with pytest.raises(kassa_sdk.ValidationError) as bad:
        await api.abandoned_carts.summary(window_days=0)
    assert bad.value.field == "windowDays"


async def test_webhook_endpoints_deliveries_and_events(api: Any, api_shop: Shop, receiver: Receiver) -> None:
    shop = api_shop
    endpoint = await api.webhook_endpoints.create(url=receiver.url, enabled_events=["cart.*"], description="crm")
    assert endpoint.secret.startswith("whsec_") and endpoint.enabled_events == ["cart.*"]
    receiver.secrets.append(endpoint.secret)
    assert (await api.webhook_endpoints.retrieve(endpoint.id)).secret != endpoint.secret  # obfuscated
    assert [e.id for e in await every(await api.webhook_endpoints.list())] == [endpoint.id]
    assert endpoint.api_version == LATEST_VERSION  # the application's pin
    endpoint = await api.webhook_endpoints.update(endpoint.id, enabled_events=["*"], description=None)
    assert endpoint.enabled_events == ["*"] and endpoint.description is None
    older = await api.webhook_endpoints.create(url=receiver.url, enabled_events=["order.*"], api_version=FIRST_VERSION)
    assert older.api_version == FIRST_VERSION
    assert (await api.webhook_endpoints.update(older.id, api_version=LATEST_VERSION)).api_version == LATEST_VERSION
    await api.webhook_endpoints.delete(older.id)

    cart = await api.carts.create(currency="EUR")
    await delivered(shop, receiver, 1)
    events = await every(await api.events.list(type="cart.created"))
    assert [e.data["cartId"] for e in events] == [cart.id]
    event = await api.events.retrieve(events[0].id)
    assert event.type == "cart.created" and event.version == "1"
    deliveries = await every(await api.events.list_deliveries(event.id))
    assert [(d.endpoint_id, d.status) for d in deliveries] == [(endpoint.id, "succeeded")]
    delivery = await api.webhook_deliveries.retrieve(deliveries[0].id)
    assert delivery.attempt_count == 1
    attempts = await every(await api.webhook_deliveries.list_attempts(delivery.id))
    assert [(a.succeeded, a.status_code) for a in attempts] == [(True, 200)]
    assert (await api.webhook_deliveries.resend(delivery.id)).status == "pending"
    test = await api.webhook_endpoints.send_test(endpoint.id)
    assert test.event_type == "webhook_endpoint.test"
    await delivered(shop, receiver, 3)
    listed = await every(await api.webhook_endpoints.list_deliveries(endpoint.id, status="succeeded"))
    assert {d.event_type for d in listed} == {"cart.created", "webhook_endpoint.test"}
    assert (await api.webhook_endpoints.list_deliveries(endpoint.id, event_type="cart.created",
                                                        since=FAR_FUTURE)).data == []
    since = shop.backend.clock.now() - timedelta(hours=1)  # the server's clock: tests move it forward
    assert (await api.webhook_endpoints.recover(endpoint.id, since=since)).recovered == 0
    stats = await api.webhook_endpoints.stats(endpoint.id, window_hours=1)
    assert stats.succeeded >= 3 and stats.failed == 0

    rotated = await api.webhook_endpoints.rotate_secret(endpoint.id, overlap_hours=1)
    assert rotated.secret.startswith("whsec_") and rotated.secret != endpoint.secret
    assert await api.webhook_endpoints.delete(endpoint.id) is None
    with pytest.raises(kassa_sdk.WebhookEndpointNotFoundError):
        await api.webhook_endpoints.retrieve(endpoint.id)


@pytest.fixture
def stripe_api(api_shop: Shop, localstripe: LocalStripe, monkeypatch: pytest.MonkeyPatch) -> LocalStripe:
    """The backend's Stripe connectors talk to this worker's localstripe (its address is the deployment's
    KASSA_STRIPE_API_BASE, read once when the backend was built), for this test only."""
    settings = module_of(api_shop.backend.runtime).payment_settings

    def connector(account: Any) -> StripeConnector:
        return StripeConnector(new_client(account.secret_key, api_base=localstripe.url, timeout=10),
                               capture_method=account.capture_method, publishable_key=account.publishable_key)

    monkeypatch.setattr(settings, "stripe_connector", connector)
    return localstripe


async def test_payment_settings_and_a_headless_stripe_checkout(api: Any, api_shop: Shop, stripe_api: LocalStripe) -> None:
    settings = await api.payment_settings.retrieve()
    assert (settings.provider, settings.capture_method, settings.webhook_url) == ("test", "automatic", None)
    product = await api.products.create(name="Vase", variants=[VariantInput(sku=sku(), prices={"EUR": 3200})])
    line = LineItemInput(variant_id=product.variants[0].id)
    cart = await api.carts.create(currency="EUR", line_items=[line], shipping_address=ADDRESS)
    session = await api.checkout.sessions.create(cart_id=cart.id)
    with pytest.raises(kassa_sdk.PaymentConnectorUnavailableError):  # the test provider has no intents
        await api.checkout.sessions.create_payment_intent(session.id)

    with pytest.raises(kassa_sdk.ValidationError) as live_key:  # a test application takes test keys only
        await api.payment_settings.update(provider="stripe", secret_key="sk_live_" + "a" * 24,
                                          publishable_key=stripe_api.publishable_key)
    assert live_key.value.field == "secretKey"
    with pytest.raises(kassa_sdk.PaymentProviderAuthFailedError):  # Stripe refuses it
        await api.payment_settings.update(provider="stripe", secret_key=REJECTED_KEY,
                                          publishable_key=stripe_api.publishable_key)
    assert (await api.payment_settings.retrieve()).provider == "test"  # nothing kept

    saved = await api.payment_settings.update(provider="stripe", secret_key=stripe_api.api_key,
                                              publishable_key=stripe_api.publishable_key,
                                              webhook_secret="whsec_sdktest1234", capture_method="manual")
    assert (saved.provider, saved.capture_method, saved.publishable_key) == ("stripe", "manual",
                                                                            stripe_api.publishable_key)
    assert (saved.secret_key_last4, saved.webhook_secret_last4) == (stripe_api.api_key[-4:], "1234")
    assert saved.webhook_url and saved.webhook_url.endswith(f"/webhooks/stripe/{api_shop.merchant.app_id}")
    assert await api.payment_settings.retrieve() == saved
    kept = await api.payment_settings.update(provider="stripe")  # the stored keys stay; capture back to automatic
    assert (kept.capture_method, kept.secret_key_last4) == ("automatic", saved.secret_key_last4)

    handle = await api.checkout.sessions.create_payment_intent(session.id)
    assert handle.provider == "stripe" and handle.payment_intent_id.startswith("pi_") and handle.client_secret
    assert (handle.amount, handle.currency, handle.publishable_key) == (3200, "EUR", stripe_api.publishable_key)
    again = await api.checkout.sessions.create_payment_intent(session.id)
    assert again.payment_intent_id == handle.payment_intent_id  # one intent per session
    async with stripe_api.client() as stripe:  # what Stripe.js does in the shopper's browser
        method = await stripe.v1.payment_methods.create_async(
            {"type": "card", "card": {"number": cards.GOOD, "exp_month": 12, "exp_year": 2030, "cvc": "123"}})
        await stripe.v1.payment_intents.update_async(handle.payment_intent_id, {"payment_method": method.id})
        confirmed = await stripe.v1.payment_intents.confirm_async(handle.payment_intent_id)
    assert confirmed.status == "succeeded"
    paid = await api.checkout.sessions.complete(session.id, payment_method=PaymentMethodInput(
        type="stripe", payment_intent_id=handle.payment_intent_id))
    assert paid.status == "complete" and paid.payment_status == "paid" and paid.order_id
    # A card through Stripe.js's payment method, paid on the server.
    cart = await api.carts.create(currency="EUR", line_items=[line], shipping_address=ADDRESS)
    session = await api.checkout.sessions.create(cart_id=cart.id)
    with pytest.raises(kassa_sdk.ValidationError) as card_number:  # card numbers never reach Kassa with Stripe
        await api.checkout.sessions.complete(session.id, payment_method=OK_CARD)
    assert card_number.value.field == "paymentMethod.card"
    by_token = await api.checkout.sessions.complete(session.id, payment_method=PaymentMethodInput(
        type="card", token=method.id))
    assert by_token.payment_status == "paid" and by_token.order_id

    back = await api.payment_settings.update(provider="test")
    assert (back.provider, back.secret_key_last4, back.webhook_url) == ("test", None, None)


async def test_customers(api: Any, api_shop: Shop) -> None:
    from kassa_sdk.types import MarketingConsentInput

    email = f"sdk.{uuid.uuid4().hex[:8]}@example.com"
    made = await api.customers.create(email=email, first_name="Sam", segments=["a"], external_id=sku(),
                                      marketing_consent=MarketingConsentInput(email="granted", source="sdk"))
    assert made.id.startswith("cus_") and made.segments == ["a"] and made.marketing_consent.email == "granted"
    assert (await api.customers.retrieve(made.id)).email == email
    changed = await api.customers.update(made.id, last_name="Smith", first_name=None)
    assert (changed.first_name, changed.last_name, changed.email) == (None, "Smith", email)
    assert (await api.customers.update_segments(made.id, add=["vip"], remove=["a"])).segments == ["vip"]
    assert [c.id for c in await every(await api.customers.list(segment="vip", limit=1))] == [made.id]
    assert [c.id for c in (await api.customers.list(email=email.upper())).data] == [made.id]
    assert await api.customers.list_vouchers(made.id) == []
    with pytest.raises(kassa_sdk.CustomerEmailTakenError):
        await api.customers.create(email=email)
    cart = await api.carts.create(currency="EUR", customer_id=made.id)
    assert cart.customer is not None and cart.customer.id == made.id
    assert (await api.carts.update(cart.id, customer_id=None)).customer is None
    setting = await api.shopper_auth.update(jwks_url="https://id.example/jwks", issuer="https://id.example/",
                                            audience="web")
    assert (await api.shopper_auth.retrieve()).audience == setting.audience == "web"
    assert (await api.customers.delete(made.id)).id == made.id
    with pytest.raises(kassa_sdk.CustomerNotFoundError):
        await api.customers.retrieve(made.id)


async def test_customer_erasure(api: Any, api_shop: Shop) -> None:
    settings = await api.customers.update_settings(personal_metadata_keys=["note", "note"])
    assert settings.personal_metadata_keys == ["note"] == (await api.customers.retrieve_settings()).personal_metadata_keys
    email = f"erase.{uuid.uuid4().hex[:8]}@example.com"
    made = await api.customers.create(email=email, first_name="Sam", metadata={"note": "ring twice"})
    erased = await api.customers.erase(customer_id=made.id)
    assert (erased.status, erased.customer_id, erased.redacted["customers"]) == ("completed", made.id, 1)
    assert (await api.customers.retrieve_erasure(erased.id)).redacted == erased.redacted
    again = await api.customers.erase(email=email)
    assert again.customer_id is None and not any(again.redacted.values())
    with pytest.raises(kassa_sdk.CustomerNotFoundError):
        await api.customers.erase(customer_id="cus_nobody")
    with pytest.raises(kassa_sdk.ErasureNotFoundError):
        await api.customers.retrieve_erasure("era_nobody")
    with pytest.raises(ValueError, match="exactly one"):  # the contract's own check, before any request
        await api.customers.erase(customer_id=made.id, email=email)
