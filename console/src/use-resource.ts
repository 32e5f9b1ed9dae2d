/**
 * Loads something from the API, reloads on demand, and optionally polls: the
 * console keeps statuses fresh by asking again (every 2 s while a number is
 * purchasing, slower otherwise), and not at all while the tab is hidden.
 */
import { useCallback, useEffect, useRef, useState } from 'react';

export interface Resource<T> {
  data: T | undefined;
  error: unknown;
  loading: boolean;
  /** Loads again now; resolves when done. */
  reload: () => Promise<void>;
}

export interface ResourceOptions<T> {
  /** Milliseconds until the next poll, given the latest data; null = no polling. */
  pollMs?: (data: T | undefined) => number | null;
}

export function useResource<T>(load: (signal: AbortSignal) => Promise<T>, deps: readonly unknown[], o: ResourceOptions<T> = {}): Resource<T> {
  const [data, setData] = useState<T | undefined>(undefined);
  const [error, setError] = useState<unknown>(null);
  const [loading, setLoading] = useState(true);
  // New deps (another team, another page): drop the old data during this render, so
  // nothing ever shows one page's rows under another page's heading.
  const [loadedFor, setLoadedFor] = useState(deps);
  if (loadedFor.length !== deps.length || loadedFor.some((d, i) => !Object.is(d, deps[i]))) {
    setLoadedFor(deps);
    setData(undefined);
    setError(null);
    setLoading(true);
  }
  const loadRef = useRef(load);
  loadRef.current = load;
  const pollRef = useRef(o.pollMs);
  pollRef.current = o.pollMs;
  const dataRef = useRef<T | undefined>(undefined);
  const generation = useRef(0);
  const timer = useRef<number | undefined>(undefined);
  const controller = useRef<AbortController | null>(null);

  const run = useCallback(async (): Promise<void> => {
    const gen = ++generation.current;
    window.clearTimeout(timer.current);
    controller.current?.abort();
    const c = new AbortController();
    controller.current = c;
    setLoading(true);
    try {
      const latest = await loadRef.current(c.signal);
      if (gen !== generation.current) return;
      dataRef.current = latest;
      setData(latest);
      setError(null);
    } catch (e) {
      if (gen !== generation.current || (e instanceof DOMException && e.name === 'AbortError')) return;
      setError(e);
    } finally {
      if (gen === generation.current) setLoading(false);
    }
    // Polling goes on after a failed poll too, so the page recovers by itself once the gateway is back.
    const next = pollRef.current?.(dataRef.current);
    if (next != null && gen === generation.current) {
      timer.current = window.setTimeout(() => {
        if (document.visibilityState === 'visible') void run();
      }, next);
    }
  }, []);

  useEffect(() => {
    dataRef.current = undefined;
    void run();
    const onVisible = () => {
      if (document.visibilityState === 'visible' && pollRef.current) void run();
    };
    document.addEventListener('visibilitychange', onVisible);
    return () => {
      generation.current++;
      window.clearTimeout(timer.current);
      controller.current?.abort();
      document.removeEventListener('visibilitychange', onVisible);
    };
  }, deps);

  return { data, error, loading, reload: run };
}
