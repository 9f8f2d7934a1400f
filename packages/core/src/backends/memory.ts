/**
 * @module backends/memory
 * A single-process backend: decisions are made synchronously inside the call, memory stays
 * bounded without timers, in keys and in bytes.
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
import {
  gcraBlock,
  gcraPeek,
  gcraRefund,
  gcraReserveMany,
  reserveInto,
  type TatOut,
} from '../gcra.js';
import { FreqLimitParams, type FreqLimitParamsLike, ParamsResolver } from '../params.js';

/** Options of {@link InMemoryBackend}. */
export interface InMemoryBackendOptions {
  /** Hard cap on stored keys; beyond it the keys closest to expiry are evicted. Default 1,000,000. */
  maxKeys?: number;
  /** Clock in ms; default: monotonic `performance.now()`. */
  clock?: () => number;
}

/** Width (ms) of an expiry bucket: keys are reclaimed and evicted bucket by bucket. */
const BUCKET_MS = 100;
/** End of a linked list. */
const NONE = -1;
/** The TAT of a slot whose key was dropped: empty, like any TAT at or before now. */
const EMPTY = Number.NEGATIVE_INFINITY;

/**
 * GCRA state for one process.
 *
 * Layout, chosen so memory is a hard bound in bytes too (about 60 B per live key, plus the key
 * string, whatever the clock does): each key owns one *slot* (`Map<key, slot>`; a small integer
 * value costs no allocation), and a slot's TAT, key and list link live in typed arrays. Every
 * slot is filed in exactly one expiry bucket (100 ms of TATs), as a node of that bucket's
 * linked list; slots are reused, so nothing outlives the key it belonged to.
 *
 * Filing is lazy: a key whose TAT moves forward stays filed where it was (a reservation on a
 * hot key touches no bucket). When a bucket is processed, a key found to belong later is
 * re-filed there; one that expired is reclaimed. Each call processes a few nodes of the oldest
 * bucket lying wholly in the past (amortized O(1), no timer), and beyond `maxKeys` the keys of
 * the oldest bucket are evicted (closest to expiry first, by bucket; O(log buckets)).
 *
 * @example
 * const backend = new InMemoryBackend({ maxKeys: 100_000 });
 * const r = await backend.reserve('chat:42', { limit: 1, period: 1000 });
 */
export class InMemoryBackend implements FreqLimitBackend {
  readonly #maxKeys: number;
  readonly #clock: () => number;
  /** key → slot */
  readonly #slots = new Map<string, number>();
  /** slot → TAT in ms (`EMPTY` once its key was dropped) */
  #tat = new Float64Array(64);
  /** slot → next slot in its bucket's list (or in the free list) */
  #next = new Int32Array(64);
  /** slot → its key (`undefined` while free) */
  #key: Array<string | undefined> = [];
  /** Slots ever handed out; `#freeSlot`: head of the list of reusable ones. */
  #used = 0;
  #freeSlot = NONE;
  /**
   * Slots whose key was dropped (reset, refunded to empty) while they sat in a bucket list;
   * freed when their bucket is processed, and counted against `maxKeys` meanwhile.
   */
  #dead = 0;

  /** bucket id (`floor(tat / BUCKET_MS)`) → bucket record */
  readonly #buckets = new Map<number, number>();
  /** bucket record → first / last slot of its list, and its id */
  #head = new Int32Array(16);
  #tail = new Int32Array(16);
  #bucketId = new Float64Array(16);
  #usedBuckets = 0;
  #freeBucket = NONE;
  /** Min-heap of the ids in `#buckets`. */
  readonly #heap: number[] = [];
  /** The record of the bucket last filed into (consecutive new keys mostly share one). */
  #lastId = Number.NaN;
  #lastBucket = NONE;

  /** Scratch output of the GCRA step (one per backend, so the hot path allocates nothing). */
  readonly #out: TatOut = { tat: Number.NaN };
  readonly #params = new ParamsResolver();

  constructor(options: InMemoryBackendOptions = {}) {
    // The global `performance` is resolved once (on Node reading it runs a getter every time);
    // fake timers installed before the backend is created are honoured.
    const perf = globalThis.performance;
    const { maxKeys = 1_000_000, clock = () => perf.now() } = options;
    if (typeof maxKeys !== 'number' || !Number.isInteger(maxKeys) || maxKeys < 1) {
      throw new RangeError(`InMemoryBackend: \`maxKeys\` must be an integer ≥ 1, got ${maxKeys}`);
    }
    if (typeof clock !== 'function') {
      throw new TypeError('InMemoryBackend: `clock` must be a function returning ms');
    }
    this.#maxKeys = maxKeys;
    this.#clock = clock;
  }

