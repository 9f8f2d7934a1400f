/**
 * @module runtime
 * What each Hono runtime exposes without extra imports: the client address, and whether the
 * client is still there.
 */

import {
  type HeaderPair,
  type HeaderTarget,
  headersTarget,
  writeHeaders,
} from '@freqlimit/core/adapter';
import type { Context } from 'hono';

interface RuntimeEnv {
  /** `@hono/node-server`: the Node `IncomingMessage`. */
  incoming?: { socket?: { remoteAddress?: string } };
  /** `@hono/node-server`: the Node `ServerResponse`. */
  outgoing?: { destroyed?: boolean };
  /** Bun (`{ server }` form) and node-server behind some hosts. */
  server?: RuntimeEnv;
  /** Bun: the `Server` itself is passed as env. */
  requestIP?: (request: Request) => { address?: string } | null;
  /** Deno: `Deno.serve`'s handler info. */
  remoteAddr?: { hostname?: string };
}

/** Workers put the client address in a header; anywhere else that header is client-supplied. */
const workersAddress = (c: Context): string | undefined => c.req.header('cf-connecting-ip');

/**
 * `@hono/node-server`'s socket, Bun's `server.requestIP` (env), or Deno's `remoteAddr` (env);
 * `undefined` where the runtime exposes none.
 */
function runtimeAddress(c: Context): string | undefined {
  const env = c.env as RuntimeEnv | undefined;
  if (typeof env !== 'object' || env === null) return undefined;
  const incoming = env.incoming ?? env.server?.incoming;
  if (incoming?.socket) return incoming.socket.remoteAddress;
  const server = env.server ?? env;
  if (typeof server.requestIP === 'function') return server.requestIP(c.req.raw)?.address;
  return env.remoteAddr?.hostname;
}

/** How this runtime exposes the client address (decided once, when a middleware is created). */
export function addressReader(): (c: Context) => string | undefined {
  const onWorkers =
    typeof navigator !== 'undefined' && navigator.userAgent === 'Cloudflare-Workers';
  return onWorkers ? workersAddress : runtimeAddress;
}

/** The message when no address is found: how to key requests instead, per runtime. */
export const NO_ADDRESS =
  "cannot find the client address on this runtime, so there is no default key. Pass `keyFn`, e.g. `keyFn: (c) => ipKey(getConnInfo(c).remote.address) ?? 'unknown'` with getConnInfo from hono/bun, hono/deno, @hono/node-server/conninfo or @hono/cloudflare-workers (a keyFn returning undefined leaves the request unlimited)";

/**
 * The signal that tells a hold the client left. `@hono/node-server` only wires its request's
 * signal once the signal is first read, so a client that left before (while the reservation
 * was made) is seen on the Node response instead.
 */
export function leaveSignal(c: Context): AbortSignal {
  const signal = c.req.raw.signal;
  const env = c.env as RuntimeEnv | undefined;
  return env?.outgoing?.destroyed === true ? AbortSignal.abort() : signal;
}

/**
 * Where an instruction's header fields go. For a request that goes on (`passing`), through
 * `c.header` before the response exists, which keeps `@hono/node-server`'s fast path (touching
 * `c.res` first makes Hono build a Response early); for an answer freqLimit sends itself (429,
 * 503), onto the response.
 */
export function headerTarget(c: Context, passing: boolean): HeaderTarget {
  if (!passing) return headersTarget(c.res.headers);
  return {
    setHeader: c.header,
    appendHeader: (name: string, value: string) => c.header(name, value, { append: true }),
  };
}

/**
 * After the handler: a handler that returned its own `new Response()` dropped the fields set
 * before it; write them onto (a mutable copy of) its response.
 */
export function keepHeaders(c: Context, pairs: readonly HeaderPair[]): void {
  const first = pairs[0];
  if (first === undefined || c.res.headers.get(first[0])?.includes(first[1])) return;
  c.res = new Response(c.res.body, c.res);
  writeHeaders(pairs, headersTarget(c.res.headers));
}
