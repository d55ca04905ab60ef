/**
 * The one request loop: headers, an Idempotency-Key made once per POST and reused by every retry,
 * a timeout per attempt, retries with exponential backoff and jitter that honour Retry-After, and
 * typed errors. A body is serialized once to a string and a fresh request is built per attempt
 * (a Request's body can be read only once).
 */
import { API_VERSION, API_VERSIONS, VERSION_HEADER, type ApiVersion } from '../generated/version.js';
import { apiError } from './api-error.js';
import {
  KassaAbortError,
  KassaApiError,
  KassaConnectionError,
  KassaError,
  KassaTimeoutError,
  type ErrorEnvelope,
} from './errors.js';

export type Fetch = (input: string, init: RequestInit) => Promise<Response>;

export interface ClientOptions {
  /** A publishable key (`pk_…`) in a browser; a secret key (`sk_…`) on a server. */
  apiKey: string;
  /** Where Kassa answers, e.g. `https://kassa.example.com` (no trailing `/api/v1`). */
  baseUrl: string;
  /** Retries after the first attempt, for network errors, 408, 409 `idempotency_key_in_progress`, 429 and 5xx. Default 2. */
  maxRetries?: number;
  /** Milliseconds per attempt before it is abandoned (and retried). Default 30 000. */
  timeout?: number;
  /** A `fetch` of your own (a proxy, instrumentation, tests). Default: the global `fetch`. */
  fetch?: Fetch;
  /** Headers sent with every request. */
  headers?: Record<string, string>;
  /**
   * The API version every request asks for (`Kassa-Version`), whatever the application is pinned to.
   * Default: `API_VERSION`, the newest, which this SDK's types describe; name an older one only while
   * you move (answers come in its shapes, the types stay the newest's).
   */
  apiVersion?: ApiVersion;
  /**
   * A secret key in a browser gives every visitor full access to your account, so the client
   * refuses one there. Set this only for an internal tool whose users may hold the key.
   */
  dangerouslyAllowSecretKeyInBrowser?: boolean;
}

export interface RequestOptions {
  /** Overrides the generated Idempotency-Key (POST only). Reuse it to make a retry of your own safe. */
  idempotencyKey?: string;
  maxRetries?: number;
  timeout?: number;
  signal?: AbortSignal;
  headers?: Record<string, string>;
}

export interface HttpRequest extends RequestOptions {
  method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';
  path: string;
  query?: Record<string, string | number | boolean | null | undefined> | undefined;
  body?: unknown;
}

const MAX_RETRY_AFTER_MS = 60_000;

export function isBrowser(): boolean {
  return typeof window !== 'undefined' && typeof (globalThis as { document?: unknown }).document !== 'undefined';
}

export function uuid(): string {
  const c = globalThis.crypto;
  if (typeof c?.randomUUID === 'function') return c.randomUUID();
  // Pages served over plain http (not localhost) have getRandomValues but not randomUUID.
  const b = c.getRandomValues(new Uint8Array(16));
  b[6] = (b[6]! & 0x0f) | 0x40;
  b[8] = (b[8]! & 0x3f) | 0x80;
  const h = Array.from(b, (x) => x.toString(16).padStart(2, '0')).join('');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}

export class HttpClient {
  readonly baseUrl: string;
  readonly maxRetries: number;
  readonly timeout: number;
  readonly keyKind: 'secret' | 'publishable';
  /** The API version every request names in `Kassa-Version`. */
  readonly apiVersion: ApiVersion;
  private readonly apiKey: string;
  private readonly fetchImpl: Fetch;
  private readonly headers: Record<string, string>;

  constructor(options: ClientOptions) {
    const { apiKey, baseUrl } = options;
    if (!apiKey) throw new KassaError('An API key is required: new Kassa({ apiKey: "pk_test_…", baseUrl })');
    if (!baseUrl) throw new KassaError('baseUrl is required: where your Kassa answers, e.g. https://kassa.example.com');
    this.keyKind = apiKey.startsWith('sk_') ? 'secret' : 'publishable';
    if (this.keyKind === 'secret' && isBrowser() && !options.dangerouslyAllowSecretKeyInBrowser) {
      throw new KassaError(
        'A secret key (sk_…) must not be used in a browser: every visitor could read it. Use a publishable ' +
          'key (pk_…) here and keep the secret key on your server (or set dangerouslyAllowSecretKeyInBrowser).',
      );
    }
    const apiVersion = options.apiVersion ?? API_VERSION;
    if (!(API_VERSIONS as readonly string[]).includes(apiVersion)) {
      throw new KassaError(`Unknown API version ${JSON.stringify(apiVersion)}: this SDK knows ${API_VERSIONS.join(', ')}`);
    }
    this.apiVersion = apiVersion;
    this.apiKey = apiKey;
    this.baseUrl = baseUrl.replace(/\/+$/, '');
    this.maxRetries = options.maxRetries ?? 2;
    this.timeout = options.timeout ?? 30_000;
    this.headers = options.headers ?? {};
    const f = options.fetch ?? globalThis.fetch;
    if (typeof f !== 'function') throw new KassaError('No fetch available: pass options.fetch');
    this.fetchImpl = (input, init) => f(input, init); // unbound: some runtimes reject fetch called on another `this`
  }

