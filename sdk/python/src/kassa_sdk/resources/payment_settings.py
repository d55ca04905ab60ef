"""Payment settings: which provider takes the application's payments (the built-in `test` one or Stripe)."""

from __future__ import annotations

from kassa_contract.payments import CaptureMethod, PaymentProvider, PaymentSettings, UpdatePaymentSettings

from .._base import Call, M, RequestOptions, Resource, operation, returns

PAYMENT_SETTINGS = "/api/v1/payment-settings"


class PaymentSettingsResource(Resource[M]):
    """`client.payment_settings` (scopes `payments:read`, `payments:write`)."""

    @operation
    def retrieve(self, *, options: RequestOptions | None = None) -> Call[PaymentSettings]:
        """The provider and capture method; Stripe's keys only by their last four, and the `webhook_url` to
        register in Stripe's dashboard."""
        return Call("GET", PAYMENT_SETTINGS, returns(PaymentSettings), options=options)

    @operation
    def update(self, *, provider: PaymentProvider, secret_key: str | None = None, publishable_key: str | None = None,
               webhook_secret: str | None = None, capture_method: CaptureMethod = "automatic",
               options: RequestOptions | None = None) -> Call[PaymentSettings]:
        """Switch provider. `provider="stripe"` needs `secret_key` (`sk_…`/`rk_…`) and `publishable_key` (`pk_…`) the
        first time, in the application's mode (a test application takes `_test_` keys only, a live one `_live_`
        keys); a new secret key is checked once against Stripe (`PaymentProviderAuthFailedError` if refused). Later
        updates may leave a secret out to keep the stored one. `webhook_secret` (`whsec_…`) is the signing secret
        Stripe shows for the endpoint at `webhook_url`. `provider="test"` is for test applications only."""
        body = UpdatePaymentSettings(provider=provider, secret_key=secret_key, publishable_key=publishable_key,
                                     webhook_secret=webhook_secret, capture_method=capture_method)
        return Call("PUT", PAYMENT_SETTINGS, returns(PaymentSettings), body, options=options)
