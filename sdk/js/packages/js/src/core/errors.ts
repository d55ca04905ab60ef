/**
 * Typed errors, in the same tree as the Python SDK's:
 *
 *     KassaError
 *     ├── KassaConnectionError        no answer (network down, reset, DNS)
 *     │   └── KassaTimeoutError       ... because the attempt timed out
 *     ├── KassaAbortError             the caller's `signal` aborted
 *     └── KassaApiError               Kassa answered with its error envelope
 *         └── one class per status    NotFoundError, ConflictError, … (below)
 *             └── one class per code  CartNotFoundError, CartNotOpenError, … (generated/errors.ts)
 *
 * An answer becomes the class of its `error.code` first, so `instanceof CartNotOpenError` is
 * exact; a code this SDK does not know yet (a newer server) falls back to its status's class.
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
  /** The API version Kassa answered in (its `Kassa-Version` header); null from a server before versions. */
  readonly apiVersion: string | null;
  readonly headers: Headers;

  constructor(status: number, body: ErrorEnvelope | undefined, headers: Headers) {
    const error = body?.error ?? {};
    super(error.message ?? `Kassa answered HTTP ${status}`);
    this.status = status;
    this.code = error.code ?? `http_${status}`;
    this.field = error.field ?? null;
    this.details = error.details ?? null;
    this.requestId = body?.requestId ?? headers.get('x-request-id');
    this.apiVersion = headers.get('kassa-version');
    this.headers = headers;
  }
}

export type ApiErrorClass = new (status: number, body: ErrorEnvelope | undefined, headers: Headers) => KassaApiError;

/** 400: the request could not be read (malformed JSON, a bad query parameter). */
export class BadRequestError extends KassaApiError { override name = 'BadRequestError'; }
/** 401: no API key, or one Kassa does not know (revoked, expired, mistyped). */
export class UnauthorizedError extends KassaApiError { override name = 'UnauthorizedError'; }
/** 402: the payment did not go through (declined, failed, or it needs a second step). */
export class PaymentRequiredError extends KassaApiError { override name = 'PaymentRequiredError'; }
/** 403: the key is valid but may not do this (scope, key kind, a browser origin not allowed). */
export class ForbiddenError extends KassaApiError { override name = 'ForbiddenError'; }
/** 404: no such object for this application (or for this key and secret). */
export class NotFoundError extends KassaApiError { override name = 'NotFoundError'; }
/** 405: the path exists, but not with this method. */
export class MethodNotAllowedError extends KassaApiError { override name = 'MethodNotAllowedError'; }
/** 409: the object's state does not allow this now, or an Idempotency-Key conflict. */
export class ConflictError extends KassaApiError { override name = 'ConflictError'; }
/** 410: the object existed but its time has passed (an expired invitation or link). */
export class GoneError extends KassaApiError { override name = 'GoneError'; }
/** 413: the request body is too large. */
export class PayloadTooLargeError extends KassaApiError { override name = 'PayloadTooLargeError'; }
/** 415: the body is not JSON. */
export class UnsupportedMediaTypeError extends KassaApiError { override name = 'UnsupportedMediaTypeError'; }
/** 422: the request was read but breaks a rule; `field` names the culprit. */
export class UnprocessableEntityError extends KassaApiError { override name = 'UnprocessableEntityError'; }
/** 429: a rate limit; the client retries after `Retry-After` before throwing it. */
export class TooManyRequestsError extends KassaApiError { override name = 'TooManyRequestsError'; }
/** 500 and any other 5xx without a class of its own. */
export class InternalServerError extends KassaApiError { override name = 'InternalServerError'; }
/** 503: Kassa (or its database) is briefly unavailable; retried before it is thrown. */
export class ServiceUnavailableError extends InternalServerError { override name = 'ServiceUnavailableError'; }

export const STATUS_CLASSES: Record<number, ApiErrorClass> = {
  400: BadRequestError, 401: UnauthorizedError, 402: PaymentRequiredError, 403: ForbiddenError, 404: NotFoundError,
  405: MethodNotAllowedError, 409: ConflictError, 410: GoneError, 413: PayloadTooLargeError, 415: UnsupportedMediaTypeError,
  422: UnprocessableEntityError, 429: TooManyRequestsError, 500: InternalServerError, 503: ServiceUnavailableError,
};

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
