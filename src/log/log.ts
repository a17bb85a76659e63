/**
 * The durable, partitioned commit log.
 *
 * Model: stream → fixed number of partitions → records at offsets 0, 1, 2, … Offsets are assigned at
 * commit time from the partition's committed end, so a failed commit leaves no hole and an offset is
 * never reused. Invariants, checked on write (here), on read (`read`) and on open (verify.ts):
 *   - within a partition, stored keys are exactly the offsets [startOffset, endOffset);
 *   - startOffset only grows (retention), endOffset only grows (appends);
 *   - every stored value decodes as a known record version with a matching checksum.
 *
 * Concurrency: one writer process (LMDB's lock enforces it for write transactions; the Log adds a
 * single commit loop), any number of read-only processes (`Log.openReadOnly`). In the writer, every
 * method may be called from anywhere on the event loop; appends and cursor commits resolve only after
 * the transaction that holds them was committed and synced.
 */
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { LogClosedError, StreamMismatchError, UnknownStreamError, UsageError } from '../errors.js';
import { CommitQueue } from './commit-queue.js';
import { processWriteBytes } from './disk-io.js';
import {
  cursorKey,
  decodePartitionState,
  encodeOffset,
  encodePartitionState,
  partitionStateKey,
  readU64,
  recordKey,
  type PartitionState,
} from './keys.js';
import { encodeRecord, type LogRecord, type RecordInput } from './record.js';
import { LogReader, readPartitionState, readRecords, readStreamDefs, type ReadLimits } from './reader.js';
import { RetentionPlanner, type DropReason, type Trim } from './retention.js';
export type { DropReason };
import { Store, type WriteOp } from './store.js';
import { verifyLog } from './verify.js';

export interface StreamSpec {
  name: string;
  partitions: number;
  retention?: { bytes?: number; ageMs?: number };
  /** Higher is more important: storage pressure drops from the lowest priority first. */
  priority?: number;
}

export interface LogObserver {
  commit?(durationMs: number, records: number): void;
  commitFailed?(err: Error): void;
  /** Records deleted before the hold group had passed them: data that never left the gateway. */
  dropped?(stream: string, reason: DropReason, records: number): void;
  /** Records deleted by retention after they were forwarded (or with no upstream configured). */
  expired?(stream: string, reason: DropReason, records: number): void;
}

export interface LogOptions {
  dataDir: string;
  commitIntervalMs: number;
  commitBytesMax: number;
  /** Appends (and other writes) waiting for a commit; past this, `append` waits. */
  appendsInFlightMax: number;
  /** First LMDB map size; defaults from storageMaxBytes. Grown on demand. */
  mapSizeBytes?: number;
  /** Sum of record bytes above which the oldest, lowest-priority records are dropped. 0 = none. */
  storageMaxBytes: number;
  /** Retention keeps what this consumer group has not yet passed, unless storage forces a drop. */
  retentionHoldGroup: string | null;
  retentionIntervalMs: number;
  /** Records one retention pass may delete per partition, so a pass never stalls appends for long. */
  retentionBatchRecords: number;
  /** 'tail' checks ends, counts and the last records of every partition; 'full' walks everything. */
  verify: 'tail' | 'full';
  observer?: LogObserver;
}

export const LOG_DEFAULTS: Omit<LogOptions, 'dataDir'> = {
  commitIntervalMs: 2,
  commitBytesMax: 1024 * 1024,
  appendsInFlightMax: 20_000,
  storageMaxBytes: 0,
  retentionHoldGroup: null,
  retentionIntervalMs: 1000,
  retentionBatchRecords: 5000,
  verify: 'tail',
};

export interface PartitionInfo {
  partition: number;
  startOffset: number;
  endOffset: number;
  records: number;
  bytes: number;
}

export interface StreamInfo {
  stream: string;
  partitions: PartitionInfo[];
}

/** A partition as the writer tracks it: committed state only. */
export interface PartitionRef {
  stream: string;
  streamId: number;
  index: number;
  state: PartitionState;
}

interface StreamRef {
  spec: StreamSpec;
  id: number;
  partitions: PartitionRef[];
}

/** Called once per item: with the error when its commit failed, else with its result (an append's offset). */
export type Settle = (err: Error | null, result: number) => void;

