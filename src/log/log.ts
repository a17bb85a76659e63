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
 * A group commit that fails is never assumed to have written nothing (commit()): before another
 * offset is handed out, the touched partitions are read back from LMDB and must hold either exactly the
 * state before the commit (then the same group is retried, with backoff, for up to
 * `commitFailureMaxMs`) or exactly the state after it. An operation LMDB would refuse on its own (a key
 * over 511 bytes) is refused before it joins a group, failing only its own item. Anything else — a
 * broken invariant, commits failing past the bound — *breaks* the log: every write from then on fails
 * with that error and nothing more is acked (`observer.broken`); the process is expected to exit and
 * reopen, which re-verifies the log (verify.ts).
 *
 * Asserted where they are made: an append's offset is its partition's end (the ends of a commit grow
 * by exactly its appends); ends and starts only grow; byte counts are never negative; a cursor never
 * moves back, except a local consumer group's when its commit says so (`commitCursors` with
 * `mayMoveBack`: an offset reset) — the upstream group's never does, and its cursors are never deleted;
 * a cursor is never past its partition's end; a trim never passes the retention hold group's cursor
 * unless it is a forced, counted drop (storage limit, disk pressure).
 *
 * Concurrency: one writer process (LMDB's lock enforces it for write transactions; the Log adds a
 * single commit loop), any number of read-only processes (`Log.openReadOnly`). In the writer, every
 * method may be called from anywhere on the event loop; appends and cursor commits resolve only after
 * the transaction that holds them was committed and synced.
 */
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { errorMessage, InvalidWriteError, LogClosedError, LogInvariantError, LogWriteError, StreamMismatchError, UnknownStreamError, UsageError } from '../errors.js';
import { CommitQueue } from './commit-queue.js';
import { checkpointOp, stageCommit, settlePromise, type Item, type Settle, type StagedCommit } from './commit-batch.js';
import { assertAdvance, reconcile, refusedItems } from './commit-check.js';
import { processWriteBytes } from './disk-io.js';
import { cursorGroupPrefix, cursorKey, encodeOffset, parseCursorKey, readU64 } from './keys.js';
import { FORMAT_VERSION, formatOp, upgradeFormat } from './migrate.js';
import { encodeRecord, type LogRecord, type RecordInput } from './record.js';
import { checkpointIn, LogReader, partitionStateIn, readRecords, readStreamDefs, type ReadLimits } from './reader.js';
import { RetentionPlanner, type DropReason, type Trim } from './retention.js';
import { Store, valueProblem, writeProblem, type WriteOp, type WriteOutcome } from './store.js';
import { LOG_DEFAULTS, UPSTREAM_GROUP, toInfo, type LogOptions, type PartitionInfo, type PartitionRef, type StreamInfo, type StreamRef, type StreamSpec } from './types.js';
import { verifyLog } from './verify.js';
export type { DropReason, Settle };

export type AppendListener = (grown: ReadonlyArray<{ stream: string; partition: number; endOffset: number }>) => void;

const MIB = 1024 * 1024;
/** Backoff between attempts at a failed group commit: doubling from the first to the largest. */
const COMMIT_RETRY_FIRST_MS = 50;
const COMMIT_RETRY_MAX_MS = 2_000;
const NOTHING_REFUSED: WriteOutcome = Object.freeze({ refused: [] as number[] });

export class Log {
  private readonly streams = new Map<string, StreamRef>();
  private readonly queue: CommitQueue<Item>;
  private readonly retention: RetentionPlanner;
  private retentionTimer: NodeJS.Timeout | null = null;
  private closing: Promise<void> | null = null;
  /** Told after every durable commit that appended (`onAppended`). */
  private readonly appendListeners = new Set<AppendListener>();
  /** Set once the log is broken (see the class comment): every later write fails with it. */
  private broken: Error | null = null;
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
      const found = await upgradeFormat(store, opts.dataDir);
      if (found !== null && found !== FORMAT_VERSION) opts.observer?.upgraded?.(found, FORMAT_VERSION);
      log.loadStreams();
      verifyLog(store, opts.verify, [...log.streams.values()].flatMap((s) => s.partitions.map((p) => ({ stream: p.stream, streamId: p.streamId, index: p.index, ...p.state }))));
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

