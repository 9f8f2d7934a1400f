/**
 * @module bench/lib/stats
 * Small statistics and formatting helpers.
 */

/**
 * The median (mean of the two middle values for an even count).
 *
 * @param {number[]} values
 */
export function median(values) {
  if (values.length === 0) return Number.NaN;
  const s = [...values].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 ? s[mid] : (s[mid - 1] + s[mid]) / 2;
}

/**
 * The `q` quantile (0..1) by the nearest-rank method.
 *
 * @param {number[]} sorted ascending
 * @param {number} q
 */
export function quantile(sorted, q) {
  if (sorted.length === 0) return Number.NaN;
  const rank = Math.ceil(q * sorted.length);
  return sorted[Math.min(sorted.length - 1, Math.max(0, rank - 1))];
}

/**
 * `12,345` style.
 *
 * @param {number} n
 */
export function count(n) {
  return Number.isFinite(n) ? Math.round(n).toLocaleString('en-US') : '–';
}

/**
 * `0.85×` style.
 *
 * @param {number} r
 */
export function ratio(r) {
  return Number.isFinite(r) ? `${r.toFixed(2)}×` : '–';
}

/**
 * The order in which round `round` visits `items`: rotated by the round number, so that no
 * variant always runs first (cold) or last, and drift during a round hits every variant alike.
 *
 * @template T
 * @param {T[]} items
 * @param {number} round
 * @returns {T[]}
 */
export function rotation(items, round) {
  const k = round % items.length;
  return [...items.slice(k), ...items.slice(0, k)];
}

/** @param {number} ms */
export const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
