/**
 * @module bench/lib/report
 * Turns a run's results into Markdown tables (BENCHMARKS.md, the README's summary) and an SVG
 * chart, with no tool but string building.
 */

import { goalsOf } from '../goals.mjs';
import { count, ratio } from './stats.mjs';

/** Rows that are the baseline or a reference, not a limiter. */
const NOT_A_LIMITER = new Set(['bare', 'script', 'map-sync', 'map-await', 'redis-benchmark']);
const isOurs = (name) => name === 'freqlimit' || name.startsWith('freqlimit-');

/**
 * The issue-8 summary: one line per surface of the issue's table.
 *
 * @type {Array<{ label: string, surface: string, self: string, peers: string[], kind: 'ratio' | 'bytes' | 'hold' }>}
 */
const SUMMARY = [
  {
    label: 'Hono, in memory (HTTP)',
    surface: 'http-hono',
    self: 'freqlimit',
    peers: ['hono-rate-limiter'],
    kind: 'ratio',
  },
  {
    label: 'Koa, in memory (HTTP)',
    surface: 'http-koa',
    self: 'freqlimit',
    peers: ['koa-ratelimit'],
    kind: 'ratio',
  },
  {
    label: 'Express, in memory (HTTP)',
    surface: 'http-express',
    self: 'freqlimit',
    peers: ['express-rate-limit', 'express-slow-down', 'rate-limiter-flexible'],
    kind: 'ratio',
  },
  {
    label: 'Redis, one connection, 64 in flight, hot key',
    surface: 'redis-64-hot',
    self: 'freqlimit',
    peers: ['rate-limit-redis', 'rate-limiter-flexible'],
    kind: 'ratio',
  },
  {
    label: 'Redis, one connection, 64 in flight, 100,000 keys',
    surface: 'redis-64-many',
    self: 'freqlimit',
    peers: ['rate-limit-redis', 'rate-limiter-flexible'],
    kind: 'ratio',
  },
  {
    label: 'Redis memory per key',
    surface: 'redis-memory',
    self: 'freqlimit',
    peers: ['rate-limit-redis', 'rate-limiter-flexible'],
    kind: 'bytes',
  },
  {
    label: '`InMemoryBackend.reserve` (awaited), hot key',
    surface: 'memory-hot',
    self: 'freqlimit-await',
    peers: ['express-rate-limit', 'hono-rate-limiter', 'rate-limiter-flexible'],
    kind: 'ratio',
  },
  {
    label: 'Heap per live key',
    surface: 'memory-heap',
    self: 'freqlimit-sync',
    peers: ['express-rate-limit', 'hono-rate-limiter', 'rate-limiter-flexible'],
    kind: 'bytes',
  },
  {
    label: 'Hold precision, 1,000 held at once (p99 late)',
    surface: 'hold',
    self: '*',
    peers: [],
    kind: 'hold',
  },
];

/** Surfaces drawn in the chart, in order. */
const CHARTED = [
  'http-express',
  'http-koa',
  'http-hono',
  'redis-64-hot',
  'redis-64-many',
  'memory-hot',
  'memory-heap',
  'redis-memory',
  'hold',
];

/** @param {number} v @param {string} unit */
function formatValue(v, unit) {
  if (!Number.isFinite(v)) return '–';
  if (unit === 'B/key') return `${v.toFixed(0)} B`;
  if (unit.startsWith('ms')) return `${v.toFixed(2)} ms`;
  return count(v);
}

const yesNo = (holds) => (holds ? '**yes**' : 'no');
const fixed = (v, digits) => (Number.isFinite(v) ? v.toFixed(digits) : '–');

/**
 * Markdown table of one surface.
 *
 * @param {any} surface
 */
