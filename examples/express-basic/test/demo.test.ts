import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const root = fileURLToPath(new URL('../../..', import.meta.url));

function runDemo(): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      ['scripts/demo.mjs'],
      { cwd: root, timeout: 40_000, env: { ...process.env, REDIS_URL: '' } },
      (error, stdout, stderr) => {
        resolve({
          code: error ? (typeof error.code === 'number' ? error.code : null) : 0,
          stdout,
          stderr,
        });
      },
    );
  });
}

describe('pnpm demo (in memory)', () => {
  it('exits 0 and shows requests admitted at once, held, and rejected with 429', async () => {
    const { code, stdout, stderr } = await runDemo();
    expect(stderr).toBe('');
    expect(code).toBe(0);
    expect(stdout).toMatch(/state +in memory/);
    const rows = stdout.split('\n').filter((line) => /^(alice|bob|carol) /.test(line));
    expect(rows).toHaveLength(21);
    expect(rows.some((line) => line.endsWith('admitted at once'))).toBe(true);
    expect(rows.some((line) => /held \d+ ms$/.test(line))).toBe(true);
    expect(rows.some((line) => /429, Retry-After 1 s$/.test(line))).toBe(true);
    // carol's logins (no password: 401) pass the stricter /login limit three times, then it
    // refuses the rest for 12 s (whichever order her requests reach the app in)
    const carol = rows.filter((line) => line.startsWith('carol '));
    expect(
      carol.filter((line) => /admitted at once \(HTTP 401\)$|held \d+ ms \(HTTP 401\)$/.test(line)),
    ).toHaveLength(3);
    expect(carol.filter((line) => /429, Retry-After 12 s$/.test(line))).toHaveLength(2);
    expect(stdout).toMatch(/21 requests: \d+ admitted at once, \d+ held, \d+ rejected with 429\./);
  });
});
