import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: { name: 'example-redis-cluster-of-apps', testTimeout: 30_000, hookTimeout: 60_000 },
});
