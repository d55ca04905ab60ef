"""The shared error envelope and every error code a Kassa service returns."""

from __future__ import annotations

from typing import Any

from .base import Model

# code -> default HTTP status. One table so a code always maps to the same status.
ERROR_STATUS: dict[str, int] = {
    "validation_error": 422,
    "bad_request": 400,
    "malformed_json": 400,
    "unauthorized": 401,
    "forbidden": 403,
    "not_found": 404,
    "route_not_found": 404,
    "method_not_allowed": 405,
    "conflict": 409,
    "idempotency_key_reused": 409,
    "idempotency_key_in_progress": 409,
    "idempotency_key_executed": 409,
    "request_too_large": 413,
    "json_too_deep": 400,
    "unsupported_media_type": 415,
    "rate_limited": 429,
    "internal_error": 500,
    "service_unavailable": 503,
    # API versions
    "api_version_invalid": 400,
    "api_version_downgrade": 422,
    # API keys
    "api_key_not_found": 404,
    "api_key_inactive": 409,
    # team accounts: sign-in, sessions, workspaces, invitations (docs/team.md)
    "invalid_credentials": 401,
    "csrf_token_invalid": 403,
    "application_required": 400,
    "password_invalid": 422,
    "reset_token_invalid": 400,
    "workspace_not_found": 404,
    "member_not_found": 404,
    "last_owner": 409,
    "email_taken": 409,
    "already_member": 409,
    "invitation_not_found": 404,
    "invitation_expired": 410,
    "invitation_used": 409,
    "invite_email_mismatch": 403,
    "application_not_found": 404,
    # carts
    "cart_not_found": 404,
    "cart_not_open": 409,
    "cart_line_not_found": 404,
    "too_many_line_items": 422,
    "currency_unsupported": 422,
    "variant_not_found": 422,
    "variant_price_missing": 422,
    "custom_line_forbidden": 403,
    "shipping_address_required": 422,
    "shipping_method_not_found": 404,
    "shipping_method_unavailable": 422,
    "product_not_found": 404,
    "sku_taken": 409,
    "tax_rate_not_found": 404,
    "tax_rate_exists": 409,
    "discount_invalid": 422,
    "metadata_too_large": 422,
    "discount_code_not_on_cart": 404,
    # customers and shopper identity
    "customer_not_found": 404,
    "customer_email_taken": 409,
    "customer_external_id_taken": 409,
    "erasure_not_found": 404,
    "shopper_token_invalid": 401,
    "cart_customer_mismatch": 403,
    # promotions
    "campaign_not_found": 404,
    "code_not_found": 404,
    "code_taken": 409,
    "code_not_usable": 409,
    "code_redeemed": 409,
    "campaign_archived": 409,
    "campaign_has_redemptions": 409,
    "campaign_group_not_found": 404,
    "code_space_exhausted": 422,
    "redemption_not_found": 404,
    "redemption_not_reserved": 409,
    "redemption_not_confirmed": 409,
    "transaction_id_taken": 409,
    "rollback_exceeds_amount": 422,
    # checkout
    "checkout_session_not_found": 404,
    "checkout_session_not_open": 409,
    "checkout_session_expired": 409,
    "checkout_in_progress": 409,
    "already_completed": 422,
    "address_required": 422,
    "cart_empty": 422,
    "shipping_method_required": 422,
    "allowed_methods_unsupported": 400,
    "origin_not_allowed": 422,
    "payment_method_not_allowed": 422,
    "payment_connector_unavailable": 422,
    "payment_declined": 402,
    "payment_failed": 402,
    "payment_action_required": 402,
    "payment_not_capturable": 409,
    "payment_provider_auth_failed": 422,
    "payment_provider_unavailable": 503,
    "payment_intent_invalid": 422,
    "webhook_signature_invalid": 400,
    "redemption_expired": 409,
    "order_not_found": 404,
    "refund_exceeds_amount": 422,
    "refund_failed": 422,
    # webhooks
    "webhook_endpoint_not_found": 404,
    "webhook_endpoint_disabled": 409,
    "webhook_url_invalid": 422,
    "webhook_secret_invalid": 422,
    "webhook_delivery_not_found": 404,
    "event_not_found": 404,
}

# Refusals that mean "this request did not run": it was turned away before the endpoint began
# (its headers, its body's shape, its key, a limit, a conflict with a request running at that
# moment, an outage). Nothing happened, so retrying the same request may succeed, and an
# Idempotency-Key is not spent on them (Stripe's rule: only a response that reflects the
# executed request is kept). Every 5xx is treated the same way. Any other error reflects the
# executed request and is replayed like a success.
NOT_EXECUTED: frozenset[str] = frozenset({
    "validation_error", "bad_request", "malformed_json", "json_too_deep", "request_too_large",
    "unsupported_media_type", "method_not_allowed", "route_not_found",
    "unauthorized", "forbidden", "origin_not_allowed", "rate_limited",
    "idempotency_key_in_progress", "checkout_in_progress",
    "service_unavailable", "api_version_invalid", "shopper_token_invalid",
    "csrf_token_invalid", "application_required", "invalid_credentials",
})

# Keys that older clients send and that the canonical shape renamed. A rejected key names its
# replacement so the client can fix its call without reading docs.
RENAMED_FIELDS: dict[str, str] = {
    "line1": "addressLine1",
    "line2": "addressLine2",
    "state": "region",
    "country": "countryCode",
    "zip": "postalCode",
}


class ErrorBody(Model, omit_defaults=True):
    code: str
    message: str
    field: str | None = None
    details: dict[str, Any] | None = None


class ErrorEnvelope(Model):
    error: ErrorBody
    request_id: str | None = None


class KassaError(Exception):
    """A domain error that maps to the shared envelope. Raised anywhere, rendered once."""

    def __init__(
        self,
        code: str,
        message: str,
        *,
        field: str | None = None,
        details: dict[str, Any] | None = None,
        status: int | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.field = field
        self.details = details
        self.status = status or ERROR_STATUS.get(code, 400)
        self.headers = headers or {}

    def body(self) -> ErrorBody:
        return ErrorBody(code=self.code, message=self.message, field=self.field, details=self.details)

