/**
 * The one build configuration of every published package: ESM and CJS with `.d.ts`/`.d.cts`,
 * for ES2022. Each package's `tsup.config.ts` only names its entries.
 */

import { defineConfig, type Options } from 'tsup';

/** The tsup config of a package with these entries (name → source file). */
export function packageConfig(entry: Record<string, string>): Options | Options[] {
  return defineConfig({
    entry,
    format: ['esm', 'cjs'],
    dts: true,
    clean: true,
    sourcemap: false,
    target: 'es2022',
    treeshake: true,
    // Shared chunks in CJS too: every entry of a package must throw the same error classes
    // (e.g. `BackendTimeoutError` from `@freqlimit/core/redis`), or `instanceof` fails for CJS.
    splitting: true,
    // Keep `node:` imports as written (Deno and Workers' nodejs_compat want the prefix).
    removeNodeProtocol: false,
  }) as Options | Options[];
}
