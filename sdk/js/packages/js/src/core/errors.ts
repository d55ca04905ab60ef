/**
 * Typed errors. Every answer that is not a success becomes a `KassaApiError` subclass chosen by
 * the envelope's `error.code` first, then by the HTTP status; transport failures are
 * `KassaConnectionError` (and its `KassaTimeoutError`), an abort by the caller `KassaAbortError`.
 */

/** Base class of every error this SDK throws. */
export class KassaError extends Error {
  override name = 'KassaError';
}

export interface ErrorEnvelope {
  error?: { code?: string; message?: string; field?: string | null; details?: Record<string, unknown> | null };
  requestId?: string | null;
}

/** Kassa answered with an error envelope `{error: {code, message, field?, details?}, requestId}`. */
export class KassaApiError extends KassaError {
  override name = 'KassaApiError';
  /** The envelope's machine-readable code, e.g. `cart_not_open`. */
  readonly code: string;
  readonly status: number;
  /** The request field at fault, in camelCase (`lineItems[0].quantity`), when there is one. */
  readonly field: string | null;
  readonly details: Record<string, unknown> | null;
  /** Quote it when you contact support: it finds the request in Kassa's logs. */
  readonly requestId: string | null;
  readonly headers: Headers;

  constructor(status: number, body: ErrorEnvelope | undefined, headers: Headers) {
    const error = body?.error ?? {};
    super(error.message ?? `Kassa answered HTTP ${status}`);
    this.status = status;
    this.code = error.code ?? `http_${status}`;
    this.field = error.field ?? null;
    this.details = error.details ?? null;
    this.requestId = body?.requestId ?? headers.get('x-request-id');
    this.headers = headers;
  }
}

export class BadRequestError extends KassaApiError { override name = 'BadRequestError'; }
/** 422 `validation_error` (and 400 `bad_request`, `malformed_json`): `field` names the culprit. */
export class ValidationError extends BadRequestError { override name = 'ValidationError'; }
export class AuthenticationError extends KassaApiError { override name = 'AuthenticationError'; }
export class PermissionDeniedError extends KassaApiError { override name = 'PermissionDeniedError'; }
/** 403 `origin_not_allowed`: add the page's origin to `allowedOrigins` (PUT /api/v1/embed-config). */
export class OriginNotAllowedError extends PermissionDeniedError { override name = 'OriginNotAllowedError'; }
export class NotFoundError extends KassaApiError { override name = 'NotFoundError'; }
/** 404 `cart_not_found`: the cart does not exist, or this key and cart secret may not see it. */
export class CartNotFoundError extends NotFoundError { override name = 'CartNotFoundError'; }
export class CheckoutSessionNotFoundError extends NotFoundError { override name = 'CheckoutSessionNotFoundError'; }
export class ConflictError extends KassaApiError { override name = 'ConflictError'; }
/** 409 `cart_not_open`: the cart is in checkout or converted; build a new one (`@kassa/react` does). */
export class CartNotOpenError extends ConflictError { override name = 'CartNotOpenError'; }
/** 409 `idempotency_key_reused` (another request used this key), `idempotency_key_in_progress`, or
 * `idempotency_key_executed` (the first request ran but its answer was lost: read the resource). */
export class IdempotencyError extends ConflictError { override name = 'IdempotencyError'; }
/** 422 `discount_invalid`: `details.reason` says why the code does not apply. */
export class DiscountInvalidError extends KassaApiError { override name = 'DiscountInvalidError'; }
/** 422 `address_required`: `field` is `shippingAddress` or `billingAddress`. */
export class AddressRequiredError extends KassaApiError { override name = 'AddressRequiredError'; }
/** 402 `payment_declined`, `payment_failed`, `payment_action_required`. */
export class PaymentError extends KassaApiError { override name = 'PaymentError'; }
export class UnprocessableEntityError extends KassaApiError { override name = 'UnprocessableEntityError'; }
export class RateLimitError extends KassaApiError { override name = 'RateLimitError'; }
export class InternalServerError extends KassaApiError { override name = 'InternalServerError'; }

/** The request never got an answer (network down, connection reset, DNS). */
export class KassaConnectionError extends KassaError {
  override name = 'KassaConnectionError';
  constructor(message = 'Connection error', options?: { cause?: unknown }) {
    super(message, options);
  }
}
export class KassaTimeoutError extends KassaConnectionError { override name = 'KassaTimeoutError'; }
/** The caller's `signal` aborted the request. */
export class KassaAbortError extends KassaError { override name = 'KassaAbortError'; }

type ApiErrorClass = new (status: number, body: ErrorEnvelope | undefined, headers: Headers) => KassaApiError;

const BY_CODE: Record<string, ApiErrorClass> = {
  validation_error: ValidationError,
  bad_request: ValidationError,
  malformed_json: ValidationError,
  unauthorized: AuthenticationError,
  forbidden: PermissionDeniedError,
  origin_not_allowed: OriginNotAllowedError,
  cart_not_found: CartNotFoundError,
  checkout_session_not_found: CheckoutSessionNotFoundError,
  cart_not_open: CartNotOpenError,
  idempotency_key_reused: IdempotencyError,
  idempotency_key_in_progress: IdempotencyError,
  idempotency_key_executed: IdempotencyError,
  discount_invalid: DiscountInvalidError,
  address_required: AddressRequiredError,
  payment_declined: PaymentError,
  payment_failed: PaymentError,
  payment_action_required: PaymentError,
  rate_limited: RateLimitError,
};

const BY_STATUS: Record<number, ApiErrorClass> = {
  400: BadRequestError, 401: AuthenticationError, 403: PermissionDeniedError, 404: NotFoundError,
  409: ConflictError, 422: UnprocessableEntityError, 429: RateLimitError,
};

/** The error class for an answer: by code, else by status (5xx: InternalServerError). */
export function apiError(status: number, body: ErrorEnvelope | undefined, headers: Headers): KassaApiError {
  const code = body?.error?.code;
  const cls = (code && BY_CODE[code]) || BY_STATUS[status] || (status >= 500 ? InternalServerError : KassaApiError);
  return new cls(status, body, headers);
}
