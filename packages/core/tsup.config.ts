import { defineConfig } from 'tsup';

export default defineConfig({
  entry: { index: 'src/index.ts', redis: 'src/redis.ts' },
  format: ['esm', 'cjs'],
  dts: true,
  clean: true,
  sourcemap: false,
  target: 'es2022',
  treeshake: true,
  // Shared chunks in CJS too: `@freqlimit/core/redis` must throw the same error classes
  // (`BackendTimeoutError`) as the main entry, or `instanceof` fails for CJS users.
  splitting: true,
  // Keep `node:crypto` as written (Deno and Workers' nodejs_compat want the prefix).
  removeNodeProtocol: false,
});
