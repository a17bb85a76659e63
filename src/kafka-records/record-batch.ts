/**
 * Kafka's record batch (message format v2, "magic 2"), encoded in one pass into one buffer.
 *
 * Why our own encoder: the Kafka client builds every record from several small growable buffers
 * (a writer per record, a Map per record's headers, a string key per record for its sequence
 * bookkeeping), and forwarding a backlog spent most of its time in that and in the garbage it left.
 * Here a batch measures its records first, allocates once and writes each byte once.
 *
 *   batch      := baseOffset i64 | batchLength i32 | partitionLeaderEpoch i32 (-1) | magic i8 (2)
 *                 | crc u32 | attributes i16 | lastOffsetDelta i32 | baseTimestamp i64 | maxTimestamp i64
 *                 | producerId i64 | producerEpoch i16 | baseSequence i32 | recordCount i32 | records
 *   crc        := CRC-32C of every byte from `attributes` to the end of the batch
 *   attributes := bits 0-2 compression codec, bit 3 timestamp type (0: CreateTime), rest 0
 *   records    := record*, compressed as a whole when the codec is not none
 *   record     := length varint | attributes i8 (0) | timestampDelta varlong | offsetDelta varint
 *                 | keyLength varint (-1: null) key | valueLength varint value | headerCount varint header*
 *   header     := keyLength varint key (UTF-8) | valueLength varint value
 *
 * Varints are zigzag-encoded, as in protobuf. Timestamps are milliseconds held in JavaScript numbers
 * (exact far beyond any real clock), so the varlong code uses arithmetic, not 32-bit bitwise operators.
 * `baseOffset` is 0 for a batch produced upstream (Kafka assigns offsets) and the first record's log offset
 * for a batch the local Kafka API serves (src/kafka-api), whose records are contiguous, so a record's
 * offset delta is its index.
 * Pure: no I/O, no client; the checksum and the compression are given by the caller. Shared by the
 * forwarder and the local Kafka API, so neither imports the other.
 */

export interface BatchRecord {
  key: Buffer | null;
  value: Buffer;
  /** Header names as UTF-8 bytes and their values. */
  headers: ReadonlyArray<readonly [Buffer, Buffer]>;
  /** Milliseconds since the epoch (CreateTime). */
  timestamp: number;
}

export interface BatchProducer {
  producerId: bigint;
  producerEpoch: number;
  /** Sequence number of the batch's first record for this producer and partition. */
  baseSequence: number;
}

export interface BatchCodec {
  /** Codec id as Kafka numbers them (0 none, 1 gzip, 2 snappy, 3 lz4, 4 zstd). */
  id: number;
  compress(records: Buffer): Buffer;
}

export type Crc32c = (bytes: Buffer) => number;

/** Bytes from baseOffset through recordCount. */
export const BATCH_HEADER_BYTES = 61;
/** Where the CRC'd part starts (attributes). */
const CRC_FROM = 21;
const TWO_32 = 2 ** 32;

