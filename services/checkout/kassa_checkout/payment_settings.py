"""Payment settings per application, and the connector that takes each application's payments.

A test application may use the built-in `test` provider or Stripe test keys; a live one needs Stripe
with live keys. Secrets are sealed at rest (AES-GCM under the deployment's signing key) and never
shown again, only their last four characters. A key is checked against Stripe when it is saved.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from kassa_contract.errors import KassaError
from kassa_contract.payments import PaymentSettings, UpdatePaymentSettings
from kassa_platform.auth import Principal
from kassa_platform.clock import Clock
from kassa_platform.db import Database
from kassa_platform.sealing import Sealer

from .payment_settings_rows import PaymentSettingsRows
from .payments.connector import PaymentConnector
from .payments.stripe import StripeConnector

SEALING_PURPOSE = "payment-settings"
WEBHOOK_PATH = "/webhooks/stripe/{app_id}"


@dataclass(frozen=True)
class StripeAccount:
    """An application's Stripe credentials, opened."""

    secret_key: str
    publishable_key: str
    webhook_secret: str | None
    capture_method: str
    updated_at: datetime


class PaymentSettingsService:
    def __init__(self, db: Database, clock: Clock, sealer: Sealer, public_base_url: str,
                 stripe_connector: Callable[[StripeAccount], StripeConnector]) -> None:
        self.rows = PaymentSettingsRows(db)
        self.clock = clock
        self.sealer = sealer
        self.public_base_url = public_base_url.rstrip("/")
        self.stripe_connector = stripe_connector

    async def get(self, principal: Principal) -> PaymentSettings:
        return self._view(principal.app_id, await self.rows.load(principal.app_id))

    async def update(self, principal: Principal, body: UpdatePaymentSettings) -> PaymentSettings:
        stored = await self.rows.load(principal.app_id)
        if body.provider == "test":
            if principal.environment != "test":
                raise KassaError("validation_error", "A live application cannot take payments with the `test` "
                                 "provider", field="provider")
            values: dict[str, Any] = {"provider": "test", "capture_method": body.capture_method}
        else:
            values = await self._stripe_values(principal, body, stored)
        return self._view(principal.app_id, await self.rows.save(principal.app_id, values, self.clock.now(),
                                                                 lambda row: self._view(principal.app_id, row)))

    async def _stripe_values(self, principal: Principal, body: UpdatePaymentSettings, stored: Any) -> dict[str, Any]:
        secret = body.secret_key or (self.sealer.open(stored.secret_key) if stored and stored.secret_key else None)
        publishable = body.publishable_key or (stored.publishable_key if stored else None)
        webhook = body.webhook_secret or (self.sealer.open(stored.webhook_secret)
                                          if stored and stored.webhook_secret else None)
        if secret is None:
            raise KassaError("validation_error", "Stripe needs the account's `secretKey`", field="secretKey")
        if publishable is None:
            raise KassaError("validation_error", "Stripe needs the account's `publishableKey`", field="publishableKey")
        mode = "test" if principal.environment == "test" else "live"
        for field, key in (("secretKey", secret), ("publishableKey", publishable)):
            if key.split("_")[1] != mode:
                raise KassaError("validation_error", f"A {principal.environment} application takes Stripe {mode} "
                                 f"keys only (`{key[:8]}…` is not one)", field=field)
        if body.secret_key is not None:  # a new key is tried once against Stripe before it is kept
            account = StripeAccount(secret, publishable, webhook, body.capture_method, self.clock.now())
            await self.stripe_connector(account).verify_key()
        return {"provider": "stripe", "capture_method": body.capture_method,
                "secret_key": self.sealer.seal(secret), "secret_key_last4": secret[-4:],
                "publishable_key": publishable,
                "webhook_secret": self.sealer.seal(webhook) if webhook else None,
                "webhook_secret_last4": webhook[-4:] if webhook else None}

    def _view(self, app_id: str, row: Any) -> PaymentSettings:
        if row is None:
            return PaymentSettings(provider="test", capture_method="automatic")
        stripe = row.provider == "stripe"
        return PaymentSettings(
            provider=row.provider, capture_method=row.capture_method,
            publishable_key=row.publishable_key if stripe else None,
            secret_key_last4=row.secret_key_last4 if stripe else None,
            webhook_secret_last4=row.webhook_secret_last4 if stripe else None,
            webhook_url=self.public_base_url + WEBHOOK_PATH.format(app_id=app_id) if stripe else None,
            updated_at=row.updated_at)

    async def stripe_account(self, app_id: str) -> StripeAccount | None:
        row = await self.rows.load(app_id)
        if row is None or row.provider != "stripe":
            return None
        return StripeAccount(self.sealer.open(row.secret_key), row.publishable_key,
                             self.sealer.open(row.webhook_secret) if row.webhook_secret else None,
                             row.capture_method, row.updated_at)


class Connectors:
    """The connector that takes an application's payments: `test` (test applications only) unless its
    settings name Stripe. Stripe connectors are kept per application while its settings stand."""

    def __init__(self, test: PaymentConnector, settings: PaymentSettingsService | None = None) -> None:
        self.test = test
        self.settings = settings
        self._stripe: dict[str, tuple[datetime, StripeConnector, StripeAccount]] = {}

    async def for_app(self, app_id: str, environment: str,
                      known: tuple[str | None, datetime | None] | None = None) -> PaymentConnector:
        """`known`: the settings' (provider, updated_at) when a statement already read them."""
        if known is None:
            known = (None, None) if self.settings is None else await self.settings.rows.head(app_id)
        provider, version = known
        if provider == "stripe" and version is not None:
            return (await self.stripe(app_id, version))[0]
        if environment == "test":
            return self.test
        raise KassaError("payment_connector_unavailable", "This live application has no payment provider: connect "
                         "Stripe in its payment settings", status=422)

    async def stripe(self, app_id: str, version: datetime | None = None) -> tuple[StripeConnector, StripeAccount]:
        cached = self._stripe.get(app_id)
        if cached is not None and version is not None and cached[0] == version:
            return cached[1], cached[2]
        account = None if self.settings is None else await self.settings.stripe_account(app_id)
        if account is None:
            raise KassaError("payment_connector_unavailable", "This application does not take payments with Stripe",
                             status=422)
        connector = self.settings.stripe_connector(account)  # type: ignore[union-attr]
        self._stripe[app_id] = (account.updated_at, connector, account)
        return connector, account
