/**
 * `npm run bench:footprint` — what `serve` costs at a gateway's steady load, against a bare aedes and
 * Mosquitto in the same run (issue 13, "Cheap on a Pi").
 *
 *   steady    CLIENTS clients (1,000), each publishing QoS 1 at RATE msg/s (10) with 100-byte payloads
 *             for SECONDS (20), spread evenly in time: CPU (% of one core, utime+stime of every thread
 *             from /proc/PID/stat over the load), CPU µs per acked message (to the last PUBACK), peak
 *             RSS (VmHWM), PUBACK latency p50/p99 per message, acked/sent; serve, aedes, Mosquitto.
 *   peak      4 publishers × PEAK_MESSAGES QoS 1, 100 in flight each (bench:ingest's qos1): rate, and
 *             CPU µs per message over all of the broker's threads; serve and aedes.
 *   start-up  spawn until the MQTT port accepts a TCP connection (polled every 5 ms), median of 5:
 *             serve on an empty data dir, serve on a 4,000,000-record backlog (built once per run
 *             through the Log, reused for the 5 starts), Mosquitto; and `tributary --help` to its exit.
 *
 * serve runs durable (temp data dir on the disk) with the deployed V8 flags; aedes and Mosquitto keep
 * everything in memory. Every cell gets a fresh broker process; the order of the brokers is reversed
 * every round. The machine is shared: absolute numbers are noise, the ratios are the result.
 *
 * Environment: BENCH_CLIENTS, BENCH_RATE, BENCH_SECONDS, BENCH_ROUNDS (2), BENCH_PEAK_MESSAGES
 * (50,000 per publisher), BENCH_BACKLOG (4,000,000); BENCH_PARTS (steady,peak,startup) and
 * BENCH_BROKERS (serve,aedes,mosquitto) narrow the run; BENCH_SERVE_FLAGS adds node flags to serve,
 * BENCH_AEDES_FLAGS to the bare aedes. BENCH_SERVE_B=PATH (another build's dist/src/cli/entry.cjs, e.g. a
 * `git worktree` of an earlier commit, built) runs it as `serve-b` beside serve in the steady and peak
 * cells, for a change measured against its parent in one run. BENCH_SERVE_CONFIG=FILE gives serve a
 * config file, BENCH_SERVE_B_CONFIG serve-b (default: serve's), so one build can run against itself
 * with one setting changed (BENCH_SERVE_B=dist/src/cli/entry.cjs).
 * Profile serve at the steady load (see the README, "where the time goes"):
 *   BENCH_PARTS=steady BENCH_BROKERS=serve BENCH_ROUNDS=1 \
 *     BENCH_SERVE_FLAGS='--cpu-prof --cpu-prof-dir=/tmp/prof' npm run bench:footprint
 *   node dist/scripts/bench/profile-summary.js /tmp/prof
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { streamSpecs } from '../../src/broker.js';
import { parseConfig } from '../../src/config/load.js';
import { Log } from '../../src/log/index.js';
import { CLI, CLI_MODULES, SERVE_NODE_FLAGS, cpuSeconds, mainThreadCpuSeconds, findMosquitto, freePort, peakRssBytes, rssByMapping, rssParts, spawnMosquitto, spawnServe, startBareAedes, startMosquitto, startServe, stopper, waitForPort, type Broker, type Starter } from './brokers.js';
import { PAYLOAD, peakQoS1, quantile, steadyQoS1, type SteadyLoad } from './mqtt-load.js';

const envNumber = (name: string, fallback: number): number => {
  const value = Number(process.env[name] ?? fallback);
  if (!Number.isFinite(value) || value <= 0) throw new Error(`${name} must be a positive number`);
  return value;
};
const STEADY: SteadyLoad = { clients: envNumber('BENCH_CLIENTS', 1000), ratePerClient: envNumber('BENCH_RATE', 10), seconds: envNumber('BENCH_SECONDS', 20), drainMs: 5_000, topic: (i) => `sensors/gw-${i}/telemetry` };
const ROUNDS = envNumber('BENCH_ROUNDS', 2);
const PEAK_PUBLISHERS = 4;
const PEAK_IN_FLIGHT = 100;
const PEAK_MESSAGES = envNumber('BENCH_PEAK_MESSAGES', 50_000);
const BACKLOG_RECORDS = envNumber('BENCH_BACKLOG', 4_000_000);
/** Appends issued together while building the backlog: under the Log's appendsInFlightMax (20,000). */
const BACKLOG_GROUP = 10_000;
const STARTS = 5;
const PARTS = (process.env.BENCH_PARTS ?? 'steady,peak,startup').split(',');
/** Another build of serve to run beside this one, as `serve-b` (its dist/src/cli/entry.cjs). */
const SERVE_B = process.env.BENCH_SERVE_B;
const BROKERS = [...(process.env.BENCH_BROKERS ?? 'serve,aedes,mosquitto').split(','), ...(SERVE_B ? ['serve-b'] : [])];

