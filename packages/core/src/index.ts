/**
 * @module @freqlimit/core
 * GCRA rate limiting that delays requests by exactly the time reserved for them: params, the
 * algorithm, `FreqLimit`, the in-memory backend, errors, and the types the middleware options
 * use. Adapter plumbing lives on `@freqlimit/core/adapter`; Redis on `@freqlimit/core/redis`.
 */

export type {
  BlockOptions,
  FreqLimitBackend,
  LimitStatus,
  MultiReservation,
  PeekOptions,
  RefundOptions,
  Reservation,
  ReserveManyEntry,
  ReserveManyOptions,
  ReserveOptions,
} from './backend.js';
export { InMemoryBackend, type InMemoryBackendOptions } from './backends/memory.js';
export {
  BackendTimeoutError,
  FreqLimitError,
  type FreqLimitErrorCode,
  NoClientAddressError,
  RateLimitedError,
} from './errors.js';
export type { BackendErrorMode } from './failover.js';
export {
  type GcraDecision,
  type GcraManyEntry,
  type GcraStepResult,
  gcraBlock,
  gcraPeek,
  gcraRefund,
  gcraReserve,
  gcraReserveMany,
  gcraStep,
  MAX_BLOCK_MS,
} from './gcra.js';
export type { HeadersMode } from './headers.js';
export type {
  DecisionEvent,
  DecisionOutcome,
  FreqLimitInfo,
  LimitState,
} from './instruction.js';
export { ipKey } from './ip.js';
export {
  type AcquireOptions,
  FreqLimit,
  type FreqLimitKey,
  type FreqLimitOptions,
} from './limiter.js';
export type {
  Dynamic,
  FreqLimitMiddlewareOptions,
  KeyResult,
  LimitOption,
  MaybePromise,
} from './middleware-options.js';
export {
  FreqLimitParams,
  type FreqLimitParamsInit,
  type FreqLimitParamsLike,
} from './params.js';
export type { LimiterControls } from './request-limiter.js';
export type { AbortSignalLike } from './reservations.js';
