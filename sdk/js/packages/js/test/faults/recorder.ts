// A `fetch` over the real one that records every attempt: its Idempotency-Key, and Kassa's answer.
export interface Attempt {
  at: number;
  method: string;
  idempotencyKey: string | null;
  status: number;
  code: string | null;
  retryAfterMs: number | null;
  replayed: boolean;
}

export function recordingFetch() {
  const attempts: Attempt[] = [];
  const fetchImpl = async (url: string, init: RequestInit): Promise<Response> => {
    const at = Date.now();
    const response = await fetch(url, init);
    const body = (await response.clone().json().catch(() => null)) as { error?: { code?: string } } | null;
    const ms = response.headers.get('retry-after-ms');
    attempts.push({
      at, method: init.method ?? 'GET', idempotencyKey: new Headers(init.headers).get('idempotency-key'),
      status: response.status, code: body?.error?.code ?? null, retryAfterMs: ms === null ? null : Number(ms),
      replayed: response.headers.get('idempotent-replayed') === 'true',
    });
    return response;
  };
  return { fetch: fetchImpl, attempts };
}
