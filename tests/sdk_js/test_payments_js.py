"""@kassa/js's payment settings and headless Stripe checkout (packages/js/test/stripe/*.test.ts) against the
real Kassa, whose Stripe calls go to this worker's localstripe for the test."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from kassa_checkout.payments.stripe import StripeConnector, new_client
from kassa_checkout.service import module_of

from tests.conftest import Tenant
from tests.sdk_js.conftest import RunNode, passed
from tests.support.localstripe import REJECTED_KEY, LocalStripe
from tests.support.served import KassaWeb

STRIPE_TESTS = Path("packages") / "js" / "test" / "stripe"


async def test_payment_settings_and_a_payment_intent_from_the_storefront(
        kassa: KassaWeb, js_tenant: Tenant, js_build: Path, run_node: RunNode, localstripe: LocalStripe,
        monkeypatch: pytest.MonkeyPatch) -> None:
    settings = module_of(kassa.backend.runtime).payment_settings

    def connector(account: Any) -> StripeConnector:  # the deployment's KASSA_STRIPE_API_BASE, for this test
        return StripeConnector(new_client(account.secret_key, api_base=localstripe.url, timeout=10),
                               capture_method=account.capture_method, publishable_key=account.publishable_key)

    monkeypatch.setattr(settings, "stripe_connector", connector)
    output = await run_node(js_build / STRIPE_TESTS / "payments.test.js", tenant=js_tenant, env={
        "LOCALSTRIPE_URL": localstripe.url, "LOCALSTRIPE_SECRET_KEY": localstripe.api_key,
        "LOCALSTRIPE_PUBLISHABLE_KEY": localstripe.publishable_key, "LOCALSTRIPE_REJECTED_KEY": REJECTED_KEY})
    assert passed(output) == 1, output
