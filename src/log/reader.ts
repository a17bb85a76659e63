/**
 * Reading the log: by (stream, partition, fromOffset) with record and byte limits, in the writer
 * process or from any other process through a read-only LMDB environment (`LogReader`), which sees
 * every transaction the writer committed before the read began.
 *
 * Every read re-checks the partition invariant: it looks up each offset from max(fromOffset, startOffset)
 * on; a missing offset (a hole) or a record that does not decode is a LogCorruptError naming the stream,
 * partition and offset. (Keys past the end are verify.ts's to find, at open.)
 */
import { LogCorruptError, RecordFormatError, UnknownStreamError } from '../errors.js';
import { cursorKey, decodePartitionState, parseRecordKey, partitionKey, readU64, recordKey, writeU64, type PartitionState } from './keys.js';
import { assertReadableFormat } from './migrate.js';
import { decodeRecord, type LogRecord } from './record.js';
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
  // One name for the whole read (built only if a record is bad), not a closure per record.
  const name = (): string => where(part, offset);
  // Point lookups of the offsets we expect, with one key buffer rewritten in place, rather than a cursor
  // walk: node-lmdb hands a cursor step back as three fresh native buffers (the key twice, the value),
  // a lookup as one, and this loop runs for every record forwarded (measured 1.6x the records/s). A
  // missing offset is the corruption a walk would find as a gap.
  const key = recordKey(part.streamId, part.index, offset);
  for (; offset < endOffset && records.length < limits.maxRecords; offset++) {
    writeU64(key, offset, 8);
    const value = store.get(txn, 'records', key);
    if (value === null) throw corrupt(part, offset, `record missing (the partition holds ${checkpoint.startOffset}..${endOffset - 1})`);
    if (records.length > 0 && bytes + value.length > limits.maxBytes) break;
    records.push(decodeAt(value, part, offset, name));
    bytes += value.length;
  }
  return records;
}

export function decodeAt(value: Buffer, part: PartitionAddress, offset: number, name: () => string = () => where(part, offset)): LogRecord {
  try {
    return decodeRecord(value, offset, name);
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

const EMPTY: PartitionState = Object.freeze({ startOffset: 0, endOffset: 0, bytes: 0 });

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
  return Math.max(checkpoint.endOffset, k.offset + 1);
}

/**
 * The partition's state: its checkpoint, advanced over the records appended since (at most
 * CHECKPOINT_RECORDS after a crash, none after a clean close). They must follow the checkpoint's end
 * without a gap; a gap is corruption, named.
 */
export function partitionStateIn(store: Store, txn: Txn, part: PartitionAddress, checkpoint = checkpointIn(store, txn, part)): PartitionState {
  let { endOffset, bytes } = checkpoint;
  store.scan(txn, 'records', recordKey(part.streamId, part.index, endOffset), (key, value) => {
    const k = parseRecordKey(key);
    if (k.streamId !== part.streamId || k.partition !== part.index) return false;
    if (k.offset !== endOffset) throw corrupt(part, endOffset, `record missing (next stored offset is ${k.offset})`);
    endOffset++;
    bytes += value.length;
    return true;
  });
  return { startOffset: checkpoint.startOffset, endOffset, bytes };
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
