/**
 * @module test-support
 * Shared pieces of the tests (not part of the package build): both Koa majors, a backend that
 * always fails, and an app with a counting handler.
 */

import type { FreqLimitBackend, Reservation } from '@freqlimit/core';
import Koa from 'koa';
import Koa2 from 'koa2';
import type { FreqLimitState } from './index.js';

/** Every test runs against both majors. */
export const KOA_VERSIONS: Array<[string, typeof Koa]> = [
  ['koa@3', Koa],
  ['koa@2', Koa2],
];

/** A backend whose every call fails, like a Redis that is down. */
export class FailingBackend implements FreqLimitBackend {
  calls = 0;
  reserve(): Promise<Reservation> {
    this.calls++;
    return Promise.reject(new Error('backend down'));
  }
  reserveMany(): Promise<never> {
    this.calls++;
    return Promise.reject(new Error('backend down'));
  }
  refund(): Promise<void> {
    return Promise.reject(new Error('backend down'));
  }
  clear(): Promise<void> {
    return Promise.resolve();
  }
}

export interface TestApp {
  app: Koa<Koa.DefaultState & FreqLimitState>;
  /** How many times the final handler ran. */
  handled: () => number;
  /** Errors that reached Koa's error path. */
  errors: Error[];
}

/**
 * An app of the given Koa major with `middleware` in front of a handler that counts its runs
 * and answers with `ctx.state.freqLimit`.
 */
export function makeApp(
  KoaCtor: typeof Koa,
  ...middleware: Array<Koa.Middleware<Koa.DefaultState & FreqLimitState>>
): TestApp {
  const app = new KoaCtor<Koa.DefaultState & FreqLimitState>();
  const errors: Error[] = [];
  let count = 0;
  app.on('error', (error: Error) => errors.push(error));
  for (const m of middleware) app.use(m);
  app.use((ctx) => {
    count++;
    ctx.body = { ok: true, freqLimit: ctx.state.freqLimit ?? null };
  });
  return { app, handled: () => count, errors };
}