type Item =
  | { kind: 'append'; part: PartitionRef; value: Buffer; payloadBytes: number; bytes: number; settle: Settle }
  | { kind: 'ops'; ops: WriteOp[]; apply(): void; bytes: number; settle: Settle }
  | { kind: 'trim'; trim: Trim; bytes: number; settle: Settle };

/** A Settle that resolves or rejects a promise. */
function settlePromise(resolve: (value: number) => void, reject: (err: Error) => void): Settle {
  return (err, result) => (err === null ? resolve(result) : reject(err));
}

const FORMAT_KEY = Buffer.from('format');
/** 2: partition state moved into the records table (keys.ts). */
const FORMAT_VERSION = 2;
const MIB = 1024 * 1024;

export class Log {
  private readonly streams = new Map<string, StreamRef>();
  private readonly queue: CommitQueue<Item>;
  private readonly retention: RetentionPlanner;
  private retentionTimer: NodeJS.Timeout | null = null;
  private closing: Promise<void> | null = null;
  private payloadBytesAppended = 0;
  private pressureLimitBytes: number | null = null;
  private readonly writeBytesAtOpen: number | null = processWriteBytes();

  private constructor(
    private readonly store: Store,
    readonly options: LogOptions,
  ) {
    this.queue = new CommitQueue<Item>(
      { commitIntervalMs: options.commitIntervalMs, commitBytesMax: options.commitBytesMax, itemsMax: options.appendsInFlightMax },
      (items) => this.commit(items),
    );
    this.retention = new RetentionPlanner(store, options);
  }

  /** Opens the log for writing, creates the streams in `specs` that do not exist yet, verifies it. */
  static async open(options: Partial<LogOptions> & { dataDir: string }, specs: StreamSpec[]): Promise<Log> {
    const opts: LogOptions = { ...LOG_DEFAULTS, ...options };
    const mapSizeBytes = opts.mapSizeBytes ?? defaultMapSize(opts.storageMaxBytes);
    const store = Store.open({ path: logPath(opts.dataDir), readOnly: false, mapSizeBytes, mapSizeMaxBytes: Math.max(mapSizeBytes, 2 ** 40) });
    if (!store) throw new Error('unreachable: a writer always opens the store');
    const log = new Log(store, opts);
    try {
      log.checkFormat();
      verifyLog(store, opts.verify);
      log.loadStreams();
      await log.ensureStreams(specs);
    } catch (err) {
      store.close();
      throw err;
    }
    log.scheduleRetention();
    return log;
  }

  /** Opens a log another process may be writing, read-only. Null when `dataDir` holds no log yet. */
  static openReadOnly(dataDir: string): LogReader | null {
    return LogReader.open(logPath(dataDir));
  }

  // ---- writing -------------------------------------------------------------------------------

  /** Appends one record; resolves with its offset once the record is durably committed. */
  append(stream: string, partition: number, input: RecordInput): Promise<number> {
    return new Promise<number>((resolve, reject) => this.appendThen(stream, partition, input, settlePromise(resolve, reject)));
  }

  /**
   * `append` for the ingest hot path, without a promise per message: `settle` runs once, with the
   * offset after the commit that holds the record was synced, or with the error (bad stream or
   * partition, log closed, failed commit).
   */
  appendThen(stream: string, partition: number, input: RecordInput, settle: Settle): void {
    let item: Item;
    try {
      this.assertOpen();
      const value = encodeRecord(input);
      item = { kind: 'append', part: this.partition(stream, partition), value, payloadBytes: input.payload.length, bytes: value.length, settle };
    } catch (err) {
      settle(err as Error, -1);
      return;
    }
    if (this.queue.hasSpace()) {
      this.queue.push(item);
      return;
    }
    this.queue.waitForSpace().then(() => {
      if (this.closing) settle(new LogClosedError('the log is closed'), -1);
      else this.queue.push(item);
    }, (err: Error) => settle(err, -1));
  }

  /**
   * Epoch ms since which the oldest write still waiting for its commit has waited; null when nothing
   * waits. Health turns this into "commits are stalled" (a wedged disk) long before clients notice.
   */
  commitWaitingSinceMs(): number | null {
    const since = this.queue.busySince();
    return since === null ? null : Date.now() - (performance.now() - since);
  }

