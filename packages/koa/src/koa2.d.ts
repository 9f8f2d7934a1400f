// Koa 2 is installed under the npm alias `koa2` for tests; its API is typed like Koa 3's.
declare module 'koa2' {
  import Koa from 'koa';
  export default Koa;
}