export function surfaceTable(surface) {
  const lines = [`### ${surface.title}`, ''];
  if (surface.note) lines.push(`_${surface.note}._`, '');
  if (surface.id === 'hold') {
    lines.push(
      '| middleware | p50 | p99 | max | min | goal | holds |',
      '|---|---:|---:|---:|---:|---|---|',
    );
    for (const row of surface.rows) {
      const goals = goalsOf(surface, row);
      lines.push(
        `| ${row.label} | ${row.p50.toFixed(2)} ms | ${row.p99.toFixed(2)} ms | ${row.max.toFixed(2)} ms | ${row.min.toFixed(2)} ms | ${goals.map((g) => g.text).join('; ')} | ${goals.map((g) => yesNo(g.holds)).join('; ')} |`,
      );
    }
    return lines.join('\n');
  }
  const http = surface.id.startsWith('http');
  const redis = surface.rows.some((r) => r.serverUs !== undefined);
  const extra = http
    ? [
        ['CPU µs/req', (r) => fixed(r.cpuPerRequest, 1)],
        ['÷ bare (CPU)', (r) => ratio(r.cpuRatio)],
        ['server busy', (r) => (Number.isFinite(r.busy) ? `${Math.round(r.busy * 100)}%` : '–')],
      ]
    : redis
      ? [
          ['server CPU µs/call', (r) => fixed(r.serverUs, 1)],
          ['client CPU µs/call', (r) => fixed(r.clientUs, 1)],
        ]
      : [];
  const base = http ? 'bare' : 'floor';
  lines.push(
    `| ${http ? 'variant' : 'limiter'} | ${surface.unit} | ${surface.lowerIsBetter ? '×' : '÷'} ${base} | ${extra.map(([h]) => `${h} | `).join('')}goal | holds |`,
    `|---|---:|---:|${extra.map(() => '---:|').join('')}---|---|`,
  );
  for (const row of surface.rows) {
    const goals = goalsOf(surface, row);
    const name = row.label ?? row.name;
    lines.push(
      `| ${isOurs(row.name) ? `**${name}**` : name} | ${formatValue(row.value, surface.unit)} | ${ratio(row.ratio)} | ${extra.map(([, f]) => `${f(row)} | `).join('')}${goals.map((g) => g.text).join('; ')} | ${goals.map((g) => `${yesNo(g.holds)}${g.versus ? ` (${ratio(g.actual)})` : ''}`).join('; ')} |`,
    );
  }
  return lines.join('\n');
}

/**
 * The issue-8 summary table: freqlimit, the best peer of the same run, the goal, whether it holds.
 *
 * @param {any[]} surfaces
 */
export function summaryTable(surfaces) {
  const lines = [
    '| surface | freqlimit | best peer, same run | goal | holds |',
    '|---|---|---|---|---|',
  ];
  for (const s of SUMMARY) {
    const surface = surfaces.find((x) => x.id === s.surface);
    if (surface === undefined) continue;
    if (s.kind === 'hold') {
      const goals = surface.rows.flatMap((row) => goalsOf(surface, row));
      lines.push(
        `| ${surface.title} | ${surface.rows.map((r) => `${r.name} ${r.p99.toFixed(1)} ms`).join(', ')} | — | ${goals[0]?.text ?? ''} | ${yesNo(goals.length > 0 && goals.every((g) => g.holds))} |`,
      );
      continue;
    }
    const self = surface.rows.find((r) => r.name === s.self);
    if (self === undefined) continue;
    const peers = surface.rows.filter((r) => s.peers.includes(r.name) && Number.isFinite(r.value));
    const goals = goalsOf(surface, self);
    let mine;
    let best = '—';
    if (s.kind === 'bytes') {
      mine = `${self.value.toFixed(0)} B`;
      const top = peers.sort((a, b) => a.value - b.value)[0];
      if (top) best = `${top.name} ${top.value.toFixed(0)} B`;
    } else {
      const base = surface.id.startsWith('http')
        ? 'bare'
        : surface.id.startsWith('redis')
          ? 'the minimal script'
          : 'the awaited Map GCRA';
      const cpu = (r) => (Number.isFinite(r.cpuRatio) ? `, CPU ${ratio(r.cpuRatio)}` : '');
      mine = `${ratio(self.ratio)} ${base}${cpu(self)} (${count(self.value)} ${surface.unit})`;
      const top = peers.sort((a, b) => b.ratio - a.ratio)[0];
      if (top) best = `${top.name} ${ratio(top.ratio)}${cpu(top)}`;
    }
    lines.push(
      `| ${s.label} | ${mine} | ${best} | ${goals.map((g) => g.text).join('; ')} | ${goals.map((g) => `${yesNo(g.holds)}${g.versus ? ` (${ratio(g.actual)})` : ''}`).join('; ')} |`,
    );
  }
  return lines.join('\n');
}

const escapeXml = (s) =>
  String(s)
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;');

/**
 * An SVG chart: per surface, one horizontal bar per limiter — the ratio to bare/floor for
 * throughput (a line at 1), bytes per key, or p99 lateness — with the goal marked.
 *
 * @param {any[]} surfaces
 * @param {string[]} subtitle lines under the title
 */
