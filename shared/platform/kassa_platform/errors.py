"""Every error leaves a service in the shared envelope: domain errors, framework validation
errors, unknown routes and crashes alike. No stack trace, SQL or secret reaches a response."""

from __future__ import annotations

import logging
import re
from typing import Any

import asyncpg
import msgspec
from kassa_contract.errors import RENAMED_FIELDS, ErrorBody, ErrorEnvelope, KassaError
from litestar import Request, Response
from litestar.exceptions import HTTPException, NotFoundException, SerializationException, ValidationException
from litestar.exceptions.http_exceptions import MethodNotAllowedException
from sqlalchemy import exc as sa_exc

from .direct import CONNECTION_LOST
from .ids import new_id
from .logs import request_id_var

log = logging.getLogger("kassa.errors")

_UNKNOWN_FIELD = re.compile(r"Object contains unknown field `([^`]+)`")
_MISSING_FIELD = re.compile(r"Object missing required field `([^`]+)`")
_FIELD_PREFIX = re.compile(r"^([A-Za-z][\w.\[\]]*): (.+)$")
_AT_PATH = re.compile(r" - at `\$\.?([^`]*)`$")


def error_response(body: ErrorBody, status: int, headers: dict[str, str] | None = None) -> Response[bytes]:
    request_id = request_id_var.get() or new_id("req")
    envelope = ErrorEnvelope(error=body, request_id=request_id)
    return Response(
        content=msgspec.json.encode(envelope),
        status_code=status,
        media_type="application/json",
        headers={**(headers or {}), "x-request-id": request_id},
    )


def validation_body(message: str, key: str | None) -> ErrorBody:
    """Turn a msgspec/Litestar validation message into a field-naming envelope body."""
    if message in ("'data'", "'body'"):  # Litestar's word for a request without the body it needs
        return ErrorBody(code="validation_error", message="This call needs a JSON body")
    field = key if key and key not in ("data", "body") else None  # the body itself is the root, not a field
    at = _AT_PATH.search(message)
    if at:
        message = message[: at.start()]
        field = at.group(1) or field
    own = _FIELD_PREFIX.match(message)  # `ValueError("fieldName: ...")` from a struct's own checks
    if own:
        field = f"{field}.{own.group(1)}" if field else own.group(1)
        return ErrorBody(code="validation_error", message=own.group(2), field=field)
    unknown = _UNKNOWN_FIELD.search(message)
    if unknown:
        name = unknown.group(1)
        path = f"{field}.{name}" if field else name
        replacement = RENAMED_FIELDS.get(name)
        if replacement:
            return ErrorBody(
                code="validation_error",
                message=f"`{name}` is not accepted: use `{replacement}`",
                field=path,
                details={"replacement": replacement},
            )
        return ErrorBody(code="validation_error", message=f"Unknown field `{name}`", field=path)
    missing = _MISSING_FIELD.search(message)
    if missing:
        name = missing.group(1)
        path = f"{field}.{name}" if field else name
        return ErrorBody(code="validation_error", message=f"`{name}` is required", field=path)
    return ErrorBody(code="validation_error", message=message, field=field)


def handle_kassa_error(_: Request[Any, Any, Any], exc: KassaError) -> Response[bytes]:
    return error_response(exc.body(), exc.status, exc.headers)


def _wire_name(request: Request[Any, Any, Any], key: Any) -> Any:
    """Litestar names a bad query or header parameter by its Python name: report the wire name."""
    handler = request.scope.get("route_handler")
    param = handler.parsed_fn_signature.parameters.get(key) if handler is not None and isinstance(key, str) else None
    name = getattr(getattr(param, "kwarg_definition", None), "name", None)
    return name or key


def handle_validation(request: Request[Any, Any, Any], exc: ValidationException) -> Response[bytes]:
    extra = exc.extra if isinstance(exc.extra, list) else []
    if extra and isinstance(extra[0], dict):
        first = extra[0]
        body = validation_body(str(first.get("message", "Invalid value")), _wire_name(request, first.get("key")))
        if len(extra) > 1:
            body.details = {"errors": [{"field": _wire_name(request, e.get("key")), "message": e.get("message")}
                                       for e in extra]}
        status = 422 if first.get("source") == "body" else 400
        if first.get("source") != "body":
            body.code = "validation_error"
        return error_response(body, status)
    return error_response(ErrorBody(code="validation_error", message=str(exc.detail)), 422)


def handle_http(request: Request[Any, Any, Any], exc: HTTPException) -> Response[bytes]:
    status = exc.status_code
    if isinstance(exc, NotFoundException) and not request.scope.get("route_handler"):
        body = ErrorBody(code="route_not_found", message=f"No route {request.method} {request.url.path}")
    elif isinstance(exc, NotFoundException):
        body = ErrorBody(code="not_found", message=str(exc.detail))
    elif isinstance(exc, MethodNotAllowedException):
        body = ErrorBody(code="method_not_allowed", message=f"{request.method} is not allowed on {request.url.path}")
    elif status == 400 and (isinstance(exc.__cause__, SerializationException) or "JSON" in str(exc.detail)):
        reason = _AT_PATH.sub("", str(exc.detail)).removeprefix("JSON is malformed: ")  # the decoder's words
        body = ErrorBody(code="malformed_json", message=f"The request body is not valid JSON: {reason}")
    elif status == 401:
        body = ErrorBody(code="unauthorized", message=str(exc.detail))
    elif status == 403:
        body = ErrorBody(code="forbidden", message=str(exc.detail))
    elif status == 413:
        body = ErrorBody(code="request_too_large", message="The request body is too large")
    elif status == 415:
        body = ErrorBody(code="unsupported_media_type", message=str(exc.detail))
    elif status >= 500:
        log.error("http error %s: %s", status, exc.detail)
        body = ErrorBody(code="internal_error", message="Internal error")
    else:
        body = ErrorBody(code="bad_request", message=str(exc.detail))
    return error_response(body, status, dict(exc.headers or {}))


def database_unavailable(exc: BaseException) -> bool:
    """Whether `exc` (or what it wraps) says the database cannot be reached right now: refused or
    lost connections, a server shutting down or starting, no connection slot. SQLAlchemy wraps the
    driver's error; the hot path (kassa_platform.direct) raises asyncpg's own."""
    seen: BaseException | None = exc
    for _ in range(5):
        if seen is None:
            return False
        if isinstance(seen, (OSError, *CONNECTION_LOST, asyncpg.TooManyConnectionsError, sa_exc.TimeoutError)):
            return True
        if isinstance(seen, asyncpg.InterfaceError) and "closed" in str(seen):
            return True  # "connection is closed": the server went away under a pooled connection
        if isinstance(seen, sa_exc.DBAPIError) and seen.connection_invalidated:
            return True
        seen = getattr(seen, "orig", None) or seen.__cause__
    return False


def handle_crash(request: Request[Any, Any, Any], exc: Exception) -> Response[bytes]:
    if database_unavailable(exc):
        # Not the caller's fault and not a bug: say so, and when to try again (the pools replace
        # lost connections on their next use).
        log.warning("database unavailable on %s %s: %s", request.method, request.url.path, type(exc).__name__)
        return error_response(ErrorBody(code="service_unavailable", message="The database is unavailable; retry shortly"),
                              503, {"retry-after": "1"})
    log.exception("unhandled error on %s %s", request.method, request.url.path)
    return error_response(ErrorBody(code="internal_error", message="Internal error"), 500)


EXCEPTION_HANDLERS = {
    KassaError: handle_kassa_error,
    ValidationException: handle_validation,
    HTTPException: handle_http,
    Exception: handle_crash,
}
