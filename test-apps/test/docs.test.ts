/**
 * The API reference (TypeDoc, typedoc.config.mjs) builds from the JSDoc of every `exports`
 * entry with no warning: no broken `{@link}`, no type used by a public signature that no entry
 * exports, no export without JSDoc. A fixture with one of each shows the same configuration
 * does fail.
 */

import { spawnSync } from 'node:child_process';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { describe, expect, it } from 'vitest';
import { root, work } from './packed.js';

const typedoc = join(root, 'node_modules', 'typedoc', 'bin', 'typedoc');

function runTypedoc(cwd: string, args: string[]): { status: number | null; output: string } {
  const r = spawnSync(process.execPath, [typedoc, ...args, '--emit', 'none'], {
    cwd,
    encoding: 'utf8',
    timeout: 180_000,
    env: { ...process.env, NO_COLOR: '1', FORCE_COLOR: '0' },
  });
  return { status: r.status, output: r.stdout + r.stderr };
}

describe('API reference (TypeDoc)', () => {
  it('every exports entry documents with no warning (links, exports, JSDoc)', async () => {
    const { entryPoints } = (await import(
      pathToFileURL(join(root, 'typedoc.config.mjs')).href
    )) as {
      entryPoints: () => string[];
    };
    const entries = entryPoints().map((e) => e.slice(root.length + 1));
    expect(entries).toEqual(
      expect.arrayContaining([
        'packages/core/src/index.ts',
        'packages/core/src/redis.ts',
        'packages/express/src/index.ts',
        'packages/hono/src/index.ts',
        'packages/koa/src/index.ts',
      ]),
    );
    const r = runTypedoc(root, []);
    expect(r.output).not.toMatch(/\[warning\]|\[error\]/);
    expect(r.status, r.output).toBe(0);
  });

  it('the same configuration fails on a broken link, an unexported type, an undocumented export', () => {
    // Inside the repository, so TypeDoc finds a package.json above the fixture.
    const dir = join(work, 'typedoc-fixture');
    rmSync(dir, { recursive: true, force: true });
    mkdirSync(dir, { recursive: true });
    try {
      writeFileSync(
        join(dir, 'hidden.ts'),
        '/** Not exported by the entry. */\nexport interface Hidden {\n  a: number;\n}\n',
      );
      writeFileSync(
        join(dir, 'entry.ts'),
        [
          '/** @module fixture */',
          "import type { Hidden } from './hidden.js';",
          '/** Reads {@link Nowhere}. */',
          'export function read(h: Hidden): number {',
          '  return h.a;',
          '}',
          'export const undocumented = 1;',
          '',
        ].join('\n'),
      );
      writeFileSync(
        join(dir, 'tsconfig.json'),
        JSON.stringify({
          compilerOptions: {
            strict: true,
            module: 'ESNext',
            moduleResolution: 'Bundler',
            target: 'ES2022',
          },
          include: ['*.ts'],
        }),
      );
      const config = pathToFileURL(join(root, 'typedoc.config.mjs')).href;
      writeFileSync(
        join(dir, 'typedoc.config.mjs'),
        `import config from '${config}';\nexport default { ...config, name: 'fixture', entryPoints: ['./entry.ts'], tsconfig: './tsconfig.json' };\n`,
      );
      const r = runTypedoc(dir, ['--options', './typedoc.config.mjs']);
      expect(r.status).not.toBe(0);
      expect(r.output).toMatch(/Hidden, defined in .* is referenced by read\.h but not included/);
      expect(r.output).toMatch(/Failed to resolve link to "Nowhere"/);
      expect(r.output).toMatch(
        /undocumented \(Variable\), defined in .* does not have any documentation/,
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
