/**
 * Reading the log: by (stream, partition, fromOffset) with record and byte limits, in the writer
 * process or from any other process through a read-only LMDB environment (`LogReader`), which sees
 * every transaction the writer committed before the read began.
 *
 * Every read re-checks the partition invariant: it looks up each value from the one holding
 * max(fromOffset, startOffset) on, each where the last ended (a value is a record or a batch of them,
 * record.ts); a missing value (a hole) or a record that does not decode is a LogCorruptError naming the
 * stream, partition and offset. (Keys past the end are verify.ts's to find, at open.)
 */
import { LogCorruptError, RecordFormatError, UnknownStreamError } from '../errors.js';
import { cursorKey, decodePartitionState, parseRecordKey, partitionKey, readU64, recordKey, writeU64, type PartitionState } from './keys.js';
import { assertReadableFormat } from './migrate.js';
import { decodeValue, valueRecordCount, type LogRecord } from './record.js';
import { Store, type Txn } from './store.js';

export interface ReadLimits {
  maxRecords: number;
  /** At least one record is returned even when it alone is larger. */
  maxBytes: number;
}

export interface PartitionAddress {
  stream: string;
  streamId: number;
  index: number;
}

/**
 * `durableEndOffset` (the writer's own reads) stops the read at what the writer knows is synced: LMDB
 * lets readers see a transaction as soon as its meta page is written, a moment before the commit's
 * last sync returns, and a record read in that moment could be lost to a power cut and its offset
 * reused. Other processes cannot know, and read what LMDB shows them.
 */
export function readRecords(store: Store, part: PartitionAddress, fromOffset: number, limits: ReadLimits, durableEndOffset = Number.POSITIVE_INFINITY): LogRecord[] {
  return store.read((txn) => readInTxn(store, txn, part, fromOffset, limits, durableEndOffset));
}

function readInTxn(store: Store, txn: Txn, part: PartitionAddress, fromOffset: number, limits: ReadLimits, durableEndOffset: number): LogRecord[] {
  // The checkpoint's start is exact (every trim writes it in the same commit); its end may be behind.
  const checkpoint = checkpointIn(store, txn, part);
  const endOffset = Number.isFinite(durableEndOffset) ? durableEndOffset : storedEndOffset(store, txn, part, checkpoint);
  let offset = Math.max(fromOffset, checkpoint.startOffset);
  const records: LogRecord[] = [];
  if (offset >= endOffset || limits.maxRecords <= 0) return records;
  let bytes = 0;
  // Point lookups of the keys we expect, with one key buffer rewritten in place, rather than a cursor
  // walk: node-lmdb hands a cursor step back as three fresh native buffers (the key twice, the value),
  // a lookup as one, and this loop runs for every value forwarded (measured 1.6x the records/s). A
  // missing key is the corruption a walk would find as a gap. Only the first value may start before
  // `offset` (a batch the read begins inside); each next one starts where the last ended.
  const key = recordKey(part.streamId, part.index, offset);
  let base = offset;
  let value = store.get(txn, 'records', key);
  if (value === null && offset > checkpoint.startOffset) {
    const before = store.lastKeyBefore(txn, 'records', key);
    const k = before === null ? null : parseRecordKey(before);
    if (k !== null && k.streamId === part.streamId && k.partition === part.index && k.offset >= checkpoint.startOffset) {
      base = k.offset;
      writeU64(key, base, 8);
      value = store.get(txn, 'records', key);
    }
  }
  const decoded: LogRecord[] = [];
  for (;;) {
    if (value === null) throw corrupt(part, offset, `record missing (the partition holds ${checkpoint.startOffset}..${endOffset - 1})`);
    decoded.length = 0;
    const next = decodeValueAt(value, part, base, decoded, offset, endOffset, limits.maxRecords - records.length);
    if (next <= offset) throw corrupt(part, offset, `record missing (the value at offset ${base} ends before it, at ${next - 1})`);
    for (const record of decoded) {
      if (records.length > 0 && bytes + record.sizeBytes > limits.maxBytes) return records;
      records.push(record);
      bytes += record.sizeBytes;
    }
    offset = next;
    if (offset >= endOffset || records.length >= limits.maxRecords) return records;
    base = offset;
    writeU64(key, offset, 8);
    value = store.get(txn, 'records', key);
  }
}

/**
 * Decodes the value stored under `baseOffset` onto `out` (record.ts decodeValue: from `fromOffset`,
 * before `endOffset`, at most `maxRecords`); a value that does not decode is a LogCorruptError naming
 * the record. Returns the offset after the value's last record.
 */
export function decodeValueAt(
  value: Buffer,
  part: PartitionAddress,
  baseOffset: number,
  out: LogRecord[],
  fromOffset = baseOffset,
  endOffset = Number.POSITIVE_INFINITY,
  maxRecords = Number.POSITIVE_INFINITY,
): number {
  try {
    return decodeValue(value, baseOffset, (offset) => where(part, offset), out, fromOffset, endOffset, maxRecords);
  } catch (err) {
    if (err instanceof RecordFormatError) throw new LogCorruptError(err.message, { cause: err });
    throw err;
  }
}