  /** Keys currently stored (live ones plus expired or reset ones not yet reclaimed). */
  get size(): number {
    return this.#slots.size;
  }

  /** The synchronous form of {@link reserve}, for callers that never leave the process. */
  reserveSync(key: string, params: FreqLimitParamsLike, options?: ReserveOptions): Reservation {
    if (typeof key !== 'string') badKey(key);
    const p = this.#params.resolve(params, 'InMemoryBackend.reserve');
    let now: number | undefined;
    let cost = 1;
    let maxDelay = Number.POSITIVE_INFINITY;
    if (options !== undefined) {
      now = options.now;
      if (options.cost !== undefined) cost = options.cost;
      if (options.maxDelay !== undefined) maxDelay = options.maxDelay;
    }
    if (now === undefined) now = this.#clock();
    const heap = this.#heap;
    if (heap.length > 0 && heap[0]! < Math.floor(now / BUCKET_MS)) this.#sweep(now, 4);
    const slot = this.#slots.get(key);
    const old = slot === undefined ? undefined : this.#liveTat(slot, now);
    const out = this.#out;
    const reservation = reserveInto(now, old, p, cost, maxDelay, out);
    if (reservation.allowed) {
      if (slot === undefined) this.#insert(key, out.tat);
      else this.#tat[slot] = out.tat;
    }
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
    const list = entries.map((e) => {
      if (typeof e.key !== 'string') badKey(e.key);
      return { ...e, params: FreqLimitParams.from(e.params) };
    });
    const now = options.now ?? this.#clock();
    this.#sweep(now, 2 + 2 * list.length);
    const olds = list.map((e) => this.#get(e.key, now));
    const { reservation, tats } = gcraReserveMany(now, olds, list, options.maxDelay);
    if (reservation.allowed) {
      for (let i = 0; i < list.length; i++) this.#set(list[i]!.key, tats[i]);
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
    this.#set(key, gcraRefund(now, this.#get(key, now), p, options.cost));
  }

  /** The synchronous form of {@link peek}. */
  peekSync(key: string, params: FreqLimitParamsLike, options: PeekOptions = {}): LimitStatus {
    const p = FreqLimitParams.from(params, 'InMemoryBackend.peek');
    const now = options.now ?? this.#clock();
    return gcraPeek(now, this.#get(key, now), p);
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
    this.#set(key, undefined);
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
    this.#set(key, gcraBlock(now, this.#get(key, now), p, ms));
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
    this.#slots.clear();
    this.#tat = new Float64Array(64);
    this.#next = new Int32Array(64);
    this.#key = [];
    this.#used = 0;
    this.#freeSlot = NONE;
    this.#dead = 0;
    this.#buckets.clear();
    this.#head = new Int32Array(16);
    this.#tail = new Int32Array(16);
    this.#bucketId = new Float64Array(16);
    this.#usedBuckets = 0;
    this.#freeBucket = NONE;
    this.#heap.length = 0;
    this.#lastId = Number.NaN;
    this.#lastBucket = NONE;
  }

  /** The live TAT of a slot at `now`, or undefined when its state is empty. */
  #liveTat(slot: number, now: number): number | undefined {
    const tat = this.#tat[slot]!;
    return tat > now ? tat : undefined;
  }

  /** The live TAT of `key` at `now`, or undefined when its state is empty. */
  #get(key: string, now: number): number | undefined {
    if (typeof key !== 'string') badKey(key);
    const slot = this.#slots.get(key);
    return slot === undefined ? undefined : this.#liveTat(slot, now);
  }

  /** Stores `key`'s new state (`undefined`: empty, the key is dropped). */
  #set(key: string, tat: number | undefined): void {
    if (typeof key !== 'string') badKey(key);
    const slot = this.#slots.get(key);
    if (slot === undefined) {
      if (tat !== undefined) this.#insert(key, tat);
    } else if (tat !== undefined) {
      this.#tat[slot] = tat; // filed lazily: see the class comment
    } else {
      // The key goes now; its slot stays in its bucket's list until that is processed.
      this.#slots.delete(key);
      this.#key[slot] = undefined;
      this.#tat[slot] = EMPTY;
      this.#dead++;
    }
  }

