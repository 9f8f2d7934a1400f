/**
 * @module bench/goals
 * The goals of issue 8, per surface and row. The bench reports whether each holds; it never
 * fails on them (speed is reported, not asserted).
 *
 * A goal compares a row's `ratio` (to the surface's baseline), its `value` (in the surface's
 * unit), or its ratio to another row of the same surface (`versus`).
 */

/**
 * @typedef {object} Goal
 * @property {string} surface surface id
 * @property {string} row row name
 * @property {'ratio' | 'value'} metric
 * @property {'>=' | '<='} op
 * @property {number} target
 * @property {string} [versus] compare `ratio` to this row's ratio instead of the baseline
 * @property {string} text how the goal reads in a table
 */

/** @type {Goal[]} */
export const GOALS = [
  {
    surface: 'http-hono',
    row: 'freqlimit',
    metric: 'ratio',
    op: '>=',
    target: 0.85,
    text: '≥ 0.85× bare',
  },
  {
    surface: 'http-koa',
    row: 'freqlimit',
    metric: 'ratio',
    op: '>=',
    target: 0.92,
    text: '≥ 0.92× bare',
  },
  {
    surface: 'http-express',
    row: 'freqlimit',
    metric: 'ratio',
    op: '>=',
    target: 0.95,
    text: '≥ 0.95× bare',
  },
  ...['redis-64-hot', 'redis-64-many'].flatMap((surface) => [
    {
      surface,
      row: 'freqlimit',
      metric: 'ratio',
      op: '>=',
      target: 1.0,
      text: '≥ 1.0× the minimal script',
    },
    {
      surface,
      row: 'freqlimit',
      metric: 'ratio',
      op: '>=',
      target: 1.2,
      versus: 'rate-limiter-flexible',
      text: '≥ 1.2× rate-limiter-flexible',
    },
  ]),
  {
    surface: 'redis-memory',
    row: 'freqlimit',
    metric: 'value',
    op: '<=',
    target: 100,
    text: '≤ 100 B',
  },
  {
    surface: 'memory-hot',
    row: 'freqlimit-await',
    metric: 'ratio',
    op: '>=',
    target: 0.9,
    text: '≥ 0.9× the awaited Map',
  },
  {
    surface: 'memory-heap',
    row: 'freqlimit-sync',
    metric: 'value',
    op: '<=',
    target: 80,
    text: '≤ 80 B',
  },
  ...['express', 'koa', 'hono'].map((row) => ({
    surface: 'hold',
    row,
    metric: 'value',
    op: '<=',
    target: 3,
    text: 'p99 ≤ 3 ms',
  })),
];

/**
 * Evaluate the goals of one surface's row.
 *
 * @param {{ id: string, rows: Array<{ name: string, value: number, ratio?: number }> }} surface
 * @param {{ name: string, value: number, ratio?: number }} row
 * @returns {Array<{ text: string, target: number, versus: string | undefined, actual: number, holds: boolean }>}
 */
export function goalsOf(surface, row) {
  return GOALS.filter((g) => g.surface === surface.id && g.row === row.name).map((g) => {
    let actual = g.metric === 'ratio' ? row.ratio : row.value;
    if (g.versus !== undefined) {
      const other = surface.rows.find((r) => r.name === g.versus);
      actual = (row.ratio ?? Number.NaN) / (other?.ratio ?? Number.NaN);
    }
    const holds =
      Number.isFinite(actual) && (g.op === '>=' ? actual >= g.target : actual <= g.target);
    return { text: g.text, target: g.target, versus: g.versus, actual, holds };
  });
}