export function chartSvg(surfaces, subtitle) {
  const W = 1000;
  const LABEL = 410;
  const BAR = 470;
  const ROW = 20;
  const parts = [];
  let y = 48 + 16 * subtitle.length;
  const colour = (surface, name) =>
    surface.id === 'hold' || isOurs(name)
      ? '#2563eb'
      : NOT_A_LIMITER.has(name)
        ? '#9ca3af'
        : '#f59e0b';
  for (const id of CHARTED) {
    const surface = surfaces.find((s) => s.id === id);
    if (surface === undefined || surface.rows.length === 0) continue;
    const kind = surface.id === 'hold' ? 'hold' : surface.unit === 'B/key' ? 'bytes' : 'ratio';
    const goalsAll = surface.rows.flatMap((row) =>
      goalsOf(surface, row).map((g) => ({ ...g, row: row.name })),
    );
    const target = goalsAll.find((g) => g.versus === undefined)?.target;
    const values = surface.rows.map((r) => (kind === 'ratio' ? r.ratio : r.value));
    const finite = values.filter(Number.isFinite);
    const max =
      kind === 'ratio'
        ? Math.max(1.25, Math.min(2, Math.max(...finite) * 1.05))
        : Math.max(...finite, target ?? 0) * 1.1 || 1;
    const axis =
      kind === 'ratio'
        ? `ratio to ${surface.id.startsWith('http') ? 'bare' : 'the floor'} (same run)`
        : kind === 'bytes'
          ? 'bytes per key (lower is better)'
          : 'p99 ms late (lower is better)';
    parts.push(
      `<text x="16" y="${y}" class="h">${escapeXml(surface.title)}</text>`,
      `<text x="${W - 16}" y="${y}" class="a" text-anchor="end">${escapeXml(axis)}</text>`,
    );
    y += 8;
    const top = y;
    for (const row of surface.rows) {
      const v = kind === 'ratio' ? row.ratio : row.value;
      const w = Number.isFinite(v) ? Math.max(1, Math.min(BAR, (v / max) * BAR)) : 0;
      const label = surface.id === 'hold' ? `@freqlimit/${row.name}` : (row.label ?? row.name);
      const shown =
        kind === 'ratio'
          ? ratio(v)
          : kind === 'bytes'
            ? `${Number.isFinite(v) ? v.toFixed(0) : '–'} B`
            : `${Number.isFinite(v) ? v.toFixed(1) : '–'} ms`;
      const goals = goalsOf(surface, row);
      const mark = goals.length === 0 ? '' : goals.every((g) => g.holds) ? ' ✓' : ' ✗';
      parts.push(
        `<text x="${LABEL - 8}" y="${y + 14}" class="l" text-anchor="end">${escapeXml(label.length > 60 ? `${label.slice(0, 59)}…` : label)}</text>`,
        `<rect x="${LABEL}" y="${y + 3}" width="${w.toFixed(1)}" height="${ROW - 6}" fill="${colour(surface, row.name)}"${row.reference ? ' fill-opacity="0.45"' : ''}/>`,
        `<text x="${LABEL + w + 6}" y="${y + 14}" class="v">${escapeXml(shown)}${mark ? `<tspan fill="${mark.includes('✓') ? '#15803d' : '#b91c1c'}">${mark}</tspan>` : ''}</text>`,
      );
      y += ROW;
    }
    if (kind === 'ratio') {
      const x1 = LABEL + (1 / max) * BAR;
      parts.push(
        `<line x1="${x1}" y1="${top}" x2="${x1}" y2="${y}" stroke="#374151" stroke-width="1"/>`,
      );
    }
    if (target !== undefined && Number.isFinite(target)) {
      const xg = LABEL + Math.min(BAR, (target / max) * BAR);
      parts.push(
        `<line x1="${xg}" y1="${top}" x2="${xg}" y2="${y}" stroke="#b91c1c" stroke-width="1.5" stroke-dasharray="4 3"/>`,
      );
    }
    y += 26;
  }
  const H = y + 30;
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="system-ui, -apple-system, 'Segoe UI', Helvetica, Arial, sans-serif" role="img">
<title>freqlimit and its peers: throughput ratios, bytes per key and hold lateness, measured in one run (${escapeXml(subtitle.join('; '))})</title>
<style>.t{font-size:18px;font-weight:600;fill:#111827}.s{font-size:12px;fill:#4b5563}.h{font-size:14px;font-weight:600;fill:#111827}.a{font-size:11px;fill:#6b7280}.l{font-size:12px;fill:#1f2937}.v{font-size:12px;fill:#111827;paint-order:stroke;stroke:#ffffff;stroke-width:3px;stroke-linejoin:round}</style>
<rect width="100%" height="100%" fill="#ffffff"/>
<text x="16" y="26" class="t">freqlimit benchmarks: ratios inside one run</text>
${subtitle.map((line, i) => `<text x="16" y="${44 + 16 * i}" class="s">${escapeXml(line)}</text>`).join('\n')}
${parts.join('\n')}
<text x="16" y="${H - 14}" class="a">blue: freqlimit · amber: peers · grey: bare / floor / reference · black line: 1× · red dashed: goal · ✓/✗: goal holds</text>
</svg>
`;
}
