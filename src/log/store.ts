/**
 * The only module that imports node-lmdb. It owns the environment, the named databases, map sizing,
 * and the two ways in: synchronous read transactions and asynchronous batched writes.
 *
 * Writes never run on the main thread: `write()` hands a list of puts and deletes to node-lmdb's
 * `batchWrite`, which opens the write transaction, applies them, commits and syncs (the environment is
 * opened without MDB_NOSYNC) on a libuv worker thread. When the promise resolves the data is on disk.
 * Callers must not run two `write()` calls at once: the Log's commit loop serialises them.
 *
 * Map size: LMDB's map is a fixed address-space reservation. We start from a size derived from the
 * storage limit and, when a commit fails with MDB_MAP_FULL, grow it (doubling, capped) and retry the
 * same batch, so MAP_FULL never reaches a caller. A read-only process that finds the map grown under
 * it (MDB_MAP_RESIZED) adopts the new size and retries.
 *
 * Resident set: every page LMDB reads through the map stays mapped, and on a read fault the kernel maps
 * the cached pages around it too (fault-around, 64 KiB, which MADV_RANDOM does not turn off). A writer
 * reads its tail page at every commit, right after writing it, so without more the map soon holds every
 * page the log ever wrote — clean page cache, but counted in the process's RSS and harder for the kernel
 * to reclaim while mapped. So once REMAP_TRAFFIC_BYTES have been written or read since, the map is
 * mapped afresh (node-lmdb's resize to the same size: munmap + mmap), which drops those mappings; the
 * pages stay in the page cache. Invariant: that happens only while no transaction is open in this
 * process — no write in flight on the worker and no read running — as LMDB requires; node-lmdb also
 * throws if a read transaction is left open, and buffers into the map are never handed out (every get
 * copies), so nothing can point into the old map.
 */
import { createRequire } from 'node:module';
import fs from 'node:fs';
import type * as Lmdb from 'node-lmdb';
import { InvalidWriteError, LogWriteError, StorageFullError } from '../errors.js';

const lmdb = createRequire(import.meta.url)('node-lmdb') as typeof Lmdb;

export type Txn = Lmdb.Txn;
export type Dbi = Lmdb.Dbi;

export const DB_NAMES = ['records', 'partitions', 'streams', 'cursors', 'meta', 'state'] as const;
export type DbName = (typeof DB_NAMES)[number];

export interface WriteOp {
  db: DbName;
  key: Buffer;
  /** null deletes the key. */
  value: Buffer | null;
}

/** LMDB's largest key (MDB_MAXKEYSIZE as node-lmdb builds it); keys are 1..KEY_BYTES_MAX bytes. */
export const KEY_BYTES_MAX = 511;
/** LMDB's largest value (MAXDATASIZE). */
export const VALUE_BYTES_MAX = 0xffff_ffff;

/**
 * Why LMDB would refuse `key`/`value` (node-lmdb's batchWrite refuses such an operation alone and still
 * commits the rest of the batch), or null when it stores them. Checked before an operation joins a
 * group commit, so a bad one fails only its own item.
 */
export function writeProblem(key: Buffer, value: Buffer | null, where: string): InvalidWriteError | null {
  if (key.length === 0) return new InvalidWriteError(`${where}: LMDB key is empty`, 'key-empty');
  if (key.length > KEY_BYTES_MAX) return new InvalidWriteError(`${where}: LMDB key of ${key.length} bytes; the limit is ${KEY_BYTES_MAX}`, 'key-too-long');
  return value === null ? null : valueProblem(value, where);
}

/** The value half of `writeProblem`, for writes whose key is fixed by construction (record keys). */
export function valueProblem(value: Buffer, where: string): InvalidWriteError | null {
  return value.length > VALUE_BYTES_MAX ? new InvalidWriteError(`${where}: LMDB value of ${value.length} bytes; the limit is ${VALUE_BYTES_MAX}`, 'value-too-large') : null;
}

/** What a committed write left out: the indices of operations LMDB refused alone (MDB_BAD_VALSIZE). */
export interface WriteOutcome {
  refused: number[];
}

export interface StoreOptions {
  path: string;
  readOnly: boolean;
  /** Initial map size; grown on demand up to mapSizeMaxBytes. */
  mapSizeBytes: number;
  mapSizeMaxBytes: number;
}

const KEY_OPTS = { keyIsBuffer: true } as const;

/** Bytes written or read through the map after which it is mapped afresh (see the header): ~2 s of a busy gateway's writes. */
export const REMAP_TRAFFIC_BYTES = 4 * 1024 * 1024;
const MAX_DBS = 16;

export class Store {
  private readonly env: Lmdb.Env;
  private readonly dbis: Map<DbName, Dbi>;
  private mapSize: number;
  private closed = false;
  /** Writes in flight (on node-lmdb's worker) and reads running: the map is replaced only when both are 0. */
  private writing = 0;
  private reading = 0;
  /** Bytes written or read through the map since it was last mapped. */
  private mapTraffic = 0;
  /** How many times the map was mapped afresh, for tests and the curious. */
  remaps = 0;
  /** Why remapping stopped (a read transaction left open somewhere: a bug), or null while it runs. */
  remapError: Error | null = null;

