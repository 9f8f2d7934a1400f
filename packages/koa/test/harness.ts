/** The adapter suite's harness for Koa (2 or 3), and both majors for the package's own tests. */

import Koa from 'koa';
import Koa2 from 'koa2';
import type { AdapterHarness } from '../../core/test/adapter-suite.js';
import { listening } from '../../core/test/listen.js';
import * as adapter from '../src/index.js';
import { type FreqLimitState, freqLimit, type OnRejected } from '../src/index.js';

/** Every Koa test runs against both majors. */
export const KOA_VERSIONS: Array<[string, typeof Koa]> = [
  ['koa@3', Koa],
  ['koa@2', Koa2],
];

type State = Koa.DefaultState & FreqLimitState;
type Ctx = Koa.ParameterizedContext<State>;

/** Serves the middleware with the given Koa (2 or 3). */
export function koaHarness(
  KoaClass: typeof Koa,
): AdapterHarness<Ctx, OnRejected<State>, Koa.Middleware<State>> {
  return {
    name: '@freqlimit/koa',
    proxySetting: 'app.proxy',
    exports: adapter,
    freqLimit: (options) => freqLimit<State>(options),
    header: (ctx, name) => ctx.get(name) || undefined,
    respondWith: (status, body) => (ctx) => {
      ctx.status = status;
      ctx.type = 'text/plain';
      ctx.body = body;
    },
    throwing: (error) => async () => {
      throw error;
    },
    async serve(middleware, settings = {}) {
      const app = new KoaClass<State>();
      app.proxy = settings.proxy === true;
      if (settings.noAddress) {
        app.use((ctx, next) => {
          Object.defineProperty(ctx, 'ip', { value: '' });
          return next();
        });
      }
      let ran = 0;
      const errors: unknown[] = [];
      app.on('error', (error: unknown) => errors.push(error));
      for (const m of middleware) app.use(m);
      app.use((ctx) => {
        ran++;
        ctx.body = { freqLimit: ctx.state.freqLimit ?? null };
      });
      return listening(app.listen(0, '127.0.0.1'), () => ran, errors);
    },
  };
}
