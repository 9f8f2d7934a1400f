/**
 * In-process dispatch: a request through a framework's own app and request objects, without a
 * socket — for floods of a million requests, which real HTTP on a shared 2-core machine would
 * take many minutes to send. The listener (an Express app, Koa's `app.callback()`, or
 * `@hono/node-server`'s `getRequestListener(app.fetch)`) gets a real `http.IncomingMessage` /
 * `http.ServerResponse` pair, the objects Node's server would hand it; the response is complete
 * when the framework calls `res.end`.
 */

import { IncomingMessage, type RequestListener, ServerResponse } from 'node:http';
import { Socket } from 'node:net';

/** One socket object for every request: never connected, it only carries `remoteAddress`. */
function fakeSocket(remoteAddress: string): Socket {
  const socket = new Socket();
  Object.defineProperty(socket, 'remoteAddress', { value: remoteAddress });
  return socket;
}

/** Dispatches requests to a Node request listener (an Express app, Koa's `app.callback()`). */
export function nodeDispatcher(listener: RequestListener) {
  const shared = fakeSocket('127.0.0.1');
  /** Resolves with the response status; `remoteAddress` is the client address the server sees. */
  return (path: string, headers: Record<string, string>, remoteAddress?: string): Promise<number> =>
    new Promise((resolve, reject) => {
      const socket: Socket =
        remoteAddress === undefined
          ? shared
          : Object.create(shared, { remoteAddress: { value: remoteAddress } });
      const req = new IncomingMessage(socket);
      req.method = 'GET';
      req.url = path;
      const all: Record<string, string> = { host: '127.0.0.1', ...headers };
      req.headers = all;
      // @hono/node-server builds its Request from the raw list; Node's parser fills both.
      req.rawHeaders = Object.entries(all).flat();
      req.push(null); // no body
      const res = new ServerResponse(req);
      // An own property survives the prototype swap Express makes on `res`.
      res.end = function end(this: ServerResponse) {
        resolve(this.statusCode);
        return this;
      } as ServerResponse['end'];
      try {
        listener(req, res);
      } catch (error) {
        reject(error);
      }
    });
}