const ALL_STARTERS: Array<[string, Starter]> = [
  ['serve', () => startServe()],
  ['serve-b', () => startServe('serve-b', { entry: SERVE_B as string, config: process.env.BENCH_SERVE_B_CONFIG ?? process.env.BENCH_SERVE_CONFIG })],
  ['aedes', startBareAedes],
  ['mosquitto', () => startMosquitto()],
];
const starters = (...names: string[]): Array<[string, Starter]> => ALL_STARTERS.filter(([name]) => names.includes(name) && BROKERS.includes(name));

// ---- the steady load -----------------------------------------------------------------------------

interface SteadyCell {
  cpuPercent: number;
  /** Of cpuPercent, the main thread's (the event loop): the rest is the libuv pool (serve's commits), GC helpers. */
  mainThreadCpuPercent: number;
  cpuUsPerMsg: number;
  peakRssMiB: number;
  /** The resident set at the end of the load, private and file-backed. */
  anonMiB: number;
  fileMiB: number;
  /** The largest mappings of it, printed per cell. */
  mappings: Array<[string, number]>;
  p50Ms: number;
  p99Ms: number;
  acked: number;
  sent: number;
  generatorCpuPercent: number;
  behindMaxMs: number;
}

async function steadyCell(broker: Broker): Promise<SteadyCell> {
  let cpuAtStart = 0;
  let cpuAtEnd = 0;
  let mainAtStart = 0;
  let mainAtEnd = 0;
  const result = await steadyQoS1(broker, STEADY, {
    measuring: () => {
      cpuAtStart = cpuSeconds(broker.pid);
      mainAtStart = mainThreadCpuSeconds(broker.pid);
    },
    measured: () => {
      cpuAtEnd = cpuSeconds(broker.pid);
      mainAtEnd = mainThreadCpuSeconds(broker.pid);
    },
  });
  const cpuToLastAck = cpuSeconds(broker.pid) - cpuAtStart;
  return {
    cpuPercent: ((cpuAtEnd - cpuAtStart) / result.seconds) * 100,
    mainThreadCpuPercent: ((mainAtEnd - mainAtStart) / result.seconds) * 100,
    cpuUsPerMsg: (cpuToLastAck / result.acked) * 1e6,
    peakRssMiB: peakRssBytes(broker.pid) / 1024 ** 2,
    ...rssParts(broker.pid),
    mappings: rssByMapping(broker.pid),
    p50Ms: quantile(result.latenciesMs, 0.5),
    p99Ms: quantile(result.latenciesMs, 0.99),
    acked: result.acked,
    sent: result.sent,
    generatorCpuPercent: result.generatorCpuPercent,
    behindMaxMs: result.behindMaxMs,
  };
}

// ---- the peak case -------------------------------------------------------------------------------

interface PeakCell {
  rate: number;
  cpuUsPerMsg: number;
}

async function peakCell(broker: Broker): Promise<PeakCell> {
  const cpu0 = cpuSeconds(broker.pid);
  const seconds = await peakQoS1(broker, PEAK_PUBLISHERS, PEAK_MESSAGES, PEAK_IN_FLIGHT);
  const messages = PEAK_PUBLISHERS * PEAK_MESSAGES;
  return { rate: messages / seconds, cpuUsPerMsg: ((cpuSeconds(broker.pid) - cpu0) / messages) * 1e6 };
}