  async request<T>(req: HttpRequest): Promise<T> {
    const { method, signal } = req;
    const url = this.url(req.path, req.query);
    const body = req.body === undefined ? undefined : JSON.stringify(req.body);
    const headers: Record<string, string> = {
      Accept: 'application/json',
      Authorization: `Bearer ${this.apiKey}`,
      [VERSION_HEADER]: this.apiVersion,
      ...this.headers,
      ...req.headers,
    };
    if (body !== undefined) headers['Content-Type'] = 'application/json';
    // Made once, before the loop: every retry carries the same key, so the server runs it at most once.
    if (method === 'POST') headers['Idempotency-Key'] = req.idempotencyKey ?? uuid();
    const maxRetries = req.maxRetries ?? this.maxRetries;
    const timeout = req.timeout ?? this.timeout;

    for (let attempt = 0; ; attempt++) {
      if (signal?.aborted) throw new KassaAbortError('The request was aborted', { cause: signal.reason });
      const controller = new AbortController();
      const onAbort = () => controller.abort(signal?.reason);
      signal?.addEventListener('abort', onAbort, { once: true });
      let timedOut = false;
      const timer = setTimeout(() => {
        timedOut = true;
        controller.abort();
      }, timeout);
      let response: Response | undefined;
      let failure: KassaError | undefined;
      try {
        response = await this.fetchImpl(url, { method, headers, body, signal: controller.signal });
      } catch (cause) {
        if (signal?.aborted) throw new KassaAbortError('The request was aborted', { cause });
        failure = timedOut
          ? new KassaTimeoutError(`No answer from Kassa within ${timeout} ms (${method} ${req.path})`, { cause })
          : new KassaConnectionError(`Could not reach Kassa (${method} ${req.path}): ${String(cause)}`, { cause });
      } finally {
        clearTimeout(timer);
        signal?.removeEventListener('abort', onAbort);
      }
      let retryAfter: number | undefined;
      if (response) {
        const payload = await readBody(response);
        if (response.ok) return payload as T;
        failure = apiError(response.status, payload as ErrorEnvelope | undefined, response.headers);
        if (!shouldRetry(response.status, (failure as KassaApiError).code)) throw failure;
        retryAfter = retryAfterMs(response.headers);
      }
      if (attempt >= maxRetries) throw failure!;
      await sleep(retryAfter ?? backoffMs(attempt), signal);
    }
  }

  private url(path: string, query: HttpRequest['query']): string {
    let url = this.baseUrl + path;
    if (query) {
      const params = new URLSearchParams();
      for (const [k, v] of Object.entries(query)) if (v !== undefined && v !== null) params.set(k, String(v));
      const qs = params.toString();
      if (qs) url += '?' + qs;
    }
    return url;
  }
}

async function readBody(response: Response): Promise<unknown> {
  const text = await response.text();
  if (!text) return undefined;
  if (response.ok && !/json/i.test(response.headers.get('content-type') ?? '')) return text; // a CSV export
  try {
    return JSON.parse(text);
  } catch {
    return undefined; // a proxy's HTML error page: the status still says what happened
  }
}

/** Retry what did not run or may not have: never `idempotency_key_reused`, never a 4xx about the request itself. */
export function shouldRetry(status: number, code: string): boolean {
  if (status === 409) return code === 'idempotency_key_in_progress';
  return status === 408 || status === 429 || status >= 500;
}

/** `retry-after-ms`, or `Retry-After` in seconds or as an HTTP date; ignored beyond 60 s. */
export function retryAfterMs(headers: Headers): number | undefined {
  const ms = Number.parseFloat(headers.get('retry-after-ms') ?? '');
  let wait = Number.isNaN(ms) ? undefined : ms;
  const value = headers.get('retry-after');
  if (wait === undefined && value) {
    const seconds = Number.parseFloat(value);
    wait = Number.isNaN(seconds) ? Date.parse(value) - Date.now() : seconds * 1000;
  }
  return wait !== undefined && wait >= 0 && wait <= MAX_RETRY_AFTER_MS ? wait : undefined;
}

/** 0.5 s, 1 s, 2 s … capped at 8 s, less up to 25 % jitter so clients that failed together spread out. */
export function backoffMs(attempt: number): number {
  const base = Math.min(500 * 2 ** attempt, 8000);
  return base * (1 - Math.random() * 0.25);
}

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(resolve, ms);
    signal?.addEventListener(
      'abort',
      () => {
        clearTimeout(timer);
        reject(new KassaAbortError('The request was aborted', { cause: signal.reason }));
      },
      { once: true },
    );
  });
}
