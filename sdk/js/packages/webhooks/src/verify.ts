/**
 * Standard Webhooks verification with WebCrypto, for Node 18+, browsers' workers and edge runtimes:
 * HMAC-SHA256 over `${webhook-id}.${webhook-timestamp}.${body}` keyed with the base64 of the
 * `whsec_` secret; the `webhook-signature` header lists `v1,<base64>` signatures (several while a
 * secret rotates) and one match is enough; the timestamp must be within the tolerance both ways.
 * `crypto.subtle.verify` compares in constant time.
 */
import type { EventDataMap } from './generated/events.js';

export type KassaEventType = keyof EventDataMap;

/** One delivered event: the envelope with its typed `data`. */
export interface KassaEventOf<T extends KassaEventType> {
  id: string;
  type: T;
  version: string;
  /**
   * The API version `data` is rendered in: the webhook endpoint's own version (set when the endpoint
   * is created or updated, by default the application's pin at the time), not the version a client
   * sends with its requests. These types are `API_VERSION`'s shapes: give the endpoint that version.
   * Absent on an event from a server before API versions (the first version's shape).
   */
  apiVersion?: string;
  createdAt: string;
  data: EventDataMap[T];
}

/** Any event Kassa emits: narrow it with `switch (event.type)`. */
export type KassaEvent = { [T in KassaEventType]: KassaEventOf<T> }[KassaEventType];

export type WebhookVerificationReason =
  | 'invalid_body' | 'missing_headers' | 'invalid_timestamp' | 'timestamp_too_old' | 'timestamp_too_new'
  | 'invalid_secret' | 'no_matching_signature' | 'invalid_payload';

/** The request is not a genuine, fresh delivery from Kassa: answer it 400 and do not act on it. */
export class WebhookVerificationError extends Error {
  override name = 'WebhookVerificationError';
  constructor(readonly reason: WebhookVerificationReason, message: string) {
    super(message);
  }
}

/** The raw request body, exactly as received: `await request.text()`, or the Buffer `express.raw()` gives. */
export type RawBody = string | Uint8Array | ArrayBuffer;
export type WebhookHeaders = Headers | Record<string, string | string[] | undefined>;

export interface VerifyOptions {
  /** How far the timestamp may be from now, either way, in seconds. Default 300. */
  toleranceSeconds?: number;
  /** The current time in milliseconds (tests). Default `Date.now()`. */
  now?: number;
}

const encoder = new TextEncoder();

function header(headers: WebhookHeaders, name: string): string | undefined {
  if (typeof (headers as Headers).get === 'function') return (headers as Headers).get(name) ?? undefined;
  for (const [key, value] of Object.entries(headers)) {
    if (key.toLowerCase() === name) return Array.isArray(value) ? value.join(' ') : value;
  }
  return undefined;
}

function base64(value: string): Uint8Array | undefined {
  try {
    return Uint8Array.from(atob(value), (c) => c.charCodeAt(0));
  } catch {
    return undefined;
  }
}

function bytesOf(body: RawBody): Uint8Array {
  if (typeof body === 'string') return encoder.encode(body);
  return body instanceof Uint8Array ? body : new Uint8Array(body);
}

/**
 * Verifies a delivery and returns its typed event, or throws `WebhookVerificationError`.
 * `secret` is the endpoint's `whsec_…` secret; pass several to accept any of them (your own rotation).
 */
export async function verifyWebhook(rawBody: RawBody, headers: WebhookHeaders, secret: string | readonly string[],
                                    options: VerifyOptions = {}): Promise<KassaEvent> {
  if (typeof rawBody !== 'string' && !(rawBody instanceof Uint8Array) && !(rawBody instanceof ArrayBuffer)) {
    throw new WebhookVerificationError('invalid_body', 'Pass the raw request body (a string, Uint8Array or ' +
      'ArrayBuffer, e.g. `await request.text()`), not parsed JSON: re-serialized JSON never matches the signature');
  }
  const id = header(headers, 'webhook-id');
  const timestamp = header(headers, 'webhook-timestamp');
  const signatures = header(headers, 'webhook-signature');
  if (!id || !timestamp || !signatures) {
    throw new WebhookVerificationError('missing_headers', 'webhook-id, webhook-timestamp and webhook-signature are required');
  }
  if (!/^\d{1,12}$/.test(timestamp)) {
    throw new WebhookVerificationError('invalid_timestamp', `webhook-timestamp is not Unix seconds: ${timestamp}`);
  }
  const tolerance = options.toleranceSeconds ?? 300;
  const now = Math.floor((options.now ?? Date.now()) / 1000);
  const sent = Number(timestamp);
  if (now - sent > tolerance) throw new WebhookVerificationError('timestamp_too_old', 'The delivery is too old (a replay?)');
  if (sent - now > tolerance) throw new WebhookVerificationError('timestamp_too_new', 'The delivery is from the future: check the clock');

  const keys: Uint8Array[] = [];
  for (const s of typeof secret === 'string' ? [secret] : secret) {
    const key = base64(s.startsWith('whsec_') ? s.slice(6) : s);
    if (!key || key.length === 0) throw new WebhookVerificationError('invalid_secret', 'The secret is not a whsec_… secret');
    keys.push(key);
  }
  if (keys.length === 0) throw new WebhookVerificationError('invalid_secret', 'No secret given');
  const body = bytesOf(rawBody);
  const prefix = encoder.encode(`${id}.${timestamp}.`);
  const signed = new Uint8Array(prefix.length + body.length);
  signed.set(prefix);
  signed.set(body, prefix.length);
  const candidates = signatures.split(' ').flatMap((entry) => {
    const [version, value] = entry.split(',', 2);
    const decoded = version === 'v1' && value ? base64(value) : undefined;
    return decoded ? [decoded] : [];
  });
  let matched = false;
  for (const raw of keys) {
    const key = await crypto.subtle.importKey('raw', raw as BufferSource, { name: 'HMAC', hash: 'SHA-256' }, false,
                                              ['verify']);
    for (const candidate of candidates) {
      if (await crypto.subtle.verify('HMAC', key, candidate as BufferSource, signed as BufferSource)) matched = true;
    }
  }
  if (!matched) throw new WebhookVerificationError('no_matching_signature', 'No signature matches: wrong secret, or the body was changed (parsed and re-serialized?)');
  let event: unknown;
  try {
    event = JSON.parse(typeof rawBody === 'string' ? rawBody : new TextDecoder().decode(body));
  } catch {
    throw new WebhookVerificationError('invalid_payload', 'The body is not JSON');
  }
  const e = event as Partial<KassaEvent> | null;
  if (!e || typeof e.id !== 'string' || typeof e.type !== 'string' || typeof e.data !== 'object' || e.data === null) {
    throw new WebhookVerificationError('invalid_payload', 'The body is not a Kassa event envelope');
  }
  return event as KassaEvent;
}

/** Narrows an event to one type: `if (isEvent(event, 'cart.abandoned')) event.data.recoveryUrl`. */
export function isEvent<T extends KassaEventType>(event: { type: string }, type: T): event is KassaEventOf<T> {
  return event.type === type;
}
