import { defineConfig } from 'vitest/config';

export default defineConfig({ test: { name: 'example-express-basic', testTimeout: 30_000 } });