  /** A new key: a slot, filed in the bucket of its TAT; then the `maxKeys` cap. */
  #insert(key: string, tat: number): void {
    let slot = this.#freeSlot;
    if (slot !== NONE) this.#freeSlot = this.#next[slot]!;
    else {
      slot = this.#used++;
      if (slot === this.#tat.length) this.#growSlots();
    }
    this.#slots.set(key, slot);
    this.#key[slot] = key;
    this.#tat[slot] = tat;
    this.#file(slot, tat);
    while (this.#slots.size + this.#dead > this.#maxKeys) this.#evictOne();
  }

  #growSlots(): void {
    // Never beyond what maxKeys can use (live and dead slots together stay within it).
    const size = Math.max(this.#tat.length + 1, Math.min(this.#tat.length * 2, this.#maxKeys + 1));
    const tat = new Float64Array(size);
    tat.set(this.#tat);
    this.#tat = tat;
    const next = new Int32Array(size);
    next.set(this.#next);
    this.#next = next;
  }

  /** Forgets the key of `slot` (if still there) and makes the slot reusable (it is in no list). */
  #release(slot: number): void {
    const key = this.#key[slot];
    if (key === undefined) this.#dead--;
    else {
      this.#slots.delete(key);
      this.#key[slot] = undefined;
    }
    this.#next[slot] = this.#freeSlot;
    this.#freeSlot = slot;
  }

  /** Appends `slot` to the list of the bucket of `tat`. */
  #file(slot: number, tat: number): void {
    const id = Math.floor(tat / BUCKET_MS);
    let bucket = id === this.#lastId ? this.#lastBucket : this.#buckets.get(id);
    this.#next[slot] = NONE;
    if (bucket === undefined) {
      bucket = this.#newBucket(id);
      this.#head[bucket] = slot;
    } else {
      this.#next[this.#tail[bucket]!] = slot;
    }
    this.#tail[bucket] = slot;
    this.#lastId = id;
    this.#lastBucket = bucket;
  }

  #newBucket(id: number): number {
    let bucket = this.#freeBucket;
    if (bucket !== NONE) this.#freeBucket = this.#head[bucket]!;
    else {
      bucket = this.#usedBuckets++;
      if (bucket === this.#head.length) {
        const size = bucket * 2;
        const head = new Int32Array(size);
        head.set(this.#head);
        this.#head = head;
        const tail = new Int32Array(size);
        tail.set(this.#tail);
        this.#tail = tail;
        const ids = new Float64Array(size);
        ids.set(this.#bucketId);
        this.#bucketId = ids;
      }
    }
    this.#bucketId[bucket] = id;
    this.#buckets.set(id, bucket);
    this.#heapPush(id);
    return bucket;
  }

  /**
   * Takes the first slot off the oldest bucket's list (dropping the bucket once empty);
   * `NONE` when nothing is filed.
   */
  #shiftOldest(): number {
    const heap = this.#heap;
    if (heap.length === 0) return NONE;
    const id = heap[0]!;
    const bucket = id === this.#lastId ? this.#lastBucket : this.#buckets.get(id)!;
    const slot = this.#head[bucket]!;
    const rest = this.#next[slot]!;
    if (rest !== NONE) {
      this.#head[bucket] = rest;
      return slot;
    }
    this.#buckets.delete(id);
    if (id === this.#lastId) this.#lastId = Number.NaN;
    this.#head[bucket] = this.#freeBucket;
    this.#freeBucket = bucket;
    this.#heapPop();
    return slot;
  }

  /** Processes up to `budget` nodes of buckets that lie wholly before `now`. */
  #sweep(now: number, budget: number): void {
    const heap = this.#heap;
    const past = Math.floor(now / BUCKET_MS);
    while (budget-- > 0 && heap.length > 0 && heap[0]! < past) {
      const slot = this.#shiftOldest();
      const tat = this.#tat[slot]!;
      if (tat <= now) this.#release(slot);
      else this.#file(slot, tat); // it moved forward since it was filed
    }
  }

  /** Evicts one key of the oldest bucket (one that really expires there). */
  #evictOne(): void {
    for (;;) {
      const id = this.#heap[0];
      const slot = this.#shiftOldest();
      if (slot === NONE) return;
      const tat = this.#tat[slot]!;
      if (Math.floor(tat / BUCKET_MS) > id!) this.#file(slot, tat);
      else {
        this.#release(slot);
        return;
      }
    }
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

  #heapPop(): void {
    const heap = this.#heap;
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
}

function badKey(key: unknown): never {
  throw new TypeError(`InMemoryBackend: \`key\` must be a string, got ${typeof key}`);
}