/** Runs `cell` against every broker for ROUNDS rounds, order reversed each round, a fresh broker per cell. */
async function alternate<T>(what: string, brokers: Array<[string, Starter]>, cell: (b: Broker) => Promise<T>, describe: (r: T) => string): Promise<Map<string, T[]>> {
  const results = new Map<string, T[]>(brokers.map(([name]) => [name, []]));
  for (let round = 0; round < ROUNDS; round++) {
    for (const [name, starter] of round % 2 === 0 ? brokers : [...brokers].reverse()) {
      const broker = await starter();
      if (broker === null) continue;
      try {
        const result = await cell(broker);
        results.get(name)?.push(result);
        const commits = broker.commitSummary ? `; ${await broker.commitSummary()}` : '';
        process.stdout.write(`  round ${round + 1} ${what} ${name}: ${describe(result)}${commits}\n`);
      } finally {
        await broker.stop();
      }
    }
  }
  return results;
}

// ---- start-up ------------------------------------------------------------------------------------

/** ms from spawning until `port` accepts a connection; the process is stopped after. */
async function timeToAccept(port: number, start: () => { stop(): Promise<void> }): Promise<number> {
  const t0 = performance.now();
  const proc = start();
  try {
    await waitForPort(port);
    return performance.now() - t0;
  } finally {
    await proc.stop();
  }
}

async function medianOfStarts(run: () => Promise<number>): Promise<number[]> {
  const times: number[] = [];
  for (let i = 0; i < STARTS; i++) times.push(await run());
  return times;
}

function serveStart(dataDir: () => string, entry: string = CLI): () => Promise<number> {
  return async () => {
    const port = await freePort();
    const dir = dataDir();
    return timeToAccept(port, () => {
      const child = spawnServe(dir, port, undefined, entry);
      child.stdout?.resume();
      return { stop: stopper(child) };
    });
  };
}

async function mosquittoStart(): Promise<number> {
  const port = await freePort();
  return timeToAccept(port, () => {
    const spawned = spawnMosquitto({ port });
    if (spawned === null) throw new Error('mosquitto is not installed');
    const stop = stopper(spawned.child);
    return { stop: async () => { await stop(); spawned.cleanUp(); } };
  });
}

/** Milliseconds from spawning `node ARGS` (serve's deployed flags first) until it exits 0. */
async function timeToExit(args: string[]): Promise<number> {
  const t0 = performance.now();
  const child = spawn(process.execPath, [...SERVE_NODE_FLAGS, ...args], { stdio: 'ignore' });
  const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
  if (code !== 0) throw new Error(`node ${args.join(' ')} exited with ${code}`);
  return performance.now() - t0;
}

/**
 * A data dir holding `records` records in serve's default stream (its partitions and settings from the
 * default config), appended through the Log in groups of BACKLOG_GROUP, 100-byte payloads.
 */
async function buildBacklog(records: number): Promise<string> {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'bench-backlog-'));
  const config = parseConfig({});
  const specs = streamSpecs(config);
  const stream = specs.find((s) => s.name === 'default');
  if (stream === undefined) throw new Error('the default config has no default stream');
  const log = await Log.open({ dataDir, commitIntervalMs: 0, storageMaxBytes: config.storage.maxBytes }, specs);
  const input = { timestamp: Date.now(), topic: 'sensors/backlog/telemetry', qos: 1 as const, retain: false, clientId: 'bench-backlog', payload: PAYLOAD };
  for (let done = 0; done < records; done += BACKLOG_GROUP) {
    const group = Math.min(BACKLOG_GROUP, records - done);
    await new Promise<void>((resolve, reject) => {
      let left = group;
      for (let i = 0; i < group; i++) {
        log.appendThen('default', (done + i) % stream.partitions, input, (err) => {
          if (err) reject(err);
          else if (--left === 0) resolve();
        });
      }
    });
  }
  const appended = log.info().flatMap((s) => s.partitions).reduce((n, p) => n + p.records, 0);
  await log.close();
  if (appended !== records) throw new Error(`the backlog holds ${appended} records, not ${records}`);
  return dataDir;
}

