import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: { name: 'example-telegram-webhook', include: ['test/**/*.test.ts'], testTimeout: 20_000 },
});
