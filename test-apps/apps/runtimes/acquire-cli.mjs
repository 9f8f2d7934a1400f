// Prints measureAcquire()'s figures as one JSON line (run by Node, Bun and Deno).
import { measureAcquire } from './acquire.mjs';

const runtime =
  typeof Deno !== 'undefined'
    ? `deno ${Deno.version.deno}`
    : typeof Bun !== 'undefined'
      ? `bun ${Bun.version}`
      : `node ${process.version}`;
console.log(JSON.stringify({ runtime, ...(await measureAcquire()) }));
