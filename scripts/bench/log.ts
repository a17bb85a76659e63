/**
 * `npm run bench:log` — what the log layer costs over bare LMDB, for 100-byte records.
 *
 * Every row runs the same work twice in the same process and run, alternated over ROUNDS rounds
 * (median kept): through tributary's Log, and through a bare node-lmdb loop (one Env, one Dbi,
 * synchronous txn.putBinary + commit, the environment syncing every commit as the Log's does).
 * Absolute numbers on a shared machine are noise; the ratio is the result.
 *
 *   durable appends/s, group size G: G appends issued together, all awaited, repeated.
 *       bare: one write transaction holding G puts, committed (fsync), repeated. The two alternate
 *       in blocks within a round.
 *   sequential read records/s: every record of one partition, in order, 1,000 per read call.
 *       bare: the faster of a cursor walk and a point lookup per offset (one key buffer rewritten).
 *   write amplification at R msg/s: bytes the process wrote (/proc/self/io) per payload byte while
 *       appending at a steady R msg/s with the default 2 ms commit interval. bare: the same pacing,
 *       committing what arrived every 2 ms. One partition, and once with 4 (the default), records
 *       round-robin, where partitions interleave in the B-tree for the bare loop too.
 */
import { createRequire } from 'node:module';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import type * as Lmdb from 'node-lmdb';
import { Log } from '../../src/log/index.js';
import { processWriteBytes } from '../../src/log/disk-io.js';

const lmdb = createRequire(import.meta.url)('node-lmdb') as typeof Lmdb;
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const PAYLOAD = Buffer.alloc(100, 7);
const MAP_BYTES = 2 * 1024 ** 3;

interface Row {
  name: string;
  unit: string;
  log: number;
  bare: number;
  /** For write amplification lower is better, so the ratio is inverted. */
  lowerIsBetter?: boolean;
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
  /** The same 16-byte key and roughly the same value the Log stores; records go round-robin over the partitions. */
  commit(count: number): void {
    const txn = this.env.beginTxn();
    for (let i = 0; i < count; i++) {
      const partition = this.offset++ % this.partitions;
      const key = Buffer.allocUnsafe(16);
      key.writeUInt32BE(0, 0);
      key.writeUInt32BE(partition, 4);
      key.writeUInt32BE(0, 8);
      key.writeUInt32BE((this.offsets[partition] as number)++, 12);
      const value = Buffer.allocUnsafe(20 + 20 + 5 + PAYLOAD.length);
      PAYLOAD.copy(value, value.length - PAYLOAD.length);
      txn.putBinary(this.dbi, key, value, { keyIsBuffer: true });
    }
    txn.commit();
  }
  /** Every record, walking a cursor: node-lmdb returns each step as fresh key and value buffers. */
  readAllByCursor(): number {
    const txn = this.env.beginTxn({ readOnly: true });
    const cursor = new lmdb.Cursor<Buffer>(txn, this.dbi, { keyIsBuffer: true });
    let n = 0;
    for (let k = cursor.goToFirst(); k !== null; k = cursor.goToNext()) {
      const v = cursor.getCurrentBinary();
      if (v) n++;
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
    for (let offset = 0; offset < (this.offsets[0] as number); offset++) {
      key.writeUInt32BE(offset, 12);
      if (txn.getBinary(this.dbi, key, { keyIsBuffer: true })) n++;
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

/**
 * Both sides open at once and alternate in 20 blocks: the disk's fsync time drifts within a run, and
 * running one side after the other would hand that drift to one of them.
 */
async function appendsPerSec(group: number, total: number): Promise<[number, number]> {
  const l = await openLog();
  const bare = new Bare();
  const blocks = 20;
  const groupsPerBlock = Math.max(1, Math.round(total / group / blocks));
  let logMs = 0;
  let bareMs = 0;
  for (let block = 0; block < blocks; block++) {
    let t = performance.now();
    for (let g = 0; g < groupsPerBlock; g++) {
      await Promise.all(Array.from({ length: group }, () => l.log.append('bench', 0, input())));
    }
    logMs += performance.now() - t;
    t = performance.now();
    for (let g = 0; g < groupsPerBlock; g++) bare.commit(group);
    bareMs += performance.now() - t;
  }
  await closeLog(l);
  bare.close();
  const records = blocks * groupsPerBlock * group;
  return [records / (logMs / 1000), records / (bareMs / 1000)];
}

async function readPerSec(total: number): Promise<[number, number]> {
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
    bareRate = Math.max(bareRate, n / ((performance.now() - t) / 1000));
  }
  bare.close();
  return [logRate, bareRate];
}

/** Appends at `rate` msg/s for `seconds`, round-robin over `partitions`; returns bytes written per payload byte. */
async function writeAmplification(rate: number, seconds: number, partitions = 1): Promise<[number, number]> {
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

async function measure(name: string, unit: string, run: () => Promise<[number, number]>, lowerIsBetter = false): Promise<Row> {
  const logs: number[] = [];
  const bares: number[] = [];
  for (let r = 0; r < ROUNDS; r++) {
    const [a, b] = await run();
    logs.push(a);
    bares.push(b);
  }
  const row = { name, unit, log: median(logs), bare: median(bares), lowerIsBetter };
  process.stderr.write(`  ${name}: log ${fmt(row.log)} bare ${fmt(row.bare)}\n`);
  return row;
}

function fmt(n: number): string {
  return n >= 100 ? Math.round(n).toLocaleString('en-US') : n.toFixed(2);
}

async function main(): Promise<void> {
  process.stderr.write(`bench:log — ${ROUNDS} rounds per row, median; ${os.cpus().length} cores, node ${process.version}\n`);
  const rows: Row[] = [];
  rows.push(await measure('durable appends/s, group 1', 'records/s', () => appendsPerSec(1, 500)));
  rows.push(await measure('durable appends/s, group 100', 'records/s', () => appendsPerSec(100, 20_000)));
  rows.push(await measure('durable appends/s, group 1000', 'records/s', () => appendsPerSec(1000, 100_000)));
  rows.push(await measure('sequential read', 'records/s', () => readPerSec(200_000)));
  rows.push(await measure('write amplification @ 100 msg/s', 'bytes/payload byte', () => writeAmplification(100, 5), true));
  rows.push(await measure('write amplification @ 10,000 msg/s', 'bytes/payload byte', () => writeAmplification(10_000, 5), true));
  rows.push(await measure('write amplification @ 10,000 msg/s, 4 partitions', 'bytes/payload byte', () => writeAmplification(10_000, 5, 4), true));
  const lines = ['| case (100-byte records) | tributary Log | bare node-lmdb | ratio (≥ 0.8 is the goal) |', '|---|---:|---:|---:|'];
  for (const r of rows) {
    const ratio = r.lowerIsBetter ? r.bare / r.log : r.log / r.bare;
    lines.push(`| ${r.name} (${r.unit}) | ${fmt(r.log)} | ${fmt(r.bare)} | ${ratio.toFixed(2)} |`);
  }
  process.stdout.write(`${lines.join('\n')}\n`);
  process.stdout.write('(write amplification ratio = bare / log, so above 1 means the Log writes less per byte)\n');
}

await main();
