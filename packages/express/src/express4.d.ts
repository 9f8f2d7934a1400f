// Types for the `express4` npm alias the tests use: Express 4 has the same middleware API.
declare module 'express4' {
  import express from 'express';
  export default express;
}
