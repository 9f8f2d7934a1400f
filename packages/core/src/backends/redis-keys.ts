/**
 * @module backends/redis-keys
 * Redis key names: bounded length whatever clients send, and Redis Cluster slots.
 */

import { createHash } from 'node:crypto';
import { FreqLimitError } from '../errors.js';

/** Keys longer than this many UTF-8 bytes are replaced by a hash of themselves. */
export const MAX_KEY_BYTES = 128;

/** A UTF-16 surrogate without its other half: such a string has no exact UTF-8 form. */
const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;

/** Whether `text` holds a lone surrogate (native `isWellFormed` where there is one: faster). */
const hasLoneSurrogate: (text: string) => boolean =
  typeof (String.prototype as { isWellFormed?: unknown }).isWellFormed === 'function'
    ? (text) => !(text as unknown as { isWellFormed(): boolean }).isWellFormed()
    : (text) => LONE_SURROGATE.test(text);

/**
 * `key`, or for a key over {@link MAX_KEY_BYTES} UTF-8 bytes `#` + its SHA-256 (base64url).
 * A hash tag `{…}` of the key is kept in front of the hash (unless the prefix already has
 * one), so hashing never moves a key to another Cluster slot than its tag chose.
 *
 * A key holding a lone surrogate (not valid Unicode, e.g. cut binary data) would reach Redis
 * with U+FFFD in its place, so two different keys could share one state: such a key is
 * hashed too, from its UTF-16 code units, and stays distinct.
 */
export function shortKey(key: string, prefixHasBrace: boolean): string {
  let digest: string;
  if (hasLoneSurrogate(key)) {
    digest = createHash('sha256')
      .update('utf16le:')
      .update(Buffer.from(key, 'utf16le'))
      .digest('base64url');
  } else if (key.length * 3 <= MAX_KEY_BYTES || Buffer.byteLength(key, 'utf8') <= MAX_KEY_BYTES) {
    // Up to 3 bytes per UTF-16 unit: most keys are short enough without counting bytes.
    return key;
  } else {
    digest = createHash('sha256').update(key, 'utf8').digest('base64url');
  }
  const tag = prefixHasBrace ? undefined : hashTag(key);
  return tag === undefined || tag.length > 64 || hasLoneSurrogate(tag)
    ? `#${digest}`
    : `{${tag}}#${digest}`;
}

/** The Redis Cluster hash tag of a key: what lies between its first `{` and the next `}`. */
function hashTag(key: string): string | undefined {
  const open = key.indexOf('{');
  if (open < 0) return undefined;
  const close = key.indexOf('}', open + 1);
  if (close <= open + 1) return undefined;
  return key.slice(open + 1, close);
}

/** CRC16/XMODEM, the checksum Redis Cluster uses for key slots. */
function crc16(bytes: Uint8Array): number {
  let crc = 0;
  for (const byte of bytes) {
    crc ^= byte << 8;
    for (let bit = 0; bit < 8; bit++) {
      crc = crc & 0x8000 ? ((crc << 1) ^ 0x1021) & 0xffff : (crc << 1) & 0xffff;
    }
  }
  return crc;
}

/**
 * The Redis Cluster slot (0–16383) of a Redis key.
 *
 * @example
 * clusterSlot('freqlimit:login:{42}') === clusterSlot('freqlimit:api:{42}'); // true
 */
export function clusterSlot(key: string): number {
  const tag = hashTag(key);
  return crc16(Buffer.from(tag ?? key, 'utf8')) % 16384;
}

/** Throws `REDIS_CROSS_SLOT` unless every key hashes to one Cluster slot. */
export function checkOneSlot(keys: string[]): void {
  const slots = keys.map(clusterSlot);
  if (slots.every((s) => s === slots[0])) return;
  const list = keys.map((k, i) => `"${k}" (slot ${slots[i]})`).join(', ');
  throw new FreqLimitError(
    'REDIS_CROSS_SLOT',
    `RedisBackend.reserveMany: on Redis Cluster the keys of several limits must share one slot, because they are reserved atomically in one script; got ${list}. Put a hash tag in the key (e.g. a key function returning "{user42}") or in the prefix (e.g. "{freqlimit}:")`,
  );
}

/** `text` with the glob metacharacters of `SCAN MATCH` escaped. */
export function escapeGlob(text: string): string {
  return text.replace(/[*?[\]\\]/g, '\\$&');
}
