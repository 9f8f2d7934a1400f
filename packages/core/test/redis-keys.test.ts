/**
 * Whatever keys clients send, the keys RedisBackend writes stay short: at most the prefix plus
 * 128 bytes, checked on the real keys in Redis (SCAN returning raw bytes).
 */

import type { Redis } from 'ioredis';
import { describe, expect, it } from 'vitest';
import { MAX_KEY_BYTES, RedisBackend } from '../src/redis.js';
import { useRedis } from './use-redis.js';

let redis: Redis;
useRedis((client) => {
  redis = client;
});

/** Every key under `prefix`, as raw bytes. */
async function keysUnder(prefix: string): Promise<Buffer[]> {
  const found: Buffer[] = [];
  let cursor = '0';
  do {
    const [next, keys] = await redis.scanBuffer(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000);
    cursor = String(next);
    found.push(...keys);
  } while (cursor !== '0');
  return found;
}

describe('RedisBackend keys', () => {
  it('hostile keys work, stay distinct, and never make a Redis key longer than prefix + 128 B', async () => {
    const prefix = `flkeys:${process.pid}:`;
    const backend = new RedisBackend(redis, { prefix });
    const p = { limit: 1, period: 60_000 };
    const keys = [
      '',
      '0',
      '-0',
      '1e3',
      '\u0000\u0001binary\u00ff\u0080',
      '\r\n*?[]\\',
      '😀'.repeat(40), // 160 UTF-8 bytes: hashed
      'é'.repeat(64), // exactly 128 bytes: kept as is
      'é'.repeat(65),
      '\ud800',
      '\udbff',
      '\udc00',
      `{user42}:${'x'.repeat(200)}`,
      `{${'t'.repeat(100)}}:${'x'.repeat(200)}`,
      'k'.repeat(1024 * 1024), // a 1 MB header value
      `${'k'.repeat(1024 * 1024)}2`,
    ];
    for (const k of keys) expect((await backend.reserve(k, p, { maxDelay: 0 })).allowed).toBe(true);
    for (const k of keys)
      expect((await backend.reserve(k, p, { maxDelay: 0 })).allowed).toBe(false);
    const stored = await keysUnder(prefix);
    // One Redis key per client key: none of them collided.
    expect(stored.length).toBe(keys.length);
    const prefixBytes = Buffer.byteLength(prefix);
    for (const k of stored) expect(k.length).toBeLessThanOrEqual(prefixBytes + MAX_KEY_BYTES);
    // Short valid keys are stored as they are; the others as a hash.
    expect(stored.map(String)).toContain(`${prefix}${'é'.repeat(64)}`);
    expect(stored.map(String)).toContain(`${prefix}`);
    expect(stored.some((k) => String(k).startsWith(`${prefix}{user42}#`))).toBe(true);
  });

  it('a key that is not a string is a TypeError naming `key`, before anything is sent', async () => {
    const backend = new RedisBackend(redis, { prefix: `flkeys2:${process.pid}:` });
    for (const bad of [42, null, undefined, { toString: () => 'x' }]) {
      await expect(
        backend.reserve(bad as unknown as string, { limit: 1, period: 1 }),
      ).rejects.toThrow(TypeError);
      await expect(backend.peek(bad as unknown as string, { limit: 1, period: 1 })).rejects.toThrow(
        /`key`/,
      );
    }
    expect(await keysUnder(`flkeys2:${process.pid}:`)).toEqual([]);
  });
});
