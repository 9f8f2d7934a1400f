/**
 * Runs once for the test-apps project: packs and installs the tarballs into the scratch app
 * (test/packed.ts) and compiles its ESM TypeScript app, so every test file of the project
 * drives the same install.
 */

import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { appDir, preparePackedApp, tsc } from './packed.js';

export function setup(): void {
  preparePackedApp();
  // The ESM TypeScript app is compiled by tsc against the installed packages' types.
  execFileSync(process.execPath, [tsc, '-p', join(appDir, 'express-esm-ts', 'tsconfig.json')], {
    cwd: appDir,
    stdio: 'pipe',
  });
}
