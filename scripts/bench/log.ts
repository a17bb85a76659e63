/**
 * `npm run bench:log` — what the log layer costs over bare LMDB, for 100-byte records.
 *
 * Every row runs the same work in the same process and run, alternated over ROUNDS rounds (median
 * kept): through tributary's Log, and through a bare node-lmdb loop (one Env, one Dbi, the
 * environment syncing every commit as the Log's does, and storing a commit's records of a partition
 * as one value of up to BATCH_RECORDS_MAX, as log format 4 does). Absolute numbers on a shared machine
 * are noise; the ratio is the result.
 *
 *   durable appends/s, group size G: G appends issued together, all awaited, repeated. The Log is
 *       called the way the broker's ingest calls it (`appendThen`, a callback per record; the promise
 *       `append` adds a promise per record on top). bare: one write transaction holding G puts,
 *       committed and synced, repeated, done both ways node-lmdb offers, and the ratio is taken
 *       against the faster of the two (as for reads):
 *         - `batchWrite`, as the Log commits: ops handed over in one call, transaction, puts, commit
 *           and sync on a libuv worker thread while the event loop goes on;
 *         - a synchronous transaction (`txn.putBinary` per record, `commit()` on the main thread).
 *           A broker cannot use it — it would stop every client, the forwarder and health for each
 *           fsync, 5-30 ms on an SD card — but it is the faster way for small groups, by the cost of
 *           the hop to the worker thread and back.
 *       The three alternate in 20 blocks.
 *   sequential read records/s: every record of one partition, in order, 1,000 per read call.
 *       bare: the faster of a cursor walk and a point lookup per offset (one key buffer rewritten).
 *   write amplification at R msg/s: bytes the process wrote (/proc/self/io) per payload byte while
 *       appending at a steady R msg/s with the default 2 ms commit interval. bare: the same pacing,
 *       committing what arrived every 2 ms (synchronously: the bytes are the same). One partition, and once with 4 (the default), records
 *       round-robin, where partitions interleave in the B-tree for the bare loop too.
 */
import { createRequire } from 'node:module';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import type * as Lmdb from 'node-lmdb';
import { Log } from '../../src/log/index.js';
import { BATCH_RECORDS_MAX } from '../../src/log/commit-batch.js';
import { encodeValue, RECORD_BATCH_VERSION } from '../../src/log/record.js';
import { processWriteBytes } from '../../src/log/disk-io.js';

const lmdb = createRequire(import.meta.url)('node-lmdb') as typeof Lmdb;
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 5);
const PAYLOAD = Buffer.alloc(100, 7);
const MAP_BYTES = 2 * 1024 ** 3;

interface Row {
  name: string;
  unit: string;
  log: number;
  bare: number;
  /** The synchronous bare commit, for the append rows. */
  bareSync?: number;
  /** For write amplification lower is better, so the ratio is inverted. */
  lowerIsBetter?: boolean;
}

/**
 * The records of a stored value, each as its own Buffer (a view into the value): a batch's (its count,
 * then each record after its u32 length), else the value itself. The least a reader does to hand each
 * record on; unlike the Log it checks no CRC and decodes no header.
 */
function recordsIn(value: Buffer): Buffer[] {
  if (value[0] !== RECORD_BATCH_VERSION) return [value];
  const count = value.readUInt32BE(1);
  const records: Buffer[] = new Array<Buffer>(count);
  let at = 5;
  for (let i = 0; i < count; i++) {
    const length = value.readUInt32BE(at);
    records[i] = value.subarray(at + 4, at + 4 + length);
    at += 4 + length;
  }
  return records;
}

function tmp(): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), 'tributary-bench-'));
}

function input() {
  return { timestamp: Date.now(), topic: 'sensors/gw/telemetry', qos: 1 as const, retain: false, clientId: 'bench', payload: PAYLOAD };
}

