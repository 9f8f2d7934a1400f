/**
 * What is specific to Koa; everything the adapters share is in the adapter suite
 * (`test/conformance.test.ts`).
 */

import { createRequire } from 'node:module';
import Router from '@koa/router';
import type Koa from 'koa';
import { afterEach, describe, expect, expectTypeOf, it } from 'vitest';
import type { Served } from '../../core/test/adapter-suite.js';
import { listening } from '../../core/test/listen.js';
import { KOA_VERSIONS, koaHarness } from '../test/harness.js';
import { type FreqLimitInfo, type FreqLimitState, freqLimit, InMemoryBackend } from './index.js';

type State = Koa.DefaultState & FreqLimitState;

const open: Served[] = [];
afterEach(async () => {
  await Promise.all(open.splice(0).map((s) => s.close()));
});

describe.each(KOA_VERSIONS)('%s', (label, KoaClass) => {
  it('runs against the intended Koa major', () => {
    const require = createRequire(import.meta.url);
    const name = label === 'koa@2' ? 'koa2' : 'koa';
    const { version } = require(`${name}/package.json`) as { version: string };
    expect(version.split('.')[0]).toBe(label.slice(-1));
  });

  it('removes its close listener from ctx.res once a held request goes on', async () => {
    let before = -1;
    let after = -1;
    const served = await koaHarness(KoaClass).serve([
      async (ctx, next) => {
        before = ctx.res.listenerCount('close');
        await next();
      },
      freqLimit({ limit: 1, period: 100, backend: new InMemoryBackend({ clock: () => 0 }) }),
      (ctx, next) => {
        after = ctx.res.listenerCount('close');
        return next();
      },
    ]);
    open.push(served);
    await fetch(served.url);
    const held = await fetch(served.url);
    expect(held.headers.get('server-timing')).toMatch(/^freqlimit;dur=\d+$/);
    expect(after).toBe(before);
  });

  it('limits one route of @koa/router', async () => {
    const app = new KoaClass<State>();
    const router = new Router<State>();
    const login = freqLimit<State>({ name: 'login', limit: 1, period: 60_000, maxDelay: 0 });
    router.post('/login', login, (ctx) => {
      ctx.body = { policy: ctx.state.freqLimit?.limits[0]?.name };
    });
    router.get('/health', (ctx) => {
      ctx.body = 'ok';
    });
    app.use(router.routes());
    const served = await listening(app.listen(0, '127.0.0.1'), () => 0, []);
    open.push(served);
    const post = () => fetch(`${served.url}login`, { method: 'POST' });
    expect(await (await post()).json()).toEqual({ policy: 'login' });
    const rejected = await post();
    expect(rejected.status).toBe(429);
    expect(rejected.headers.get('ratelimit')).toBe('"login";r=0;t=60');
    const health = await fetch(`${served.url}health`);
    expect(health.status).toBe(200);
    expect(health.headers.get('ratelimit')).toBeNull();
  });
});

it('types ctx.state.freqLimit through FreqLimitState', () => {
  expectTypeOf<State['freqLimit']>().toEqualTypeOf<FreqLimitInfo | undefined>();
});
