/**
 * Proves that partition assignment is FNV-1a 32-bit of the key's UTF-8 bytes modulo the partition count,
 * against values computed outside tributary: the published FNV-1a test vectors ("", "a", "foobar") and, for
 * the other keys, a separate Python implementation (`h = 0x811c9dc5; for b in key.encode(): h = ((h ^ b) *
 * 0x01000193) & 0xffffffff`). The partitions are written down as numbers, so a changed hash, byte encoding
 * or signed modulo would move a key and fail here: on-disk data and every other gateway depend on them.
 */
import test from 'node:test';
import assert from 'node:assert/strict';
import { fnv1a32, partitionFor } from '../../src/log/routing.js';

/** key, FNV-1a 32, then its partition for 3, 4, 7 and 1024 partitions. */
const VECTORS: ReadonlyArray<readonly [string, number, readonly [number, number, number, number]]> = [
  ['', 0x811c9dc5, [1, 1, 2, 453]],
  ['a', 0xe40c292c, [1, 0, 5, 300]],
  ['foobar', 0xbf9cf968, [1, 0, 0, 360]],
  ['sensors/s1/telemetry/temp', 0x3f7a71e8, [2, 0, 4, 488]],
  // Multi-byte UTF-8: the key is hashed as bytes, not as UTF-16 code units.
  ['ünïcode/温度', 0x04cdc2ac, [2, 0, 4, 684]],
  ['client-42', 0x297e91af, [1, 3, 5, 431]],
];

test('fnv1a32 gives the published FNV-1a 32-bit values', () => {
  for (const [key, hash] of VECTORS) assert.equal(fnv1a32(Buffer.from(key, 'utf8')), hash, JSON.stringify(key));
});

test('partitionFor puts each key in the partition its FNV-1a hash names, unsigned', () => {
  for (const [key, , partitions] of VECTORS) {
    assert.deepEqual([3, 4, 7, 1024].map((n) => partitionFor(key, n)), partitions, JSON.stringify(key));
    assert.equal(partitionFor(key, 1), 0);
  }
});
