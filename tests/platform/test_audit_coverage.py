"""Every state-changing operation a secret key (or a session) can make leaves an audit entry.

The operations are read from the services' routes (what the OpenAPI documents list), not from a list
kept by hand: a new POST, PUT, PATCH or DELETE fails this test until it has a call here and its
domain module records its change (kassa_platform.audit), or it joins the documented exclusions.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any

import httpx
import sqlalchemy as sa
from kassa_contract.versions import FIRST_VERSION, LATEST_VERSION
from kassa_platform.auth import hash_key
from kassa_platform.db import transaction
from kassa_platform.service_client import APP_KEY_PREFIX
from kassa_platform.tables import audit_events
from kassa_team import team_rows
from kassa_team.service import team_of
from litestar import Litestar

from kassa.services import SERVICES
from tests.conftest import Backend, Tenant, make_tenant
from tests.support.cards import OK_CARD
from tests.support.team import PASSWORD, Person, signed_in, unique_email

MUTATING = {"POST", "PUT", "PATCH", "DELETE"}

# Operations a secret key may make that change no merchant setting or record; each with its reason
# (docs/audit-log.md, "What is not recorded"). Operations a publishable key or the hosted page may
# make (carts, completion, payment intents) are the shopper's, and are left out by their route options.
EXCLUDED = {
    "createCheckoutSession": "the storefront's server opens a shopper's checkout: part of a purchase, "
                             "one per order, reported by checkout events",
    "createEmbedToken": "signs a short-lived token for the storefront's page; stores nothing",
    "validateVoucher": "a read (promotions:read): checks a code against a cart, changes nothing",
    # The two-step redemption API is a till's transaction, as a checkout session is a storefront's:
    # part of a purchase, reported by the `redemption.*` events.
    "reserveRedemption": "a till holds a basket's discounts: part of a purchase, reported by redemption events",
    "confirmRedemption": "a till's sale redeems what it held: part of a purchase, reported by redemption events",
    "cancelRedemption": "a till lets go of a hold: part of a purchase, reported by redemption events",
    "rollbackRedemption": "a till's return gives uses back: part of a purchase, reported by redemption events",
    # Sessions end by themselves every day; ending one's own changes no setting and nobody else's access.
    # (Signing out everywhere, a reaction to a lost device, is recorded.)
    "signOut": "a user ends their own session: routine, no merchant setting or access changes",
}


def secret_key_mutations(app: Litestar) -> dict[str, Any]:
    """operationId -> route handler of every documented state-changing route a secret key may call
    and a browser's key may not."""
    found: dict[str, Any] = {}
    for route in app.routes:
        for handler in getattr(route, "route_handlers", []):
            opt = handler.opt
            if not (set(handler.http_methods) & MUTATING) or not handler.include_in_schema:
                continue
            if opt.get("public") or opt.get("internal") or opt.get("page") or opt.get("publishable"):
                continue
            found[handler.operation_id] = handler
    return found


def all_operations(runtime: Any) -> dict[str, Any]:
    operations: dict[str, Any] = {}
    for name, service in SERVICES.items():
        app = runtime.services.get(APP_KEY_PREFIX + name) or service.create_app(runtime, owns_runtime=False)
        operations.update(secret_key_mutations(app))
    return operations


class Scenario:
    def __init__(self, tenant: Tenant, client: httpx.AsyncClient) -> None:
        self.t = tenant
        self.client = client
        self.s: dict[str, Any] = {}
        self.user: Person | None = None  # set: the calls are this signed-in user's (the team's routes)
        self.actor = "key_"

    async def __call__(self, method: str, path: str, json: Any = None, **kw: Any) -> httpx.Response:
        person = kw.pop("person", self.user)
        self.actor = "usr_" if person else "key_"
        base = person.headers() if person else self.t.headers(kw.pop("key", None))
        headers = {**base, **kw.pop("headers", {})}
        return await self.client.request(method, path, json=json, headers=headers, **kw)

    async def order_with_code(self) -> str:
        """A paid order whose cart used a code (a confirmed redemption), made the way a shopper does."""
        variant = self.s["variant"]
        cart = await self.t.cart(lineItems=[{"variantId": variant, "quantity": 2}], discountCodes=["AUDIT10"])
        session = (await self("POST", "/api/v1/checkout/sessions", {"cartId": cart["id"]})).json()
        done = await self("POST", f"/api/v1/checkout-sessions/{session['id']}/complete",
                          {"shippingAddress": {"addressLine1": "Unter den Linden 1", "city": "Berlin",
                                               "countryCode": "DE"}, "paymentMethod": OK_CARD})
        assert done.status_code == 200, done.text
        return str(done.json()["orderId"])


