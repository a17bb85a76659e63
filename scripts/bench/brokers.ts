/**
 * The brokers the benchmarks run against, each as its own child process so that /proc shows its CPU
 * (all threads) and peak RSS alone: `serve` (durable, temp data dir, deployed V8 flags plus
 * BENCH_SERVE_FLAGS), a bare aedes with its in-memory persistence (scripts/bench/bare-aedes.ts), and
 * Mosquitto (Debian's, in memory). Shared by bench:ingest and bench:footprint.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import net, { type AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { deployedNodeFlags } from './serve-flags.js';

const HERE = path.dirname(fileURLToPath(import.meta.url));
/**
 * serve as deployed: the one-file build through its code cache (src/cli/entry.cts). BENCH_SERVE_ENTRY=modules
 * runs the compiled modules instead (dist/src/cli/main.js), for a profile whose functions name their source
 * files (profile-summary.ts groups by them).
 */
export const CLI_MODULES = path.resolve(HERE, '../../src/cli/main.js');
export const CLI = process.env.BENCH_SERVE_ENTRY === 'modules' ? CLI_MODULES : path.resolve(HERE, '../../src/cli/entry.cjs');
const BARE_AEDES = path.join(HERE, 'bare-aedes.js');
/** Node flags for the bare aedes, to profile the peer the same way: BENCH_AEDES_FLAGS. */
const AEDES_NODE_FLAGS = (process.env.BENCH_AEDES_FLAGS ?? '').split(' ').filter(Boolean);
/** serve as deployed (package.json's `start` flags), plus BENCH_SERVE_FLAGS, e.g. `--cpu-prof --cpu-prof-dir=/tmp/prof`. */
export const SERVE_NODE_FLAGS = [...deployedNodeFlags(), ...(process.env.BENCH_SERVE_FLAGS ?? '').split(' ').filter(Boolean)];
/** Polls for a listening port this often: start-up timing resolves to it. */
const PORT_POLL_MS = 5;
const PORT_WAIT_MS = 10_000;

export interface Login {
  username: string;
  password: Buffer;
}

export interface Broker {
  name: string;
  pid: number;
  port: number;
  /** What its clients log in with; none: anonymous. */
  login?: Login;
  /** serve only: its commit histograms in one line. */
  commitSummary?: () => Promise<string>;
  stop(): Promise<void>;
}

export type Starter = () => Promise<Broker | null>;

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

function waitForLine(child: ChildProcess, pattern: RegExp): Promise<string> {
  return new Promise((resolve, reject) => {
    let buffered = '';
    child.stdout?.setEncoding('utf8').on('data', (d: string) => {
      buffered += d;
      const line = buffered.split('\n').find((l) => pattern.test(l));
      if (line !== undefined) resolve(line);
    });
    child.once('exit', (code) => reject(new Error(`broker exited (${code}) before it was ready`)));
  });
}

export function stopper(child: ChildProcess): () => Promise<void> {
  return () =>
    new Promise((resolve) => {
      if (child.exitCode !== null || child.signalCode !== null) return resolve();
      child.once('exit', () => resolve());
      child.kill('SIGTERM');
    });
}

export interface ServeOptions {
  /** Where its temp data dir goes (os.tmpdir(), or /dev/shm for free fsync). */
  root?: string;
  /** An existing data dir to use and keep (a prepared backlog); default: a fresh one, removed on stop. */
  dataDir?: string;
  config?: string;
  /** A fixed MQTT port; default: whatever serve's listening line says. */
  mqttPort?: number;
  /** Another build's CLI entry (e.g. a worktree of an earlier commit), for an A/B run. */
  entry?: string;
}