  /** Whether an append now would have to wait for room (the ingest layer's backpressure signal). */
  get saturated(): boolean {
    return !this.queue.hasSpace();
  }

  /** Durably records that `group` has consumed `stream`/`partition` up to `nextOffset` (exclusive). */
  async commitCursor(group: string, stream: string, partition: number, nextOffset: number): Promise<void> {
    const part = this.partition(stream, partition);
    if (!Number.isSafeInteger(nextOffset) || nextOffset < 0 || nextOffset > part.state.endOffset) {
      throw new UsageError(`cursor ${group} for ${stream}/${partition}: offset ${nextOffset} is outside 0..${part.state.endOffset}`);
    }
    await this.writeOps([{ db: 'cursors', key: cursorKey(group, stream, partition), value: encodeOffset(nextOffset) }]);
  }

  /** Writes ops in the next group commit; `apply` runs once they are durable. */
  private async writeOps(ops: WriteOp[], apply: () => void = () => undefined): Promise<void> {
    this.assertOpen();
    if (!this.queue.hasSpace()) await this.queue.waitForSpace();
    const bytes = ops.reduce((n, op) => n + op.key.length + (op.value?.length ?? 0), 0);
    await new Promise<number>((resolve, reject) => this.queue.push({ kind: 'ops', ops, apply, bytes, settle: settlePromise(resolve, reject) }));
  }

  /**
   * Runs one retention pass now: age, bytes, the storage limit and the disk-pressure limit (see
   * `setPressureLimit`). Returns the records deleted.
   */
  async runRetention(now = Date.now()): Promise<number> {
    const streams = [...this.streams.values()].map((s) => ({ spec: s.spec, partitions: s.partitions }));
    const trims = this.retention.plan(streams, now, this.pressureLimitBytes);
    await Promise.all(trims.map((trim) => new Promise<number>((resolve, reject) => this.queue.push({ kind: 'trim', trim, bytes: 0, settle: settlePromise(resolve, reject) }))));
    return trims.reduce((n, t) => n + (t.toOffset - t.fromOffset), 0);
  }

  /**
   * Disk pressure: while the data dir's filesystem is below its free-space floor, the host monitor
   * caps the log's record bytes here (null lifts the cap). Deleting records does not shrink LMDB's
   * file, but it frees pages inside it that new appends reuse, so holding the log under the cap
   * keeps the file — and so the disk — from growing. Records deleted to honour it count as dropped
   * with reason `disk.free`, lowest-priority streams first.
   */
  setPressureLimit(bytes: number | null): void {
    this.pressureLimitBytes = bytes === null ? null : Math.max(0, bytes);
  }

  get pressureLimit(): number | null {
    return this.pressureLimitBytes;
  }

  // ---- reading -------------------------------------------------------------------------------

  read(stream: string, partition: number, fromOffset: number, limits: ReadLimits): LogRecord[] {
    const part = this.partition(stream, partition);
    return readRecords(this.store, part, fromOffset, limits, part.state.endOffset);
  }

  cursor(group: string, stream: string, partition: number): number | null {
    this.partition(stream, partition);
    const value = this.store.read((txn) => this.store.get(txn, 'cursors', cursorKey(group, stream, partition)));
    return value === null ? null : readU64(value, 0);
  }

  streamNames(): string[] {
    return [...this.streams.keys()];
  }

  /**
   * The `state` table: a small key-value store beside the log for broker state (retained messages,
   * sessions) that must survive restarts. Written through `writeStates`, in the same group commits.
   */
  stateGet(key: Buffer): Buffer | null {
    return this.store.read((txn) => this.store.get(txn, 'state', key));
  }

  /** Entries of the state table whose key starts with `prefix`, in key order. */
  stateScan(prefix: Buffer, limit = Number.MAX_SAFE_INTEGER): Array<[Buffer, Buffer]> {
    const out: Array<[Buffer, Buffer]> = [];
    this.store.read((txn) =>
      this.store.scan(txn, 'state', prefix, (key, value) => {
        if (key.length < prefix.length || key.compare(prefix, 0, prefix.length, 0, prefix.length) !== 0) return false;
        out.push([key, value]);
        return out.length < limit;
      }),
    );
    return out;
  }