  private constructor(
    env: Lmdb.Env,
    dbis: Map<DbName, Dbi>,
    private readonly options: StoreOptions,
  ) {
    this.env = env;
    this.dbis = dbis;
    this.mapSize = env.info().mapSize;
  }

  /** Opens (creating for a writer) the environment at options.path. Returns null for a reader when no log exists yet. */
  static open(options: StoreOptions): Store | null {
    if (options.readOnly && !fs.existsSync(`${options.path}/data.mdb`)) return null;
    if (!options.readOnly) fs.mkdirSync(options.path, { recursive: true });
    const env = new lmdb.Env();
    env.open({
      path: options.path,
      maxDbs: MAX_DBS,
      readOnly: options.readOnly,
      maxReaders: 126,
      // MADV_RANDOM on the map: no readahead or fault-around, so only pages LMDB really touches count
      // toward RSS and page cache — a Pi has little RAM and a log larger than it.
      noReadAhead: true,
      // A reader takes the map size the writer recorded in the file.
      ...(options.mapSizeBytes > 0 ? { mapSize: options.mapSizeBytes } : {}),
    });
    const dbis = new Map<DbName, Dbi>();
    for (const name of DB_NAMES) {
      try {
        dbis.set(name, env.openDbi({ name, create: !options.readOnly, keyIsBuffer: true }));
      } catch (err) {
        // A reader skips tables an older format lacks (migrate.ts refuses that format by name), and
        // finds no log while the writer is still creating one (no meta table yet).
        if (options.readOnly && name !== 'meta') continue;
        for (const dbi of dbis.values()) dbi.close();
        env.close();
        if (options.readOnly) return null;
        throw err;
      }
    }
    return new Store(env, dbis, options);
  }

  get mapSizeBytes(): number {
    return this.mapSize;
  }

  /** Runs `fn` inside a read-only transaction that is always closed before returning. */
  read<T>(fn: (txn: Txn) => T): T {
    const txn = this.beginRead();
    this.reading++;
    try {
      return fn(txn);
    } finally {
      txn.abort();
      this.reading--;
      this.remapWhenDue();
    }
  }

  get(txn: Txn, db: DbName, key: Buffer): Buffer | null {
    const value = txn.getBinary(this.dbi(db), key, KEY_OPTS) ?? null;
    if (value !== null) this.mapTraffic += value.length;
    return value;
  }

  /**
   * Visits keys from `from` upward (or from the first key when null) while `visit` returns true.
   * Key and value buffers are copies the visitor may keep.
   */
  scan(txn: Txn, db: DbName, from: Buffer | null, visit: (key: Buffer, value: Buffer) => boolean): void {
    const cursor = new lmdb.Cursor<Buffer>(txn, this.dbi(db), KEY_OPTS);
    try {
      let key = from === null ? cursor.goToFirst() : cursor.goToRange(from);
      while (key !== null) {
        const value = cursor.getCurrentBinary() as Buffer;
        this.mapTraffic += key.length + value.length;
        if (!visit(key, value)) return;
        key = cursor.goToNext();
      }
    } finally {
      cursor.close();
    }
  }

  /** The last key below `before` (exclusive), or null. */
  lastKeyBefore(txn: Txn, db: DbName, before: Buffer): Buffer | null {
    const cursor = new lmdb.Cursor<Buffer>(txn, this.dbi(db), KEY_OPTS);
    try {
      const at = cursor.goToRange(before);
      return at === null ? cursor.goToLast() : cursor.goToPrev();
    } finally {
      cursor.close();
    }
  }

  entryCount(db: DbName): number {
    return this.read((txn) => this.dbi(db).stat(txn).entryCount);
  }

  /** An empty batch of operations for `write`. */
  batch(): WriteBatch {
    return new WriteBatch(this.dbi('records'), (name) => this.dbi(name));
  }

  /**
   * Commits `ops` in one durable transaction on a worker thread. Grows the map on MAP_FULL. Resolves
   * once committed and synced, with the operations LMDB refused one by one (the rest were committed);
   * rejects with a LogWriteError when the transaction as a whole failed (LMDB then aborted it).
   */
  async write(ops: WriteOp[] | WriteBatch): Promise<WriteOutcome> {
    if (this.options.readOnly) throw new LogWriteError('the log is open read-only');
    let batch: WriteBatch;
    if (ops instanceof WriteBatch) {
      batch = ops;
    } else {
      batch = this.batch();
      for (const op of ops) batch.add(op);
    }
    this.writing++;
    let outcome: WriteOutcome;
    try {
      outcome = await this.writeBatch(batch);
    } finally {
      this.writing--;
    }
    this.mapTraffic += batch.bytes;
    this.remapWhenDue();
    return outcome;
  }