  /** A writer can add nothing more until a commit: the pending appends commit now, not after the interval (commit-queue.ts). */
  commitSoon(): void {
    this.queue.commitSoon();
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
      const part = this.partition(stream, partition);
      const problem = valueProblem(value, `a record for ${stream}/${partition}`);
      if (problem) throw this.invalid(problem);
      item = { kind: 'append', part, value, payloadBytes: input.payload.length, bytes: value.length, settle };
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
    const current = this.cursor(group, stream, partition);
    if (current !== null && nextOffset < current) {
      throw this.breakOn(new LogInvariantError(`cursor ${group} for ${stream}/${partition} would move back from ${current} to ${nextOffset}`));
    }
    await this.writeOps([{ db: 'cursors', key: cursorKey(group, stream, partition), value: encodeOffset(nextOffset) }]);
  }

  /**
   * Durably sets several of `group`'s cursors in one synced transaction (a consumer group's offset
   * commit). Each offset is in 0..the partition's end, each partition appears once. Without
   * `mayMoveBack` a cursor moving back breaks the log, as in `commitCursor`; with it (a local group's
   * offset reset) it may, and the upstream group may never pass it.
   */
  async commitCursors(group: string, entries: ReadonlyArray<CursorUpdate>, options: { mayMoveBack: boolean }): Promise<void> {
    assertCursorGroup(group);
    if (options.mayMoveBack && group === UPSTREAM_GROUP) throw new UsageError(`the ${UPSTREAM_GROUP} group's cursors never move back`);
    const seen = new Set<string>();
    const ops: WriteOp[] = [];
    for (const { stream, partition, offset } of entries) {
      const part = this.partition(stream, partition);
      const key = cursorKey(group, stream, partition);
      if (seen.has(key.toString('latin1'))) throw new UsageError(`cursor ${group} for ${stream}/${partition} appears twice in one commit`);
      seen.add(key.toString('latin1'));
      if (offset === null) {
        // A local group's position cleared (a Kafka consumer committed "no offset"): a move back too.
        if (!options.mayMoveBack) throw new UsageError(`cursor ${group} for ${stream}/${partition}: only a local group's cursor may be cleared`);
        ops.push({ db: 'cursors', key, value: null });
        continue;
      }
      if (!Number.isSafeInteger(offset) || offset < 0 || offset > part.state.endOffset) {
        throw new UsageError(`cursor ${group} for ${stream}/${partition}: offset ${offset} is outside 0..${part.state.endOffset}`);
      }
      const current = this.cursor(group, stream, partition);
      if (!options.mayMoveBack && current !== null && offset < current) {
        throw this.breakOn(new LogInvariantError(`cursor ${group} for ${stream}/${partition} would move back from ${current} to ${offset}`));
      }
      ops.push({ db: 'cursors', key, value: encodeOffset(offset) });
    }
    if (ops.length > 0) await this.writeOps(ops);
  }

  /** Durably deletes every cursor of `group` (a local consumer group deleted); never the upstream group's. */
  async deleteCursors(group: string): Promise<void> {
    assertCursorGroup(group);
    if (group === UPSTREAM_GROUP) throw new UsageError(`the ${UPSTREAM_GROUP} group's cursors are never deleted`);
    const keys = this.groupCursorEntries(group).map(([key]) => key);
    if (keys.length > 0) await this.writeOps(keys.map((key) => ({ db: 'cursors', key, value: null })));
  }