Step = Callable[[Scenario], Awaitable[httpx.Response]]


def _keep(sc: Scenario, name: str, response: httpx.Response, field: str = "id") -> httpx.Response:
    assert response.status_code < 300, response.text
    sc.s[name] = response.json()[field]
    return response


async def _create_product(sc: Scenario) -> httpx.Response:
    sc.s["sku"] = "audit-" + sc.t.app_id[-8:]
    response = await sc("POST", "/api/v1/products", {"name": "Audited", "taxClass": "standard",
                                                     "variants": [{"sku": sc.s["sku"], "prices": {"EUR": 2500}}]})
    sc.s["variant"] = response.json()["variants"][0]["id"]
    return _keep(sc, "product", response)


async def _cancel_redemptions(sc: Scenario) -> httpx.Response:
    sc.s["order"] = await sc.order_with_code()
    return await sc("POST", "/api/v1/redemptions/cancel", {"orderId": sc.s["order"]})


async def _archive_campaign(sc: Scenario) -> httpx.Response:
    created = await sc("POST", "/api/v1/campaigns", {"name": "Old", "trigger": "code", "reward": {
        "type": "fixed_off", "amounts": {"EUR": 500}}})
    _keep(sc, "old", created)
    return await sc("POST", f"/api/v1/campaigns/{sc.s['old']}/archive")


async def _cancel_session(sc: Scenario) -> httpx.Response:
    cart = await sc.t.cart(lineItems=[{"variantId": sc.s["variant"], "quantity": 1}])
    session = (await sc("POST", "/api/v1/checkout/sessions", {"cartId": cart["id"]})).json()
    return await sc("DELETE", f"/api/v1/checkout/sessions/{session['id']}")


async def _create_endpoint(sc: Scenario) -> httpx.Response:
    sc.s["since"] = (sc.t.backend.clock.now() - timedelta(hours=1)).isoformat()
    return _keep(sc, "endpoint", await sc("POST", "/api/v1/webhook-endpoints",
                                          {"url": "https://hooks.example.com/audit", "enabledEvents": ["*"]}))


async def _create_invitation(sc: Scenario) -> httpx.Response:
    """From here on the calls are the workspace owner's (the tenant's application in a workspace of its own)."""
    email = unique_email("owner")
    user_id, workspace_id, _ = await team_of(sc.t.backend.runtime).accounts.create_owner(email, PASSWORD)
    async with transaction(sc.t.backend.runtime.db) as conn:
        await team_rows.set_application_workspace(conn, sc.t.app_id, workspace_id)
    sc.s["ws"] = workspace_id
    sc.user = await signed_in(sc.client, Person(user_id, email, PASSWORD))
    return _keep(sc, "invitation", await sc("POST", f"/api/v1/workspaces/{workspace_id}/invitations",
                                            {"email": unique_email("invitee"), "role": "member"}))


async def _accept_invitation(sc: Scenario) -> httpx.Response:
    """An invitation with a known token (the real one is only mailed), accepted by its person."""
    backend, email, token = sc.t.backend, unique_email("invitee"), "kinv_" + sc.t.app_id[-12:]
    now = backend.clock.now()
    async with transaction(backend.runtime.db) as conn:
        user_id = await team_of(backend.runtime).accounts.create_user(conn, email, PASSWORD, None, now)
        await team_rows.insert_invitation(conn, workspace_id=sc.s["ws"], email=email, role="member", apps=[],
                                          token_hash=hash_key(token), invited_by=None, now=now,
                                          expires_at=now + timedelta(days=1))
    sc.s["member"] = user_id
    person = await signed_in(sc.client, Person(user_id, email, PASSWORD))
    return await sc("POST", "/api/v1/invitations/accept", {"token": token}, person=person)


def _call(method: str, path: str, body: Any = None, keep: str | None = None) -> Step:
    """A step: `path` formatted with what earlier steps kept (`{product}`), its id kept as `keep`."""
    async def step(sc: Scenario) -> httpx.Response:
        filled = {k: v.format(**sc.s) if isinstance(v, str) else v for k, v in body.items()} \
            if isinstance(body, dict) else body
        response = await sc(method, path.format(**sc.s), filled)
        return _keep(sc, keep, response) if keep else response
    return step


