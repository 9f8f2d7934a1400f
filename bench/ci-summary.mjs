// The closing line of .ci/run, "N passed, N failed": the tests' counts (the line
// scripts/summary.mjs printed) plus the quick bench's checks (bench/results/checks.json).
// Usage: node bench/ci-summary.mjs "<tests summary line>" <bench exit status>
// A bench that exited non-zero without a failed check (a crash), or left no checks file,
// counts as one failure.
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const [line = '', status = '1'] = process.argv.slice(2);
const tests = /(\d+) passed, (\d+) failed(?:, (\d+) skipped)?/.exec(line);
let passed = Number(tests?.[1] ?? 0);
let failed = Number(tests?.[2] ?? 1);
const skipped = Number(tests?.[3] ?? 0);

const file = fileURLToPath(new URL('./results/checks.json', import.meta.url));
if (existsSync(file)) {
  const checks = JSON.parse(readFileSync(file, 'utf8'));
  passed += checks.passed;
  failed += checks.failed;
  if (status !== '0' && checks.failed === 0) failed += 1;
} else {
  failed += 1;
}
console.log(`${passed} passed, ${failed} failed${skipped ? `, ${skipped} skipped` : ''}`);
