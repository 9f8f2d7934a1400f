import { Cluster as Cluster5 } from 'ioredis';
import { Cluster as Cluster6 } from 'ioredis6';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FreqLimitError } from '../src/errors.js';
import { FreqLimit } from '../src/limiter.js';
import { clusterSlot, RedisBackend } from '../src/redis.js';
import { testBackend } from './backend-suite.js';
import { type RedisClusterServer, startRedisCluster } from './redis-harness.js';

let cluster: RedisClusterServer;
const clients: Array<Cluster5 | Cluster6> = [];

beforeAll(async () => {
  cluster = await startRedisCluster();
}, 90_000);
afterAll(async () => {
  for (const c of clients) c.disconnect();
  await cluster?.stop();
});

function connect(Client: typeof Cluster5 | typeof Cluster6): Cluster5 | Cluster6 {
  const c = new Client(cluster.nodes);
  clients.push(c);
  return c;
}

let prefixes = 0;

// Everything under a hash-tagged prefix lives in one slot, so reserveMany is atomic there too.
testBackend('redis cluster (ioredis 5, hash-tagged prefix)', () => ({
  backend: new RedisBackend(connect(Cluster5), { prefix: `{fltest-${++prefixes}}:` }),
}));

describe.each([
  ['ioredis 5', Cluster5],
  ['ioredis 6', Cluster6],
] as const)('RedisBackend on a 3-master Redis Cluster with %s', (_, Client) => {
  let redis: Cluster5 | Cluster6;
  let backend: RedisBackend;
  const prefix = `flcluster:${Math.random().toString(36).slice(2)}:`;

  beforeAll(async () => {
    redis = connect(Client);
    backend = new RedisBackend(redis, { prefix });
  });

  async function countPerMaster(): Promise<number[]> {
    return Promise.all(
      redis.nodes('master').map(async (node) => {
        let cursor = '0';
        let count = 0;
        do {
          const [next, keys] = await node.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 5000);
          cursor = next;
          count += keys.length;
        } while (cursor !== '0');
        return count;
      }),
    );
  }

  it('reserves 10,000 distinct keys across the masters', async () => {
    const p = { limit: 1, period: 1000 };
    const now = Date.now() + 60_000; // ahead of the servers: keys outlive the test
    const keys = Array.from({ length: 10_000 }, (_, i) => `user:${i}`);
    for (let i = 0; i < keys.length; i += 1000) {
      const batch = keys.slice(i, i + 1000);
      const first = await Promise.all(batch.map((k) => backend.reserve(k, p, { now })));
      const second = await Promise.all(
        batch.map((k) => backend.reserve(k, p, { now, maxDelay: 0 })),
      );
      for (const r of first)
        expect(r).toEqual({
          allowed: true,
          delay: 0,
          retryAfter: 0,
          remaining: 0,
          resetAfter: 1000,
        });
      for (const r of second) expect(r).toMatchObject({ allowed: false, retryAfter: 1000 });
    }
    const counts = await countPerMaster();
    expect(counts).toHaveLength(3);
    expect(counts.reduce((a, b) => a + b, 0)).toBe(10_000);
    for (const c of counts) expect(c).toBeGreaterThan(2500);
    await backend.clear();
    expect(await countPerMaster()).toEqual([0, 0, 0]);
  }, 30_000);

  it('recovers from SCRIPT FLUSH on every master', async () => {
    const p = { limit: 1, period: 1000 };
    const now = Date.now();
    await Promise.all(redis.nodes('master').map((n) => n.script('FLUSH')));
    const rs = await Promise.all(
      ['a', 'b', 'c', 'd', 'e', 'f'].map((k) => backend.reserve(k, p, { now })),
    );
    for (const r of rs) expect(r.allowed).toBe(true);
  });

  it('reserveMany on keys of one slot (hash tag) is atomic', async () => {
    const now = Date.now();
    const entries = [
      { key: 'chat:{42}', params: { limit: 1, period: 1000 } },
      { key: 'group:{42}', params: { limit: 20, period: 60_000, burst: 2 } },
    ];
    expect(clusterSlot(`${prefix}chat:{42}`)).toBe(clusterSlot(`${prefix}group:{42}`));
    expect((await backend.reserveMany(entries, { now })).delay).toBe(0);
    const held = await backend.reserveMany(entries, { now });
    expect(held).toMatchObject({ allowed: true, delay: 1000 });
    const limiter = new FreqLimit(
      [
        { limit: 2, period: 1000, burst: 2 },
        { limit: 10, period: 60_000, burst: 3 },
      ],
      { backend, name: 'multi', maxDelay: 0 },
    );
    await limiter.acquire('{user7}');
    await limiter.acquire('{user7}');
    await expect(limiter.acquire('{user7}')).rejects.toMatchObject({ code: 'RATE_LIMITED' });
  });

  it('refuses reserveMany across slots with a clear error, reserving nothing', async () => {
    const entries = [
      { key: 'chat:1', params: { limit: 1, period: 1000 } },
      { key: 'chat:2', params: { limit: 1, period: 1000 } },
    ];
    expect(clusterSlot(`${prefix}chat:1`)).not.toBe(clusterSlot(`${prefix}chat:2`));
    const error = await backend.reserveMany(entries).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(FreqLimitError);
    expect(error).toMatchObject({ code: 'REDIS_CROSS_SLOT' });
    expect((error as Error).message).toMatch(/hash tag/);
    expect(await redis.exists(backend.redisKey('chat:1'))).toBe(0);
    expect(await redis.exists(backend.redisKey('chat:2'))).toBe(0);
    // Each key alone still works.
    expect((await backend.reserve('chat:1', { limit: 1, period: 1000 })).allowed).toBe(true);
  });

  it('computes the same slots as the cluster', async () => {
    for (const key of [
      'a',
      'user:1',
      '{tag}x',
      'x{}y',
      '{}',
      'éé€',
      `${'k'.repeat(300)}`,
      'a{b}{c}',
    ]) {
      expect(clusterSlot(key), key).toBe(await redis.cluster('KEYSLOT', key));
    }
  });
});
