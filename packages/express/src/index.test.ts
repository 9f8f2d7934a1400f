/**
 * What is specific to Express; everything the adapters share is in the adapter suite
 * (`test/conformance.test.ts`).
 */

import express5, { type Request } from 'express';
import express4 from 'express4';
import { afterEach, describe, expect, expectTypeOf, it } from 'vitest';
import type { Served } from '../../core/test/adapter-suite.js';
import { listening } from '../../core/test/listen.js';
import { type FreqLimitInfo, freqLimit } from './index.js';

const open: Served[] = [];
afterEach(async () => {
  await Promise.all(open.splice(0).map((s) => s.close()));
});

describe.each([
  ['express 5', express5],
  ['express 4', express4 as typeof express5],
])('%s', (_label, express) => {
  it('limits one route of a router, in front of its handler', async () => {
    const app = express();
    const router = express.Router();
    router.post(
      '/login',
      freqLimit({ name: 'login', limit: 1, period: 60_000, maxDelay: 0 }),
      (req, res) => {
        res.json({ policy: req.freqLimit?.limits[0]?.name });
      },
    );
    router.get('/free', (_req, res) => res.send('free'));
    app.use('/api', router);
    const served = await listening(app.listen(0, '127.0.0.1'), () => 0, []);
    open.push(served);
    const post = () => fetch(`${served.url}api/login`, { method: 'POST' });
    expect(await (await post()).json()).toEqual({ policy: 'login' });
    expect((await post()).status).toBe(429);
    const free = await fetch(`${served.url}api/free`);
    expect(free.status).toBe(200);
    expect(free.headers.get('ratelimit')).toBeNull();
  });
});

it('types req.freqLimit for every handler', () => {
  expectTypeOf<Request['freqLimit']>().toEqualTypeOf<FreqLimitInfo | undefined>();
});
