/**
 * The shared backend suite: every backend (memory, Redis, custom) must pass the same cases,
 * so their behaviour can never drift apart. Times are injected (`now`) near today's epoch ms,
 * so backends that also expire keys on a real clock (Redis) see consistent times.
 */

import { afterAll, beforeEach, describe, expect, it } from 'vitest';
import type { FreqLimitBackend } from '../src/backend.js';
import { FreqLimitParams } from '../src/params.js';

/** The optional methods of `FreqLimitBackend`. */
export type Capability = 'reserveMany' | 'peek' | 'reset' | 'block';

export interface BackendUnderTest {
  backend: FreqLimitBackend;
  /** Called once after the suite. */
  close?: () => Promise<void> | void;
  /**
   * Optional methods this backend does not implement (default: none, as for every bundled
   * backend). The suite checks that they really are absent, and runs the cases of every
   * method that is present.
   */
  lacks?: ReadonlyArray<Capability>;
}

const P = (limit: number, period: number, burst = 1) =>
  new FreqLimitParams({ limit, period, burst });

export function testBackend(
  name: string,
  factory: () => Promise<BackendUnderTest> | BackendUnderTest,
  /** Must match the factory's `lacks` (tests are registered before the factory runs). */
  lacks: ReadonlyArray<Capability> = [],
): void {
  const has = (c: Capability): boolean => !lacks.includes(c);
  // Cases of a method the backend lacks are not registered at all (never reported as skipped).
  const itWith = (c: Capability) => (has(c) ? it : () => {});
  const describeWith = (c: Capability) => (has(c) ? describe : () => {});
  describe(`backend suite: ${name}`, () => {
    let under: BackendUnderTest | undefined;
    let backend: FreqLimitBackend;
    let t0 = 0;
    let n = 0;
    /** A fresh key per test, so cases never see each other's state. */
    let key = '';

    beforeEach(async () => {
      under ??= await factory();
      backend = under.backend;
      t0 = Date.now();
      key = `suite:${++n}:${Math.random().toString(36).slice(2)}`;
    });
    afterAll(async () => {
      await under?.close?.();
    });

    it('admits a new key at once with burst − 1 remaining', async () => {
      const r = await backend.reserve(key, P(10, 1000, 3), { now: t0 });
      expect(r).toEqual({ allowed: true, delay: 0, retryAfter: 0, remaining: 2, resetAfter: 100 });
    });

    it('passes burst back to back, then delays by the interval', async () => {
      const p = P(2, 1000, 3);
      const delays: number[] = [];
      for (let i = 0; i < 5; i++) delays.push((await backend.reserve(key, p, { now: t0 })).delay);
      expect(delays).toEqual([0, 0, 0, 500, 1000]);
    });

    it('rejects past maxDelay without touching the state', async () => {
      const p = P(1, 1000);
      await backend.reserve(key, p, { now: t0 });
      for (let i = 0; i < 50; i++) {
        const r = await backend.reserve(key, p, { now: t0 + i, maxDelay: 0 });
        expect(r.allowed).toBe(false);
        expect(r.remaining).toBe(0);
        expect(r.retryAfter).toBeCloseTo(1000 - i, 3);
        expect(r.resetAfter).toBeCloseTo(1000 - i, 3);
      }
      const again = await backend.reserve(key, p, { now: t0 + 1000, maxDelay: 0 });
      expect(again.allowed).toBe(true);
    });

    it('retryAfter is delay − maxDelay', async () => {
      const p = P(1, 1000);
      await backend.reserve(key, p, { now: t0 });
      await backend.reserve(key, p, { now: t0 });
      const r = await backend.reserve(key, p, { now: t0, maxDelay: 300 });
      expect(r.allowed).toBe(false);
      expect(r.delay).toBeCloseTo(2000, 3);
      expect(r.retryAfter).toBeCloseTo(1700, 3);
    });

    it('cost > burst is never admitted', async () => {
      const r = await backend.reserve(key, P(5, 1000, 2), { now: t0, cost: 3 });
      expect(r.allowed).toBe(false);
      expect(r.retryAfter).toBe(Number.POSITIVE_INFINITY);
      expect((await backend.reserve(key, P(5, 1000, 2), { now: t0 })).remaining).toBe(1);
    });

    it('cost counts several cells, fractions allowed', async () => {
      const p = P(4, 1000, 4);
      expect(await backend.reserve(key, p, { now: t0, cost: 2.5 })).toMatchObject({
        allowed: true,
        delay: 0,
        remaining: 1,
        resetAfter: 625,
      });
      const r = await backend.reserve(key, p, { now: t0, cost: 2 });
      expect(r.allowed).toBe(true);
      expect(r.delay).toBeCloseTo(125, 3);
    });

    it('refund gives the cells back, never below now', async () => {
      const p = P(1, 1000);
      await backend.reserve(key, p, { now: t0 });
      expect((await backend.reserve(key, p, { now: t0 })).delay).toBe(1000);
      await backend.refund(key, p, { now: t0 });
      expect((await backend.reserve(key, p, { now: t0, maxDelay: 1000 })).delay).toBe(1000);
      await backend.refund(key, p, { now: t0, cost: 5 });
      expect(await backend.reserve(key, p, { now: t0 })).toMatchObject({ allowed: true, delay: 0 });
    });

    it('keys are independent', async () => {
      const p = P(1, 1000);
      await backend.reserve(`${key}:a`, p, { now: t0 });
      expect((await backend.reserve(`${key}:b`, p, { now: t0 })).delay).toBe(0);
      expect((await backend.reserve(`${key}:a`, p, { now: t0 })).delay).toBe(1000);
    });

    it('a key is empty again once resetAfter has passed', async () => {
      const p = P(2, 1000, 2);
      const r = await backend.reserve(key, p, { now: t0 });
      await backend.reserve(key, p, { now: t0 });
      const later = await backend.reserve(key, p, { now: t0 + 1000 });
      expect(r.resetAfter).toBe(500);
      expect(later).toMatchObject({ allowed: true, delay: 0, remaining: 1, resetAfter: 500 });
    });

    it('implements exactly the optional methods it claims', () => {
      expect(under?.lacks ?? []).toEqual(lacks);
      for (const c of ['reserveMany', 'peek', 'reset', 'block'] as const) {
        expect(typeof backend[c], c).toBe(has(c) ? 'function' : 'undefined');
      }
    });

    itWith('reserveMany')(
      'reserveMany accounts every limit at the common emission time',
      async () => {
        if (!backend.reserveMany) return expect.fail(`${name} has no reserveMany`);
        const fast = P(10, 1000);
        const slow = P(1, 1000);
        const entries = [
          { key: `${key}:fast`, params: fast },
          { key: `${key}:slow`, params: slow },
        ];
        expect((await backend.reserveMany(entries, { now: t0 })).delay).toBe(0);
        const held = await backend.reserveMany(entries, { now: t0 });
        expect(held.allowed).toBe(true);
        expect(held.delay).toBe(1000);
        // The fast limit alone must now wait until after that emission (1000 + its interval).
        const alone = await backend.reserve(`${key}:fast`, fast, { now: t0 });
        expect(alone.delay).toBeCloseTo(1100, 3);
      },
    );

    itWith('reserveMany')('reserveMany is all or nothing', async () => {
      if (!backend.reserveMany) return expect.fail(`${name} has no reserveMany`);
      const a = P(10, 1000);
      const b = P(1, 1000);
      const entries = [
        { key: `${key}:a`, params: a },
        { key: `${key}:b`, params: b },
      ];
      await backend.reserveMany(entries, { now: t0 });
      const r = await backend.reserveMany(entries, { now: t0, maxDelay: 500 });
      expect(r.allowed).toBe(false);
      expect(r.retryAfter).toBeCloseTo(500, 3);
      expect(r.each.map((e) => e.allowed)).toEqual([false, false]);
      // `a` was not charged by the rejected request: its next cell is only 100 ms away.
      expect((await backend.reserve(`${key}:a`, a, { now: t0 })).delay).toBeCloseTo(100, 3);
    });

    describeWith('peek')('peek', () => {
      const peek = (k: string, p: FreqLimitParams, now: number) => {
        if (!backend.peek) return expect.fail(`${name} has no peek`);
        return backend.peek(k, p, { now });
      };

      it('an empty key has a full burst', async () => {
        expect(await peek(key, P(10, 1000, 4), t0)).toEqual({
          remaining: 4,
          resetAfter: 0,
          retryAfter: 0,
        });
      });

      it('tells remaining, resetAfter and retryAfter as reserve would see them', async () => {
        const p = P(4, 1000, 3); // T = 250, tau = 500
        await backend.reserve(key, p, { now: t0 });
        expect(await peek(key, p, t0)).toEqual({ remaining: 2, resetAfter: 250, retryAfter: 0 });
        await backend.reserve(key, p, { now: t0, cost: 2 });
        const full = await peek(key, p, t0 + 100);
        expect(full.remaining).toBe(0);
        expect(full.resetAfter).toBeCloseTo(650, 3);
        expect(full.retryAfter).toBeCloseTo(150, 3);
        const rejected = await backend.reserve(key, p, { now: t0 + 100, maxDelay: 0 });
        expect(rejected.retryAfter).toBeCloseTo(full.retryAfter, 3);
        expect(await peek(key, p, t0 + 250)).toMatchObject({ remaining: 1, retryAfter: 0 });
      });

      it('changes nothing: peeking twice, then reserving, answers as without the peeks', async () => {
        const p = P(2, 1000, 3);
        const twin = `${key}:twin`;
        for (const k of [key, twin]) {
          await backend.reserve(k, p, { now: t0 });
          await backend.reserve(k, p, { now: t0, cost: 2 });
        }
        const first = await peek(key, p, t0 + 10);
        expect(await peek(key, p, t0 + 10)).toEqual(first);
        for (const opts of [
          { now: t0 + 20, maxDelay: 0 },
          { now: t0 + 20 },
          { now: t0 + 30, cost: 2, maxDelay: 100 },
        ]) {
          expect(await backend.reserve(key, p, opts)).toEqual(await backend.reserve(twin, p, opts));
        }
      });

      it('remaining > 0 exactly when retryAfter is 0 and a unit request passes at once', async () => {
        const p = P(3, 1000, 2);
        for (let i = 0; i < 12; i++) {
          const now = t0 + i * 111;
          const status = await peek(key, p, now);
          expect(status.remaining > 0).toBe(status.retryAfter === 0);
          const r = await backend.reserve(key, p, { now, maxDelay: 0 });
          expect(r.allowed).toBe(status.remaining > 0);
          if (!r.allowed) expect(r.retryAfter).toBeCloseTo(status.retryAfter, 3);
        }
      });

      it('rejects bad params naming the field', async () => {
        await expect(
          backend.peek!(key, { limit: 0, period: 1000 } as FreqLimitParams, { now: t0 }),
        ).rejects.toThrow(/`limit`/);
      });
    });

    describeWith('reset')('reset', () => {
      const reset = (k: string) => {
        if (!backend.reset) return expect.fail(`${name} has no reset`);
        return backend.reset(k);
      };

      it('forgets the key: the next requests see a full burst', async () => {
        const p = P(1, 60_000, 3);
        for (let i = 0; i < 3; i++) await backend.reserve(key, p, { now: t0 });
        expect((await backend.reserve(key, p, { now: t0, maxDelay: 0 })).allowed).toBe(false);
        await reset(key);
        const delays: number[] = [];
        for (let i = 0; i < 3; i++) {
          delays.push((await backend.reserve(key, p, { now: t0, maxDelay: 0 })).delay);
        }
        expect(delays).toEqual([0, 0, 0]);
        expect((await backend.reserve(key, p, { now: t0, maxDelay: 0 })).allowed).toBe(false);
      });

      it('touches no other key, and an unknown key is no error', async () => {
        const p = P(1, 60_000);
        await backend.reserve(`${key}:other`, p, { now: t0 });
        await reset(`${key}:never-seen`);
        await reset(key);
        expect((await backend.reserve(`${key}:other`, p, { now: t0, maxDelay: 0 })).allowed).toBe(
          false,
        );
      });
    });

    describeWith('block')('block', () => {
      const block = (k: string, p: FreqLimitParams, ms: number, now: number) => {
        if (!backend.block) return expect.fail(`${name} has no block`);
        return backend.block(k, p, ms, { now });
      };

      it('nothing passes before now + ms; at now + ms one request passes', async () => {
        const p = P(10, 1000, 5); // T = 100, tau = 400
        await block(key, p, 5000, t0);
        const held = await backend.reserve(key, p, { now: t0, maxDelay: 4999 });
        expect(held.allowed).toBe(false);
        expect(held.delay).toBeCloseTo(5000, 3);
        expect(held.retryAfter).toBeCloseTo(1, 3);
        const early = await backend.reserve(key, p, { now: t0 + 4999, maxDelay: 0 });
        expect(early.allowed).toBe(false);
        expect(early.retryAfter).toBeCloseTo(1, 3);
        expect(await backend.reserve(key, p, { now: t0 + 5000, maxDelay: 0 })).toMatchObject({
          allowed: true,
          delay: 0,
          remaining: 0,
        });
        // Then the limit applies as usual (no full burst right after a block).
        const next = await backend.reserve(key, p, { now: t0 + 5000 });
        expect(next.delay).toBeCloseTo(100, 3);
      });

      it('a reservation held past the block waits until now + ms', async () => {
        const p = P(1, 1000);
        await block(key, p, 2500, t0);
        const r = await backend.reserve(key, p, { now: t0 + 500 });
        expect(r.allowed).toBe(true);
        expect(r.delay).toBeCloseTo(2000, 3);
      });

      it('never shortens a longer wait, and lengthens a shorter one', async () => {
        const p = P(1, 1000);
        for (let i = 0; i < 4; i++) await backend.reserve(key, p, { now: t0 }); // wait 3000
        await block(key, p, 1000, t0);
        const kept = await backend.reserve(key, p, { now: t0, maxDelay: 0 });
        expect(kept.retryAfter).toBeCloseTo(4000, 3);
        await block(key, p, 10_000, t0);
        const longer = await backend.reserve(key, p, { now: t0, maxDelay: 0 });
        expect(longer.retryAfter).toBeCloseTo(10_000, 3);
      });

      it('ms = 0 leaves exactly one request to pass now (tat = now + tau)', async () => {
        const p = P(2, 1000, 3);
        await block(key, p, 0, t0);
        expect(await backend.reserve(key, p, { now: t0, maxDelay: 0 })).toMatchObject({
          allowed: true,
          remaining: 0,
        });
        expect((await backend.reserve(key, p, { now: t0, maxDelay: 0 })).allowed).toBe(false);
        // With burst 1 (tau 0) an idle key stays idle.
        await block(`${key}:1`, P(1, 1000), 0, t0);
        expect((await backend.reserve(`${key}:1`, P(1, 1000), { now: t0 })).resetAfter).toBe(1000);
      });

      it.each([Number.NaN, -1, Number.POSITIVE_INFINITY, 1e13, '5'])(
        'ms %s is a RangeError naming `ms`',
        async (ms) => {
          await expect(block(key, P(1, 1000), ms as number, t0)).rejects.toThrow(RangeError);
          await expect(block(key, P(1, 1000), ms as number, t0)).rejects.toThrow(/`ms`/);
        },
      );

      it('peek and reset see a block', async () => {
        const p = P(1, 1000);
        await block(key, p, 3000, t0);
        if (backend.peek) {
          const status = await backend.peek(key, p, { now: t0 + 1000 });
          expect(status.remaining).toBe(0);
          expect(status.retryAfter).toBeCloseTo(2000, 3);
        }
        if (backend.reset) {
          await backend.reset(key);
          expect((await backend.reserve(key, p, { now: t0 + 1000, maxDelay: 0 })).allowed).toBe(
            true,
          );
        }
      });
    });

    it('any string is a key, each with its own state: empty, binary, unicode, numeric, 1 MB', async () => {
      const p = P(1, 60_000);
      const keys = [
        '',
        ' ',
        '0',
        '-0',
        '1e3',
        '0x10',
        '\u0000\u0001\u00ff',
        '\r\n*?[]\\',
        '{tag}',
        'é',
        '你好',
        '😀',
        '\ud800', // lone surrogates: not valid Unicode, still distinct keys
        '\udbff',
        'a\ud800b',
        'x'.repeat(129),
        'y'.repeat(1024 * 1024),
        `${'€'.repeat(300_000)}!`,
      ].map((k) => `${key}:${k}`);
      for (const k of keys) {
        expect(
          (await backend.reserve(k, p, { now: t0, maxDelay: 0 })).allowed,
          k.slice(0, 40),
        ).toBe(true);
      }
      for (const k of keys) {
        expect(
          (await backend.reserve(k, p, { now: t0, maxDelay: 0 })).allowed,
          k.slice(0, 40),
        ).toBe(false);
      }
    });

    it('a key that is not a string is a TypeError naming `key`', async () => {
      for (const bad of [42, null, undefined, {}, Symbol('k')]) {
        await expect(
          Promise.resolve().then(() =>
            backend.reserve(bad as unknown as string, P(1, 1000), { now: t0 }),
          ),
        ).rejects.toThrow(/`key`/);
      }
    });

    it('clear() forgets every key', async () => {
      const p = P(1, 1000);
      await backend.reserve(key, p, { now: t0 });
      await backend.clear();
      expect((await backend.reserve(key, p, { now: t0 })).delay).toBe(0);
    });
  });
}
