/**
 * The record codec round-trips every record it accepts (property tests over random topics, client
 * ids, flags, timestamps and payloads from 0 to 256 KiB), refuses what it cannot encode, and on
 * decode detects damage: a flipped bit (checksum), an unknown version byte, a truncated value; the
 * range CRC-32 agrees with zlib's.
 */
import test from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { decodeRecord, encodeRecord, recordTimestamp, type QoS, type RecordInput } from '../../src/log/record.js';
import { crc32 } from 'node:zlib';
import { RecordFormatError } from '../../src/errors.js';
import { crc32Range } from '../../src/log/crc32.js';

const recordArb: fc.Arbitrary<RecordInput> = fc.record({
  timestamp: fc.integer({ min: 0, max: 2 ** 48 - 1 }),
  topic: fc.string({ unit: 'grapheme', maxLength: 200 }),
  qos: fc.constantFrom<QoS>(0, 1, 2),
  retain: fc.boolean(),
  clientId: fc.string({ maxLength: 64 }),
  payload: fc.oneof(
    fc.uint8Array({ maxLength: 512 }),
    fc.integer({ min: 0, max: 256 * 1024 }).map((n) => new Uint8Array(n).fill(n % 251)),
  ).map((a) => Buffer.from(a)),
});

test('every record round-trips through encode and decode', () => {
  fc.assert(
    fc.property(recordArb, fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER }), (rec, offset) => {
      const buf = encodeRecord(rec);
      const back = decodeRecord(buf, offset, 'test');
      assert.equal(back.offset, offset);
      assert.equal(back.timestamp, rec.timestamp);
      assert.equal(back.topic, rec.topic);
      assert.equal(back.clientId, rec.clientId);
      assert.equal(back.qos, rec.qos);
      assert.equal(back.retain, rec.retain);
      assert.deepEqual(back.payload, rec.payload);
      assert.equal(back.sizeBytes, buf.length);
      assert.equal(recordTimestamp(buf), rec.timestamp);
    }),
    { numRuns: 300 },
  );
});

test('a single flipped bit anywhere after the version is detected', () => {
  fc.assert(
    fc.property(recordArb, fc.nat(), fc.integer({ min: 0, max: 7 }), (rec, at, bit) => {
      const buf = encodeRecord(rec);
      const i = 1 + (at % (buf.length - 1));
      buf[i] = (buf[i] as number) ^ (1 << bit);
      assert.throws(() => decodeRecord(buf, 0, 'stream s partition 0 offset 0'), RecordFormatError);
    }),
    { numRuns: 300 },
  );
});

test('an unknown version and a truncated value are refused with where they are', () => {
  const buf = encodeRecord({ timestamp: 1, topic: 't', qos: 1, retain: false, clientId: 'c', payload: Buffer.from('x') });
  const v2 = Buffer.from(buf);
  v2[0] = 2;
  assert.throws(() => decodeRecord(v2, 7, 'stream s partition 1 offset 7'), /stream s partition 1 offset 7: unknown record version 2/);
  assert.throws(() => decodeRecord(buf.subarray(0, 10), 0, 'here'), /here: record is 10 bytes/);
  assert.throws(() => decodeRecord(buf.subarray(0, buf.length - 1), 0, 'here'), RecordFormatError);
});

test('encode refuses fields it cannot represent', () => {
  const base = { timestamp: 1, topic: 't', qos: 1 as QoS, retain: false, clientId: 'c', payload: Buffer.alloc(0) };
  assert.throws(() => encodeRecord({ ...base, timestamp: -1 }), /timestamp/);
  assert.throws(() => encodeRecord({ ...base, timestamp: 2 ** 48 }), /timestamp/);
  assert.throws(() => encodeRecord({ ...base, qos: 3 as QoS }), /QoS/);
  assert.throws(() => encodeRecord({ ...base, topic: 'x'.repeat(70000) }), /topic/);
});

test('crc32Range equals zlib.crc32 of the same range, for short and long ranges', () => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 3000 }), fc.nat(), fc.nat(), (bytes, a, b) => {
      const buf = Buffer.from(bytes);
      const start = buf.length === 0 ? 0 : a % (buf.length + 1);
      const end = start + (buf.length - start === 0 ? 0 : b % (buf.length - start + 1));
      assert.equal(crc32Range(buf, start, end), crc32(buf.subarray(start, end)));
    }),
    { numRuns: 500 },
  );
});
