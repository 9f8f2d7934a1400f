/**
 * @module reservations
 * The steps `FreqLimit` and the middleware share: reserve a request on one or several limits,
 * give it back, and wait for its emission time (abortably).
 */

import type { FreqLimitBackend, MultiReservation, Reservation, ReserveOptions } from './backend.js';
import { InMemoryBackend } from './backends/memory.js';
import type { FreqLimitParams } from './params.js';

/**
 * The backend key prefix of limit `index` of `count` under namespace `name`: `name:` for a
 * single limit, `name-1:`, `name-2:`… for several (so their states never mix).
 */
export function keyPrefix(name: string, index: number, count: number): string {
  return count === 1 ? `${name}:` : `${name}-${index + 1}:`;
}

/**
 * One reservation of `cost` cells on every limit: `reserve` for one key, `reserveMany` (all or
 * nothing) for several. `keys[i]` is limited by `params[i]`.
 */
export function reserveAll(
  backend: FreqLimitBackend,
  keys: readonly string[],
  params: readonly FreqLimitParams[],
  cost: number,
  maxDelay: number,
): Promise<Reservation | MultiReservation> {
  if (keys.length === 1) return backend.reserve(keys[0]!, params[0]!, { cost, maxDelay });
  const entries = new Array<{ key: string; params: FreqLimitParams; cost: number }>(keys.length);
  for (let i = 0; i < keys.length; i++) entries[i] = { key: keys[i]!, params: params[i]!, cost };
  return backend.reserveMany!(entries, { maxDelay });
}

/** A backend's synchronous reservation (see {@link syncReserver}). */
export interface SyncReserver {
  (
    keys: readonly string[],
    params: readonly FreqLimitParams[],
    cost: number,
    maxDelay: number,
  ): Reservation | MultiReservation;
  /** Whether it takes several keys at once too (`reserveManySync`). */
  readonly many: boolean;
}

/** What a backend that decides synchronously offers besides the promise-based contract. */
interface SyncBackend {
  reserveSync(key: string, params: FreqLimitParams, options: ReserveOptions): Reservation;
  reserveManySync?(
    entries: ReadonlyArray<{ key: string; params: FreqLimitParams; cost: number }>,
    options: { maxDelay: number },
  ): MultiReservation;
}

/**
 * `reserveAll` without a promise, for an `InMemoryBackend` (whose `reserve` is `reserveSync`
 * in a promise); `undefined` for other backends — and for a subclass that overrides `reserve`,
 * so that its override (counting, logging) is never bypassed.
 */
export function syncReserver(backend: FreqLimitBackend): SyncReserver | undefined {
  const b = backend as FreqLimitBackend & Partial<SyncBackend>;
  const own = InMemoryBackend.prototype;
  if (b.reserve !== own.reserve || typeof b.reserveSync !== 'function') return undefined;
  const many = b.reserveMany === own.reserveMany && typeof b.reserveManySync === 'function';
  const reserve = (
    keys: readonly string[],
    params: readonly FreqLimitParams[],
    cost: number,
    maxDelay: number,
  ): Reservation | MultiReservation => {
    if (keys.length === 1) return b.reserveSync!(keys[0]!, params[0]!, { cost, maxDelay });
    const entries = new Array<{ key: string; params: FreqLimitParams; cost: number }>(keys.length);
    for (let i = 0; i < keys.length; i++) entries[i] = { key: keys[i]!, params: params[i]!, cost };
    return b.reserveManySync!(entries, { maxDelay });
  };
  return Object.assign(reserve, { many });
}

/**
 * Gives back a reservation that was not used (the caller went away while waiting), on every
 * limit it was made on. Never rejects: a failure is passed to `onError`.
 */
export function refundAll(
  backend: FreqLimitBackend,
  keys: readonly string[],
  params: readonly FreqLimitParams[],
  cost: number,
  onError: (error: unknown) => void,
): void {
  for (let i = 0; i < keys.length; i++) {
    let pending: Promise<void>;
    try {
      pending = backend.refund(keys[i]!, params[i]!, { cost });
    } catch (error) {
      onError(error);
      continue;
    }
    pending.catch(onError);
  }
}

/**
 * A backend's optional state-control method, bound to it; a custom backend that lacks it fails
 * with a `TypeError` naming the backend and the method.
 */
export function backendMethod<M extends 'peek' | 'reset' | 'block'>(
  backend: FreqLimitBackend,
  name: M,
  where: string,
): NonNullable<FreqLimitBackend[M]> {
  const fn = backend[name];
  if (typeof fn !== 'function') {
    throw new TypeError(
      `${where}: backend ${backend.constructor?.name ?? 'object'} has no ${name}()`,
    );
  }
  return fn.bind(backend) as NonNullable<FreqLimitBackend[M]>;
}

/**
 * What freqlimit needs of an abort signal: a standard `AbortSignal` fits, and so do the
 * polyfilled ones some libraries type their own (grammY's `abort-controller`).
 */
export interface AbortSignalLike {
  readonly aborted: boolean;
  readonly reason?: unknown;
  addEventListener(type: 'abort', listener: () => void, options?: { once?: boolean }): void;
  removeEventListener(type: 'abort', listener: () => void): void;
}

/** The reason an aborted signal rejects with (its own reason, else an `AbortError`). */
export function abortReason(signal: AbortSignalLike): unknown {
  return signal.reason ?? new DOMException('This operation was aborted', 'AbortError');
}

/**
 * Resolves at `deadline` (ms on the `performance.now()` clock), or rejects with the signal's
 * reason when it aborts first. The wait is aimed at the absolute deadline, so the time spent
 * before it starts (a backend round trip) and timer lateness never add up. One timer, rounded
 * up to whole ms: it fires within the millisecond of the deadline, never a whole ms early.
 */
export function sleepUntil(deadline: number, signal?: AbortSignalLike): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) {
      reject(abortReason(signal));
      return;
    }
    const left = deadline - performance.now();
    if (left <= 0) {
      resolve();
      return;
    }
    const onAbort = (): void => {
      clearTimeout(timer);
      reject(abortReason(signal!));
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, Math.ceil(left));
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}