class Bare {
  readonly dir = tmp();
  readonly env = new lmdb.Env();
  readonly dbi: Lmdb.Dbi;
  private offset = 0;
  /** Next offset per partition, for the interleaved (multi-partition) rows. */
  private readonly offsets: number[];
  constructor(readonly partitions = 1) {
    this.offsets = new Array<number>(partitions).fill(0);
    this.env.open({ path: this.dir, mapSize: MAP_BYTES, maxDbs: 4 });
    this.dbi = this.env.openDbi({ name: 'records', create: true, keyIsBuffer: true });
  }
  /** One synchronous write transaction of `count` records, committed and synced on the main thread. */
  commit(count: number): void {
    const txn = this.env.beginTxn();
    for (const [key, value] of this.nextValues(count)) txn.putBinary(this.dbi, key, value, { keyIsBuffer: true });
    txn.commit();
  }
  /** The same transaction through `batchWrite`: built here, written, committed and synced on a libuv worker. */
  commitAsync(count: number): Promise<void> {
    const ops: Lmdb.BatchOperationArray[] = this.nextValues(count).map(([key, value]) => [this.dbi, key, value]);
    return new Promise((resolve, reject) => this.env.batchWrite(ops, { keyIsBuffer: true }, (err) => (err ? reject(err) : resolve())));
  }
  /**
   * `count` records round-robin over the partitions, stored as the Log (format 4) stores a commit's:
   * one value per partition and up to BATCH_RECORDS_MAX records (the Log's own `encodeValue`: a count,
   * then each record with its length) under the first one's 16-byte key; a lone record as itself. Each
   * record is about the Log's size.
   */
  private nextValues(count: number): Array<[Buffer, Buffer]> {
    const perPartition: Buffer[][] = Array.from({ length: this.partitions }, () => []);
    const bases: number[] = new Array<number>(this.partitions).fill(-1);
    for (let i = 0; i < count; i++) {
      const partition = this.offset++ % this.partitions;
      if (bases[partition] === -1) bases[partition] = this.offsets[partition] as number;
      this.offsets[partition] = (this.offsets[partition] as number) + 1;
      const value = Buffer.allocUnsafe(20 + 20 + 5 + PAYLOAD.length);
      PAYLOAD.copy(value, value.length - PAYLOAD.length);
      (perPartition[partition] as Buffer[]).push(value);
    }
    const out: Array<[Buffer, Buffer]> = [];
    perPartition.forEach((values, partition) => {
      for (let at = 0; at < values.length; at += BATCH_RECORDS_MAX) {
        const key = Buffer.allocUnsafe(16);
        key.writeUInt32BE(0, 0);
        key.writeUInt32BE(partition, 4);
        key.writeUInt32BE(0, 8);
        key.writeUInt32BE((bases[partition] as number) + at, 12);
        out.push([key, encodeValue(values, at, Math.min(BATCH_RECORDS_MAX, values.length - at))]);
      }
    });
    return out;
  }
  /** Every record, walking a cursor: node-lmdb returns each step as fresh key and value buffers. */
  readAllByCursor(): number {
    const txn = this.env.beginTxn({ readOnly: true });
    const cursor = new lmdb.Cursor<Buffer>(txn, this.dbi, { keyIsBuffer: true });
    let n = 0;
    for (let k = cursor.goToFirst(); k !== null; k = cursor.goToNext()) {
      const v = cursor.getCurrentBinary();
      if (v) n += recordsIn(v).length;
    }
    cursor.close();
    txn.abort();
    return n;
  }
  /** Every record of partition 0, looking up each offset with one key buffer rewritten in place (what the Log does). */
  readAllByKey(): number {
    const txn = this.env.beginTxn({ readOnly: true });
    const key = Buffer.alloc(16);
    let n = 0;
    for (let offset = 0; offset < (this.offsets[0] as number); ) {
      key.writeUInt32BE(offset, 12);
      const v = txn.getBinary(this.dbi, key, { keyIsBuffer: true });
      if (!v) break;
      const records = recordsIn(v).length;
      n += records;
      offset += records;
    }
    txn.abort();
    return n;
  }
  close(): void {
    this.dbi.close();
    this.env.close();
    fs.rmSync(this.dir, { recursive: true, force: true });
  }
}

/**
 * Throughput rows run with commitIntervalMs 0: the interval caps the commit rate on purpose (flash
 * wear), which is policy, not the cost of the layer these rows measure. The write-amplification rows
 * use the default 2 ms.
 */
