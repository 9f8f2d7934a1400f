import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: { name: 'example-koa-router', include: ['test/**/*.test.ts'], testTimeout: 20_000 },
});
