/**
 * @module backends/memory
 * A single-process backend: decisions are made synchronously inside the call, memory stays
 * bounded without timers.
 */

import type {
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
} from '../backend.js';
import { gcraBlock, gcraPeek, gcraRefund, gcraReserve, gcraReserveMany } from '../gcra.js';
import { FreqLimitParams, type FreqLimitParamsLike } from '../params.js';

/** Options of {@link InMemoryBackend}. */
export interface InMemoryBackendOptions {
  /** Hard cap on stored keys; beyond it the keys closest to expiry are evicted. Default 1,000,000. */
  maxKeys?: number;
  /** Clock in ms; default: monotonic `performance.now()`. */
  clock?: () => number;
}

/** Width (ms) of an expiry bucket: keys are reclaimed and evicted bucket by bucket. */
const BUCKET_MS = 100;

const monotonic = (): number => performance.now();

/**
 * GCRA state in a `Map`, for one process.
 *
 * Expired keys are reclaimed a few per call (amortized O(1), no timer): every key is also
 * listed in the expiry bucket of its TAT, and each call sweeps a little of the oldest bucket
 * that lies wholly in the past. The same buckets give `maxKeys` eviction, closest to expiry
 * first, in O(log buckets).
 *
 * @example
 * const backend = new InMemoryBackend({ maxKeys: 100_000 });
 * const r = await backend.reserve('chat:42', { limit: 1, period: 1000 });
 */
export class InMemoryBackend implements FreqLimitBackend {
  readonly #tats = new Map<string, number>();
  /** bucket id → keys whose TAT fell in it when written (may hold stale references). */
  readonly #buckets = new Map<number, string[]>();
  /** Min-heap of the ids in `#buckets`. */
  readonly #heap: number[] = [];
  /** Position reached in bucket `#cursorId` (reset when another bucket becomes the smallest). */
  #cursor = 0;
  #cursorId = Number.NaN;
  readonly #maxKeys: number;
  readonly #clock: () => number;

  constructor(options: InMemoryBackendOptions = {}) {
    const { maxKeys = 1_000_000, clock = monotonic } = options;
    if (typeof maxKeys !== 'number' || !Number.isInteger(maxKeys) || maxKeys < 1) {
      throw new RangeError(`InMemoryBackend: \`maxKeys\` must be an integer ≥ 1, got ${maxKeys}`);
    }
    if (typeof clock !== 'function') {
      throw new TypeError('InMemoryBackend: `clock` must be a function returning ms');
    }
    this.#maxKeys = maxKeys;
    this.#clock = clock;
  }

  /** Keys currently stored (live ones plus expired ones not yet reclaimed). */
  get size(): number {
    return this.#tats.size;
  }

  /** The synchronous form of {@link reserve}, for callers that never leave the process. */
  reserveSync(key: string, params: FreqLimitParamsLike, options: ReserveOptions = {}): Reservation {
    const p = FreqLimitParams.from(params);
    const now = options.now ?? this.#clock();
    this.#sweep(now, 4);
    const old = this.#tats.get(key);
    const { reservation, tat } = gcraReserve(now, old, p, options.cost, options.maxDelay);
    if (reservation.allowed) this.#store(key, old, tat, now);
    return reservation;
  }

  async reserve(
    key: string,
    params: FreqLimitParamsLike,
    options?: ReserveOptions,
  ): Promise<Reservation> {
    return this.reserveSync(key, params, options);
  }

