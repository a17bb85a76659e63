/**
 * Record codec: how one message is laid out as an LMDB value.
 *
 * Format v1 (all integers big-endian):
 *
 *   record    := version crc body
 *   version   := u8                 = 1; any other value is refused on read (LogCorruptError)
 *   crc       := u32                CRC-32 (zlib polynomial) of every byte of `body`
 *   body      := flags timestamp topic clientId payload
 *   flags     := u8                 bits 0-1 QoS (0..2), bit 2 retain, bits 3-7 must be 0
 *   timestamp := u48                milliseconds since the Unix epoch
 *   topic     := u16 length, UTF-8 bytes
 *   clientId  := u16 length, UTF-8 bytes
 *   payload   := u32 length, bytes
 *
 * The value must end exactly after the payload. The offset is not stored in the value: it is the
 * LMDB key (see keys.ts), so a record cannot disagree with its own position.
 *
 * Batch v2 (log format 4): the records one commit appends to one partition, under one key — the
 * offset of the first (keys.ts):
 *
 *   batch     := version count entry{count}
 *   version   := u8                 = 2
 *   count     := u32                2 or more (a commit's single record is stored as a v1 record)
 *   entry     := u32 length, a v1 record of that many bytes
 *
 * The entries must fill the value exactly; each record keeps its own checksum, so a damaged byte is
 * named down to the record. A batch costs one LMDB put where its records cost one each, and the put is
 * what the write path pays for: node-lmdb's batchWrite takes ~3.5 µs of main-thread time per
 * operation it is handed, and the worker thread ~2 µs more per put (measured, log format 3 at 10,000
 * msg/s: about 6 µs of the broker's ~44 µs per message).
 *
 * A new format gets a new version byte and a decoder beside this one; old records stay readable.
 */
import { RecordFormatError } from '../errors.js';
import { Utf8Cache } from '../utf8-cache.js';
import { crc32Range } from './crc32.js';
import { storeU32 } from './keys.js';

export const RECORD_VERSION_1 = 1;
export const RECORD_BATCH_VERSION = 2;
const BATCH_HEADER_BYTES = 1 + 4;
const HEADER_BYTES = 1 + 4 + 1 + 6 + 2 + 2 + 4;
const BODY_START = 5;
const U16_MAX = 0xffff;
const U32_MAX = 0xffffffff;
const U48_MAX = 2 ** 48 - 1;

export type QoS = 0 | 1 | 2;

/** What a producer hands to the log. */
export interface RecordInput {
  timestamp: number;
  topic: string;
  qos: QoS;
  retain: boolean;
  clientId: string;
  payload: Buffer;
}

/** What a reader gets back: the input plus its position. */
export interface LogRecord extends RecordInput {
  offset: number;
  /** Size of the encoded value in bytes (what retention and byte limits count). */
  sizeBytes: number;
}

/** Topics and client ids repeat from message to message: their UTF-8 bytes are encoded once. */
const utf8 = new Utf8Cache(10_000);

export function encodeRecord(rec: RecordInput): Buffer {
  if (!Number.isInteger(rec.timestamp) || rec.timestamp < 0 || rec.timestamp > U48_MAX) {
    throw new RecordFormatError(`record timestamp ${rec.timestamp} is not a u48 millisecond value`);
  }
  if (rec.qos !== 0 && rec.qos !== 1 && rec.qos !== 2) {
    throw new RecordFormatError(`record QoS ${String(rec.qos)} is not 0, 1 or 2`);
  }
  const topic = utf8.get(rec.topic);
  const clientId = utf8.get(rec.clientId);
  const topicBytes = topic.length;
  const clientBytes = clientId.length;
  if (topicBytes > U16_MAX) throw new RecordFormatError(`record topic is ${topicBytes} bytes; the limit is ${U16_MAX}`);
  if (clientBytes > U16_MAX) throw new RecordFormatError(`record client id is ${clientBytes} bytes; the limit is ${U16_MAX}`);
  if (rec.payload.length > U32_MAX) throw new RecordFormatError(`record payload is ${rec.payload.length} bytes; the limit is ${U32_MAX}`);

  const payloadBytes = rec.payload.length;
  const buf = Buffer.allocUnsafe(HEADER_BYTES + topicBytes + clientBytes + payloadBytes);
  // Byte stores rather than Buffer's write methods: every range was checked above, and this runs for
  // every message (the methods check again, per call).
  buf[0] = RECORD_VERSION_1;
  buf[5] = rec.qos | (rec.retain ? 4 : 0);
  const high = Math.floor(rec.timestamp / 2 ** 32);
  const low = rec.timestamp >>> 0;
  buf[6] = high >>> 8;
  buf[7] = high;
  storeU32(buf, 8, low);
  buf[12] = topicBytes >>> 8;
  buf[13] = topicBytes;
  buf.set(topic, 14);
  let at = 14 + topicBytes;
  buf[at] = clientBytes >>> 8;
  buf[at + 1] = clientBytes;
  buf.set(clientId, at + 2);
  at += 2 + clientBytes;
  storeU32(buf, at, payloadBytes);
  buf.set(rec.payload, at + 4);
  storeU32(buf, 1, crc32Range(buf, BODY_START, buf.length));
  return buf;
}

