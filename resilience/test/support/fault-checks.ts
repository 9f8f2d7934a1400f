/**
 * The guarantees every Redis fault scenario must keep, asserted on a {@link FaultRun}, and the
 * figures it reports.
 */

import { BACKEND_COOL_DOWN_MS } from '@freqlimit/core/adapter';
import { expect } from 'vitest';
import {
  type FaultOptions,
  type FaultRun,
  failedRounds,
  fromPrimary,
  type ProbePair,
} from './fault-scenario.js';
import { type Shot, summary } from './load.js';

/**
 * Latency slack over `timeout`: 100 ms (two loopback round trips, the response, the timer firing
 * late) plus the longest event-loop stall measured in this very process during the run — the
 * server, the load generator and the backend's timeout timer all share that loop, so on a busy
 * 2-core machine a stall delays a request by as much, whatever the limiter does. The stall is
 * capped at 900 ms so the bound stays far below the outage (3–4 s) and the cool-down (5 s): a
 * request that waited on ioredis's offline queue for the outage, or for a cool-down, fails it.
 */
export function latencyBound(run: FaultRun, timeout: number): number {
  return timeout + 100 + Math.min(run.loopDelayMax, 900);
}

/** Every shot of the run, load and probes. */
export function allShots(run: FaultRun): Shot[] {
  return [...run.load, ...run.probes.flatMap((p) => [p.first, p.second])];
}

const statusOf: Record<string, number[]> = {
  pass: [200],
  reject: [429],
  'backend-error/allow': [200],
  'backend-error/reject': [503],
  'backend-error/fallback': [200, 429],
};

const pairOf = (p: ProbePair) => `${p.first.status}/${p.second.status}`;
const both = (p: ProbePair, decision: string) =>
  p.first.decision === decision && p.second.decision === decision;

/** The figures of a run, reported by every fault test. */
export function faultFigures(run: FaultRun, options: FaultOptions) {
  const shots = allShots(run);
  const count = (decision: string) => shots.filter((s) => s.decision === decision).length;
  const failed = shots.filter((s) => !fromPrimary(s));
  const resumed = run.resumedAt;
  return {
    requests: shots.length,
    answeredByRedis: count('pass') + count('reject'),
    answeredByFailurePath: failed.length,
    failurePathAfterResume:
      resumed === undefined ? null : failed.filter((s) => s.at >= resumed).length,
    latency: summary(shots.map((s) => s.ms)),
    latencyBound: Math.round(latencyBound(run, options.timeout)),
    loopDelayMax: Math.round(run.loopDelayMax),
    faultAt: Math.round(run.faultAt),
    backAfter: Math.round(run.backAt - run.faultAt),
    resumedAfterBack: resumed === undefined ? null : Math.round(resumed - run.backAt),
    probePairs: run.probes.length,
    failedRounds: failedRounds(run.calls).map((r) => ({
      calls: r.length,
      at: Math.round(r[0]!.start),
      settledAfter: Math.round(r[r.length - 1]!.end - r[0]!.start),
    })),
    backendCalls: run.calls.length,
    reports: run.reports.length,
  };
}

/**
 * Asserts the guarantees of a fault run (after logging its figures under `label`).
 *
 * Redis is certainly down from `faultAt` to `backAt`: there the checks are exact. Once it is
 * back, a call can still time out spuriously when this process's event loop stalls longer
 * than `timeout` (the timeout timer then runs before the socket is read) — on a shared 2-core
 * machine it happens; so after the resume the checks are that limiting came back in time and
 * is on at the end, and that the backend is never asked during a cool-down whatever the cause.
 */
export function checkFault(label: string, run: FaultRun, options: FaultOptions) {
  const figures = faultFigures(run, options);
  console.log(`${label}: ${JSON.stringify(figures)}`);
  const { mode, timeout } = options;
  const concurrency = options.concurrency ?? 8;
  const shots = allShots(run);
  const failing = `backend-error/${mode}`;

  // Every request answered, none past its deadline, none by the framework's error path.
  expect(shots.filter((s) => s.status === 0)).toEqual([]);
  expect(run.frameworkErrors).toEqual([]);
  expect(run.unhandled).toEqual([]);
  // Every answer is what its decision says, and only this mode's failure path was taken.
  const wrong = shots.filter(
    (s) => s.decision === null || !(statusOf[s.decision] ?? []).includes(s.status),
  );
  expect(wrong.map((s) => `${s.decision} → ${s.status}`)).toEqual([]);
  const failed = shots.filter((s) => !fromPrimary(s));
  expect(failed.filter((s) => s.decision !== failing)).toEqual([]);

  // No request waited longer than the timeout (plus the slack explained at latencyBound).
  const bound = latencyBound(run, timeout);
  const slowest = shots.reduce((max, s) => Math.max(max, s.ms), 0);
  expect(slowest).toBeLessThanOrEqual(bound);
  // The outage was seen, only from the fault on (a request in flight at the fault included).
  expect(failed.length).toBeGreaterThan(0);
  const firstFailed = failed.reduce((min, s) => Math.min(min, s.at), Number.POSITIVE_INFINITY);
  expect(firstFailed).toBeGreaterThanOrEqual(run.faultAt - bound);

  // The tight limit: Redis limits whenever it answers; during the outage what the mode says.
  const primaryPairs = run.probes.filter((p) => fromPrimary(p.first) && fromPrimary(p.second));
  expect(primaryPairs.filter((p) => pairOf(p) !== '200/429').map(pairOf)).toEqual([]);
  const outagePairs = run.probes.filter((p) => both(p, failing));
  expect(outagePairs.length).toBeGreaterThan(0);
  const expectedPair = { allow: '200/200', reject: '503/503', fallback: '200/429' }[mode];
  expect(outagePairs.filter((p) => pairOf(p) !== expectedPair).map(pairOf)).toEqual([]);

  // Limiting resumes by itself within the cool-down + 2 s of Redis being back, and is on at the
  // end (the last probe pair was limited by Redis).
  expect(run.resumedAt).toBeDefined();
  expect(run.resumedAt! - run.backAt).toBeLessThanOrEqual(BACKEND_COOL_DOWN_MS + 2_000);
  const last = run.probes[run.probes.length - 1]!;
  expect(fromPrimary(last.first) && fromPrimary(last.second) ? pairOf(last) : last).toBe('200/429');

  // The failing backend is never asked during a cool-down. While Redis is down it is asked by
  // every request in flight when it first fails, then by one probe per cool-down.
  const failedCalls = run.calls.filter((c) => !c.ok);
  const duringCoolDown = run.calls.filter((c) =>
    failedCalls.some((f) => c.start > f.end && c.start < f.end + BACKEND_COOL_DOWN_MS - 1),
  );
  expect(duringCoolDown).toEqual([]);
  const outageRounds = failedRounds(
    run.calls.filter((c) => c.start >= run.faultAt - bound && c.start < run.backAt),
  );
  expect(outageRounds.length).toBeGreaterThanOrEqual(1);
  expect(outageRounds[0]!.length).toBeLessThanOrEqual(concurrency + 1);
  for (const round of outageRounds.slice(1)) expect(round).toHaveLength(1);

  // One error report (at most one a minute), naming the middleware's backend failure.
  expect(run.reports).toHaveLength(1);
  expect(String(run.reports[0]![0])).toMatch(/backend failed/);
  return { ...figures, outageRounds: outageRounds.map((r) => r.length) };
}
