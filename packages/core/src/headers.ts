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
export const LIST_HEADER_FIELDS: ReadonlySet<string> = new Set([
  'RateLimit',
  'RateLimit-Policy',
  'Server-Timing',
]);

/** A header field as `[name, value]`. */
export type HeaderPair = [name: string, value: string];

/**
 * Where an adapter writes response header fields, named as on Node's `ServerResponse` (so an
 * Express `res` and a Koa `ctx.res` fit as they are). With `getHeader`, a list field is joined
 * to the value already there into one field line; without it (Hono's `c.header`, which cannot
 * be read before the response exists) `appendHeader` adds the member.
 */
export interface HeaderTarget {
  /** Sets a field, replacing any value. */
  setHeader(name: string, value: string): unknown;
  /** The field's current value, if any. */
  getHeader?(name: string): unknown;
  /** Adds a member to a list field (used when there is no `getHeader`). */
  appendHeader?(name: string, value: string): unknown;
}

/**
 * Writes header pairs the way every adapter needs: fields in {@link LIST_HEADER_FIELDS} add
 * to what another freqLimit (e.g. a global one in front of a per-route one) already set; other
 * fields replace.
 */
export function writeHeaders(pairs: readonly HeaderPair[], target: HeaderTarget): void {
  for (let i = 0; i < pairs.length; i++) {
    const [name, value] = pairs[i]!;
    if (!LIST_HEADER_FIELDS.has(name)) {
      target.setHeader(name, value);
    } else if (target.getHeader !== undefined) {
      const existing = target.getHeader(name);
      target.setHeader(
        name,
        typeof existing === 'string' && existing !== '' ? `${existing}, ${value}` : value,
      );
    } else if (target.appendHeader !== undefined) {
      target.appendHeader(name, value);
    } else {
      target.setHeader(name, value);
    }
  }
}

/** A `Headers` object (a Web `Response`'s) as a {@link HeaderTarget}. */
export function headersTarget(headers: Headers): HeaderTarget {
  return {
    setHeader: (name, value) => headers.set(name, value),
    getHeader: (name) => headers.get(name) ?? undefined,
  };
}

/** A limit as it is named and stated in headers. */
export interface HeaderPolicy {
  /** Policy name: the middleware `name`, with `-1`, `-2`… for several limits. */
  name: string;
  /** The limit's params; `undefined` when they are dynamic (given per request instead). */
  params: FreqLimitParams | undefined;
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

/** `q` and `w` of params met before (dynamic limits resolve to a handful of cached params). */
const quotas = new WeakMap<FreqLimitParams, { q: number; w: number }>();

function quotaOf(params: FreqLimitParams): { q: number; w: number } {
  let quota = quotas.get(params);
  if (quota === undefined) {
    quota = policyQuota(params);
    quotas.set(params, quota);
  }
  return quota;
}

/** Builds the header pairs of one request (see {@link createHeaderBuilder}). */
export type HeaderBuilder = (
  each: ReadonlyArray<Reservation | undefined>,
  retryAfter: number | undefined,
  wallNow?: number,
  params?: ReadonlyArray<FreqLimitParams | undefined>,
) => HeaderPair[];

/**
 * Builds header pairs for a fixed set of policies; the policy strings of static params are
 * computed once here, not per request.
 *
 * The returned function takes the per-limit reservations (in policy order, `undefined` for a
 * limit that did not apply), the `Retry-After` seconds on a 429 (`undefined` otherwise), the
 * wall clock in ms (for `legacy`'s Unix reset time; default `Date.now()`) and, for dynamic
 * limits, the params each
 * limit used for this request (default: the policy's own).
 */
export function createHeaderBuilder(
  mode: HeadersMode,
  policies: readonly HeaderPolicy[],
): HeaderBuilder {
  if (mode === false) return () => [];
  const fixed = policies.map((p) => p.params);
  const paramsAt = (i: number, params?: ReadonlyArray<FreqLimitParams | undefined>) =>
    (params?.[i] ?? fixed[i])!;
  if (mode === 'draft-10' || mode === 'draft-8') {
    const names = policies.map((p) => sfString(p.name));
    const member = (i: number, p: FreqLimitParams) => {
      const { q, w } = quotaOf(p);
      return `${names[i]};q=${q};w=${w}`;
    };
    const fixedMembers = fixed.map((p, i) => (p === undefined ? '' : member(i, p)));
    const full = mode === 'draft-8';
    return (each, retryAfter, _wallNow, params) => {
      let policy = '';
      let state = '';
      for (let i = 0; i < each.length; i++) {
        const r = each[i];
        if (r === undefined) continue;
        const p = paramsAt(i, params);
        const t =
          retryAfter !== undefined
            ? retryAfter
            : full
              ? seconds(r.resetAfter)
              : nextUnitSeconds(r, p);
        const sep = state === '' ? '' : ', ';
        state += `${sep}${names[i]};r=${r.remaining};t=${t}`;
        policy += `${sep}${p === fixed[i] ? fixedMembers[i] : member(i, p)}`;
      }
      if (state === '') return [];
      return [
        ['RateLimit-Policy', policy],
        ['RateLimit', state],
      ];
    };
  }
  const legacy = mode === 'legacy';
  return (each, retryAfter, wallNow, params) => {
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
    const { q, w } = quotaOf(paramsAt(best, params));
    if (legacy) {
      return [
        ['X-RateLimit-Limit', String(q)],
        ['X-RateLimit-Remaining', String(r.remaining)],
        [
          'X-RateLimit-Reset',
          String(
            Math.ceil(
              ((wallNow ?? Date.now()) + Math.max(0, r.resetAfter - SECONDS_NOISE_MS)) / 1000,
            ),
          ),
        ],
      ];
    }
    return [
      ['RateLimit-Limit', String(q)],
      ['RateLimit-Remaining', String(r.remaining)],
      ['RateLimit-Reset', String(seconds(r.resetAfter))],
      ['RateLimit-Policy', `${q};w=${w}`],
    ];
  };
}