# One call of each operation, in an order that makes what the next one needs.
STEPS: list[tuple[str, Step]] = [
    ("upgradeApiVersion", _call("POST", "/api/v1/application/upgrade-version", {"version": LATEST_VERSION})),
    ("createApiKey", _call("POST", "/api/v1/api-keys", {"scopes": ["carts:read"]}, keep="key")),
    ("rollApiKey", _call("POST", "/api/v1/api-keys/{key}/roll", {})),
    ("revokeApiKey", _call("DELETE", "/api/v1/api-keys/{key}")),
    ("createProduct", _create_product),
    ("updateProduct", _call("PATCH", "/api/v1/products/{product}", {"name": "Renamed"})),
    ("addVariant", _call("POST", "/api/v1/products/{product}/variants", {"sku": "other-{product}",
                                                                         "prices": {"EUR": 2000}})),
    ("updateVariant", _call("PATCH", "/api/v1/products/{product}/variants/{variant}", {"prices": {"EUR": 2600}})),
    ("createShippingMethod", _call("POST", "/api/v1/shipping-methods", {"name": "Post", "prices": {"EUR": 490}},
                                   keep="shipping")),
    ("updateShippingMethod", _call("PATCH", "/api/v1/shipping-methods/{shipping}", {"name": "Express"})),
    ("deleteShippingMethod", _call("DELETE", "/api/v1/shipping-methods/{shipping}")),
    ("createTaxRate", _call("POST", "/api/v1/tax-rates", {"countryCode": "AT", "taxClass": "standard",
                                                          "rate": "0.2", "name": "VAT"}, keep="rate")),
    ("deleteTaxRate", _call("DELETE", "/api/v1/tax-rates/{rate}")),
    ("updateTaxSettings", _call("PUT", "/api/v1/tax-settings", {"pricesIncludeTax": True})),
    ("updateEmbedConfig", _call("PUT", "/api/v1/embed-config", {"cartAbandonmentThresholdMinutes": 90})),
    ("updateShopperAuth", _call("PUT", "/api/v1/shopper-auth", {"issuer": "https://id.example/"})),
    ("createCustomer", _call("POST", "/api/v1/customers", {"email": "audit@shop.example"}, keep="customer")),
    ("updateCustomer", _call("PATCH", "/api/v1/customers/{customer}", {"firstName": "Ada"})),
    ("updateCustomerSegments", _call("POST", "/api/v1/customers/{customer}/segments", {"add": ["vip"]})),
    ("deleteCustomer", _call("DELETE", "/api/v1/customers/{customer}")),
    ("createCampaign", _call("POST", "/api/v1/campaigns", {"name": "Ten", "trigger": "code", "reward": {
        "type": "fixed_off", "amounts": {"EUR": 1000}}}, keep="campaign")),
    ("updateCampaign", _call("PATCH", "/api/v1/campaigns/{campaign}", {"name": "Ten off"})),
    ("deactivateCampaign", _call("POST", "/api/v1/campaigns/{campaign}/deactivate")),
    ("activateCampaign", _call("POST", "/api/v1/campaigns/{campaign}/activate")),
    ("createCodes", _call("POST", "/api/v1/campaigns/{campaign}/codes", {"code": "AUDIT10"})),
    ("importCodes", _call("POST", "/api/v1/campaigns/{campaign}/codes/import",
                          {"codes": ["IMP-1", "IMP-2", "IMP-3"]})),
    ("assignCode", _call("POST", "/api/v1/codes/IMP-1/assign", {"customer": "cus_someone"})),
    ("distributeCode", _call("POST", "/api/v1/codes/IMP-2/distribute")),
    ("deactivateCode", _call("POST", "/api/v1/codes/IMP-2/deactivate")),
    ("updateCode", _call("PATCH", "/api/v1/codes/IMP-1", {"metadata": {"batch": "spring"}})),
    ("assignCodes", _call("POST", "/api/v1/codes/assign", {"assignments": [{"code": "IMP-3",
                                                                           "customer": "cus_other"}]})),
    ("createCampaignGroup", _call("POST", "/api/v1/campaign-groups", {"name": "Spring"}, keep="group")),
    ("updateCampaignGroup", _call("PATCH", "/api/v1/campaign-groups/{group}", {"name": "Summer"})),
    ("deleteCampaignGroup", _call("DELETE", "/api/v1/campaign-groups/{group}")),
    ("archiveCampaign", _archive_campaign),
    ("unarchiveCampaign", _call("POST", "/api/v1/campaigns/{old}/unarchive")),
    ("deleteCampaign", _call("DELETE", "/api/v1/campaigns/{old}")),
    ("updatePromotionSettings", _call("PUT", "/api/v1/promotion-settings", {"allowMultiplePercentageBasket": True})),
    ("updateCustomerSettings", _call("PUT", "/api/v1/customer-settings", {"personalMetadataKeys": ["loyaltyId"]})),
    ("eraseCustomer", _call("POST", "/api/v1/customers/erase", {"email": "gone@shop.example"})),
    ("updatePaymentSettings", _call("PUT", "/api/v1/payment-settings", {"provider": "test",
                                                                        "captureMethod": "automatic"})),
    ("cancelRedemptions", _cancel_redemptions),
    ("createRefund", _call("POST", "/api/v1/orders/{order}/refunds", {"amount": 100})),
    ("cancelCheckoutSession", _cancel_session),
    ("createWebhookEndpoint", _create_endpoint),
    ("updateWebhookEndpoint", _call("PATCH", "/api/v1/webhook-endpoints/{endpoint}", {"description": "ERP"})),
    ("rotateWebhookSecret", _call("POST", "/api/v1/webhook-endpoints/{endpoint}/rotate-secret", {})),
    ("sendTestWebhook", _call("POST", "/api/v1/webhook-endpoints/{endpoint}/test", keep="delivery")),
    ("resendWebhookDelivery", _call("POST", "/api/v1/webhook-deliveries/{delivery}/resend")),
    ("recoverWebhookDeliveries", _call("POST", "/api/v1/webhook-endpoints/{endpoint}/recover", {"since": "{since}"})),
    ("deleteWebhookEndpoint", _call("DELETE", "/api/v1/webhook-endpoints/{endpoint}")),
    # The team's routes: a signed-in user's calls, workspace-level entries (no application).
    ("createInvitation", _create_invitation),
    ("resendInvitation", _call("POST", "/api/v1/workspaces/{ws}/invitations/{invitation}/resend")),
    ("revokeInvitation", _call("DELETE", "/api/v1/workspaces/{ws}/invitations/{invitation}")),
    ("acceptInvitation", _accept_invitation),
    ("updateMember", _call("PATCH", "/api/v1/workspaces/{ws}/members/{member}", {"role": "admin"})),
    ("removeMember", _call("DELETE", "/api/v1/workspaces/{ws}/members/{member}")),
    ("createWorkspaceApplication", _call("POST", "/api/v1/applications", {"workspaceId": "{ws}", "name": "Second",
                                                                          "environment": "test"}, keep="app")),
    ("renameWorkspaceApplication", _call("PATCH", "/api/v1/applications/{app}", {"name": "Outlet"})),
    ("signOutEverywhere", _call("POST", "/api/v1/auth/sign-out-everywhere")),  # last: the owner's sessions end
]


