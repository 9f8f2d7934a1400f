/**
 * @module node-response
 * What `RequestLimiter.holdResponse` needs of a Node `ServerResponse` (Express, Koa) to see a
 * client go away while its request is held. Typed structurally: no Node import.
 */

/** The parts of a Node `ServerResponse` that tell whether the client went away. */
export interface ClosableResponse {
  once(event: 'close', listener: () => void): unknown;
  off(event: 'close', listener: () => void): unknown;
  /** `true` once the response was sent in full. */
  readonly writableFinished: boolean;
  /** `true` once the response (or its connection) was torn down. */
  readonly destroyed: boolean;
  readonly socket?: { readonly destroyed: boolean } | null;
}
