"""The exceptions the SDK raises.

    KassaError
    ├── APIConnectionError          the request did not get an answer (after the retries)
    │   └── APITimeoutError         ... because it timed out
    └── KassaApiError               Kassa answered with an error envelope
        └── <one class per status>  NotFoundError, ConflictError, ... (by HTTP status)
            └── <one class per code> CartNotFoundError, ... (`_error_codes.py`, generated from the contract)

An error response is turned into the class of its `error.code` first (`cart_not_open` →
`CartNotOpenError`), so `except CartNotOpenError` is exact; a code this SDK does not know yet (a
newer server) falls back to the class of its HTTP status, so `except NotFoundError` still works.
"""

from __future__ import annotations

from typing import Any

import httpx

__all__ = [
    "APIConnectionError", "APITimeoutError", "BadRequestError", "ConflictError", "ForbiddenError", "GoneError",
    "InternalServerError", "KassaApiError", "KassaError", "MethodNotAllowedError", "NotFoundError",
    "PayloadTooLargeError", "PaymentRequiredError", "ServiceUnavailableError", "TooManyRequestsError",
    "UnauthorizedError", "UnprocessableEntityError", "UnsupportedMediaTypeError",
]


class KassaError(Exception):
    """Every error the SDK raises derives from this class."""

    message: str

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class APIConnectionError(KassaError):
    """No answer from Kassa: the connection failed or broke (raised once the retries are spent)."""

    def __init__(self, message: str = "Connection error", *, request: httpx.Request | None = None) -> None:
        super().__init__(message)
        self.request = request


class APITimeoutError(APIConnectionError):
    """The request timed out (raised once the retries are spent)."""

    def __init__(self, message: str = "Request timed out", *, request: httpx.Request | None = None) -> None:
        super().__init__(message, request=request)


class KassaApiError(KassaError):
    """Kassa answered with an error: the shared envelope `{"error": {code, message, field?, details?}, "requestId"}`.

    `status` is the HTTP status, `code` the machine-readable error code, `field` the request field
    at fault (camelCase, as sent), `details` extra facts (a decline's `reason`, a range's `min`),
    `request_id` the id to quote to support, `headers` the response headers, `api_version` the API
    version Kassa answered in (its `Kassa-Version` header; None from a server before versions).
    """

    def __init__(self, message: str, *, status: int, code: str | None = None, field: str | None = None,
                 details: dict[str, Any] | None = None, request_id: str | None = None,
                 headers: httpx.Headers | None = None, body: bytes = b"") -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.field = field
        self.details = details
        self.request_id = request_id
        self.headers = headers if headers is not None else httpx.Headers()
        self.body = body

    @property
    def api_version(self) -> str | None:
        version: str | None = self.headers.get("kassa-version")
        return version

    def __str__(self) -> str:
        where = f" (field {self.field})" if self.field else ""
        request = f" [request {self.request_id}]" if self.request_id else ""
        return f"{self.status} {self.code or 'error'}: {self.message}{where}{request}"

    def __repr__(self) -> str:
        return f"{type(self).__name__}(status={self.status}, code={self.code!r}, message={self.message!r})"


# ---------------------------------------------------------------- one class per HTTP status


class BadRequestError(KassaApiError):
    """400: the request could not be read (malformed JSON, a bad query parameter)."""


class UnauthorizedError(KassaApiError):
    """401: no API key, or one Kassa does not know (revoked, expired, mistyped)."""


class PaymentRequiredError(KassaApiError):
    """402: the payment did not go through (declined, failed, or it needs a second step)."""


class ForbiddenError(KassaApiError):
    """403: the key is valid but may not do this (scope, key kind)."""


class NotFoundError(KassaApiError):
    """404: no such object for this application."""


class MethodNotAllowedError(KassaApiError):
    """405: the path exists but not with this HTTP method."""


class ConflictError(KassaApiError):
    """409: the object's state does not allow this now, or an Idempotency-Key conflict."""


class GoneError(KassaApiError):
    """410: the object existed but its time has passed (an expired invitation or link)."""


class PayloadTooLargeError(KassaApiError):
    """413: the request body is too large."""


class UnsupportedMediaTypeError(KassaApiError):
    """415: the body is not JSON (or CSV where CSV is accepted)."""


class UnprocessableEntityError(KassaApiError):
    """422: the request was read but breaks a rule (validation, an invalid discount, ...)."""


class TooManyRequestsError(KassaApiError):
    """429: a rate limit; the SDK retries after `Retry-After` before raising it."""


class InternalServerError(KassaApiError):
    """500 and any other 5xx without a class of its own."""


class ServiceUnavailableError(InternalServerError):
    """503: Kassa (or its database) is briefly unavailable; retried before it is raised."""


STATUS_CLASSES: dict[int, type[KassaApiError]] = {
    400: BadRequestError,
    401: UnauthorizedError,
    402: PaymentRequiredError,
    403: ForbiddenError,
    404: NotFoundError,
    405: MethodNotAllowedError,
    409: ConflictError,
    410: GoneError,
    413: PayloadTooLargeError,
    415: UnsupportedMediaTypeError,
    422: UnprocessableEntityError,
    429: TooManyRequestsError,
    500: InternalServerError,
    503: ServiceUnavailableError,
}


def status_class(status: int) -> type[KassaApiError]:
    """The class for an HTTP status: its own, else InternalServerError for a 5xx, else KassaApiError."""
    found = STATUS_CLASSES.get(status)
    if found is not None:
        return found
    return InternalServerError if status >= 500 else KassaApiError