  private async writeBatch(batch: WriteBatch): Promise<WriteOutcome> {
    for (;;) {
      try {
        return await this.batchWrite(batch.ops);
      } catch (err) {
        if (!isMapFull(err)) {
          const message = (err as Error).message;
          throw new LogWriteError(`LMDB commit failed: ${message}`, { cause: err, reason: failureReason(message) });
        }
        this.grow();
      }
    }
  }

  /**
   * Maps the map afresh once enough traffic went through it, when no transaction is open (header). Not
   * after a failed commit: a failing disk is left to the error it gave, not handed a new map as well.
   */
  private remapWhenDue(): void {
    if (this.mapTraffic < REMAP_TRAFFIC_BYTES || this.writing > 0 || this.reading > 0 || this.closed || this.options.readOnly || this.remapError !== null) return;
    this.mapTraffic = 0;
    try {
      // The same size: LMDB unmaps and maps again, and nothing else changes.
      this.env.resize(this.mapSize);
      this.remaps++;
    } catch (err) {
      // node-lmdb refuses before it touches the map (an open transaction). The commit that got here is
      // durable and must be reported so: the map only stays as it is, from now on.
      this.remapError = err as Error;
    }
  }

  /** `write` for fixed-layout writes (checkpoints, stream definitions, the format key): none may be refused. */
  async writeAll(ops: WriteOp[]): Promise<void> {
    const { refused } = await this.write(ops);
    if (refused.length > 0) throw new LogWriteError(`LMDB refused ${refused.length} of ${ops.length} fixed-layout writes (first: #${refused[0]})`);
  }

  /** Bytes the data file takes on disk (sparse regions not counted). */
  fileBytes(): number {
    try {
      const st = fs.statSync(`${this.options.path}/data.mdb`);
      return Math.min(st.size, st.blocks * 512);
    } catch {
      return 0;
    }
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    for (const dbi of this.dbis.values()) dbi.close();
    this.env.close();
  }

  private batchWrite(batch: Lmdb.BatchOperationArray[]): Promise<WriteOutcome> {
    return new Promise((resolve, reject) => {
      this.env.batchWrite(batch, KEY_OPTS, (err, results) => {
        if (err) return reject(err);
        // 3 is MDB_BAD_VALSIZE, which node-lmdb reports per operation and commits the others.
        const refused: number[] = [];
        for (let i = 0; i < results.length; i++) if (Number(results[i]) === 3) refused.push(i);
        resolve({ refused });
      });
    });
  }

  private grow(): void {
    const next = Math.min(this.mapSize * 2, this.options.mapSizeMaxBytes);
    if (next <= this.mapSize) {
      throw new StorageFullError(`the LMDB map is at its maximum of ${this.mapSize} bytes`);
    }
    this.env.resize(next);
    this.mapSize = next;
    this.mapTraffic = 0;
  }

  private beginRead(): Txn {
    try {
      return this.env.beginTxn({ readOnly: true });
    } catch (err) {
      if (!(err instanceof Error) || !err.message.includes('MDB_MAP_RESIZED')) throw err;
      // Another process grew the map: adopt its size (0 = take it from the file) and try once more.
      this.env.resize(0);
      this.mapSize = this.env.info().mapSize;
      return this.env.beginTxn({ readOnly: true });
    }
  }

  private dbi(name: DbName): Dbi {
    const dbi = this.dbis.get(name);
    if (!dbi) throw new Error(`database ${name} is not open`);
    return dbi;
  }
}

/**
 * The operations of one write transaction, held in node-lmdb's own batch form as they are added, so a
 * commit of many records builds no second list. `putRecord` is the append path's shortcut to the
 * records table.
 */
export class WriteBatch {
  readonly ops: Lmdb.BatchOperationArray[] = [];
  /** Bytes of keys and values put: what the commit writes through the map's pages. */
  bytes = 0;

  constructor(
    private readonly records: Dbi,
    private readonly dbiOf: (name: DbName) => Dbi,
  ) {}

  putRecord(key: Buffer, value: Buffer): void {
    this.ops.push([this.records, key, value]);
    this.bytes += key.length + value.length;
  }

  add(op: WriteOp): void {
    const dbi = op.db === 'records' ? this.records : this.dbiOf(op.db);
    this.ops.push(op.value === null ? [dbi, op.key] : [dbi, op.key, op.value]);
    this.bytes += op.key.length + (op.value?.length ?? 0);
  }
}

/**
 * node-lmdb reports a failed transaction only as mdb_strerror's text (an errno's strerror, or an MDB_*
 * name), so this one table turns that text into the failure's reason; nothing else reads the message.
 */
const FAILURE_REASONS: Array<[RegExp, string]> = [
  [/Input\/output error|EIO/, 'io'],
  [/No space left on device|ENOSPC|Disk quota exceeded/, 'no-space'],
];

function failureReason(message: string): string {
  for (const [pattern, reason] of FAILURE_REASONS) if (pattern.test(message)) return reason;
  return 'other';
}

function isMapFull(err: unknown): boolean {
  return err instanceof Error && err.message.includes('MDB_MAP_FULL');
}
