// Express 5, ESM, TypeScript compiled with module node16: what a TS user on ESM gets from npm.
import type { AddressInfo } from 'node:net';
import { InMemoryBackend } from '@freqlimit/core';
import { freqLimit } from '@freqlimit/express';
import express from 'express';

const app = express();
app.use(
  freqLimit({
    name: 'express-esm-ts',
    limit: 1,
    period: 2000,
    maxDelay: 2900,
    backend: new InMemoryBackend(),
  }),
);
app.get('/', (req, res) => {
  const delay: number = req.freqLimit?.delay ?? -1;
  res.json({ ok: true, delay });
});
const server = app.listen(0, '127.0.0.1', () => {
  console.log(`listening ${(server.address() as AddressInfo).port}`);
});
