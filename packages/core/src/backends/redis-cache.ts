/**
 * @module backends/redis-cache
 * The local rejection cache of `RedisBackend`: floors under the TATs of keys Redis has
 * rejected, so a flood on an over-limit key is answered in this process instead of costing
 * Redis one script call per request.
 *
 * A floor is a TAT in µs that the key's real TAT is known to be at or above. Redis replies
 * give the TAT relative to the script's now; the backend turns that into a floor on one of two
 * timelines:
 *
 * - this process's monotonic clock (`performance.now()`), anchored at the moment the call was
 *   sent. The script ran later than that, so the floor can only come out earlier than the
 *   real TAT, never later, whatever the host's wall clock says;
 * - the caller's injected `now` (tests, replays): exact, since the script used that very now.
 *
 * A floor only answers calls on its own timeline.
 */

/** A floor: the TAT (µs) on `timeline` that the key's real TAT is at or above. */
interface Floor {
  tatUs: number;
  injected: boolean;
}

/**
 * Floors by Redis key, at most `maxKeys` of them (the least recently refreshed dropped
 * first). Every operation is O(1).
 */
export class RejectionCache {
  readonly maxKeys: number;
  readonly #floors = new Map<string, Floor>();
  /** Bumped by every drop: replies to calls sent before it must not bring a floor back. */
  #generation = 0;

  constructor(maxKeys: number) {
    this.maxKeys = maxKeys;
  }

  /** Floors held. */
  get size(): number {
    return this.#floors.size;
  }

  /** Changes whenever a floor is dropped; a call records it when sent. */
  get generation(): number {
    return this.#generation;
  }

  /** The floor of `key` (µs) on the given timeline, if one is known. */
  floor(key: string, injected: boolean): number | undefined {
    const floor = this.#floors.get(key);
    return floor !== undefined && floor.injected === injected ? floor.tatUs : undefined;
  }

  /** Whether a floor is held for `key` (on either timeline). */
  has(key: string): boolean {
    return this.#floors.has(key);
  }

  /**
   * Records what a reply sent at `generation` said: `key`'s TAT is `tatUs`. Ignored when a floor
   * was dropped since the call was sent (a refund or reset in between may have lowered it).
   */
  set(key: string, tatUs: number, injected: boolean, generation: number): void {
    if (generation !== this.#generation) return;
    const floors = this.#floors;
    const floor = floors.get(key);
    if (floor !== undefined) {
      // Most recently refreshed last, so the eviction below drops the stalest.
      floors.delete(key);
      floor.tatUs = tatUs;
      floor.injected = injected;
      floors.set(key, floor);
      return;
    }
    floors.set(key, { tatUs, injected });
    if (floors.size > this.maxKeys) {
      floors.delete(floors.keys().next().value as string);
    }
  }

  /** Like {@link set}, but only for a key that already has a floor (an allowed reservation). */
  refresh(key: string, tatUs: number, injected: boolean, generation: number): void {
    if (this.#floors.has(key)) this.set(key, tatUs, injected, generation);
  }

  /** Forgets `key`'s floor (a refund or reset through this backend). */
  drop(key: string): void {
    this.#generation++;
    this.#floors.delete(key);
  }

  /** Forgets every floor. */
  clear(): void {
    this.#generation++;
    this.#floors.clear();
  }
}
