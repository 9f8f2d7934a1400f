import { describe, expect, it } from 'vitest';
import type { Reservation } from './backend.js';
import { gcraReserve } from './gcra.js';
import {
  createHeaderBuilder,
  type HeaderPair,
  headersTarget,
  LIST_HEADER_FIELDS,
  policyQuota,
  writeHeaders,
} from './headers.js';
import { FreqLimitParams } from './params.js';

const P = (limit: number, period: number, burst = 1) =>
  new FreqLimitParams({ limit, period, burst });

const allowed = (remaining: number, resetAfter: number, delay = 0): Reservation => ({
  allowed: true,
  delay,
  retryAfter: 0,
  remaining,
  resetAfter,
});
const rejected = (delay: number, retryAfter: number, resetAfter: number): Reservation => ({
  allowed: false,
  delay,
  retryAfter,
  remaining: 0,
  resetAfter,
});

/** 2026-01-01T00:00:00.000Z, for legacy's Unix reset times. */
const WALL = Date.UTC(2026, 0, 1);

describe('policyQuota: q and w', () => {
  it.each([
    // limit, period → q, w
    [5, 60_000, 5, 60],
    [10, 1000, 10, 1],
    [3, 1500, 4, 2], // 3 per 1.5 s = 4 per 2 s
    [1, 500, 2, 1], // 1 per 0.5 s = 2 per 1 s
    [1, 1999, 1, 2],
    [7, 100, 70, 1],
    [100, 86_400_000, 100, 86_400],
    [2, 2500, 2, 3], // floor(2 · 3000 / 2500) = 2
  ])('%d per %d ms → q=%d;w=%d', (limit, period, q, w) => {
    expect(policyQuota(P(limit, period))).toEqual({ q, w });
  });
});

describe("headers: 'draft-10'", () => {
  const build = createHeaderBuilder('draft-10', [{ name: 'login', params: P(5, 60_000, 3) }]);

  it('r = remaining, t = 0 while something remains', () => {
    expect(build([allowed(2, 12_000)], undefined, WALL)).toEqual([
      ['RateLimit-Policy', '"login";q=5;w=60'],
      ['RateLimit', '"login";r=2;t=0'],
    ]);
  });

  it('t = seconds until one more unit is available when none remains', () => {
    // T = 12 s, tau = 24 s: TAT 36.5 s ahead → one more unit after 12.5 s → t=13.
    expect(build([allowed(0, 36_500)], undefined, WALL)).toEqual([
      ['RateLimit-Policy', '"login";q=5;w=60'],
      ['RateLimit', '"login";r=0;t=13'],
    ]);
  });

  it('t on a 429 equals the Retry-After seconds', () => {
    expect(build([rejected(30_000, 29_000, 54_000)], 29, WALL)).toEqual([
      ['RateLimit-Policy', '"login";q=5;w=60'],
      ['RateLimit', '"login";r=0;t=29'],
    ]);
  });

  it('t agrees with the GCRA state: 0 exactly when a unit request would pass', () => {
    const p = P(10, 1000, 3);
    const b = createHeaderBuilder('draft-10', [{ name: 'x', params: p }]);
    let tat: number | undefined;
    const fields: string[] = [];
    for (let i = 0; i < 4; i++) {
      const d = gcraReserve(0, tat, p);
      tat = d.tat;
      fields.push(b([d.reservation], undefined, WALL)[1]?.[1] ?? '');
    }
    // Three pass at once (2, 1, 0 left); the fourth is held 100 ms, the next unit after 200.
    expect(fields).toEqual(['"x";r=2;t=0', '"x";r=1;t=0', '"x";r=0;t=1', '"x";r=0;t=1']);
  });

  it('several limits are several list members, in order; a limit that did not apply is left out', () => {
    const several = createHeaderBuilder('draft-10', [
      { name: 'api-1', params: P(10, 1000, 5) },
      { name: 'api-2', params: P(100, 60_000, 20) },
      { name: 'api-3', params: P(3, 1500) },
    ]);
    expect(several([allowed(4, 200), allowed(19, 600), allowed(0, 500)], undefined, WALL)).toEqual([
      ['RateLimit-Policy', '"api-1";q=10;w=1, "api-2";q=100;w=60, "api-3";q=4;w=2'],
      ['RateLimit', '"api-1";r=4;t=0, "api-2";r=19;t=0, "api-3";r=0;t=1'],
    ]);
    expect(several([undefined, allowed(19, 600), undefined], undefined, WALL)).toEqual([
      ['RateLimit-Policy', '"api-2";q=100;w=60'],
      ['RateLimit', '"api-2";r=19;t=0'],
    ]);
    expect(several([undefined, undefined, undefined], undefined, WALL)).toEqual([]);
  });

  it('policy names are Structured Field strings (quotes and backslashes escaped)', () => {
    const odd = createHeaderBuilder('draft-10', [{ name: 'a "b" \\c', params: P(1, 1000) }]);
    expect(odd([allowed(0, 1000)], undefined, WALL)[0]).toEqual([
      'RateLimit-Policy',
      '"a \\"b\\" \\\\c";q=1;w=1',
    ]);
  });
});

