/**
 * A bounded load generator over real HTTP: a fixed number of workers, each sending one request
 * at a time, stopping at `maxRequests`, after `maxMs`, or when `stop()` says so. Every request
 * has its own deadline, so a hang is recorded as such (status 0) instead of hanging the test.
 */

/** One request, as the client saw it. */
export interface Shot {
  /** `performance.now()` when it was sent. */
  at: number;
  /** Its latency, ms (send → body read). */
  ms: number;
  /** The HTTP status; 0 when it failed or passed its deadline (see `error`). */
  status: number;
  /** The response's `x-decision` header (see `apps.ts`). */
  decision: string | null;
  /** The key sent in `x-key`. */
  key: string;
  /** The response's `server-timing` header. */
  serverTiming: string | null;
  error?: string;
}

/** Sends one GET with `x-key: key`; never rejects. */
export async function shoot(url: string, key: string, timeoutMs = 10_000): Promise<Shot> {
  const at = performance.now();
  try {
    const res = await fetch(url, {
      headers: { 'x-key': key },
      signal: AbortSignal.timeout(timeoutMs),
    });
    await res.arrayBuffer();
    return {
      at,
      ms: performance.now() - at,
      status: res.status,
      decision: res.headers.get('x-decision'),
      serverTiming: res.headers.get('server-timing'),
      key,
    };
  } catch (error) {
    return {
      at,
      ms: performance.now() - at,
      status: 0,
      decision: null,
      serverTiming: null,
      key,
      error: String(error),
    };
  }
}

export interface LoadOptions {
  url: string;
  /** Workers, each with one request in flight. */
  concurrency: number;
  /** Stop after this many requests in all. */
  maxRequests: number;
  /** Stop starting requests after this many ms. */
  maxMs: number;
  /** The key of request `i`. */
  key: (i: number) => string;
  /** A pause between one worker's requests, ms (keeps the rate civil on a shared machine). */
  pauseMs?: number;
  /** Checked before each request: `true` stops the load. */
  stop?: () => boolean;
  /** Per-request deadline, ms. Default 10,000. */
  timeoutMs?: number;
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** Runs the load; resolves with every request it sent, in the order they were sent. */
export async function runLoad(options: LoadOptions): Promise<Shot[]> {
  const shots: Shot[] = [];
  const end = performance.now() + options.maxMs;
  let next = 0;
  const worker = async (): Promise<void> => {
    for (;;) {
      if (next >= options.maxRequests || performance.now() > end || options.stop?.()) return;
      const i = next++;
      const shot = await shoot(options.url, options.key(i), options.timeoutMs);
      shots.push(shot);
      if (options.pauseMs) await sleep(options.pauseMs);
    }
  };
  await Promise.all(Array.from({ length: options.concurrency }, worker));
  return shots.sort((a, b) => a.at - b.at);
}

/** The value at quantile `q` (0–1) of `values`. */
export function quantile(values: readonly number[], q: number): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;
}

/** `{ p50, p99, max }` of `values`, rounded to 0.1. */
export function summary(values: readonly number[]): {
  n: number;
  p50: number;
  p99: number;
  max: number;
} {
  const round = (x: number) => Math.round(x * 10) / 10;
  return {
    n: values.length,
    p50: round(quantile(values, 0.5)),
    p99: round(quantile(values, 0.99)),
    max: round(values.reduce((a, b) => Math.max(a, b), Number.NEGATIVE_INFINITY)),
  };
}
