/**
 * What is specific to Express; everything the adapters share is in the adapter suite
 * (`test/conformance.test.ts`).
 */

import express5, { type Request } from 'express';
import express4 from 'express4';
import { afterEach, describe, expect, expectTypeOf, it } from 'vitest';
import type { Served } from '../../core/test/adapter-suite.js';
import { listening } from '../../core/test/listen.js';
import { type FreqLimitBackend, type FreqLimitInfo, freqLimit, InMemoryBackend } from './index.js';

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

it('in memory, a request that passes goes on in the same tick; otherwise after the backend', async () => {
  const { IncomingMessage, ServerResponse } = await import('node:http');
  const { Socket } = await import('node:net');
  /** Dispatches one GET / through `app` on a socket that is never written to the network. */
  const dispatch = (app: ReturnType<typeof express5>) => {
    const socket = new Socket();
    Object.defineProperty(socket, 'remoteAddress', { value: '127.0.0.1' });
    const req = new IncomingMessage(socket);
    Object.assign(req, { method: 'GET', url: '/', headers: { host: 'localhost' } });
    const res = new ServerResponse(req);
    Object.assign(res, { _writeRaw: () => true });
    app(req, res);
    return res;
  };
  let ran = 0;
  const handler = (_req: Request, res: express5.Response) => {
    ran++;
    res.end();
  };
  const fast = express5()
    .use(freqLimit({ limit: 10, period: 1_000, burst: 10 }))
    .get('/', handler);
  const res = dispatch(fast);
  expect(ran).toBe(1); // no promise on the way
  expect(res.getHeader('ratelimit')).toBe('"default";r=9;t=0');
  // The same in-memory state behind the promise-only backend contract.
  const memory = new InMemoryBackend();
  const asyncOnly: FreqLimitBackend = {
    reserve: (key, params, options) => memory.reserve(key, params, options),
    refund: (key, params, options) => memory.refund(key, params, options),
    clear: () => memory.clear(),
  };
  const slow = express5()
    .use(freqLimit({ limit: 10, period: 1_000, burst: 10, backend: asyncOnly }))
    .get('/', handler);
  dispatch(slow);
  expect(ran).toBe(1);
  await new Promise((resolve) => setImmediate(resolve));
  expect(ran).toBe(2);
});

it('types req.freqLimit for every handler', () => {
  expectTypeOf<Request['freqLimit']>().toEqualTypeOf<FreqLimitInfo | undefined>();
});
