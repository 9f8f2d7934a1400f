/**
 * @module headers
 * Rate-limit response header fields, pure: name/value pairs from reservations.
 */

import type { Reservation } from './backend.js';
import type { FreqLimitParams } from './params.js';

/** Which rate-limit header fields to send. */
export type HeadersMode = 'draft-10' | 'draft-8' | 'draft-6' | 'legacy' | false;

/** Header modes accepted by the middleware. */
export const HEADER_MODES: readonly HeadersMode[] = [
  'draft-10',
  'draft-8',
  'draft-6',
  'legacy',
  false,
];

/**
 * Fields that are Structured Field Lists. When two freqLimit middleware handle one request (a
 * global limit and a per-route one), the second adds its members to the first's field rather
 * than replacing it, so the client sees every policy that applied.
 */
export const LIST_HEADER_FIELDS: ReadonlySet<string> = new Set(['RateLimit', 'RateLimit-Policy']);

/** A header field as `[name, value]`. */
export type HeaderPair = [name: string, value: string];

/** A limit as it is named and stated in headers. */
export interface HeaderPolicy {
  /** Policy name: the middleware `name`, with `-1`, `-2`… for several limits. */
  name: string;
  params: FreqLimitParams;
}

/** `w` (whole seconds) and `q` (units per `w`) of a limit's long-run rate. */
export function policyQuota(params: FreqLimitParams): { q: number; w: number } {
  const w = Math.ceil(params.period / 1000);
  return { q: Math.floor((params.limit * w * 1000) / params.period), w };
}

/** A Structured Field string: `"name"` with `\` and `"` escaped. */
function sfString(s: string): string {
  return `"${s.replace(/[\\"]/g, '\\$&')}"`;
}

/**
 * Up to this many ms (1 µs) above a whole second is float noise — summing fractional intervals
 * (7 × 1000/7 = 1000.0000000000001) or Redis's 1 µs TAT resolution — and must not push the
 * value up to the next second.
 */
export const SECONDS_NOISE_MS = 1e-3;

/** Ms to whole seconds, rounded up (ignoring {@link SECONDS_NOISE_MS}); 0 for no wait. */
export function ceilSeconds(ms: number): number {
  return ms > SECONDS_NOISE_MS ? Math.ceil((ms - SECONDS_NOISE_MS) / 1000) : 0;
}

const seconds = ceilSeconds;

/** Seconds until one more unit is available after this reservation. */
function nextUnitSeconds(r: Reservation, params: FreqLimitParams): number {
  return r.remaining > 0 ? 0 : seconds(r.resetAfter - params.tau);
}

/**
 * Builds header pairs for a fixed set of policies; the policy strings are computed once here,
 * not per request.
 *
 * The returned function takes the per-limit reservations (in policy order, `undefined` for a
 * limit that did not apply), the `Retry-After` seconds on a 429 (`undefined` otherwise), and
 * the wall clock in ms (for `legacy`'s Unix reset time).
 */
export function createHeaderBuilder(
  mode: HeadersMode,
  policies: readonly HeaderPolicy[],
): (
  each: ReadonlyArray<Reservation | undefined>,
  retryAfter: number | undefined,
  wallNow: number,
) => HeaderPair[] {
  if (mode === false) return () => [];
  const quotas = policies.map((p) => policyQuota(p.params));
  if (mode === 'draft-10' || mode === 'draft-8') {
    const names = policies.map((p) => sfString(p.name));
    const policyValues = quotas.map((quota, i) => `${names[i]};q=${quota.q};w=${quota.w}`);
    const full = mode === 'draft-8';
    return (each, retryAfter) => {
      let policy = '';
      let state = '';
      for (let i = 0; i < each.length; i++) {
        const r = each[i];
        if (r === undefined) continue;
        const t =
          retryAfter !== undefined
            ? retryAfter
            : full
              ? seconds(r.resetAfter)
              : nextUnitSeconds(r, policies[i]!.params);
        const sep = state === '' ? '' : ', ';
        state += `${sep}${names[i]};r=${r.remaining};t=${t}`;
        policy += `${sep}${policyValues[i]}`;
      }
      if (state === '') return [];
      return [
        ['RateLimit-Policy', policy],
        ['RateLimit', state],
      ];
    };
  }
  const legacy = mode === 'legacy';
  const policyField = quotas.map(({ q, w }) => `${q};w=${w}`);
  return (each, retryAfter, wallNow) => {
    // The most restrictive limit: fewest remaining, then the longest wait.
    let best = -1;
    for (let i = 0; i < each.length; i++) {
      const r = each[i];
      if (r === undefined) continue;
      const b = best === -1 ? undefined : each[best]!;
      if (
        b === undefined ||
        r.remaining < b.remaining ||
        (r.remaining === b.remaining &&
          (retryAfter !== undefined ? r.delay > b.delay : r.resetAfter > b.resetAfter))
      ) {
        best = i;
      }
    }
    if (best === -1) return [];
    const r = each[best]!;
    const q = String(quotas[best]!.q);
    if (legacy) {
      return [
        ['X-RateLimit-Limit', q],
        ['X-RateLimit-Remaining', String(r.remaining)],
        [
          'X-RateLimit-Reset',
          String(Math.ceil((wallNow + Math.max(0, r.resetAfter - SECONDS_NOISE_MS)) / 1000)),
        ],
      ];
    }
    return [
      ['RateLimit-Limit', q],
      ['RateLimit-Remaining', String(r.remaining)],
      ['RateLimit-Reset', String(seconds(r.resetAfter))],
      ['RateLimit-Policy', policyField[best]!],
    ];
  };
}