async function openLog(commitIntervalMs = 0, partitions = 1): Promise<{ log: Log; dir: string }> {
  const dir = tmp();
  const log = await Log.open({ dataDir: dir, mapSizeBytes: MAP_BYTES, commitIntervalMs }, [{ name: 'bench', partitions }]);
  return { log, dir };
}

async function closeLog(l: { log: Log; dir: string }): Promise<void> {
  await l.log.close();
  fs.rmSync(l.dir, { recursive: true, force: true });
}

/** Appends `count` records through the ingest's path; resolves when all are durable. */
function appendAll(log: Log, count: number): Promise<void> {
  return new Promise((resolve, reject) => {
    let left = count;
    for (let i = 0; i < count; i++) {
      log.appendThen('bench', 0, input(), (err) => {
        if (err) reject(err);
        else if (--left === 0) resolve();
      });
    }
  });
}

/**
 * All sides open at once and alternate in 20 blocks: the disk's fsync time drifts within a run, and
 * running one side after the other would hand that drift to one of them. Returns [Log, bare
 * batchWrite, bare synchronous] records/s.
 */
async function appendsPerSec(group: number, total: number): Promise<number[]> {
  const l = await openLog();
  const bareAsync = new Bare();
  const bareSync = new Bare();
  const sides: Array<(count: number) => Promise<unknown> | void> = [
    (count) => appendAll(l.log, count),
    (count) => bareAsync.commitAsync(count),
    (count) => bareSync.commit(count),
  ];
  const blocks = 20;
  const groupsPerBlock = Math.max(1, Math.round(total / group / blocks));
  const ms = sides.map(() => 0);
  for (let block = 0; block < blocks; block++) {
    for (const [i, side] of sides.entries()) {
      const t = performance.now();
      for (let g = 0; g < groupsPerBlock; g++) await side(group);
      ms[i] = (ms[i] as number) + performance.now() - t;
    }
  }
  await closeLog(l);
  bareAsync.close();
  bareSync.close();
  const records = blocks * groupsPerBlock * group;
  return ms.map((m) => records / (m / 1000));
}

async function readPerSec(total: number): Promise<number[]> {
  const l = await openLog();
  for (let done = 0; done < total; done += 1000) await Promise.all(Array.from({ length: 1000 }, () => l.log.append('bench', 0, input())));
  let t = performance.now();
  let offset = 0;
  while (offset < total) {
    const records = l.log.read('bench', 0, offset, { maxRecords: 1000, maxBytes: 1024 * 1024 });
    offset = (records.at(-1)?.offset ?? offset) + 1;
  }
  const logRate = total / ((performance.now() - t) / 1000);
  await closeLog(l);
  const bare = new Bare();
  for (let done = 0; done < total; done += 1000) bare.commit(1000);
  // The bare side gets the faster of node-lmdb's two ways to read a range.
  let bareRate = 0;
  for (const read of [() => bare.readAllByCursor(), () => bare.readAllByKey()]) {
    t = performance.now();
    const n = read();
    if (n !== total) throw new Error(`the bare reader found ${n} records, not the ${total} written`);
    bareRate = Math.max(bareRate, n / ((performance.now() - t) / 1000));
  }
  bare.close();
  return [logRate, bareRate];
}

/** Appends at `rate` msg/s for `seconds`, round-robin over `partitions`; returns bytes written per payload byte. */
async function writeAmplification(rate: number, seconds: number, partitions = 1): Promise<number[]> {
  const total = rate * seconds;
  const tickMs = 2;
  const perTick = (rate * tickMs) / 1000;
  const l = await openLog(2, partitions);
  let before = processWriteBytes() ?? 0;
  let sent = 0;
  await paced(total, perTick, tickMs, (n) => {
    for (let i = 0; i < n; i++) void l.log.append('bench', sent++ % partitions, input());
  });
  await l.log.close();
  const logWa = ((processWriteBytes() ?? 0) - before) / (total * PAYLOAD.length);
  fs.rmSync(l.dir, { recursive: true, force: true });
  const bare = new Bare(partitions);
  before = processWriteBytes() ?? 0;
  await paced(total, perTick, tickMs, (n) => bare.commit(n));
  const bareWa = ((processWriteBytes() ?? 0) - before) / (total * PAYLOAD.length);
  bare.close();
  return [logWa, bareWa];
}

