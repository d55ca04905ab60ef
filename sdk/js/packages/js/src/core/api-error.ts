/** Picks the error class of an answer. Apart from errors.ts so that the generated per-code classes,
 * which extend the status classes, load after them (no import cycle). */
import { ERROR_CLASSES } from '../generated/errors.js';
import { InternalServerError, KassaApiError, STATUS_CLASSES, type ErrorEnvelope } from './errors.js';

/** The error for an answer: the class of its `error.code`, else of its status (any 5xx: InternalServerError). */
export function apiError(status: number, body: ErrorEnvelope | undefined, headers: Headers): KassaApiError {
  const code = body?.error?.code;
  const cls = (code && Object.hasOwn(ERROR_CLASSES, code) && ERROR_CLASSES[code]) || STATUS_CLASSES[status]
    || (status >= 500 ? InternalServerError : KassaApiError);
  return new cls(status, body, headers);
}