/**
 * Decodes one stored value. `whereName` names the record in errors ("stream s partition 0 offset 7").
 * The payload is a view into `buf`: callers pass a buffer they own (store.ts hands out copies, never
 * LMDB's mapped memory), so one copy per record is enough.
 */
export function decodeRecord(buf: Buffer, offset: number, whereName: string | (() => string)): LogRecord {
  if (buf.length < HEADER_BYTES) {
    throw new RecordFormatError(`${place(whereName)}: record is ${buf.length} bytes, shorter than the ${HEADER_BYTES}-byte header`);
  }
  const version = buf[0];
  if (version !== RECORD_VERSION_1) {
    throw new RecordFormatError(`${place(whereName)}: unknown record version ${String(version)}`);
  }
  const storedCrc = buf.readUInt32BE(1);
  const actualCrc = crc32Range(buf, BODY_START, buf.length);
  if (storedCrc !== actualCrc) {
    throw new RecordFormatError(`${place(whereName)}: checksum mismatch (stored ${storedCrc}, computed ${actualCrc})`);
  }
  let at = BODY_START;
  const flags = buf[at++] as number;
  if ((flags & ~7) !== 0 || (flags & 3) === 3) {
    throw new RecordFormatError(`${place(whereName)}: invalid flags byte ${flags}`);
  }
  const timestamp = recordTimestamp(buf);
  at += 6;
  const topicLength = readLength(buf, at, 2, whereName);
  const topic = buf.toString('utf8', at + 2, at + 2 + topicLength);
  at += 2 + topicLength;
  const clientLength = readLength(buf, at, 2, whereName);
  const clientId = buf.toString('utf8', at + 2, at + 2 + clientLength);
  at += 2 + clientLength;
  const payloadLength = readLength(buf, at, 4, whereName);
  at += 4;
  if (at + payloadLength !== buf.length) {
    throw new RecordFormatError(`${place(whereName)}: payload length ${payloadLength} does not match the record size ${buf.length}`);
  }
  return {
    offset,
    timestamp,
    topic,
    qos: (flags & 3) as QoS,
    retain: (flags & 4) !== 0,
    clientId,
    payload: buf.subarray(at),
    sizeBytes: buf.length,
  };
}

/**
 * The stored value of `count` encoded records (values[from, from + count)): the record itself when
 * count is 1, else a batch v2.
 */
export function encodeValue(values: readonly Buffer[], from: number, count: number): Buffer {
  if (count === 1) return values[from] as Buffer;
  if (!Number.isInteger(count) || count < 2 || count > U32_MAX) throw new RecordFormatError(`a batch of ${count} records`);
  let bytes = BATCH_HEADER_BYTES;
  for (let i = from; i < from + count; i++) bytes += 4 + (values[i] as Buffer).length;
  const buf = Buffer.allocUnsafe(bytes);
  buf[0] = RECORD_BATCH_VERSION;
  storeU32(buf, 1, count);
  let at = BATCH_HEADER_BYTES;
  for (let i = from; i < from + count; i++) {
    const value = values[i] as Buffer;
    storeU32(buf, at, value.length);
    buf.set(value, at + 4);
    at += 4 + value.length;
  }
  return buf;
}

