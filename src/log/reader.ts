/**
 * Reading the log: by (stream, partition, fromOffset) with record and byte limits, in the writer
 * process or from any other process through a read-only LMDB environment (`LogReader`), which sees
 * every transaction the writer committed before the read began.
 *
 * Every read re-checks the partition invariant: the keys it walks are consecutive offsets starting at
 * max(fromOffset, startOffset); a hole or a record that does not decode is a LogCorruptError naming
 * the stream, partition and offset.
 */
import { LogCorruptError, RecordFormatError, UnknownStreamError } from '../errors.js';
import { cursorKey, decodePartitionState, parseRecordKey, partitionStateKey, readU64, recordKey, type PartitionState } from './keys.js';
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
  const stored = partitionStateIn(store, txn, part);
  const state = { ...stored, endOffset: Math.min(stored.endOffset, durableEndOffset) };
  let expected = Math.max(fromOffset, state.startOffset);
  const records: LogRecord[] = [];
  if (expected >= state.endOffset || limits.maxRecords <= 0) return records;
  let bytes = 0;
  // One name for the whole read (built only if a record is bad), not a closure per record.
  const name = (): string => where(part, expected);
  store.scan(txn, 'records', recordKey(part.streamId, part.index, expected), (key, value) => {
    // The key's fields compared in place: this loop runs for every record forwarded.
    const ours = key.length === 16 && key.readUInt32BE(0) === part.streamId && key.readUInt32BE(4) === part.index;
    const offset = ours ? readU64(key, 8) : Number.POSITIVE_INFINITY;
    if (offset >= state.endOffset) throw corrupt(part, expected, `record missing (the partition ends at ${state.endOffset})`);
    if (offset !== expected) throw corrupt(part, expected, `record missing (next stored offset is ${offset})`);
    if (records.length > 0 && bytes + value.length > limits.maxBytes) return false;
    records.push(decodeAt(value, part, offset, name));
    bytes += value.length;
    expected++;
    return records.length < limits.maxRecords && expected < state.endOffset;
  });
  if (records.length === 0) throw corrupt(part, expected, 'record missing at the end of the partition');
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

function partitionStateIn(store: Store, txn: Txn, part: PartitionAddress): PartitionState {
  return storedPartitionState(store, txn, part.streamId, part.index) ?? { startOffset: 0, endOffset: 0, bytes: 0 };
}

/** The partition's stored state, or null when it has none yet (verify counts the state keys). */
export function storedPartitionState(store: Store, txn: Txn, streamId: number, partition: number): PartitionState | null {
  const value = store.get(txn, 'records', partitionStateKey(streamId, partition));
  return value === null ? null : decodePartitionState(value);
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

export function readPartitionState(store: Store, streamId: number, partition: number): PartitionState {
  return store.read((txn) => partitionStateIn(store, txn, { stream: '', streamId, index: partition }));
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
    return new LogReader(store, new Map(readStreamDefs(store).map((s) => [s.name, s])));
  }

  streamNames(): string[] {
    return [...this.streams.keys()];
  }

  partitionCount(stream: string): number {
    return this.stream(stream).partitions;
  }

  partitionState(stream: string, partition: number): PartitionState {
    const part = this.address(stream, partition);
    return this.store.read((txn) => partitionStateIn(this.store, txn, part));
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