  /** Puts (value) and deletes (null) in the state table; resolves once durable. */
  writeStates(entries: Array<[Buffer, Buffer | null]>): Promise<void> {
    return this.writeOps(entries.map(([key, value]) => ({ db: 'state', key, value })));
  }

  streamSpec(stream: string): StreamSpec {
    return this.streamRef(stream).spec;
  }

  partitionInfo(stream: string, partition: number): PartitionInfo {
    return toInfo(this.partition(stream, partition));
  }

  info(): StreamInfo[] {
    return [...this.streams.values()].map((s) => ({ stream: s.spec.name, partitions: s.partitions.map(toInfo) }));
  }

  totalBytes(): number {
    let total = 0;
    for (const s of this.streams.values()) for (const p of s.partitions) total += p.state.bytes;
    return total;
  }

  /** Bytes this process wrote to disk per payload byte appended since open; null when unknown. */
  writeAmplification(): number | null {
    const written = this.diskWrittenBytes();
    if (written === null || this.payloadBytesAppended === 0) return null;
    return written / this.payloadBytesAppended;
  }

  diskWrittenBytes(): number | null {
    const now = processWriteBytes();
    return now === null || this.writeBytesAtOpen === null ? null : now - this.writeBytesAtOpen;
  }

  get mapSizeBytes(): number {
    return this.store.mapSizeBytes;
  }

  get dataFileBytes(): number {
    return this.store.fileBytes();
  }

  /** Stops taking writes, commits everything pending, closes LMDB. Idempotent. */
  close(): Promise<void> {
    this.closing ??= (async () => {
      if (this.retentionTimer) clearTimeout(this.retentionTimer);
      await this.queue.drain();
      this.store.close();
    })();
    return this.closing;
  }

  // ---- internals ------------------------------------------------------------------------------

  private async commit(items: Item[]): Promise<void> {
    const started = performance.now();
    const working = new Map<PartitionRef, PartitionState>();
    const stateOf = (p: PartitionRef): PartitionState => {
      let s = working.get(p);
      if (!s) working.set(p, (s = { ...p.state }));
      return s;
    };
    const ops: WriteOp[] = [];
    const results: number[] = [];
    // One allocation for all record keys of the commit instead of one per record.
    const keys = new KeySlab(items.length);
    for (const item of items) results.push(this.stage(item, stateOf, ops, keys));
    for (const [part, state] of working) {
      ops.push({ db: 'records', key: partitionStateKey(part.streamId, part.index), value: encodePartitionState(state) });
    }
    try {
      await this.store.write(ops);
    } catch (err) {
      const error = err as Error;
      this.options.observer?.commitFailed?.(error);
      for (const item of items) item.settle(error, -1);
      return;
    }
    let appends = 0;
    for (const [part, state] of working) part.state = state;
    items.forEach((item, i) => {
      if (item.kind === 'append') {
        appends++;
        this.payloadBytesAppended += item.payloadBytes;
      } else if (item.kind === 'ops') {
        item.apply();
      } else {
        this.retention.committed(item.trim, this.options.observer);
      }
      item.settle(null, results[i] as number);
    });
    this.options.observer?.commit?.(performance.now() - started, appends);
  }

  /** Turns one queued item into LMDB ops against the working partition states; returns its result. */
  private stage(item: Item, stateOf: (p: PartitionRef) => PartitionState, ops: WriteOp[], keys: KeySlab): number {
    switch (item.kind) {
      case 'append': {
        const state = stateOf(item.part);
        const offset = state.endOffset++;
        state.bytes += item.value.length;
        ops.push({ db: 'records', key: recordKey(item.part.streamId, item.part.index, offset, keys.next()), value: item.value });
        return offset;
      }
      case 'ops':
        ops.push(...item.ops);
        return 0;
      case 'trim': {
        const { trim } = item;
        const state = stateOf(trim.part);
        // A trim planned against an older start is stale (another trim got there first): skip it.
        if (state.startOffset !== trim.fromOffset) return 0;
        for (let o = trim.fromOffset; o < trim.toOffset; o++) {
          ops.push({ db: 'records', key: recordKey(trim.part.streamId, trim.part.index, o), value: null });
        }
        state.startOffset = trim.toOffset;
        state.bytes -= trim.bytes;
        return 0;
      }
    }
  }

