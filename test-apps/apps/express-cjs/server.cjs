// Express 5, CommonJS, plain require: what a JS user on CJS gets from npm.
const express = require('express');
const { freqLimit } = require('@freqlimit/express');

const app = express();
app.use(freqLimit({ name: 'express-cjs', limit: 1, period: 2000, maxDelay: 2900 }));
app.get('/', (req, res) => {
  res.json({ ok: true, delay: req.freqLimit.delay });
});
const server = app.listen(0, '127.0.0.1', () => {
  console.log(`listening ${server.address().port}`);
});