describe("headers: 'draft-8'", () => {
  const build = createHeaderBuilder('draft-8', [{ name: 'login', params: P(5, 60_000, 3) }]);

  it('t = seconds to full reset', () => {
    expect(build([allowed(2, 12_000)], undefined, WALL)).toEqual([
      ['RateLimit-Policy', '"login";q=5;w=60'],
      ['RateLimit', '"login";r=2;t=12'],
    ]);
    expect(build([allowed(0, 36_500)], undefined, WALL)[1]).toEqual([
      'RateLimit',
      '"login";r=0;t=37',
    ]);
  });

  it('t on a 429 equals the Retry-After seconds', () => {
    expect(build([rejected(30_000, 29_000, 54_000)], 29, WALL)[1]).toEqual([
      'RateLimit',
      '"login";r=0;t=29',
    ]);
  });
});

describe("headers: 'draft-6'", () => {
  it('Limit (= q), Remaining, Reset (delta seconds to full reset), Policy', () => {
    const build = createHeaderBuilder('draft-6', [{ name: 'login', params: P(5, 60_000, 3) }]);
    expect(build([allowed(2, 12_000)], undefined, WALL)).toEqual([
      ['RateLimit-Limit', '5'],
      ['RateLimit-Remaining', '2'],
      ['RateLimit-Reset', '12'],
      ['RateLimit-Policy', '5;w=60'],
    ]);
  });

  it('non-whole-second periods state q per w', () => {
    const build = createHeaderBuilder('draft-6', [{ name: 'x', params: P(3, 1500) }]);
    expect(build([allowed(0, 499)], undefined, WALL)).toEqual([
      ['RateLimit-Limit', '4'],
      ['RateLimit-Remaining', '0'],
      ['RateLimit-Reset', '1'],
      ['RateLimit-Policy', '4;w=2'],
    ]);
  });

  it('several limits: reports the most restrictive one', () => {
    const build = createHeaderBuilder('draft-6', [
      { name: 'x-1', params: P(10, 1000, 5) },
      { name: 'x-2', params: P(100, 60_000, 20) },
    ]);
    expect(build([allowed(4, 200), allowed(0, 3000)], undefined, WALL)).toEqual([
      ['RateLimit-Limit', '100'],
      ['RateLimit-Remaining', '0'],
      ['RateLimit-Reset', '3'],
      ['RateLimit-Policy', '100;w=60'],
    ]);
    // Equal remaining: the one that takes longer to reset.
    expect(build([allowed(0, 5000), allowed(0, 3000)], undefined, WALL)[3]).toEqual([
      'RateLimit-Policy',
      '10;w=1',
    ]);
    // On a 429: the one whose delay is longest, i.e. what the client waits for.
    expect(build([rejected(500, 500, 900), rejected(2000, 2000, 2600)], 2, WALL)[3]).toEqual([
      'RateLimit-Policy',
      '100;w=60',
    ]);
  });
});

describe("headers: 'legacy'", () => {
  it('X-RateLimit-Limit (= q), -Remaining, -Reset (Unix seconds of full reset)', () => {
    const build = createHeaderBuilder('legacy', [{ name: 'login', params: P(5, 60_000, 3) }]);
    expect(build([allowed(2, 12_000)], undefined, WALL + 250)).toEqual([
      ['X-RateLimit-Limit', '5'],
      ['X-RateLimit-Remaining', '2'],
      ['X-RateLimit-Reset', String(WALL / 1000 + 13)],
    ]);
  });

  it('several limits: the most restrictive one', () => {
    const build = createHeaderBuilder('legacy', [
      { name: 'x-1', params: P(10, 1000, 5) },
      { name: 'x-2', params: P(100, 60_000, 20) },
    ]);
    expect(build([allowed(0, 400), allowed(3, 3000)], undefined, WALL)).toEqual([
      ['X-RateLimit-Limit', '10'],
      ['X-RateLimit-Remaining', '0'],
      ['X-RateLimit-Reset', String(WALL / 1000 + 1)],
    ]);
  });
});