/** How many records the value stored under `offset` holds; a LogCorruptError if its header is bad. */
export function recordCountAt(value: Buffer, part: PartitionAddress, offset: number): number {
  try {
    return valueRecordCount(value, () => where(part, offset));
  } catch (err) {
    if (err instanceof RecordFormatError) throw new LogCorruptError(err.message, { cause: err });
    throw err;
  }
}

export function where(part: { stream: string; index: number }, offset: number): string {
  return `stream ${part.stream} partition ${part.index} offset ${offset}`;
}

function corrupt(part: PartitionAddress, offset: number, what: string): LogCorruptError {
  return new LogCorruptError(`${where(part, offset)}: ${what}`);
}

const EMPTY: PartitionState = Object.freeze({ startOffset: 0, endOffset: 0, bytes: 0, keys: 0 });

/** The partition's checkpoint (keys.ts); all zero before its first. */
export function checkpointIn(store: Store, txn: Txn, part: PartitionAddress): PartitionState {
  const value = store.get(txn, 'partitions', partitionKey(part.streamId, part.index));
  return value === null ? EMPTY : decodePartitionState(value);
}

/** One past the partition's last stored record, or the checkpoint's end when nothing was appended since. */
function storedEndOffset(store: Store, txn: Txn, part: PartitionAddress, checkpoint: PartitionState): number {
  const last = store.lastKeyBefore(txn, 'records', recordKey(part.streamId, part.index + 1, 0));
  if (last === null) return checkpoint.endOffset;
  const k = parseRecordKey(last);
  if (k.streamId !== part.streamId || k.partition !== part.index) return checkpoint.endOffset;
  const value = store.get(txn, 'records', last);
  return Math.max(checkpoint.endOffset, k.offset + (value === null ? 1 : recordCountAt(value, part, k.offset)));
}

/**
 * The partition's state: its checkpoint, advanced over the values appended since (at most
 * CHECKPOINT_RECORDS records after a crash, none after a clean close). Each must start where the last
 * ended, the first at the checkpoint's end; a gap is corruption, named.
 */
export function partitionStateIn(store: Store, txn: Txn, part: PartitionAddress, checkpoint = checkpointIn(store, txn, part)): PartitionState {
  let { endOffset, bytes, keys } = checkpoint;
  store.scan(txn, 'records', recordKey(part.streamId, part.index, endOffset), (key, value) => {
    const k = parseRecordKey(key);
    if (k.streamId !== part.streamId || k.partition !== part.index) return false;
    if (k.offset !== endOffset) throw corrupt(part, endOffset, `record missing (next stored offset is ${k.offset})`);
    endOffset += recordCountAt(value, part, k.offset);
    bytes += value.length;
    keys++;
    return true;
  });
  return { startOffset: checkpoint.startOffset, endOffset, bytes, keys };
}

export interface StreamDef {
  name: string;
  id: number;
  partitions: number;
}

export function readStreamDefs(store: Store): StreamDef[] {
  const defs: StreamDef[] = [];
  store.read((txn) =>
    store.scan(txn, 'streams', null, (key, value) => {
      const parsed = JSON.parse(value.toString('utf8')) as { id: number; partitions: number };
      defs.push({ name: key.toString('utf8'), id: parsed.id, partitions: parsed.partitions });
      return true;
    }),
  );
  return defs;
}

export function readPartitionState(store: Store, part: PartitionAddress): PartitionState {
  return store.read((txn) => partitionStateIn(store, txn, part));
}

/** A read-only view of a log another process may be writing. */
export class LogReader {
  private constructor(
    private readonly store: Store,
    private readonly streams: Map<string, StreamDef>,
  ) {}

  /** Null when no log exists in `logDir` yet. */
  static open(logDir: string): LogReader | null {
    const store = Store.open({ path: logDir, readOnly: true, mapSizeBytes: 0, mapSizeMaxBytes: 0 });
    if (!store) return null;
    try {
      assertReadableFormat(store, logDir);
      return new LogReader(store, new Map(readStreamDefs(store).map((s) => [s.name, s])));
    } catch (err) {
      store.close();
      throw err;
    }
  }

  streamNames(): string[] {
    return [...this.streams.keys()];
  }

  partitionCount(stream: string): number {
    return this.stream(stream).partitions;
  }

  partitionState(stream: string, partition: number): PartitionState {
    return readPartitionState(this.store, this.address(stream, partition));
  }

  read(stream: string, partition: number, fromOffset: number, limits: ReadLimits): LogRecord[] {
    return readRecords(this.store, this.address(stream, partition), fromOffset, limits);
  }

  cursor(group: string, stream: string, partition: number): number | null {
    const value = this.store.read((txn) => this.store.get(txn, 'cursors', cursorKey(group, stream, partition)));
    return value === null ? null : readU64(value, 0);
  }

  close(): void {
    this.store.close();
  }

  private stream(stream: string): StreamDef {
    const s = this.streams.get(stream);
    if (!s) throw new UnknownStreamError(`unknown stream "${stream}" (streams: ${[...this.streams.keys()].join(', ') || 'none'})`);
    return s;
  }

  private address(stream: string, partition: number): PartitionAddress {
    const s = this.stream(stream);
    if (!Number.isInteger(partition) || partition < 0 || partition >= s.partitions) {
      throw new UnknownStreamError(`stream "${stream}" has no partition ${partition} (it has ${s.partitions})`);
    }
    return { stream, streamId: s.id, index: partition };
  }
}
