import { defineConfig } from 'vitest/config';

/** `pnpm test:soak`: the 60 s soak, kept out of `pnpm test`. */
export default defineConfig({
  test: { name: 'resilience-soak', include: ['soak/**/*.test.ts'], testTimeout: 120_000 },
});
