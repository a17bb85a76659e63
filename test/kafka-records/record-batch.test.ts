/**
 * The Kafka record batch encoder (src/kafka-records/record-batch.ts), checked against an independent decoder: the
 * Kafka client's own `readRecordsBatch`, for random records (null and empty keys, headers, timestamps going
 * backwards, payloads up to 64 KiB) and every codec; the CRC-32C and the length fields are checked byte by
 * byte; zigzag varints at their boundaries. The sink's end-to-end tests (kafka-sink.test.ts) prove that a
 * real Kafka accepts what this writes.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { compressionsAlgorithms, crc32c, readRecordsBatch, Reader } from '@platformatic/kafka';
import { encodeRecordBatch, nextSequence, varintBytes, writeVarint, type BatchCodec, type BatchRecord } from '../../src/kafka-records/record-batch.js';

const codecs: Array<BatchCodec | null> = [null, ...(['gzip', 'snappy', 'lz4'] as const).map((name) => {
  const algorithm = compressionsAlgorithms[name];
  return { id: algorithm.bitmask, compress: (b: Buffer) => algorithm.compressSync(b) };
})];

const bytes = (max: number) => fc.uint8Array({ maxLength: max }).map((a) => Buffer.from(a));
const recordArb: fc.Arbitrary<BatchRecord> = fc.record({
  key: fc.option(bytes(40), { nil: null }),
  value: bytes(64 * 1024),
  headers: fc.array(fc.tuple(fc.string({ maxLength: 20 }).map((s) => Buffer.from(s, 'utf8')), bytes(30)), { maxLength: 6 }),
  timestamp: fc.integer({ min: 0, max: 2 ** 47 }),
});

test('batches decode with the Kafka client, for every codec, with the producer fields and a valid CRC', () => {
  fc.assert(
    fc.property(
      fc.array(recordArb, { minLength: 1, maxLength: 30 }),
      fc.constantFrom(...codecs),
      fc.bigInt({ min: 0n, max: 2n ** 62n }),
      fc.integer({ min: 0, max: 32767 }),
      fc.integer({ min: 0, max: 2 ** 31 - 1 }),
      fc.oneof(fc.constant(0), fc.integer({ min: 0, max: 2 ** 53 - 1 })),
      (records, codec, producerId, producerEpoch, baseSequence, baseOffset) => {
        const batch = encodeRecordBatch(records, { producerId, producerEpoch, baseSequence }, codec, crc32c, baseOffset);
        assert.equal(batch.readBigInt64BE(0), BigInt(baseOffset), 'base offset');
        assert.equal(batch.readInt32BE(8), batch.length - 12, 'batch length');
        assert.equal(batch.readUInt32BE(17), crc32c(batch.subarray(21)) >>> 0, 'CRC-32C');
        const decoded = readRecordsBatch(Reader.from(batch));
        assert.equal(decoded.firstOffset, BigInt(baseOffset));
        assert.equal(decoded.magic, 2);
        assert.equal(decoded.partitionLeaderEpoch, -1);
        assert.equal(decoded.attributes, codec?.id ?? 0);
        assert.equal(decoded.producerId, producerId);
        assert.equal(decoded.producerEpoch, producerEpoch);
        assert.equal(decoded.firstSequence, baseSequence);
        assert.equal(decoded.lastOffsetDelta, records.length - 1);
        const base = (records[0] as BatchRecord).timestamp;
        assert.equal(decoded.firstTimestamp, BigInt(base));
        assert.equal(decoded.maxTimestamp, BigInt(Math.max(...records.map((r) => r.timestamp))));
        assert.equal(decoded.records.length, records.length);
        decoded.records.forEach((got, i) => {
          const want = records[i] as BatchRecord;
          assert.equal(got.offsetDelta, i);
          assert.equal(got.timestampDelta, BigInt(want.timestamp - base));
          assert.deepEqual(got.key, want.key);
          assert.deepEqual(got.value, want.value);
          assert.deepEqual(got.headers, want.headers.map(([n, v]) => [n, v]));
        });
      },
    ),
    { numRuns: 200 },
  );
});

test('zigzag varints: sizes and bytes at the 7-bit boundaries, negative values and beyond 32 bits', () => {
  const cases: Array<[number, number[]]> = [
    [0, [0x00]],
    [-1, [0x01]],
    [1, [0x02]],
    [63, [0x7e]],
    [-64, [0x7f]],
    [64, [0x80, 0x01]],
    [300, [0xd8, 0x04]],
    [2 ** 31, [0x80, 0x80, 0x80, 0x80, 0x10]],
    [-(2 ** 40), [0xff, 0xff, 0xff, 0xff, 0xff, 0x3f]],
  ];
  for (const [value, expected] of cases) {
    const buf = Buffer.alloc(10);
    const end = writeVarint(buf, value, 0);
    assert.deepEqual([...buf.subarray(0, end)], expected, `varint ${value}`);
    assert.equal(varintBytes(value), expected.length, `size of ${value}`);
  }
});

test('an empty batch is refused, and sequences wrap at 2^31 - 1 as Kafka expects', () => {
  assert.throws(() => encodeRecordBatch([], { producerId: 1n, producerEpoch: 0, baseSequence: 0 }, null, crc32c), /at least one record/);
  assert.equal(nextSequence(5, 10), 15);
  assert.equal(nextSequence(2 ** 31 - 2, 3), 1);
});
