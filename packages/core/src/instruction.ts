/**
 * @module instruction
 * The pure mapping from a reservation to what an adapter must do with the request — pass, hold
 * for N ms, answer 429, answer 503 — with the exact header fields and body.
 */

import type { FreqLimitBackend, MultiReservation, Reservation } from './backend.js';
import { noiseAt, remainingAt } from './gcra.js';
import { ceilSeconds, createHeaderBuilder, type HeaderPair, type HeadersMode } from './headers.js';
import type { FreqLimitParams } from './params.js';

/** The state of one applied limit after a decision. */
export interface LimitState {
  /** Policy name, as in headers. */
  name: string;
  /** The client key (before namespacing). */
  key: string;
  /** Events per `period`. */
  limit: number;
  /** Period in ms. */
  period: number;
  /** Events that may pass back to back on an idle key. */
  burst: number;
  /** Unit-cost requests that could still pass right now. */
  remaining: number;
  /** Ms until this limit is back to a full burst. */
  resetAfter: number;
}

/** The decision, available to later handlers and to `onRejected`. */
export interface FreqLimitInfo {
  /** Whether the request was admitted. */
  allowed: boolean;
  /** Ms the request is held (0: passed at once); when rejected, the delay it would have needed. */
  delay: number;
  /** The `Retry-After` value in whole seconds on a 429; `undefined` otherwise (and when `cost > burst`). */
  retryAfter: number | undefined;
  /** The backend's answer. */
  reservation: Reservation | MultiReservation;
  /** The limits that applied to this request. */
  limits: LimitState[];
  /**
   * `true` under the `dryRun` option: the request was decided (and recorded in the backend) as
   * above, but neither held nor rejected.
   */
  dryRun: boolean;
}

/** What a limiter decided: `'backend-error'` when the backend failed (or is cooling down). */
export type DecisionOutcome = 'pass' | 'hold' | 'reject' | 'backend-error';

/** What `onDecision` receives, once per decision. */
export interface DecisionEvent {
  readonly outcome: DecisionOutcome;
  /** The middleware's (or `FreqLimit`'s) `name`. */
  readonly name: string;
  /**
   * The decision: on `'pass'`, `'hold'` and `'reject'`, and on `'backend-error'` when a
   * fallback backend decided instead.
   */
  readonly info: FreqLimitInfo | undefined;
  /** On `'backend-error'`: the backend's error (during the cool-down, the last one). */
  readonly error?: unknown;
  /**
   * On `'backend-error'`: what was done — `'allow'`ed unlimited, `'reject'`ed (503), decided
   * by the `'fallback'` backend, or (`FreqLimit`) `'throw'`n to the caller.
   */
  readonly mode?: 'allow' | 'reject' | 'fallback' | 'throw';
  /** `true` under the `dryRun` option. */
  readonly dryRun: boolean;
}

/** A response body and its media type. */
export interface ResponseBody {
  /** The `Content-Type` field value. */
  readonly type: string;
  /** The body text. */
  readonly text: string;
}

/** Where a held reservation is given back if the client leaves. */
export interface RefundTicket {
  readonly backend: FreqLimitBackend;
  readonly keys: readonly string[];
  readonly params: readonly FreqLimitParams[];
  readonly cost: number;
}

/** Run the next handler: this request is not limited (skipped, no key, or backend down with `'allow'`). */
export interface NextInstruction {
  readonly kind: 'next';
}

/** Set `headers`, then run the next handler at once. */
export interface PassInstruction {
  readonly kind: 'pass';
  readonly info: FreqLimitInfo;
  readonly headers: HeaderPair[];
}

/** Set `headers`, hold the request until `deadline`, then run the next handler. */
export interface HoldInstruction {
  readonly kind: 'hold';
  readonly info: FreqLimitInfo;
  readonly headers: HeaderPair[];
  /** Ms to hold the request, counted from when the reservation was asked for. */
  readonly delay: number;
  /** The emission time on the `performance.now()` clock: release the request then. */
  readonly deadline: number;
  /** Where the reservation goes back if the client leaves while held. */
  readonly refund: RefundTicket;
}

/** Answer 429: set `headers` (with `Retry-After`), then `body` (or call `onRejected`). */
export interface RejectInstruction {
  readonly kind: 'reject';
  readonly status: 429;
  readonly info: FreqLimitInfo;
  readonly headers: HeaderPair[];
  readonly body: ResponseBody;
}

/** Answer 503: the backend failed and `onBackendError` is `'reject'`; nothing was reserved. */
export interface UnavailableInstruction {
  readonly kind: 'unavailable';
  readonly status: 503;
  readonly headers: HeaderPair[];
  readonly body: ResponseBody;
}

/** What an adapter must do with a request. */
export type Instruction =
  | NextInstruction
  | PassInstruction
  | HoldInstruction
  | RejectInstruction
  | UnavailableInstruction;

const JSON_TYPE = 'application/json; charset=utf-8';

/** The instruction for a request that is not limited. */
export const NEXT: NextInstruction = Object.freeze({ kind: 'next' });