async function startupRows(): Promise<string[][]> {
  const rows: string[][] = [['', `median of ${STARTS} (ms)`, 'all (ms)']];
  const row = (what: string, times: number[]): void => void rows.push([what, fmt(median(times)), times.map((t) => t.toFixed(0)).join(', ')]);
  const empties: string[] = [];
  const emptyDir = (): string => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bench-empty-'));
    empties.push(dir);
    return dir;
  };
  // The first start of a build has no code cache yet (src/cli/entry.cts): it is one of the five, not the median.
  row('serve, empty data dir, until its MQTT port accepts', await medianOfStarts(serveStart(emptyDir)));
  if (CLI !== CLI_MODULES) row('serve from the compiled modules (no bundle, no code cache), empty data dir', await medianOfStarts(serveStart(emptyDir, CLI_MODULES)));
  row('`node -e 0` (Node.js itself starting and exiting)', await medianOfStarts(() => timeToExit(['-e', '0'])));
  empties.forEach((dir) => fs.rmSync(dir, { recursive: true, force: true }));
  const t0 = performance.now();
  const backlog = await buildBacklog(BACKLOG_RECORDS);
  const builtSeconds = (performance.now() - t0) / 1000;
  const backlogBytes = fs.readdirSync(backlog, { recursive: true }).reduce<number>((n, f) => n + fs.statSync(path.join(backlog, String(f))).size, 0);
  process.stdout.write(`  backlog of ${BACKLOG_RECORDS.toLocaleString('en-US')} records built in ${builtSeconds.toFixed(1)} s (${(backlogBytes / 1024 ** 2).toFixed(0)} MiB on disk)\n`);
  try {
    row(`serve, ${BACKLOG_RECORDS.toLocaleString('en-US')}-record backlog, until its MQTT port accepts`, await medianOfStarts(serveStart(() => backlog)));
  } finally {
    fs.rmSync(backlog, { recursive: true, force: true });
  }
  if (findMosquitto() !== null) row('Mosquitto, until its port accepts', await medianOfStarts(mosquittoStart));
  row('`tributary --help`, until it exits', await medianOfStarts(() => timeToExit([CLI, '--help'])));
  return rows;
}

// ---- the report ----------------------------------------------------------------------------------

function median(values: number[]): number {
  const s = [...values].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)] as number;
}

function fmt(n: number): string {
  if (!Number.isFinite(n)) return '-';
  return n >= 100 ? Math.round(n).toLocaleString('en-US') : n.toFixed(n >= 10 ? 1 : 2);
}

/** "lo–hi" over the rounds (one value if they agree to the digits shown). */
function range(values: number[]): string {
  if (values.length === 0) return '-';
  const lo = fmt(Math.min(...values));
  const hi = fmt(Math.max(...values));
  return lo === hi ? lo : `${lo}–${hi}`;
}

/** serve's figure over the peer's, round by round (the two ran back to back in each round). */
function ratios(serve: number[], peer: number[]): string {
  const n = Math.min(serve.length, peer.length);
  return range(Array.from({ length: n }, (_, i) => (serve[i] as number) / (peer[i] as number)));
}

function table(rows: string[][]): string {
  const widths = (rows[0] ?? []).map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length)));
  const line = (r: string[]): string => `| ${r.map((c, i) => c.padEnd(widths[i] ?? 0)).join(' | ')} |`;
  return [line(rows[0] ?? []), `|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`, ...rows.slice(1).map(line)].join('\n') + '\n';
}

function steadyTable(results: Map<string, SteadyCell[]>): string {
  const rows: string[][] = [['broker', 'CPU (% of one core)', 'CPU µs / acked msg', 'peak RSS (MiB)', 'PUBACK p50 (ms)', 'PUBACK p99 (ms)', 'acked/sent', 'generator CPU %, behind (ms)']];
  for (const [name, cells] of results) {
    const col = (f: (c: SteadyCell) => number): number[] => cells.map(f);
    const counts = cells.map((c) => `${c.acked}/${c.sent}`).join(', ');
    const generator = `${range(col((c) => c.generatorCpuPercent))}, ${range(col((c) => c.behindMaxMs))}`;
    rows.push([name, range(col((c) => c.cpuPercent)), range(col((c) => c.cpuUsPerMsg)), range(col((c) => c.peakRssMiB)), range(col((c) => c.p50Ms)), range(col((c) => c.p99Ms)), counts, generator]);
  }
  const serve = results.get('serve') ?? [];
  for (const peer of ['serve-b', 'aedes', 'mosquitto']) {
    const other = results.get(peer);
    if (other === undefined || other.length === 0 || serve.length === 0) continue;
    const r = (f: (c: SteadyCell) => number): string => `${ratios(serve.map(f), other.map(f))}×`;
    rows.push([`serve / ${peer}`, r((c) => c.cpuPercent), r((c) => c.cpuUsPerMsg), r((c) => c.peakRssMiB), r((c) => c.p50Ms), r((c) => c.p99Ms), '', '']);
  }
  return table(rows);
}

