/** The adapter suite's harness for Express (4 or 5). */

import type express5 from 'express';
import type { NextFunction, Request, RequestHandler, Response } from 'express';
import type { AdapterHarness } from '../../core/test/adapter-suite.js';
import { listening } from '../../core/test/listen.js';
import * as adapter from '../src/index.js';
import { freqLimit, type OnRejected } from '../src/index.js';

/** Serves the middleware with the given Express (4 or 5). */
export function expressHarness(
  express: typeof express5,
): AdapterHarness<Request, OnRejected, RequestHandler> {
  return {
    name: '@freqlimit/express',
    proxySetting: 'trust proxy',
    exports: adapter,
    freqLimit,
    header: (req, name) => req.get(name),
    respondWith: (status, body) => (_req, res) => {
      res.status(status).type('text/plain').send(body);
    },
    throwing: (error) => async () => {
      throw error;
    },
    async serve(middleware, settings = {}) {
      const app = express();
      if (settings.proxy) app.set('trust proxy', true);
      if (settings.noAddress) {
        app.use((req, _res, next) => {
          Object.defineProperty(req, 'ip', { value: undefined });
          next();
        });
      }
      let ran = 0;
      const errors: unknown[] = [];
      app.get('/', ...middleware, (req: Request, res: Response) => {
        ran++;
        res.json({ freqLimit: req.freqLimit ?? null });
      });
      app.use((error: Error, _req: Request, res: Response, _next: NextFunction) => {
        errors.push(error);
        res.status(500).json({ error: error.message });
      });
      return listening(app.listen(0, '127.0.0.1'), () => ran, errors);
    },
  };
}