/** The instruction when the backend failed and `onBackendError` is `'reject'`. */
export const UNAVAILABLE: UnavailableInstruction = Object.freeze({
  kind: 'unavailable',
  status: 503,
  headers: [],
  body: Object.freeze({ type: JSON_TYPE, text: '{"error":"Service Unavailable"}' }),
});

const NEVER_BODY: ResponseBody = Object.freeze({
  type: JSON_TYPE,
  text: '{"error":"Too Many Requests"}',
});

/**
 * Each limit's reservation as it stands `delay` ms from now, when a held request is released:
 * that much closer to its reset, and with what may pass then.
 */
function atRelease(
  each: Array<Reservation | undefined>,
  params: ReadonlyArray<FreqLimitParams | undefined>,
  delay: number,
): void {
  for (let i = 0; i < each.length; i++) {
    const r = each[i];
    const p = params[i];
    if (r === undefined || p === undefined) continue;
    const resetAfter = Math.max(0, r.resetAfter - delay);
    each[i] = { ...r, resetAfter, remaining: remainingAt(resetAfter, p, noiseAt(0)) };
  }
}

/** Milliseconds to whole `Retry-After` seconds: at least 1, rounded up (ignoring float noise). */
export function retryAfterSeconds(ms: number): number | undefined {
  return Number.isFinite(ms) ? Math.max(1, ceilSeconds(ms)) : undefined;
}

/** The `Server-Timing` field of a request held `ms`. */
export function serverTiming(ms: number): HeaderPair {
  return ['Server-Timing', `freqlimit;dur=${Math.round(ms)}`];
}

/** A limit as the instructions name and state it. */
export interface InstructedLimit {
  /** Policy name in headers. */
  readonly policy: string;
  /** Static params (their header strings are precomputed); dynamic ones come per request. */
  readonly params: FreqLimitParams | ((...args: never[]) => unknown);
}

/** One request's reservation, with what is needed to describe it. */
export interface Outcome {
  readonly reservation: Reservation | MultiReservation;
  /** Indices (into the configured limits) of the limits that applied, in reservation order. */
  readonly applied: readonly number[];
  /** The client key of each applied limit. */
  readonly clientKeys: readonly string[];
  /**
   * `performance.now()` a hold's delay is counted from: just after the backend was called. An
   * in-process backend has read its clock by then (the release is never early); a remote one
   * has only been sent the call (its round trip is not added on top). Used only when held.
   */
  readonly sentAt: number;
  /** Wall clock (ms since the epoch) for `legacy`'s Unix reset time; default `Date.now()`. */
  readonly wallNow?: number;
  /** Where the reservation was made; its `params` are those each applied limit used. */
  readonly refund: RefundTicket;
}

/**
 * Builds the mapping for a fixed set of limits and a header mode; header strings that depend
 * only on the configuration are computed here, once.
 */
export function createInstructor(
  limits: readonly InstructedLimit[],
  mode: HeadersMode,
  dryRun = false,
): (outcome: Outcome) => PassInstruction | HoldInstruction | RejectInstruction {
  const headersOf = createHeaderBuilder(
    mode,
    limits.map((l) => ({
      name: l.policy,
      params: typeof l.params === 'function' ? undefined : l.params,
    })),
  );
  const count = limits.length;
  return (outcome) => {
    const { reservation, applied, clientKeys } = outcome;
    const used = outcome.refund.params;
    const each = 'each' in reservation ? reservation.each : [reservation];
    const perLimit = new Array<Reservation | undefined>(count);
    const perParams = new Array<FreqLimitParams | undefined>(count);
    const states: LimitState[] = new Array(applied.length);
    for (let j = 0; j < applied.length; j++) {
      const i = applied[j]!;
      const r = each[j]!;
      const params = used[j]!;
      perLimit[i] = r;
      perParams[i] = params;
      states[j] = {
        name: limits[i]!.policy,
        key: clientKeys[j]!,
        limit: params.limit,
        period: params.period,
        burst: params.burst,
        remaining: r.remaining,
        resetAfter: r.resetAfter,
      };
    }
    const retryAfter = reservation.allowed ? undefined : retryAfterSeconds(reservation.retryAfter);
    const info: FreqLimitInfo = {
      allowed: reservation.allowed,
      delay: reservation.delay,
      retryAfter,
      reservation,
      limits: states,
      dryRun,
    };
    // A held request's response leaves `delay` ms later: describe the state then, not now.
    if (reservation.allowed && reservation.delay > 0)
      atRelease(perLimit, perParams, reservation.delay);
    const headers = dryRun ? [] : headersOf(perLimit, retryAfter, outcome.wallNow, perParams);
    if (!reservation.allowed) {
      if (retryAfter === undefined) {
        return { kind: 'reject', status: 429, info, headers, body: NEVER_BODY };
      }
      headers.push(['Retry-After', String(retryAfter)]);
      const text = `{"error":"Too Many Requests","retryAfter":${retryAfter}}`;
      return { kind: 'reject', status: 429, info, headers, body: { type: JSON_TYPE, text } };
    }
    if (reservation.delay <= 0) return { kind: 'pass', info, headers };
    return {
      kind: 'hold',
      info,
      headers,
      delay: reservation.delay,
      deadline: outcome.sentAt + reservation.delay,
      refund: outcome.refund,
    };
  };
}