function peakTable(results: Map<string, PeakCell[]>): string {
  const rows: string[][] = [['broker', 'msgs/s', 'CPU µs / msg, all threads']];
  for (const [name, cells] of results) rows.push([name, range(cells.map((c) => c.rate)), range(cells.map((c) => c.cpuUsPerMsg))]);
  const serve = results.get('serve') ?? [];
  for (const [peer, goal] of [['serve-b', ''], ['aedes', ' (goal ≥ 0.5×, ≤ 2×)']] as const) {
    const other = results.get(peer) ?? [];
    if (serve.length === 0 || other.length === 0) continue;
    rows.push([`serve / ${peer}${goal}`, `${ratios(serve.map((c) => c.rate), other.map((c) => c.rate))}×`, `${ratios(serve.map((c) => c.cpuUsPerMsg), other.map((c) => c.cpuUsPerMsg))}×`]);
  }
  return table(rows);
}

async function main(): Promise<void> {
  const load = `${STEADY.clients} clients × ${STEADY.ratePerClient} msg/s QoS 1, ${PAYLOAD.length} B, ${STEADY.seconds} s`;
  process.stdout.write(`bench:footprint — ${os.cpus().length} CPUs, ${os.cpus()[0]?.model ?? '?'}, Node ${process.version}, ${ROUNDS} rounds, ranges over the rounds; ${new Date().toISOString().slice(0, 10)}\n`);
  if (findMosquitto() === null) process.stdout.write('mosquitto: not installed (apt-get install mosquitto to compare)\n');
  const out: string[] = [];
  if (PARTS.includes('steady')) {
    const describe = (c: SteadyCell): string =>
      `CPU ${fmt(c.cpuPercent)}% (main thread ${fmt(c.mainThreadCpuPercent)}%), ${fmt(c.cpuUsPerMsg)} µs/msg, peak RSS ${fmt(c.peakRssMiB)} MiB (at the end ${fmt(c.anonMiB)} anonymous + ${fmt(c.fileMiB)} file-backed; largest: ${c.mappings.map(([n, mib]) => `${path.basename(n)} ${fmt(mib)}`).join(', ')}), PUBACK p50 ${fmt(c.p50Ms)} p99 ${fmt(c.p99Ms)} ms, ${c.acked}/${c.sent} acked; generator CPU ${fmt(c.generatorCpuPercent)}%, behind ≤ ${fmt(c.behindMaxMs)} ms`;
    const results = await alternate('steady', starters('serve', 'serve-b', 'aedes', 'mosquitto'), steadyCell, describe);
    out.push(`\n${load}:\n\n${steadyTable(results)}`);
  }
  if (PARTS.includes('peak')) {
    const describe = (c: PeakCell): string => `${fmt(c.rate)} msgs/s, ${fmt(c.cpuUsPerMsg)} µs/msg`;
    const results = await alternate('peak', starters('serve', 'serve-b', 'aedes'), peakCell, describe);
    out.push(`\npeak: ${PEAK_PUBLISHERS} publishers × ${PEAK_MESSAGES.toLocaleString('en-US')} QoS 1, ${PEAK_IN_FLIGHT} in flight each:\n\n${peakTable(results)}`);
  }
  if (PARTS.includes('startup')) out.push(`\nstart-up:\n\n${table(await startupRows())}`);
  process.stdout.write(out.join(''));
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    process.stderr.write(`bench:footprint failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exit(1);
  },
);
