import { useCallback, useEffect, useState } from 'react';
import { api, type Page, type Query } from './api';

/** One GET, again whenever `key` changes. */
export function useGet<T>(path: string | null, query?: Query): { data: T | null; error: unknown; reload: () => void } {
  const [state, setState] = useState<{ data: T | null; error: unknown }>({ data: null, error: null });
  const [tick, setTick] = useState(0);
  const key = JSON.stringify([path, query, tick]);
  useEffect(() => {
    if (!path) return;
    let live = true;
    setState((s) => ({ data: s.data, error: null }));
    api<T>('GET', path, undefined, query).then((data) => live && setState({ data, error: null }),
                                                (error) => live && setState({ data: null, error }));
    return () => { live = false; };
  }, [key]);  // eslint-disable-line react-hooks/exhaustive-deps
  return { ...state, reload: useCallback(() => setTick((n) => n + 1), []) };
}

/** A cursor-paged list: the cursors seen so far make "previous" possible without offsets. */
export function usePaged<T>(path: string, query: Query) {
  const [cursors, setCursors] = useState<Array<string | null>>([null]);
  const queryKey = JSON.stringify(query);
  useEffect(() => { setCursors([null]); }, [queryKey, path]);
  const cursor = cursors[cursors.length - 1] ?? null;
  const result = useGet<Page<T>>(path, { ...query, cursor });
  return {
    ...result,
    hasPrevious: cursors.length > 1,
    next: result.data?.nextCursor ?? null,
    onNext: () => { const next = result.data?.nextCursor; if (next) setCursors((c) => [...c, next]); },
    onPrevious: () => setCursors((c) => (c.length > 1 ? c.slice(0, -1) : c)),
  };
}
