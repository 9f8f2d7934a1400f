/**
 * @module backends/redis-deadlines
 * One timer for every call in flight. The timeout of a backend is a constant, so deadlines
 * come in the order calls are made: a FIFO of them, and a single timer armed for the oldest
 * one still pending, replace a `setTimeout`/`clearTimeout` pair per call.
 */

/** A call in flight, as the queue sees it. */
export interface Expirable {
  /** `performance.now()` ms after which the call is failed (set by `add`). */
  deadline: number;
  /** Settled (answered, failed or expired): the queue forgets it. */
  done: boolean;
  /** Fails the call with a timeout. Called at most once, only while not `done`. */
  expire(): void;
}

/** Deadlines of calls in flight, failed in order when their time has come. */
export class DeadlineQueue {
  readonly #timeout: number;
  readonly #clock: { now(): number };
  #items: Expirable[] = [];
  #head = 0;
  #timer: ReturnType<typeof setTimeout> | undefined;

  /** `timeout`: ms from `add` until a call still pending is expired. */
  constructor(timeout: number) {
    this.#timeout = timeout;
    this.#clock = globalThis.performance;
  }

  /** Calls waiting for an answer (those settled meanwhile may still be counted). */
  get size(): number {
    return this.#items.length - this.#head;
  }

  /** Starts the clock of `item`: it expires `timeout` ms from now unless settled first. */
  add(item: Expirable): void {
    item.deadline = this.#clock.now() + this.#timeout;
    this.#items.push(item);
    if (this.#timer === undefined) this.#arm(item.deadline);
  }

  /** Marks `item` settled; returns false when it had already expired (its answer is late). */
  settle(item: Expirable): boolean {
    if (item.done) return false;
    item.done = true;
    const items = this.#items;
    // Answers mostly come back in order: drop settled calls off the front as they go.
    while (this.#head < items.length && items[this.#head]!.done) this.#head++;
    this.#compact();
    return true;
  }

  #compact(): void {
    const items = this.#items;
    if (this.#head === items.length) {
      items.length = 0;
      this.#head = 0;
    } else if (this.#head > 1024 && this.#head * 2 > items.length) {
      this.#items = items.slice(this.#head);
      this.#head = 0;
    }
  }

  #arm(deadline: number): void {
    const wait = Math.max(0, Math.ceil(deadline - this.#clock.now()));
    const timer = setTimeout(() => this.#fire(), wait);
    // The timer must not keep a process alive that has nothing else to do.
    (timer as { unref?: () => void }).unref?.();
    this.#timer = timer;
  }

  #fire(): void {
    this.#timer = undefined;
    const now = this.#clock.now();
    const items = this.#items;
    while (this.#head < items.length) {
      const item = items[this.#head]!;
      if (!item.done) {
        if (item.deadline > now) break;
        item.done = true;
        item.expire();
      }
      this.#head++;
    }
    this.#compact();
    if (this.#head < this.#items.length) this.#arm(this.#items[this.#head]!.deadline);
  }
}