/** How many records a stored value holds (1 for a v1 record), from its header alone. */
export function valueRecordCount(buf: Buffer, whereName: string | (() => string)): number {
  if (buf[0] === RECORD_BATCH_VERSION) {
    if (buf.length < BATCH_HEADER_BYTES) throw new RecordFormatError(`${place(whereName)}: batch is ${buf.length} bytes, shorter than its header`);
    const count = buf.readUInt32BE(1);
    if (count < 2) throw new RecordFormatError(`${place(whereName)}: batch of ${count} records (a batch holds 2 or more)`);
    return count;
  }
  return 1;
}

/**
 * Decodes the records of one stored value whose first record is at `baseOffset`, from `fromOffset`
 * on, onto `out`, stopping before `endOffset` or once `out` holds `maxRecords`. Every entry is checked
 * (its length, then the record's own version and checksum) as it is decoded; `check` decodes the
 * whole value whatever the limits, for verification. Returns the offset after the last record of the
 * value: baseOffset + its record count.
 */
export function decodeValue(
  buf: Buffer,
  baseOffset: number,
  whereName: (offset: number) => string,
  out: LogRecord[],
  fromOffset = baseOffset,
  endOffset = Number.POSITIVE_INFINITY,
  maxRecords = Number.POSITIVE_INFINITY,
): number {
  if (buf[0] !== RECORD_BATCH_VERSION) {
    if (fromOffset <= baseOffset && baseOffset < endOffset && out.length < maxRecords) out.push(decodeRecord(buf, baseOffset, () => whereName(baseOffset)));
    return baseOffset + 1;
  }
  const count = valueRecordCount(buf, () => whereName(baseOffset));
  let at = BATCH_HEADER_BYTES;
  for (let i = 0; i < count; i++) {
    const offset = baseOffset + i;
    const length = readLength(buf, at, 4, () => `${whereName(offset)} (entry ${i} of the batch at ${baseOffset})`);
    if (offset >= fromOffset && offset < endOffset && out.length < maxRecords) {
      out.push(decodeRecord(buf.subarray(at + 4, at + 4 + length), offset, () => whereName(offset)));
    }
    at += 4 + length;
  }
  if (at !== buf.length) throw new RecordFormatError(`${whereName(baseOffset)}: batch of ${count} records ends at byte ${at} of ${buf.length}`);
  return baseOffset + count;
}

/** The newest timestamp a stored value holds: its record's, or its last record's for a batch. */
export function newestTimestamp(buf: Buffer, whereName: string | (() => string)): number {
  if (buf[0] !== RECORD_BATCH_VERSION) return recordTimestamp(buf);
  const count = valueRecordCount(buf, whereName);
  let at = BATCH_HEADER_BYTES;
  for (let i = 0; i < count - 1; i++) at += 4 + readLength(buf, at, 4, whereName);
  readLength(buf, at, 4, whereName);
  return recordTimestamp(buf.subarray(at + 4));
}

/** Reads only the timestamp: retention scans use this to avoid decoding whole records. */
export function recordTimestamp(buf: Buffer): number {
  // u48 as u16 + u32, like the encoder: readUIntBE(…, 6) is several times slower.
  return buf.readUInt16BE(BODY_START + 1) * 2 ** 32 + buf.readUInt32BE(BODY_START + 3);
}

function readLength(buf: Buffer, at: number, width: 2 | 4, whereName: string | (() => string)): number {
  if (at + width > buf.length) throw new RecordFormatError(`${place(whereName)}: record truncated at byte ${at}`);
  const length = width === 2 ? buf.readUInt16BE(at) : buf.readUInt32BE(at);
  if (at + width + length > buf.length) throw new RecordFormatError(`${place(whereName)}: field length ${length} at byte ${at} runs past the record end`);
  return length;
}

/** The record's place for an error message; a function so that reads name a record only when it is bad. */
function place(whereName: string | (() => string)): string {
  return typeof whereName === 'string' ? whereName : whereName();
}