/** Encodes `records` (at least one) as one record batch. */
export function encodeRecordBatch(records: readonly BatchRecord[], producer: BatchProducer, codec: BatchCodec | null, crc32c: Crc32c, baseOffset = 0): Buffer {
  const first = records[0];
  if (first === undefined) throw new RangeError('a record batch needs at least one record');
  const baseTimestamp = first.timestamp;
  let maxTimestamp = baseTimestamp;
  const sizes = new Array<number>(records.length);
  let recordsBytes = 0;
  for (let i = 0; i < records.length; i++) {
    const r = records[i] as BatchRecord;
    if (r.timestamp > maxTimestamp) maxTimestamp = r.timestamp;
    const body = recordBodyBytes(r, r.timestamp - baseTimestamp, i);
    sizes[i] = body;
    recordsBytes += varintBytes(body) + body;
  }

  const compressing = codec !== null && codec.id !== 0;
  // Compressed, the records are only input to the codec, which copies them out: a scratch buffer kept
  // between batches saves allocating (and faulting in) a fresh megabyte per batch.
  const recordsBuf = compressing ? scratch(recordsBytes) : Buffer.allocUnsafe(BATCH_HEADER_BYTES + recordsBytes);
  let at = compressing ? 0 : BATCH_HEADER_BYTES;
  for (let i = 0; i < records.length; i++) {
    const r = records[i] as BatchRecord;
    at = writeVarint(recordsBuf, sizes[i] as number, at);
    recordsBuf[at++] = 0;
    at = writeVarint(recordsBuf, r.timestamp - baseTimestamp, at);
    at = writeVarint(recordsBuf, i, at);
    at = writeBytes(recordsBuf, r.key, at);
    at = writeBytes(recordsBuf, r.value, at);
    at = writeVarint(recordsBuf, r.headers.length, at);
    for (const [name, value] of r.headers) {
      at = writeBytes(recordsBuf, name, at);
      at = writeBytes(recordsBuf, value, at);
    }
  }

  let batch: Buffer;
  if (compressing) {
    const compressed = codec.compress(recordsBuf.subarray(0, recordsBytes));
    batch = Buffer.allocUnsafe(BATCH_HEADER_BYTES + compressed.length);
    compressed.copy(batch, BATCH_HEADER_BYTES);
  } else {
    batch = recordsBuf;
  }
  writeInt64(batch, baseOffset, 0);
  batch.writeInt32BE(batch.length - 12, 8);
  batch.writeInt32BE(-1, 12);
  batch[16] = 2;
  batch.writeInt16BE(compressing ? codec.id : 0, 21);
  batch.writeInt32BE(records.length - 1, 23);
  writeInt64(batch, baseTimestamp, 27);
  writeInt64(batch, maxTimestamp, 35);
  batch.writeBigInt64BE(producer.producerId, 43);
  batch.writeInt16BE(producer.producerEpoch, 51);
  batch.writeInt32BE(producer.baseSequence, 53);
  batch.writeInt32BE(records.length, 57);
  batch.writeUInt32BE(crc32c(batch.subarray(CRC_FROM)) >>> 0, 17);
  return batch;
}

let scratchBuf = Buffer.alloc(0);
/**
 * Scratch space of at least `bytes`, kept for the next batch: as large as the largest uncompressed batch,
 * which the sink's request cap bounds (1 MB by default). Valid until the next call (used synchronously).
 */
function scratch(bytes: number): Buffer {
  if (scratchBuf.length < bytes) scratchBuf = Buffer.allocUnsafe(Math.max(bytes, 64 * 1024));
  return scratchBuf;
}

/** The next base sequence after `count` records; Kafka wraps sequences at 2^31 - 1 back to 0. */
export function nextSequence(sequence: number, count: number): number {
  return (sequence + count) % 0x80000000;
}

function recordBodyBytes(r: BatchRecord, timestampDelta: number, offsetDelta: number): number {
  let n = 1 + varintBytes(timestampDelta) + varintBytes(offsetDelta);
  n += r.key === null ? 1 : varintBytes(r.key.length) + r.key.length;
  n += varintBytes(r.value.length) + r.value.length;
  n += varintBytes(r.headers.length);
  for (const [name, value] of r.headers) n += varintBytes(name.length) + name.length + varintBytes(value.length) + value.length;
  return n;
}

function writeBytes(buf: Buffer, bytes: Buffer | null, at: number): number {
  if (bytes === null) return writeVarint(buf, -1, at);
  at = writeVarint(buf, bytes.length, at);
  buf.set(bytes, at);
  return at + bytes.length;
}

/** Zigzag: 0, -1, 1, -2, ... → 0, 1, 2, 3, ... (arithmetic, exact for safe integers). */
function zigzag(value: number): number {
  return value >= 0 ? value * 2 : -value * 2 - 1;
}

export function varintBytes(value: number): number {
  let z = zigzag(value);
  let n = 1;
  while (z >= 0x80) {
    z = Math.floor(z / 128);
    n++;
  }
  return n;
}

export function writeVarint(buf: Buffer, value: number, at: number): number {
  let z = zigzag(value);
  while (z >= 0x80) {
    buf[at++] = (z % 128) | 0x80;
    z = Math.floor(z / 128);
  }
  buf[at++] = z;
  return at;
}

function writeInt64(buf: Buffer, value: number, at: number): void {
  buf.writeInt32BE(Math.floor(value / TWO_32), at);
  buf.writeUInt32BE(value >>> 0, at + 4);
}