export async function startServe(name = 'serve', options: ServeOptions = {}): Promise<Broker> {
  const { root = os.tmpdir(), config = process.env.BENCH_SERVE_CONFIG } = options;
  const dataDir = options.dataDir ?? fs.mkdtempSync(path.join(root, 'bench-serve-'));
  const child = spawnServe(dataDir, options.mqttPort ?? 0, config, options.entry);
  const ready = JSON.parse(await waitForLine(child, /"msg":"listening"/)) as { mqtt: Array<{ port: number }>; http: number };
  const stop = stopper(child);
  return {
    name,
    pid: child.pid as number,
    port: (ready.mqtt[0] as { port: number }).port,
    commitSummary: () => commitSummary(ready.http),
    stop: async () => {
      await stop();
      if (options.dataDir === undefined) fs.rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

/** `entry`: which CLI file runs serve (default: as deployed, or as BENCH_SERVE_ENTRY says). */
export function spawnServe(dataDir: string, mqttPort: number, config?: string, entry: string = CLI): ChildProcess {
  const args = [...SERVE_NODE_FLAGS, entry, 'serve', ...(config ? ['--config', config] : []), '--data-dir', dataDir, '--mqtt-port', String(mqttPort), '--http-port', '0'];
  return spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'inherit'] });
}

/** Records per group commit and commit time, from serve's own histograms: where durable ingest waits. */
async function commitSummary(httpPort: number): Promise<string> {
  try {
    const text = await (await fetch(`http://127.0.0.1:${httpPort}/metrics`)).text();
    const value = (name: string): number => Number(new RegExp(`^${name} (\\S+)$`, 'm').exec(text)?.[1] ?? NaN);
    const commits = value('tributary_commit_records_count');
    const records = value('tributary_commit_records_sum');
    const seconds = value('tributary_commit_duration_seconds_sum');
    // The tail: the commits that took longer than 5 and 10 ms (an ack waits for its whole commit).
    const over = (le: string): number => commits - Number(new RegExp(`^tributary_commit_duration_seconds_bucket\\{le="${le}"\\} (\\S+)$`, 'm').exec(text)?.[1] ?? NaN);
    return `${commits} commits, ${(records / commits).toFixed(1)} records and ${((seconds / commits) * 1000).toFixed(2)} ms each, ${over('0.005')} over 5 ms, ${over('0.01')} over 10 ms`;
  } catch (err) {
    return `no commit metrics (${(err as Error).message})`;
  }
}

export async function startBareAedes(): Promise<Broker> {
  const child = spawn(process.execPath, [...AEDES_NODE_FLAGS, BARE_AEDES], { stdio: ['ignore', 'pipe', 'inherit'] });
  const port = Number((await waitForLine(child, /^port \d+/)).split(' ')[1]);
  return { name: 'aedes', pid: child.pid as number, port, stop: stopper(child) };
}

export function findMosquitto(): string | null {
  for (const bin of ['/usr/sbin/mosquitto', '/usr/bin/mosquitto', '/usr/local/sbin/mosquitto']) if (fs.existsSync(bin)) return bin;
  return null;
}

export interface MosquittoOptions {
  name?: string;
  /** Files given to Mosquitto; without them it lets anyone in. */
  auth?: { passwordFile: string; aclFile: string; login: Login };
  port?: number;
}

/** Writes a config (in memory, no limits in the way of a benchmark) and spawns Mosquitto; null when it is not installed. */
export function spawnMosquitto(options: MosquittoOptions & { port: number }): { child: ChildProcess; cleanUp(): void } | null {
  const bin = findMosquitto();
  if (bin === null) return null;
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bench-mosquitto-'));
  const conf = path.join(dir, 'mosquitto.conf');
  // In memory only (its default); queues large enough that QoS 0 fan-out is not dropped by a limit.
  const access = options.auth ? `allow_anonymous false\npassword_file ${options.auth.passwordFile}\nacl_file ${options.auth.aclFile}\n` : 'allow_anonymous true\n';
  // Mosquitto refuses to run as root unless told which user to be (it drops privileges otherwise).
  const user = process.getuid?.() === 0 ? 'user root\n' : '';
  fs.writeFileSync(conf, `listener ${options.port} 127.0.0.1\n${access}${user}persistence false\nmax_queued_messages 1000000\nmax_inflight_messages 0\nmax_connections -1\n`);
  const child = spawn(bin, ['-c', conf], { stdio: ['ignore', 'ignore', 'ignore'] });
  return { child, cleanUp: () => fs.rmSync(dir, { recursive: true, force: true }) };
}

