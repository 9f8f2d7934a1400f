/**
 * @module params
 * Validated, immutable GCRA parameters.
 */

/** The plain-object form accepted anywhere params are taken. */
export interface FreqLimitParamsInit {
  /** Events per `period`; integer ≥ 1. */
  limit: number;
  /** Length of the period in ms; finite, > 0. */
  period: number;
  /** Events that may pass back to back on an idle key; integer ≥ 1. Default 1. */
  burst?: number;
}

function describe(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value);
  if (typeof value === 'number' || typeof value === 'boolean' || value == null) {
    return String(value);
  }
  return typeof value;
}

function checkNumber(field: string, value: unknown, where: string): number {
  if (typeof value !== 'number') {
    throw new TypeError(`${where}: \`${field}\` must be a number, got ${describe(value)}`);
  }
  if (!Number.isFinite(value)) {
    throw new RangeError(`${where}: \`${field}\` must be finite, got ${describe(value)}`);
  }
  return value;
}

function checkPositiveInteger(field: string, value: unknown, where: string): number {
  const n = checkNumber(field, value, where);
  if (!Number.isInteger(n) || n < 1) {
    throw new RangeError(`${where}: \`${field}\` must be an integer ≥ 1, got ${n}`);
  }
  return n;
}

/**
 * GCRA parameters: `limit` events per `period` ms, `burst` of them back to back.
 *
 * @example
 * const params = new FreqLimitParams({ limit: 20, period: 60_000, burst: 3 });
 * params.interval; // 3000 ms between events in the long run
 */
export class FreqLimitParams {
  /** Events per `period`. */
  readonly limit: number;
  /** Period in ms. */
  readonly period: number;
  /** Events that may pass back to back on an idle key. */
  readonly burst: number;
  /** Emission interval T = period / limit, in ms. */
  readonly interval: number;
  /** Tolerance tau = (burst − 1) · T, in ms. */
  readonly tau: number;

  constructor(init: FreqLimitParamsInit, where = 'FreqLimitParams') {
    if (init === null || typeof init !== 'object') {
      throw new TypeError(
        `${where}: expected an object { limit, period, burst? }, got ${describe(init)}`,
      );
    }
    this.limit = checkPositiveInteger('limit', init.limit, where);
    this.period = checkNumber('period', init.period, where);
    if (this.period <= 0) {
      throw new RangeError(`${where}: \`period\` must be > 0 ms, got ${this.period}`);
    }
    this.burst = init.burst === undefined ? 1 : checkPositiveInteger('burst', init.burst, where);
    this.interval = this.period / this.limit;
    this.tau = (this.burst - 1) * this.interval;
    Object.freeze(this);
  }

  /** `params` itself when already a `FreqLimitParams`, else a validated new one. */
  static from(params: FreqLimitParams | FreqLimitParamsInit, where?: string): FreqLimitParams {
    return params instanceof FreqLimitParams ? params : new FreqLimitParams(params, where);
  }
}

/** Either form of params. */
export type FreqLimitParamsLike = FreqLimitParams | FreqLimitParamsInit;

/**
 * `FreqLimitParams.from` for a hot path: remembers the last plain object it validated, and
 * reuses that result while the same object comes back with the same `limit`, `period` and
 * `burst` (a caller may mutate its object between calls: that is validated again). Not a
 * public export.
 */
export class ParamsResolver {
  #init: FreqLimitParamsInit | undefined;
  #params: FreqLimitParams | undefined;

  resolve(params: FreqLimitParamsLike, where?: string): FreqLimitParams {
    if (params instanceof FreqLimitParams) return params;
    const last = this.#params;
    if (
      params === this.#init &&
      last !== undefined &&
      params.limit === last.limit &&
      params.period === last.period &&
      (params.burst ?? 1) === last.burst
    ) {
      return last;
    }
    const resolved = new FreqLimitParams(params, where);
    this.#init = params;
    this.#params = resolved;
    return resolved;
  }
}

/** Validate a request cost: finite and > 0. */
export function checkCost(cost: unknown, where = 'cost'): number {
  if (typeof cost !== 'number' || !Number.isFinite(cost) || cost <= 0) {
    throw new RangeError(`${where}: \`cost\` must be a finite number > 0, got ${describe(cost)}`);
  }
  return cost;
}

/** Validate a `maxDelay`: a number ≥ 0 (Infinity allowed). */
export function checkMaxDelay(maxDelay: unknown, where = 'maxDelay'): number {
  if (typeof maxDelay !== 'number' || Number.isNaN(maxDelay) || maxDelay < 0) {
    throw new RangeError(
      `${where}: \`maxDelay\` must be a number ≥ 0 (ms, Infinity allowed), got ${describe(maxDelay)}`,
    );
  }
  return maxDelay;
}