describe('headers: false', () => {
  it('sends nothing', () => {
    const build = createHeaderBuilder(false, [{ name: 'x', params: P(1, 1000) }]);
    expect(build([allowed(0, 1000)], undefined, WALL)).toEqual([]);
    expect(build([rejected(1000, 1000, 1000)], 1, WALL)).toEqual([]);
  });
});

describe('whole seconds are not pushed up by float noise', () => {
  // `limit` requests at one instant fill a burst of `limit`: the key is then exactly one
  // period from a full reset. Summing `limit` intervals of period/limit ms in floats often
  // lands a hair above the period (7 × 1000/7 = 1000.0000000000001), which must still say
  // 1 s — and so for every limit.
  const limits = Array.from({ length: 60 }, (_, i) => i + 1);

  it.each(limits)('limit %d per second, burst as large', (limit) => {
    const p = P(limit, 1000, limit);
    let tat: number | undefined;
    let last: Reservation | undefined;
    for (let i = 0; i < limit; i++) {
      const d = gcraReserve(0, tat, p);
      tat = d.tat;
      last = d.reservation;
    }
    if (last === undefined) return expect.fail('no reservation');
    const policies = [{ name: 'x', params: p }];
    expect(createHeaderBuilder('draft-8', policies)([last], undefined, WALL)[1]).toEqual([
      'RateLimit',
      '"x";r=0;t=1',
    ]);
    // One more unit after one interval: t=1 as well.
    expect(createHeaderBuilder('draft-10', policies)([last], undefined, WALL)[1]).toEqual([
      'RateLimit',
      '"x";r=0;t=1',
    ]);
    expect(createHeaderBuilder('draft-6', policies)([last], undefined, WALL)[2]).toEqual([
      'RateLimit-Reset',
      '1',
    ]);
    expect(createHeaderBuilder('legacy', policies)([last], undefined, WALL)[2]).toEqual([
      'X-RateLimit-Reset',
      String(WALL / 1000 + 1),
    ]);
  });

  it('a real excess of more than 1 µs still rounds up', () => {
    const build = createHeaderBuilder('draft-8', [{ name: 'x', params: P(1, 1000) }]);
    expect(build([allowed(0, 1000.002)], undefined, WALL)[1]).toEqual(['RateLimit', '"x";r=0;t=2']);
    expect(build([allowed(0, 0.5)], undefined, WALL)[1]).toEqual(['RateLimit', '"x";r=0;t=1']);
  });
});

describe('writeHeaders', () => {
  const pairs: HeaderPair[] = [
    ['RateLimit-Policy', '"b";q=1;w=1'],
    ['RateLimit', '"b";r=0;t=1'],
    ['Retry-After', '1'],
  ];

  it('with get: joins list fields into one line, replaces the others', () => {
    const fields = new Map<string, string>([
      ['RateLimit', '"a";r=5;t=0'],
      ['Retry-After', '9'],
    ]);
    writeHeaders(pairs, {
      getHeader: (n) => fields.get(n),
      setHeader: (n, v) => fields.set(n, v),
    });
    expect(Object.fromEntries(fields)).toEqual({
      RateLimit: '"a";r=5;t=0, "b";r=0;t=1',
      'RateLimit-Policy': '"b";q=1;w=1',
      'Retry-After': '1',
    });
  });

  it('without get: appends list fields (Hono’s c.header with append)', () => {
    const headers = new Headers({ RateLimit: '"a";r=5;t=0' });
    writeHeaders(pairs, {
      setHeader: (n, v) => headers.set(n, v),
      appendHeader: (n, v) => headers.append(n, v),
    });
    expect(headers.get('RateLimit')).toBe('"a";r=5;t=0, "b";r=0;t=1');
    expect(headers.get('Retry-After')).toBe('1');
  });

  it('a Headers object through headersTarget; Server-Timing is a list field too', () => {
    const headers = new Headers({ 'Server-Timing': 'db;dur=3' });
    writeHeaders([['Server-Timing', 'freqlimit;dur=10']], headersTarget(headers));
    expect(headers.get('Server-Timing')).toBe('db;dur=3, freqlimit;dur=10');
    expect(LIST_HEADER_FIELDS.has('RateLimit')).toBe(true);
  });
});
