// Koa 3, ESM JavaScript.
import { freqLimit } from '@freqlimit/koa';
import Koa from 'koa';

const app = new Koa();
app.use(freqLimit({ name: 'koa', limit: 1, period: 2000, maxDelay: 2900 }));
app.use((ctx) => {
  ctx.body = { ok: true, delay: ctx.state.freqLimit.delay };
});
const server = app.listen(0, '127.0.0.1', () => {
  console.log(`listening ${server.address().port}`);
});
