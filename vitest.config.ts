import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    projects: [
      'packages/*/vitest.config.ts',
      'examples/*/vitest.config.ts',
      'test-apps/vitest.config.*',
      'resilience/vitest.config.ts',
    ],
    reporters: ['default', ['json', { outputFile: '.vitest-results.json' }]],
  },
});
