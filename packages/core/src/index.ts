/**
 * @module @freqlimit/core
 * GCRA rate limiting that delays requests by exactly the time reserved for them.
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
export { BackendTimeoutError, FreqLimitError, RateLimitedError } from './errors.js';
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
} from './gcra.js';
export {
  createHeaderBuilder,
  HEADER_MODES,
  type HeaderPair,
  type HeaderPolicy,
  type HeadersMode,
  LIST_HEADER_FIELDS,
  policyQuota,
} from './headers.js';
export {
  type AdapterSpec,
  BACKEND_COOL_DOWN_MS,
  type BackendErrorMode,
  type Decision,
  type FreqLimitInfo,
  type FreqLimitMiddlewareOptions,
  type KeyResult,
  type LimitOption,
  type LimitState,
  type RefundTicket,
  RequestLimiter,
  retryAfterSeconds,
  serverTiming,
} from './http.js';
export { ipKey } from './ip.js';
export {
  type AcquireOptions,
  FreqLimit,
  type FreqLimitKey,
  type FreqLimitOptions,
} from './limiter.js';
export {
  checkCost,
  checkMaxDelay,
  FreqLimitParams,
  type FreqLimitParamsInit,
  type FreqLimitParamsLike,
} from './params.js';