export async function startMosquitto(options: MosquittoOptions = {}): Promise<Broker | null> {
  const port = options.port ?? (await freePort());
  const spawned = spawnMosquitto({ ...options, port });
  if (spawned === null) return null;
  await waitForPort(port);
  const stop = stopper(spawned.child);
  const login = options.auth ? { login: options.auth.login } : {};
  return {
    name: options.name ?? 'mosquitto',
    pid: spawned.child.pid as number,
    port,
    ...login,
    stop: async () => {
      await stop();
      spawned.cleanUp();
    },
  };
}

export function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = net.createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address() as AddressInfo;
      s.close(() => resolve(port));
    });
  });
}

function accepts(port: number): Promise<boolean> {
  return new Promise<boolean>((resolve) => {
    const s = net.connect(port, '127.0.0.1', () => {
      s.destroy();
      resolve(true);
    });
    s.on('error', () => resolve(false));
  });
}

/** Resolves once `port` accepts a TCP connection, polling every PORT_POLL_MS. */
export async function waitForPort(port: number, timeoutMs = PORT_WAIT_MS): Promise<void> {
  const until = performance.now() + timeoutMs;
  while (!(await accepts(port))) {
    if (performance.now() > until) throw new Error(`nothing listens on ${port} after ${timeoutMs} ms`);
    await sleep(PORT_POLL_MS);
  }
}

// ---- what /proc says about a broker --------------------------------------------------------------

/** The `NAME:  N kB` fields of /proc/PID/status, in KiB (0 for a field the kernel does not print). */
function statusKiB(pid: number, ...names: string[]): number[] {
  const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
  return names.map((name) => Number(new RegExp(`^${name}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? 0));
}

/** Peak resident set (VmHWM) of a process, in bytes. */
export function peakRssBytes(pid: number): number {
  return (statusKiB(pid, 'VmHWM')[0] as number) * 1024;
}

/** What the resident set is made of now (RssAnon: heap and other private memory; RssFile: mapped files, the node binary and LMDB's map among them), in MiB. */
export function rssParts(pid: number): { anonMiB: number; fileMiB: number } {
  const [anon = 0, file = 0] = statusKiB(pid, 'RssAnon', 'RssFile');
  return { anonMiB: anon / 1024, fileMiB: file / 1024 };
}

/** The mappings holding most of a process's resident set, by what they map ("[anon]" for none), largest first. */
export function rssByMapping(pid: number, top = 6): Array<[string, number]> {
  const byName = new Map<string, number>();
  let name = '';
  for (const line of fs.readFileSync(`/proc/${pid}/smaps`, 'utf8').split('\n')) {
    const header = /^[0-9a-f]+-[0-9a-f]+ \S+ \S+ \S+ \d+\s*(.*)$/.exec(line);
    if (header) name = header[1] || '[anon]';
    const rss = /^Rss:\s+(\d+) kB/.exec(line);
    if (rss) byName.set(name, (byName.get(name) ?? 0) + Number(rss[1]) / 1024);
  }
  return [...byName].sort((a, b) => b[1] - a[1]).slice(0, top);
}

/** USER_HZ: /proc/PID/stat counts CPU time in these; 100 on every Linux this runs on. */
const CLOCK_TICKS_PER_SEC = 100;

/** CPU seconds (user + system, every thread) a process has used so far, from /proc/PID/stat. */
export function cpuSeconds(pid: number): number {
  return statCpuSeconds(`/proc/${pid}/stat`);
}

/** CPU seconds of the process's main thread alone (the event loop; the rest is the libuv pool, GC helpers...). */
export function mainThreadCpuSeconds(pid: number): number {
  return statCpuSeconds(`/proc/${pid}/task/${pid}/stat`);
}

function statCpuSeconds(file: string): number {
  const stat = fs.readFileSync(file, 'utf8');
  // The command name may hold spaces and parentheses; the fields after it start at the last ')'.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const utime = Number(fields[11]);
  const stime = Number(fields[12]);
  if (!Number.isFinite(utime) || !Number.isFinite(stime)) throw new Error(`unreadable ${file}`);
  return (utime + stime) / CLOCK_TICKS_PER_SEC;
}