  /** Writes ops in the next group commit; `apply` runs once they are durable. */
  private async writeOps(ops: WriteOp[], apply: () => void = () => undefined): Promise<void> {
    this.assertOpen();
    for (const op of ops) {
      const problem = writeProblem(op.key, op.value, `a write to the ${op.db} table`);
      if (problem) throw this.invalid(problem);
    }
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
    try {
      for (const trim of trims) this.assertTrimHeld(trim);
    } catch (err) {
      throw this.breakOn(err as Error);
    }
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

  /**
   * Calls `listener` after every durable commit that appended records, with the partitions whose end
   * moved (their `partitionInfo` already shows the new end): how a reader long-polls without polling.
   * Listeners run on the commit's settle path, so they must be quick and must not throw (a throw is
   * caught and dropped, so one bad reader cannot stop the acks). Returns the unsubscribe function.
   */
  onAppended(listener: AppendListener): () => void {
    this.appendListeners.add(listener);
    return () => this.appendListeners.delete(listener);
  }

  private notifyAppended(parts: PartitionRef[]): void {
    const grown = parts.map((p) => ({ stream: p.stream, partition: p.index, endOffset: p.state.endOffset }));
    for (const listener of this.appendListeners) {
      try {
        listener(grown);
      } catch {
        // See onAppended: a reader's failure is the reader's.
      }
    }
  }

  read(stream: string, partition: number, fromOffset: number, limits: ReadLimits): LogRecord[] {
    const part = this.partition(stream, partition);
    return readRecords(this.store, part, fromOffset, limits, part.state.endOffset);
  }

  cursor(group: string, stream: string, partition: number): number | null {
    this.partition(stream, partition);
    const value = this.store.read((txn) => this.store.get(txn, 'cursors', cursorKey(group, stream, partition)));
    return value === null ? null : readU64(value, 0);
  }

  /** Every group with at least one cursor, in key order (the upstream group among them). */
  cursorGroups(): string[] {
    const groups: string[] = [];
    this.store.read((txn) => {
      let from: Buffer | null = null;
      for (;;) {
        let found: string | null = null;
        this.store.scan(txn, 'cursors', from, (key) => ((found = parseCursorKey(key).group), false));
        if (found === null) return;
        assert(groups.at(-1) !== found, `cursor group ${found} listed twice`);
        groups.push(found);
        // The first key after every "found\0..." key: the group's prefix with its \0 raised to \1.
        from = Buffer.from(`${found}\u0001`, 'utf8');
      }
    });
    return groups;
  }

  /** `group`'s cursors, by stream and partition in key order; partitions of streams no longer configured included. */
  groupCursors(group: string): Array<CursorEntry> {
    assertCursorGroup(group);
    return this.groupCursorEntries(group).map(([key, value]) => {
      const parts = parseCursorKey(key);
      assert(parts.group === group, `cursor key of ${parts.group} under the prefix of ${group}`);
      return { stream: parts.stream, partition: parts.partition, offset: readU64(value, 0) };
    });
  }

  private groupCursorEntries(group: string): Array<[Buffer, Buffer]> {
    const prefix = cursorGroupPrefix(group);
    const out: Array<[Buffer, Buffer]> = [];
    this.store.read((txn) =>
      this.store.scan(txn, 'cursors', prefix, (key, value) => {
        if (key.length < prefix.length || key.compare(prefix, 0, prefix.length, 0, prefix.length) !== 0) return false;
        out.push([key, value]);
        return true;
      }),
    );
    return out;
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
      await this.writeCheckpoints();
      this.store.close();
    })();
    return this.closing;
  }

  // ---- internals ------------------------------------------------------------------------------

  /**
   * Commits one group; resolves once it is durable, with the settling of its items still to do, which
   * the queue runs after it has started the next group (commit-queue.ts). Everything the next group's
   * staging reads (partition states) is updated here first. A failed transaction is reconciled with
   * what LMDB holds and retried, or breaks the log (class comment).
   */
  private async commit(items: Item[]): Promise<() => void> {
    let failingSince: number | null = null;
    for (let attempt = 0; ; attempt++) {
      if (this.broken) return failAll(items, this.broken);
      const started = performance.now();
      const batch = this.store.batch();
      let staged: StagedCommit;
      try {
        staged = stageCommit(items, batch);
      } catch (err) {
        return this.breakWith(err, items);
      }
      let outcome: WriteOutcome = NOTHING_REFUSED;
      try {
        outcome = await this.store.write(batch);
      } catch (err) {
        const error = err instanceof LogWriteError ? err : new LogWriteError(errorMessage(err), { cause: err });
        failingSince ??= started;
        const failingForMs = performance.now() - failingSince;
        this.options.observer?.commitFailed?.(error, failingForMs);
        let landed: boolean;
        try {
          // Retrying is safe when nothing of the group is in LMDB (or the group moved no partition:
          // its other writes are puts and deletes that may be applied twice).
          landed = !reconcile(this.store, staged.working).before;
        } catch (mismatch) {
          return this.breakWith(mismatch, items);
        }
        if (!landed) {
          if (failingForMs >= this.options.commitFailureMaxMs) {
            return this.breakWith(new LogWriteError(`log commits have failed for ${Math.round(failingForMs)} ms (last: ${error.message})`, { cause: error, reason: error.reason }), items);
          }
          await sleep(Math.min(COMMIT_RETRY_MAX_MS, COMMIT_RETRY_FIRST_MS * 2 ** attempt));
          continue;
        }
        // LMDB reported a failure but holds exactly what the commit should have left: it is durable.
      }
      return this.committed(items, staged, outcome, started);
    }
  }

  /** The group's transaction is durable: adopt its states, settle its items (the refused ones fail). */
  private committed(items: Item[], staged: StagedCommit, outcome: WriteOutcome, started: number): () => void {
    const { results, payloadBytes, appends, working, checkpointed, opEnds } = staged;
    let refused: Set<number> | null = null;
    if (outcome.refused.length > 0) {
      try {
        refused = refusedItems(items, opEnds, outcome.refused);
        // No record put or delete was refused (refusedItems throws then), so LMDB must now hold exactly
        // the staged partition states.
        if (!reconcile(this.store, working).after) throw new LogInvariantError('a commit with refused operations left its partitions as they were before it');
      } catch (err) {
        return this.breakWith(err, items);
      }
    }
    try {
      let grown = 0;
      for (const [part, state] of working) {
        assertAdvance(part, part.state, state);
        grown += state.endOffset - part.state.endOffset;
      }
      if (grown !== appends) throw new LogInvariantError(`a commit of ${appends} appends moved partition ends by ${grown}: an offset was skipped or handed out twice`);
    } catch (err) {
      return this.breakWith(err, items);
    }
    // Partitions whose end moved, for the append listeners (long-polling readers): only when there are any.
    const grownParts: PartitionRef[] | null = appends > 0 && this.appendListeners.size > 0 ? [] : null;
    for (const [part, state] of working) {
      if (grownParts !== null && state.endOffset > part.state.endOffset) grownParts.push(part);
      part.state = state;
    }
    for (const part of checkpointed) part.checkpointEnd = part.state.endOffset;
    this.payloadBytesAppended += payloadBytes;
    for (let i = 0; i < items.length; i++) {
      const item = items[i] as Item;
      if (item.kind === 'append' || refused?.has(i)) continue;
      if (item.kind === 'ops') item.apply();
      else this.retention.committed(item.trim, this.options.observer);
    }
    const committedMs = performance.now() - started;
    return () => {
      for (let i = 0; i < items.length; i++) {
        const item = items[i] as Item;
        if (refused?.has(i)) item.settle(this.invalid(new InvalidWriteError('LMDB refused the size of a key or value', 'lmdb-refused')), -1);
        else item.settle(null, results[i] as number);
      }
      this.options.observer?.commit?.(committedMs, appends);
      if (grownParts !== null) this.notifyAppended(grownParts);
    };
  }

  /** Breaks the log (class comment) and fails `items`. */
  private breakWith(err: unknown, items: Item[]): () => void {
    return failAll(items, this.breakOn(err instanceof Error ? err : new LogInvariantError(String(err))));
  }

  /** Breaks the log (class comment), once; returns the error it is broken with. */
  private breakOn(err: Error): Error {
    if (this.broken === null) {
      this.broken = err;
      this.options.observer?.broken?.(err);
    }
    return this.broken;
  }

  /** Counts an operation refused before staging and returns its error. */
  private invalid(err: InvalidWriteError): InvalidWriteError {
    this.options.observer?.invalidWrite?.(err.reason);
    return err;
  }

  /** A trim of records the hold group has not consumed must be a forced drop, and counted as one. */
  private assertTrimHeld(trim: Trim): void {
    const group = this.options.retentionHoldGroup;
    const hold = group === null ? null : this.cursor(group, trim.part.stream, trim.part.index) ?? trim.part.state.startOffset;
    const unforwarded = hold === null ? 0 : Math.max(0, trim.toOffset - Math.max(trim.fromOffset, hold));
    const forced = trim.reason === 'storage.maxBytes' || trim.reason === 'disk.free';
    if ((unforwarded > 0 && !forced) || (hold !== null && unforwarded !== trim.unforwarded)) {
      throw new LogInvariantError(
        `${trim.part.stream}/${trim.part.index}: a ${trim.reason} trim of ${trim.fromOffset}..${trim.toOffset} passes the ${group} cursor at ${hold} (${unforwarded} records unforwarded, ${trim.unforwarded} counted)`,
      );
    }
  }

  /**
   * Checkpoints every partition appended to since its last one, so the next open finds each state in
   * one read. Best effort: the records are durable already, and without it the next open walks the
   * records since the last checkpoint instead.
   */
  private async writeCheckpoints(): Promise<void> {
    if (this.broken) return;
    const parts = [...this.streams.values()].flatMap((s) => s.partitions).filter((p) => p.state.endOffset !== p.checkpointEnd);
    if (parts.length === 0) return;
    try {
      await this.store.writeAll(parts.map((p) => checkpointOp(p, p.state)));
      for (const p of parts) p.checkpointEnd = p.state.endOffset;
    } catch (err) {
      this.options.observer?.commitFailed?.(err as Error);
    }
  }

  private loadStreams(): void {
    for (const def of readStreamDefs(this.store)) {
      const partitions = Array.from({ length: def.partitions }, (_, index) => {
        const address = { stream: def.name, streamId: def.id, index };
        return this.store.read((txn) => {
          const checkpoint = checkpointIn(this.store, txn, address);
          return { ...address, state: partitionStateIn(this.store, txn, address, checkpoint), checkpointEnd: checkpoint.endOffset };
        });
      });
      this.streams.set(def.name, { spec: { name: def.name, partitions: def.partitions }, id: def.id, partitions });
    }
  }

  private async ensureStreams(specs: StreamSpec[]): Promise<void> {
    const ops: WriteOp[] = [formatOp()];
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
      const partitions = Array.from({ length: spec.partitions }, (_, index) => ({ stream: spec.name, streamId: id, index, state: { startOffset: 0, endOffset: 0, bytes: 0, keys: 0 }, checkpointEnd: 0 }));
      this.streams.set(spec.name, { spec, id, partitions });
      ops.push({ db: 'streams', key: Buffer.from(spec.name, 'utf8'), value: Buffer.from(JSON.stringify({ id, partitions: spec.partitions })) });
      for (const p of partitions) ops.push(checkpointOp(p, p.state));
    }
    await this.store.writeAll(ops);
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
    if (this.broken) throw this.broken;
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

/** One cursor: `group` has consumed `stream`/`partition` up to `offset` (exclusive). */
export interface CursorEntry {
  stream: string;
  partition: number;
  offset: number;
}

/** A cursor to write: `offset` null deletes it (a local group's only, with `mayMoveBack`). */
export interface CursorUpdate {
  stream: string;
  partition: number;
  offset: number | null;
}

/** A cursor key holds the group up to its first \0 (keys.ts): a group name is non-empty and has none. */
function assertCursorGroup(group: string): void {
  if (group.length === 0 || group.includes('\u0000')) throw new UsageError(`cursor group ${JSON.stringify(group)} is empty or holds a NUL`);
}

function assert(condition: boolean, message: string): asserts condition {
  if (!condition) throw new LogInvariantError(message);
}

export function logPath(dataDir: string): string {
  return path.join(dataDir, 'log');
}

function defaultMapSize(storageMaxBytes: number): number {
  // LMDB pages carry overhead beyond the record bytes we count; 2x leaves room before the first grow.
  return storageMaxBytes > 0 ? Math.max(64 * MIB, storageMaxBytes * 2) : 1024 * MIB;
}

function failAll(items: Item[], err: Error): () => void {
  return () => {
    for (const item of items) item.settle(err, -1);
  };
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