/** Calls `emit(n)` every tickMs with the number of messages due, until `total` were emitted. */
async function paced(total: number, perTick: number, tickMs: number, emit: (n: number) => void): Promise<void> {
  const start = performance.now();
  let emitted = 0;
  while (emitted < total) {
    const due = Math.min(total, Math.floor(((performance.now() - start) / tickMs) * perTick) + 1);
    if (due > emitted) {
      emit(due - emitted);
      emitted = due;
    }
    await new Promise((r) => setTimeout(r, tickMs));
  }
}

function median(values: number[]): number {
  const s = [...values].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)] as number;
}

async function measure(name: string, unit: string, run: () => Promise<number[]>, lowerIsBetter = false): Promise<Row> {
  const runs: number[][] = [];
  for (let r = 0; r < ROUNDS; r++) runs.push(await run());
  const col = (i: number): number[] => runs.map((values) => values[i] as number);
  const row: Row = { name, unit, log: median(col(0)), bare: median(col(1)), lowerIsBetter };
  if (runs.every((values) => values.length > 2)) row.bareSync = median(col(2));
  const sync = row.bareSync === undefined ? '' : ` bare sync ${fmt(row.bareSync)}`;
  process.stderr.write(`  ${name}: log ${fmt(row.log)} bare ${fmt(row.bare)}${sync}\n`);
  return row;
}

/** The goal's ratio: against the better bare figure (the faster of batchWrite and a synchronous commit). */
function ratio(r: Row): number {
  if (r.lowerIsBetter) return r.bare / r.log;
  return r.log / Math.max(r.bare, r.bareSync ?? 0);
}

function fmt(n: number): string {
  return n >= 100 ? Math.round(n).toLocaleString('en-US') : n.toFixed(2);
}

async function main(): Promise<void> {
  process.stderr.write(`bench:log — ${ROUNDS} rounds per row, median; ${os.cpus().length} cores, node ${process.version}\n`);
  const cases: Array<[string, string, () => Promise<number[]>, boolean?]> = [
    ['durable appends/s, group 1', 'records/s', () => appendsPerSec(1, 2000)],
    ['durable appends/s, group 100', 'records/s', () => appendsPerSec(100, 40_000)],
    ['durable appends/s, group 1000', 'records/s', () => appendsPerSec(1000, 100_000)],
    ['sequential read', 'records/s', () => readPerSec(200_000)],
    ['write amplification @ 100 msg/s', 'bytes/payload byte', () => writeAmplification(100, 5), true],
    ['write amplification @ 10,000 msg/s', 'bytes/payload byte', () => writeAmplification(10_000, 5), true],
    ['write amplification @ 10,000 msg/s, 4 partitions', 'bytes/payload byte', () => writeAmplification(10_000, 5, 4), true],
  ];
  // BENCH_CASES=regex runs only the rows whose name matches.
  const only = process.env.BENCH_CASES ? new RegExp(process.env.BENCH_CASES) : null;
  const rows: Row[] = [];
  for (const [name, unit, run, lowerIsBetter] of cases) {
    if (only === null || only.test(name)) rows.push(await measure(name, unit, run, lowerIsBetter));
  }
  const lines = [
    '| case (100-byte records) | tributary Log | bare node-lmdb (batchWrite) | bare, synchronous commit | ratio to the better bare (goal ≥ 0.8) |',
    '|---|---:|---:|---:|---:|',
  ];
  for (const r of rows) {
    const sync = r.bareSync === undefined ? '—' : fmt(r.bareSync);
    lines.push(`| ${r.name} (${r.unit}) | ${fmt(r.log)} | ${fmt(r.bare)} | ${sync} | ${ratio(r).toFixed(2)} |`);
  }
  process.stdout.write(`${lines.join('\n')}\n`);
  process.stdout.write('(write amplification ratio = bare / log, so above 1 means the Log writes less per byte)\n');
}

await main();
