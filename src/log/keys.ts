/**
 * LMDB key layouts. LMDB orders keys by memcmp, so every number is big-endian and fixed-width:
 * that makes a partition's records one contiguous, offset-ordered key range.
 *
 *   record key      := streamId u32, partition u32, offset u64      (16 bytes; the records table holds nothing else)
 *   checkpoint key  := streamId u32, partition u32                  (8 bytes, partitions table)
 *   checkpoint val  := startOffset u64, endOffset u64, bytes u64, keys u64   (32 bytes; format 3's 24
 *                      bytes lack `keys`, which there is endOffset - startOffset)
 *   cursor key      := UTF-8 "group \0 stream \0 partition"       (partition in decimal; group and stream hold no \0)
 *   cursor val      := nextOffset u64
 *
 * A partition's checkpoint is exact about startOffset — every commit that deletes records from the
 * front writes it — and is a past snapshot of endOffset and bytes: append commits write it only every
 * CHECKPOINT_RECORDS records (commit-batch.ts), on a clean close, and with a trim. The records
 * appended since are the keys from the checkpoint's endOffset on, and a reader finds them there
 * (reader.ts). So an append commit writes record keys only, always at the end of its partition's key
 * range, and LMDB appends to the last leaf instead of splitting it in the middle. (Log format 2 kept
 * the state after the records in the same table and rewrote it every commit, which left leaves half
 * full: 23.6 vs 17.7 bytes written per payload byte at 10,000 msg/s.)
 *
 * Log format 4: the key of a record is the offset of the first record of its value, and a value holds
 * one record or a batch of the records one commit appended to the partition (record.ts). A partition's
 * keys are then its batches' first offsets, each the one after the previous batch's last record, and
 * `keys` counts them (verify.ts compares the table's entry count with their sum). Format 3's values are
 * all single records, so a format 3 log is a valid format 4 log; migrate.ts upgrades formats 2 and 3.
 *
 * Offsets are JavaScript numbers: exact up to 2^53, which at a million records a second lasts
 * 285 years. encodeU64 refuses anything larger rather than silently rounding.
 */
import { LogCorruptError } from '../errors.js';

const TWO_32 = 2 ** 32;

export function writeU64(buf: Buffer, value: number, at: number): void {
  if (!Number.isSafeInteger(value) || value < 0) throw new RangeError(`offset ${value} is not a safe non-negative integer`);
  buf.writeUInt32BE(Math.floor(value / TWO_32), at);
  buf.writeUInt32BE(value >>> 0, at + 4);
}

export function readU64(buf: Buffer, at: number): number {
  return buf.readUInt32BE(at) * TWO_32 + buf.readUInt32BE(at + 4);
}

export function recordKey(streamId: number, partition: number, offset: number): Buffer {
  const key = Buffer.allocUnsafe(16);
  key.writeUInt32BE(streamId, 0);
  key.writeUInt32BE(partition, 4);
  writeU64(key, offset, 8);
  return key;
}

/**
 * `recordKey` for the append path: the same bytes stored one by one, without Buffer's per-call range
 * checks. The caller guarantees the ranges: ids and partitions are u32 by construction, offsets are
 * assigned by the log from 0 upward (2^53 is centuries away; `writeU64` guards everywhere else).
 */
export function writeRecordKey(key: Buffer, streamId: number, partition: number, offset: number): Buffer {
  storeU32(key, 0, streamId);
  storeU32(key, 4, partition);
  storeU32(key, 8, Math.floor(offset / TWO_32));
  storeU32(key, 12, offset);
  return key;
}

/** A big-endian u32 as four byte stores, for hot paths whose caller has checked the range. */
export function storeU32(buf: Buffer, at: number, value: number): void {
  buf[at] = value >>> 24;
  buf[at + 1] = value >>> 16;
  buf[at + 2] = value >>> 8;
  buf[at + 3] = value;
}

export interface RecordKeyParts {
  streamId: number;
  partition: number;
  offset: number;
}

export function parseRecordKey(key: Buffer): RecordKeyParts {
  if (key.length !== 16) throw new LogCorruptError(`record key has ${key.length} bytes, expected 16`);
  return { streamId: key.readUInt32BE(0), partition: key.readUInt32BE(4), offset: readU64(key, 8) };
}

/** The key of a partition's checkpoint in the partitions table. */
export function partitionKey(streamId: number, partition: number): Buffer {
  const key = Buffer.allocUnsafe(8);
  key.writeUInt32BE(streamId, 0);
  key.writeUInt32BE(partition, 4);
  return key;
}

export interface PartitionState {
  startOffset: number;
  endOffset: number;
  /** Bytes of the stored values. */
  bytes: number;
  /** Keys (values) the partition's records are stored under: endOffset - startOffset without batches. */
  keys: number;
}

export function encodePartitionState(s: PartitionState): Buffer {
  const buf = Buffer.allocUnsafe(32);
  writeU64(buf, s.startOffset, 0);
  writeU64(buf, s.endOffset, 8);
  writeU64(buf, s.bytes, 16);
  writeU64(buf, s.keys, 24);
  return buf;
}

export function decodePartitionState(buf: Buffer): PartitionState {
  if (buf.length !== 24 && buf.length !== 32) throw new LogCorruptError(`partition state has ${buf.length} bytes, expected 32 (or 24 from log format 3)`);
  const startOffset = readU64(buf, 0);
  const endOffset = readU64(buf, 8);
  return { startOffset, endOffset, bytes: readU64(buf, 16), keys: buf.length === 32 ? readU64(buf, 24) : endOffset - startOffset };
}

export function cursorKey(group: string, stream: string, partition: number): Buffer {
  return Buffer.from(`${group}\u0000${stream}\u0000${partition}`, 'utf8');
}

/** Where a group's cursor keys start: every key of `group`, and only those, begins with these bytes. */
export function cursorGroupPrefix(group: string): Buffer {
  return Buffer.from(`${group}\u0000`, 'utf8');
}

export interface CursorKeyParts {
  group: string;
  stream: string;
  partition: number;
}

export function parseCursorKey(key: Buffer): CursorKeyParts {
  const parts = key.toString('utf8').split('\u0000');
  const [group, stream, partition] = parts;
  if (parts.length !== 3 || group === undefined || stream === undefined || partition === undefined || !/^(0|[1-9][0-9]*)$/.test(partition)) {
    throw new LogCorruptError(`cursor key ${JSON.stringify(key.toString('utf8'))} is not "group\\0stream\\0partition"`);
  }
  return { group, stream, partition: Number(partition) };
}

export function encodeOffset(offset: number): Buffer {
  const buf = Buffer.allocUnsafe(8);
  writeU64(buf, offset, 0);
  return buf;
}
