// The dashboard's one way to Kassa's API: the team session's cookie (same origin), the chosen
// application in `Kassa-Application`, the CSRF token on every call that changes something, a fresh
// `Idempotency-Key` per POST. Errors arrive in the shared envelope and become ApiError.

export class ApiError extends Error {
  constructor(readonly status: number, readonly code: string, message: string, readonly field?: string,
              readonly details?: Record<string, unknown>) {
    super(message);
  }
}

export interface Page<T> { data: T[]; nextCursor: string | null }

let application: string | null = null;
let csrf: string | null = null;
let onSignedOut: (() => void) | null = null;

export function useApplication(id: string | null): void { application = id; }
export function useCsrf(token: string | null): void { csrf = token; }
export function whenSignedOut(handler: () => void): void { onSignedOut = handler; }

export type Query = Record<string, string | number | null | undefined>;

export function withQuery(path: string, query?: Query): string {
  const params = new URLSearchParams();
  for (const [k, v] of Object.entries(query ?? {})) if (v !== null && v !== undefined && v !== '') params.set(k, String(v));
  const text = params.toString();
  return text ? `${path}?${text}` : path;
}

export async function api<T>(method: string, path: string, body?: unknown, query?: Query): Promise<T> {
  const headers: Record<string, string> = { Accept: 'application/json' };
  if (application) headers['Kassa-Application'] = application;
  if (method !== 'GET' && method !== 'HEAD') {
    if (csrf) headers['X-CSRF-Token'] = csrf;
    if (method === 'POST') headers['Idempotency-Key'] = crypto.randomUUID();
  }
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  let response: Response;
  try {
    response = await fetch(withQuery(path, query), {
      method, headers, credentials: 'same-origin', body: body === undefined ? null : JSON.stringify(body),
    });
  } catch {
    throw new ApiError(0, 'network_error', 'Kassa could not be reached');
  }
  const text = await response.text();
  const json = text ? safeParse(text) : null;
  if (!response.ok) {
    const error = (json as { error?: { code?: string; message?: string; field?: string; details?: Record<string, unknown> } } | null)?.error;
    if (response.status === 401 && onSignedOut && !path.startsWith('/api/v1/auth/')) onSignedOut();
    throw new ApiError(response.status, error?.code ?? 'http_' + response.status, error?.message ?? response.statusText,
                       error?.field, error?.details);
  }
  return json as T;
}

function safeParse(text: string): unknown {
  try { return JSON.parse(text); } catch { return null; }
}
