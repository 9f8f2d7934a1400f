/**
 * The shared backend suite: every backend (memory, Redis, custom) must pass the same cases,
 * so their behaviour can never drift apart. Times are injected (`now`) near today's epoch ms,
 * so backends that also expire keys on a real clock (Redis) see consistent times.
 */

import { afterAll, beforeEach, describe, expect, it } from 'vitest';
import type { FreqLimitBackend } from '../src/backend.js';
import { FreqLimitParams } from '../src/params.js';

export interface BackendUnderTest {
  backend: FreqLimitBackend;
  /** Called once after the suite. */
  close?: () => Promise<void> | void;
}

const P = (limit: number, period: number, burst = 1) =>
  new FreqLimitParams({ limit, period, burst });

export function testBackend(
  name: string,
  factory: () => Promise<BackendUnderTest> | BackendUnderTest,
): void {
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

    it('reserveMany accounts every limit at the common emission time', async () => {
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
    });

    it('reserveMany is all or nothing', async () => {
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

    it('clear() forgets every key', async () => {
      const p = P(1, 1000);
      await backend.reserve(key, p, { now: t0 });
      await backend.clear();
      expect((await backend.reserve(key, p, { now: t0 })).delay).toBe(0);
    });
  });
}