  /** The synchronous form of {@link reserveMany}. */
  reserveManySync(
    entries: ReadonlyArray<ReserveManyEntry>,
    options: ReserveManyOptions = {},
  ): MultiReservation {
    const list = entries.map((e) => ({ ...e, params: FreqLimitParams.from(e.params) }));
    const now = options.now ?? this.#clock();
    this.#sweep(now, 2 + 2 * list.length);
    const olds = list.map((e) => this.#tats.get(e.key));
    const { reservation, tats } = gcraReserveMany(now, olds, list, options.maxDelay);
    if (reservation.allowed) {
      for (let i = 0; i < list.length; i++) this.#store(list[i]!.key, olds[i], tats[i], now);
    }
    return reservation;
  }

  async reserveMany(
    entries: ReadonlyArray<ReserveManyEntry>,
    options?: ReserveManyOptions,
  ): Promise<MultiReservation> {
    return this.reserveManySync(entries, options);
  }

  async refund(
    key: string,
    params: FreqLimitParamsLike,
    options: RefundOptions = {},
  ): Promise<void> {
    const p = FreqLimitParams.from(params);
    const now = options.now ?? this.#clock();
    const old = this.#tats.get(key);
    this.#store(key, old, gcraRefund(now, old, p, options.cost), now);
  }

  /** The synchronous form of {@link peek}. */
  peekSync(key: string, params: FreqLimitParamsLike, options: PeekOptions = {}): LimitStatus {
    const p = FreqLimitParams.from(params, 'InMemoryBackend.peek');
    const now = options.now ?? this.#clock();
    return gcraPeek(now, this.#tats.get(key), p);
  }

  /** What `key` looks like right now; reserves and changes nothing. */
  async peek(
    key: string,
    params: FreqLimitParamsLike,
    options?: PeekOptions,
  ): Promise<LimitStatus> {
    return this.peekSync(key, params, options);
  }

  /** The synchronous form of {@link reset}. */
  resetSync(key: string): void {
    this.#tats.delete(key);
  }

  /** Forget `key`: the next request sees a full burst. */
  async reset(key: string): Promise<void> {
    this.resetSync(key);
  }

  /** The synchronous form of {@link block}. */
  blockSync(
    key: string,
    params: FreqLimitParamsLike,
    ms: number,
    options: BlockOptions = {},
  ): void {
    const p = FreqLimitParams.from(params, 'InMemoryBackend.block');
    const now = options.now ?? this.#clock();
    const old = this.#tats.get(key);
    this.#store(key, old, gcraBlock(now, old, p, ms), now);
  }

  /** Nothing passes on `key` before `now + ms` (never shortens a longer wait). */
  async block(
    key: string,
    params: FreqLimitParamsLike,
    ms: number,
    options?: BlockOptions,
  ): Promise<void> {
    this.blockSync(key, params, ms, options);
  }

  async clear(): Promise<void> {
    this.#tats.clear();
    this.#buckets.clear();
    this.#heap.length = 0;
    this.#cursor = 0;
    this.#cursorId = Number.NaN;
  }

  #store(key: string, old: number | undefined, tat: number | undefined, now: number): void {
    if (tat === undefined) {
      this.#tats.delete(key);
      return;
    }
    this.#tats.set(key, tat);
    const id = Math.floor(tat / BUCKET_MS);
    if (old === undefined || old <= now || Math.floor(old / BUCKET_MS) !== id) {
      let bucket = this.#buckets.get(id);
      if (bucket === undefined) {
        bucket = [];
        this.#buckets.set(id, bucket);
        this.#heapPush(id);
      }
      bucket.push(key);
    }
    while (this.#tats.size > this.#maxKeys && this.#evictOne()) {}
  }

  /** Reclaim up to `budget` references from buckets that lie wholly before `now`. */
  #sweep(now: number, budget: number): void {
    const past = Math.floor(now / BUCKET_MS);
    while (budget > 0 && this.#heap.length > 0 && this.#heap[0]! < past) {
      const keys = this.#smallest();
      while (budget > 0 && this.#cursor < keys.length) {
        budget--;
        const key = keys[this.#cursor++]!;
        const tat = this.#tats.get(key);
        if (tat !== undefined && tat <= now) this.#tats.delete(key);
      }
      if (this.#cursor >= keys.length) this.#dropSmallestBucket();
    }
  }

  /** Evict the first key still living in the smallest bucket; false when nothing is left. */
  #evictOne(): boolean {
    while (this.#heap.length > 0) {
      const id = this.#heap[0]!;
      const keys = this.#smallest();
      while (this.#cursor < keys.length) {
        const key = keys[this.#cursor++]!;
        const tat = this.#tats.get(key);
        if (tat !== undefined && Math.floor(tat / BUCKET_MS) === id) {
          this.#tats.delete(key);
          return true;
        }
      }
      this.#dropSmallestBucket();
    }
    return false;
  }

  /** The smallest bucket, with `#cursor` pointing into it. */
  #smallest(): string[] {
    const id = this.#heap[0]!;
    if (id !== this.#cursorId) {
      this.#cursorId = id;
      this.#cursor = 0;
    }
    return this.#buckets.get(id)!;
  }

  #dropSmallestBucket(): void {
    const heap = this.#heap;
    this.#buckets.delete(heap[0]!);
    this.#cursor = 0;
    this.#cursorId = Number.NaN;
    const last = heap.pop()!;
    if (heap.length === 0) return;
    let i = 0;
    for (;;) {
      const l = 2 * i + 1;
      if (l >= heap.length) break;
      const r = l + 1;
      const c = r < heap.length && heap[r]! < heap[l]! ? r : l;
      if (heap[c]! >= last) break;
      heap[i] = heap[c]!;
      i = c;
    }
    heap[i] = last;
  }

  #heapPush(id: number): void {
    const heap = this.#heap;
    let i = heap.length;
    heap.push(id);
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (heap[parent]! <= id) break;
      heap[i] = heap[parent]!;
      i = parent;
    }
    heap[i] = id;
  }
}
