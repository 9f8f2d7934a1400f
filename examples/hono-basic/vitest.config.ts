import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: { name: 'example-hono-basic', include: ['test/**/*.test.ts'], testTimeout: 20_000 },
});
