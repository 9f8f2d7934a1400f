/**
 * @module @freqlimit/core/adapter
 * What the framework adapters (`@freqlimit/express`, `@freqlimit/koa`, `@freqlimit/hono`) are
 * built from, for anyone writing an adapter for another framework. Application code does not
 * need this entry: use an adapter's `freqLimit()` or `FreqLimit` from `@freqlimit/core`.
 *
 * An adapter reads its request, calls {@link RequestLimiter.decide}, and writes the
 * {@link Instruction} it gets: headers with {@link writeHeaders}, the body with its content
 * type, and for a hold {@link RequestLimiter.hold} (or `holdResponse` on Node responses).
 */

export {
  BACKEND_COOL_DOWN_MS,
  BackendFailover,
  isBackend,
  isConfigurationError,
  REPORT_EVERY_MS,
  type Reserved,
  type Unreserved,
} from './failover.js';
export {
  createHeaderBuilder,
  HEADER_MODES,
  type HeaderBuilder,
  type HeaderPair,
  type HeaderPolicy,
  type HeaderTarget,
  headersTarget,
  LIST_HEADER_FIELDS,
  policyQuota,
  writeHeaders,
} from './headers.js';
export {
  createInstructor,
  type HoldInstruction,
  type InstructedLimit,
  type Instruction,
  NEXT,
  type NextInstruction,
  type Outcome,
  type PassInstruction,
  type RefundTicket,
  type RejectInstruction,
  type ResponseBody,
  retryAfterSeconds,
  serverTiming,
  UNAVAILABLE,
  type UnavailableInstruction,
} from './instruction.js';
export {
  type AdapterSpec,
  DEFAULT_MAX_DELAY,
  DEFAULT_MAX_HELD,
  type MiddlewareConfig,
  type ParamsSource,
  type ResolvedLimit,
  resolveMiddlewareOptions,
} from './middleware-options.js';
export type { ClosableResponse } from './node-response.js';
export { createObserver } from './observer.js';
export { checkCost, checkMaxDelay } from './params.js';
export { type LimiterControls, RequestLimiter, withControls } from './request-limiter.js';
export {
  abortReason,
  backendMethod,
  keyPrefix,
  refundAll,
  reserveAll,
  sleepUntil,
} from './reservations.js';