  private checkFormat(): void {
    const stored = this.store.read((txn) => this.store.get(txn, 'meta', FORMAT_KEY));
    if (stored !== null && stored.readUInt32BE(0) !== FORMAT_VERSION) {
      throw new StreamMismatchError(`log format ${stored.readUInt32BE(0)} in ${this.options.dataDir} is not supported (expected ${FORMAT_VERSION})`);
    }
  }

  private loadStreams(): void {
    for (const def of readStreamDefs(this.store)) {
      const partitions = Array.from({ length: def.partitions }, (_, index) => ({
        stream: def.name,
        streamId: def.id,
        index,
        state: readPartitionState(this.store, def.id, index),
      }));
      this.streams.set(def.name, { spec: { name: def.name, partitions: def.partitions }, id: def.id, partitions });
    }
  }

  private async ensureStreams(specs: StreamSpec[]): Promise<void> {
    const ops: WriteOp[] = [];
    const fmt = Buffer.alloc(4);
    fmt.writeUInt32BE(FORMAT_VERSION);
    ops.push({ db: 'meta', key: FORMAT_KEY, value: fmt });
    let nextId = Math.max(0, ...[...this.streams.values()].map((s) => s.id + 1));
    for (const spec of specs) {
      const existing = this.streams.get(spec.name);
      if (existing) {
        if (existing.partitions.length !== spec.partitions) {
          throw new StreamMismatchError(
            `stream ${spec.name} has ${existing.partitions.length} partitions on disk but the config asks for ${spec.partitions}; partition counts cannot change`,
          );
        }
        existing.spec = spec;
        continue;
      }
      const id = nextId++;
      const partitions = Array.from({ length: spec.partitions }, (_, index) => ({ stream: spec.name, streamId: id, index, state: { startOffset: 0, endOffset: 0, bytes: 0 } }));
      this.streams.set(spec.name, { spec, id, partitions });
      ops.push({ db: 'streams', key: Buffer.from(spec.name, 'utf8'), value: Buffer.from(JSON.stringify({ id, partitions: spec.partitions })) });
      for (const p of partitions) ops.push({ db: 'records', key: partitionStateKey(id, p.index), value: encodePartitionState(p.state) });
    }
    await this.store.write(ops);
  }

  private scheduleRetention(): void {
    this.retentionTimer = setTimeout(() => {
      this.runRetention()
        .catch((err: Error) => this.options.observer?.commitFailed?.(err))
        .finally(() => {
          if (!this.closing) this.scheduleRetention();
        });
    }, this.options.retentionIntervalMs);
    this.retentionTimer.unref();
  }

  private assertOpen(): void {
    if (this.closing) throw new LogClosedError('the log is closed');
  }

  private streamRef(stream: string): StreamRef {
    const ref = this.streams.get(stream);
    if (!ref) throw new UnknownStreamError(`unknown stream "${stream}" (streams: ${[...this.streams.keys()].join(', ') || 'none'})`);
    return ref;
  }

  private partition(stream: string, partition: number): PartitionRef {
    const ref = this.streamRef(stream);
    const part = ref.partitions[partition];
    if (!part) throw new UnknownStreamError(`stream "${stream}" has no partition ${partition} (it has ${ref.partitions.length})`);
    return part;
  }
}

export function logPath(dataDir: string): string {
  return path.join(dataDir, 'log');
}

/** Hands out 16-byte record keys carved from one buffer. */
class KeySlab {
  private readonly slab: Buffer;
  private at = 0;
  constructor(count: number) {
    this.slab = Buffer.allocUnsafe(16 * count);
  }
  next(): Buffer {
    const key = this.slab.subarray(this.at, this.at + 16);
    this.at += 16;
    return key;
  }
}

function defaultMapSize(storageMaxBytes: number): number {
  // LMDB pages carry overhead beyond the record bytes we count; 2x leaves room before the first grow.
  return storageMaxBytes > 0 ? Math.max(64 * MIB, storageMaxBytes * 2) : 1024 * MIB;
}

function toInfo(p: PartitionRef): PartitionInfo {
  const { startOffset, endOffset, bytes } = p.state;
  return { partition: p.index, startOffset, endOffset, records: endOffset - startOffset, bytes };
}
