/** Backends for tests, all on real in-memory state: one recording its calls, one without reserveMany. */

import type {
  FreqLimitBackend,
  RefundOptions,
  Reservation,
  ReserveManyEntry,
  ReserveManyOptions,
  ReserveOptions,
} from '../src/backend.js';
import { InMemoryBackend } from '../src/backends/memory.js';
import type { FreqLimitParams } from '../src/params.js';

/** Forwards to an InMemoryBackend, recording the keys it is asked about. */
export class RecordingBackend implements FreqLimitBackend {
  readonly inner = new InMemoryBackend();
  readonly reserved: string[] = [];
  readonly refunded: string[] = [];
  reserve(key: string, params: FreqLimitParams, options?: ReserveOptions): Promise<Reservation> {
    this.reserved.push(key);
    return this.inner.reserve(key, params, options);
  }
  refund(key: string, params: FreqLimitParams, options?: RefundOptions): Promise<void> {
    this.refunded.push(key);
    return this.inner.refund(key, params, options);
  }
  reserveMany(entries: ReadonlyArray<ReserveManyEntry>, options?: ReserveManyOptions) {
    this.reserved.push(entries.map((e) => e.key).join(' + '));
    return this.inner.reserveMany(entries, options);
  }
  clear(): Promise<void> {
    return this.inner.clear();
  }
}

/** A custom backend with single-limit support only. */
export class SingleLimitBackend implements FreqLimitBackend {
  readonly #inner = new InMemoryBackend();
  reserve(key: string, params: FreqLimitParams, options?: ReserveOptions): Promise<Reservation> {
    return this.#inner.reserve(key, params, options);
  }
  refund(key: string, params: FreqLimitParams, options?: RefundOptions): Promise<void> {
    return this.#inner.refund(key, params, options);
  }
  clear(): Promise<void> {
    return this.#inner.clear();
  }
}