def test_the_exclusions_are_operations_that_exist(backend: Backend) -> None:
    operations = all_operations(backend.runtime)
    assert set(EXCLUDED) <= set(operations), set(EXCLUDED) - set(operations)
    assert not set(EXCLUDED) & {op for op, _ in STEPS}


async def test_every_state_changing_secret_key_operation_leaves_an_audit_entry(
        backend: Backend, suite: httpx.AsyncClient) -> None:
    operations = all_operations(backend.runtime)
    untested = sorted(set(operations) - set(EXCLUDED) - {op for op, _ in STEPS})
    assert not untested, (f"state-changing operations with no audit check: {untested}; record their change "
                          "(kassa_platform.audit.record) and add a step here, or document an exclusion")
    tenant = await make_tenant(backend, api_version=FIRST_VERSION)
    sc = Scenario(tenant, suite)
    missing = []
    for operation, step in STEPS:
        if operation not in operations:
            continue  # an operation this build does not serve (the list covers it when it comes)
        response = await step(sc)
        assert response.status_code < 300, f"{operation}: {response.status_code} {response.text}"
        request_id = response.headers["x-request-id"]
        async with backend.runtime.db() as conn:
            mine = audit_events.c.app_id == tenant.app_id
            if "ws" in sc.s:  # the team's changes: the workspace's entries
                mine = sa.or_(mine, audit_events.c.workspace_id == sc.s["ws"])
            found = (await conn.execute(sa.select(audit_events.c.action, audit_events.c.actor_id).where(
                mine, audit_events.c.request_id == request_id))).all()
        if not found:
            missing.append(operation)
        else:
            assert all(actor.startswith(sc.actor) for _, actor in found), (operation, found)
    assert not missing, f"operations that left no audit entry: {missing}"
