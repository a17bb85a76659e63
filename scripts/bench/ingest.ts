/**
 * `npm run bench:ingest` — MQTT ingest throughput of `tributary serve` (every message durable in LMDB
 * before its ack) against a bare in-memory aedes and Mosquitto (if installed), in the same run.
 *
 * One load generator, this process, speaks raw MQTT 3.1.1 over TCP (packets from mqtt-packet, built
 * once and patched per message so the generator stays cheap). Every (case, broker) pair gets a fresh
 * broker process, so its peak RSS (VmHWM from /proc/PID/status) belongs to that case alone; the order
 * of the brokers alternates between rounds, and the best round is reported.
 *
 * Brokers: serve (data dir on the disk, as deployed), serve-tmpfs (the same on /dev/shm, where fsync
 * is free: the difference between the two is what durability on this disk costs), serve-auth (serve
 * with a password file, every client logging in, and a 100-rule ACL checked on every publish), bare
 * aedes, Mosquitto.
 *
 * Cases:
 *   qos1      4 publishers x 50,000 QoS 1 messages of 100 bytes, 100 in flight each (PUBACK-clocked)
 *   qos0-sub  4 publishers x 50,000 QoS 0 messages of 100 bytes, one subscriber; rate = delivered/s
 *   1k-idle   1,000 connected clients, each publishing QoS 1 once a second for 10 s; p99 ack latency
 *   connects  CONNECT/CONNACK/close per second with a password file (8 loops for 5 s): serve-auth
 *             against Mosquitto given the same file, made by mosquitto_passwd
 *
 * Environment: BENCH_ROUNDS (default 2), BENCH_MESSAGES (per publisher, default 50000); for profiling,
 * BENCH_BROKERS and BENCH_CASES (comma-separated names or case prefixes: `serve`, `qos1`) narrow the
 * run, BENCH_SERVE_FLAGS adds node flags to serve (`--cpu-prof --cpu-prof-dir=/tmp/prof`) and
 * BENCH_SERVE_CONFIG gives it a config file (to try durability or mqtt settings).
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import net, { type AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import mqttPacket from 'mqtt-packet';
import { deployedNodeFlags } from './serve-flags.js';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const CLI = path.resolve(HERE, '../../src/cli/main.js');
/** The V8 flags of scripts/systemd/tributary.service: serve is measured as deployed. */
const SERVE_NODE_FLAGS = [...deployedNodeFlags(), ...(process.env.BENCH_SERVE_FLAGS ?? '').split(' ').filter(Boolean)];
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 2);
const MESSAGES = Number(process.env.BENCH_MESSAGES ?? 50_000);
const PUBLISHERS = 4;
const IN_FLIGHT = 100;
const PAYLOAD = Buffer.alloc(100, 0x78);
const IDLE_CLIENTS = 1000;
const IDLE_SECONDS = 10;
const QUIET_TIMEOUT_MS = 3_000;

interface Broker {
  name: string;
  pid: number;
  port: number;
  /** What its clients log in with; none: anonymous. */
  login?: Login;
  stop(): Promise<void>;
}

interface Login {
  username: string;
  password: Buffer;
}

type Starter = () => Promise<Broker | null>;

// ---- brokers -----------------------------------------------------------------------------------

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

function stopper(child: ChildProcess): () => Promise<void> {
  return () =>
    new Promise((resolve) => {
      if (child.exitCode !== null) return resolve();
      child.once('exit', () => resolve());
      child.kill('SIGTERM');
    });
}

/** RAM-backed, so fsync costs nothing there: `serve-tmpfs` shows what serve costs apart from the disk. */
const TMPFS = '/dev/shm';

async function startServe(): Promise<Broker> {
  return startServeIn(os.tmpdir(), 'serve');
}

async function startServeOnTmpfs(): Promise<Broker | null> {
  return fs.existsSync(TMPFS) ? startServeIn(TMPFS, 'serve-tmpfs') : null;
}

/** serve with authentication and the ACL on: its clients log in as `bench`, the last user of the file. */
async function startServeWithAuth(): Promise<Broker> {
  const auth = authFiles();
  const config = path.join(auth.dir, 'serve.yaml');
  fs.writeFileSync(config, `mqtt: { auth: { passwordFile: ${auth.passwd}, aclFile: ${auth.acl} } }\n`);
  return { ...(await startServeIn(os.tmpdir(), 'serve-auth', config)), login: BENCH_LOGIN };
}

const BENCH_LOGIN: Login = { username: 'bench', password: Buffer.from('bench-password') };
const ACL_RULES = 100;
let auth: { dir: string; passwd: string; acl: string } | null = null;

/**
 * A password file of 50 users made by mosquitto_passwd (tributary passwd without Mosquitto), and an ACL
 * of ACL_RULES rules: the other users' sections, then bench's, whose matching rule is its last, so a
 * publish is checked against every rule of its section and the patterns.
 */
function authFiles(): { dir: string; passwd: string; acl: string } {
  if (auth !== null) return auth;
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bench-auth-'));
  const passwd = path.join(dir, 'passwd');
  const users = [...Array.from({ length: 49 }, (_, i) => [`device-${i}`, `secret-${i}`]), [BENCH_LOGIN.username, BENCH_LOGIN.password.toString()]];
  const mosquittoPasswd = ['/usr/bin/mosquitto_passwd', '/usr/local/bin/mosquitto_passwd'].find((bin) => fs.existsSync(bin));
  for (const [i, [user, password]] of users.entries()) {
    const args = [...(i === 0 ? ['-c'] : []), '-b', passwd, user as string, password as string];
    if (mosquittoPasswd !== undefined) execFileSync(mosquittoPasswd, args);
    else execFileSync(process.execPath, [CLI, 'passwd', ...args]);
  }
  const lines: string[] = ['topic read public/#', 'pattern write devices/%c/up', 'pattern read devices/%c/down/#', 'pattern readwrite users/%u/#'];
  for (let i = 0; i < 25; i++) lines.push(`user device-${i}`, `topic write sensors/device-${i}/#`, `topic read commands/device-${i}/+`, `topic deny sensors/device-${i}/secret`);
  lines.push('user bench');
  for (let i = 0; i < 20; i++) lines.push(`topic read plant/line-${i}/+/status`);
  lines.push('topic readwrite bench/#');
  const rules = lines.filter((l) => !l.startsWith('user '));
  if (rules.length !== ACL_RULES) throw new Error(`the bench ACL has ${rules.length} rules, not ${ACL_RULES}`);
  const acl = path.join(dir, 'acl');
  fs.writeFileSync(acl, `${lines.join('\n')}\n`);
  return (auth = { dir, passwd, acl });
}

async function startServeIn(root: string, name: string, config = process.env.BENCH_SERVE_CONFIG): Promise<Broker> {
  const dataDir = fs.mkdtempSync(path.join(root, 'bench-ingest-'));
  const child = spawn(process.execPath, [...SERVE_NODE_FLAGS, CLI, 'serve', ...(config ? ['--config', config] : []), '--data-dir', dataDir, '--mqtt-port', '0', '--http-port', '0'], { stdio: ['ignore', 'pipe', 'inherit'] });
  const ready = JSON.parse(await waitForLine(child, /"msg":"listening"/)) as { mqtt: Array<{ port: number }>; http: number };
  const stop = stopper(child);
  return {
    name,
    pid: child.pid as number,
    port: (ready.mqtt[0] as { port: number }).port,
    stop: async () => {
      process.stdout.write(`    ${name}: ${await commitSummary(ready.http)}\n`);
      await stop();
      fs.rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

/** Records per group commit and commit time, from serve's own histograms: where durable ingest waits. */
async function commitSummary(httpPort: number): Promise<string> {
  try {
    const text = await (await fetch(`http://127.0.0.1:${httpPort}/metrics`)).text();
    const value = (name: string): number => Number(new RegExp(`^${name} (\\S+)$`, 'm').exec(text)?.[1] ?? NaN);
    const commits = value('tributary_commit_records_count');
    const records = value('tributary_commit_records_sum');
    const seconds = value('tributary_commit_duration_seconds_sum');
    return `${commits} commits, ${(records / commits).toFixed(1)} records and ${((seconds / commits) * 1000).toFixed(2)} ms each`;
  } catch (err) {
    return `no commit metrics (${(err as Error).message})`;
  }
}

async function startBareAedes(): Promise<Broker> {
  const child = spawn(process.execPath, [fileURLToPath(import.meta.url), '--bare-aedes'], { stdio: ['ignore', 'pipe', 'inherit'] });
  const port = Number((await waitForLine(child, /^port \d+/)).split(' ')[1]);
  return { name: 'aedes', pid: child.pid as number, port, stop: stopper(child) };
}

/** The child side of `startBareAedes`: aedes with its default in-memory persistence, nothing else. */
async function runBareAedes(): Promise<void> {
  const { Aedes } = await import('aedes');
  const aedes = await Aedes.createBroker();
  const server = net.createServer({ noDelay: true }, (socket) => aedes.handle(socket));
  server.listen(0, '127.0.0.1', () => process.stdout.write(`port ${(server.address() as AddressInfo).port}\n`));
  process.once('SIGTERM', () => process.exit(0));
}

function findMosquitto(): string | null {
  for (const bin of ['/usr/sbin/mosquitto', '/usr/bin/mosquitto', '/usr/local/sbin/mosquitto']) if (fs.existsSync(bin)) return bin;
  return null;
}

async function startMosquitto(withAuth = false): Promise<Broker | null> {
  const bin = findMosquitto();
  if (bin === null) return null;
  const port = await freePort();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bench-mosquitto-'));
  const conf = path.join(dir, 'mosquitto.conf');
  // In memory only (its default); queues large enough that QoS 0 fan-out is not dropped by a limit.
  const access = withAuth ? `allow_anonymous false\npassword_file ${authFiles().passwd}\nacl_file ${authFiles().acl}\n` : 'allow_anonymous true\n';
  // Mosquitto refuses to run as root unless told which user to be (it drops privileges otherwise).
  const user = process.getuid?.() === 0 ? 'user root\n' : '';
  fs.writeFileSync(conf, `listener ${port} 127.0.0.1\n${access}${user}persistence false\nmax_queued_messages 1000000\nmax_inflight_messages 0\nmax_connections -1\n`);
  const child = spawn(bin, ['-c', conf], { stdio: ['ignore', 'ignore', 'ignore'] });
  await waitForPort(port);
  const stop = stopper(child);
  const name = withAuth ? 'mosquitto-auth' : 'mosquitto';
  return { name, pid: child.pid as number, port, ...(withAuth ? { login: BENCH_LOGIN } : {}), stop: async () => { await stop(); fs.rmSync(dir, { recursive: true, force: true }); } };
}

function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = net.createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address() as AddressInfo;
      s.close(() => resolve(port));
    });
  });
}

async function waitForPort(port: number): Promise<void> {
  for (let i = 0; i < 100; i++) {
    const ok = await new Promise<boolean>((resolve) => {
      const s = net.connect(port, '127.0.0.1', () => { s.destroy(); resolve(true); });
      s.on('error', () => resolve(false));
    });
    if (ok) return;
    await sleep(50);
  }
  throw new Error(`nothing listens on ${port}`);
}

function peakRssBytes(pid: number): number {
  const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = /VmHWM:\s+(\d+) kB/.exec(status);
  return kb ? Number(kb[1]) * 1024 : 0;
}

// ---- the load generator ------------------------------------------------------------------------

/** One raw MQTT connection. `onPacket` sees every packet the broker sends. */
class Conn {
  onPacket: (p: mqttPacket.Packet) => void = () => undefined;
  onBytes: ((n: number) => void) | null = null;
  private readonly parser = mqttPacket.parser({ protocolVersion: 4 });

  private constructor(readonly socket: net.Socket) {
    this.parser.on('packet', (p: mqttPacket.Packet) => this.onPacket(p));
    socket.on('data', (d: Buffer) => (this.onBytes ? this.onBytes(d.length) : this.parser.parse(d)));
    socket.on('error', () => undefined);
  }

  static async open(target: Target, clientId: string): Promise<Conn> {
    const socket = net.connect({ port: target.port, host: '127.0.0.1', noDelay: true });
    await new Promise<void>((resolve, reject) => socket.once('connect', resolve).once('error', reject));
    const conn = new Conn(socket);
    const connack = new Promise<void>((resolve, reject) => {
      conn.onPacket = (p) => {
        if (p.cmd !== 'connack') return;
        if (p.returnCode === 0) resolve();
        else reject(new Error(`${clientId}: CONNACK ${p.returnCode}`));
      };
    });
    socket.write(mqttPacket.generate({ cmd: 'connect', protocolId: 'MQTT', protocolVersion: 4, clean: true, clientId, keepalive: 0, ...target.login }));
    await connack;
    return conn;
  }

  close(): void {
    this.socket.destroy();
  }
}

/** Where a case sends its load: a broker's port, and the login its clients use. */
type Target = Pick<Broker, 'port' | 'login'>;

/** A PUBLISH built once; `withId` copies it with another packet identifier. */
function publishTemplate(topic: string, qos: 0 | 1): { bytes: Buffer; withId(id: number): Buffer } {
  const bytes = mqttPacket.generate({ cmd: 'publish', topic, payload: PAYLOAD, qos, messageId: qos > 0 ? 1 : undefined, retain: false, dup: false });
  const idAt = bytes.length - PAYLOAD.length - 2;
  return {
    bytes,
    withId: (id) => {
      const b = Buffer.from(bytes);
      b.writeUInt16BE(id, idAt);
      return b;
    },
  };
}

function publishQoS1(conn: Conn, topic: string, total: number): Promise<void> {
  const template = publishTemplate(topic, 1);
  let sent = 0;
  let acked = 0;
  return new Promise((resolve) => {
    const send = (): void => void conn.socket.write(template.withId((sent++ % 65535) + 1));
    conn.onPacket = (p) => {
      if (p.cmd !== 'puback') return;
      if (++acked === total) resolve();
      else if (sent < total) send();
    };
    while (sent < Math.min(IN_FLIGHT, total)) send();
  });
}

async function caseQoS1(target: Target): Promise<string> {
  const pubs = await Promise.all(Array.from({ length: PUBLISHERS }, (_, i) => Conn.open(target, `bench-pub-${i}`)));
  const t0 = performance.now();
  await Promise.all(pubs.map((c, i) => publishQoS1(c, `bench/p${i}`, MESSAGES)));
  const seconds = (performance.now() - t0) / 1000;
  pubs.forEach((c) => c.close());
  return rate((PUBLISHERS * MESSAGES) / seconds);
}

async function publishQoS0(conn: Conn, topic: string, total: number): Promise<void> {
  const { bytes } = publishTemplate(topic, 0);
  for (let i = 0; i < total; i++) {
    if (!conn.socket.write(bytes)) await new Promise((resolve) => conn.socket.once('drain', resolve));
  }
}

async function caseQoS0(target: Target): Promise<string> {
  const sub = await Conn.open(target, 'bench-sub');
  const suback = new Promise<void>((resolve) => (sub.onPacket = (p) => p.cmd === 'suback' && resolve()));
  sub.socket.write(mqttPacket.generate({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: 'bench/#', qos: 0 }] }));
  await suback;
  // Every delivered PUBLISH has the same size, so counting bytes counts messages without parsing.
  const deliveredBytes = publishTemplate('bench/p0', 0).bytes.length;
  let bytes = 0;
  let last = performance.now();
  sub.onBytes = (n) => { bytes += n; last = performance.now(); };
  const pubs = await Promise.all(Array.from({ length: PUBLISHERS }, (_, i) => Conn.open(target, `bench-pub-${i}`)));
  const total = PUBLISHERS * MESSAGES;
  const t0 = performance.now();
  await Promise.all(pubs.map((c, i) => publishQoS0(c, `bench/p${i}`, MESSAGES)));
  while (bytes / deliveredBytes < total && performance.now() - last < QUIET_TIMEOUT_MS) await sleep(20);
  const delivered = Math.floor(bytes / deliveredBytes);
  [...pubs, sub].forEach((c) => c.close());
  return `${rate(delivered / ((last - t0) / 1000))} (${Math.round((100 * delivered) / total)}% delivered)`;
}

async function caseManyClients(target: Target): Promise<string> {
  const conns: Conn[] = [];
  for (let i = 0; i < IDLE_CLIENTS; i += 50) {
    conns.push(...(await Promise.all(Array.from({ length: Math.min(50, IDLE_CLIENTS - i) }, (_, j) => Conn.open(target, `bench-idle-${i + j}`)))));
  }
  const latencies: number[] = [];
  const t0 = performance.now();
  const timers = conns.map((conn, i) => {
    const template = publishTemplate(`bench/idle/${i}`, 1);
    let id = 0;
    const sentAt = new Map<number, number>();
    conn.onPacket = (p) => {
      if (p.cmd !== 'puback' || p.messageId === undefined) return;
      latencies.push(performance.now() - (sentAt.get(p.messageId) ?? 0));
      sentAt.delete(p.messageId);
    };
    const tick = (): void => {
      id = (id % 65535) + 1;
      sentAt.set(id, performance.now());
      conn.socket.write(template.withId(id));
    };
    // Spread the clients evenly over each second.
    return setTimeout(() => { tick(); timers[i] = setInterval(tick, 1000); }, (1000 * i) / IDLE_CLIENTS);
  });
  await sleep(IDLE_SECONDS * 1000);
  timers.forEach((t) => clearInterval(t));
  await sleep(500);
  const seconds = (performance.now() - t0) / 1000;
  conns.forEach((c) => c.close());
  latencies.sort((a, b) => a - b);
  const p99 = latencies[Math.floor(latencies.length * 0.99)] ?? NaN;
  return `${rate(latencies.length / seconds)} (ack p99 ${p99.toFixed(1)} ms)`;
}

const CONNECT_LOOPS = 8;
const CONNECT_SECONDS = 5;

/** Logins per second: each loop connects, waits for CONNACK 0, closes, and starts again. */
async function caseConnects(target: Target): Promise<string> {
  let connects = 0;
  const until = performance.now() + CONNECT_SECONDS * 1000;
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: CONNECT_LOOPS }, async (_, loop) => {
      while (performance.now() < until) {
        const conn = await Conn.open(target, `bench-connect-${loop}`);
        conn.close();
        connects++;
      }
    }),
  );
  return rate(connects / ((performance.now() - t0) / 1000));
}

// ---- the run -----------------------------------------------------------------------------------

interface Result {
  text: string;
  rate: number;
  rssBytes: number;
}

const onlyThese = (list: string | undefined) => (name: string) => list === undefined || list.split(',').some((w) => name.startsWith(w));
type Case = (target: Target) => Promise<string>;
const ALL_STARTERS: Array<[string, Starter]> = ([
  ['serve', startServe],
  ['serve-tmpfs', startServeOnTmpfs],
  ['serve-auth', startServeWithAuth],
  ['aedes', startBareAedes],
  ['mosquitto', startMosquitto],
  ['mosquitto-auth', () => startMosquitto(true)],
] as Array<[string, Starter]>).filter(([name]) => onlyThese(process.env.BENCH_BROKERS)(name));
const starters = (...names: string[]) => ALL_STARTERS.filter(([name]) => names.includes(name));
const THROUGHPUT_BROKERS = starters('serve', 'serve-tmpfs', 'serve-auth', 'aedes', 'mosquitto');

/** Each case with the brokers it runs against. */
const CASES: Array<[string, Case, Array<[string, Starter]>]> = ([
  ['qos1 4x50k, 100 in flight', caseQoS1, THROUGHPUT_BROKERS],
  ['qos0 4x50k, 1 subscriber', caseQoS0, THROUGHPUT_BROKERS],
  ['1,000 clients, 1 msg/s each', caseManyClients, THROUGHPUT_BROKERS],
  ['connects/s, password file', caseConnects, starters('serve', 'serve-auth', 'mosquitto-auth')],
] as Array<[string, Case, Array<[string, Starter]>]>).filter(([name]) => onlyThese(process.env.BENCH_CASES)(name));

async function runOne(starter: Starter, run: Case): Promise<Result | null> {
  const broker = await starter();
  if (broker === null) return null;
  try {
    const text = await run(broker);
    return { text, rate: Number(text.split(' ')[0]), rssBytes: peakRssBytes(broker.pid) };
  } finally {
    await broker.stop();
  }
}

async function main(): Promise<void> {
  process.stdout.write(`bench:ingest — ${os.cpus().length} CPUs, ${os.cpus()[0]?.model ?? '?'}, Node ${process.version}, ${ROUNDS} rounds, best shown\n`);
  if (findMosquitto() === null) process.stdout.write('mosquitto: not installed (apt-get install mosquitto to compare)\n');
  const rows: string[][] = [['case', 'broker', 'per second', 'peak RSS', 'serve / this']];
  const notes: string[] = [];
  for (const [caseName, run, brokers] of CASES) {
    const best = new Map<string, Result>();
    for (let round = 0; round < ROUNDS; round++) {
      const order = round % 2 === 0 ? brokers : [...brokers].reverse();
      for (const [name, starter] of order) {
        const result = await runOne(starter, run);
        if (result === null) continue;
        process.stdout.write(`  round ${round + 1} ${caseName} ${name}: ${result.text}\n`);
        const prev = best.get(name);
        if (prev === undefined || result.rate > prev.rate) best.set(name, result);
      }
    }
    const serve = best.get('serve') ?? best.get('serve-auth');
    const withAuth = best.get('serve-auth');
    if (serve !== undefined && withAuth !== undefined && serve !== withAuth) {
      const goal = run === caseConnects ? '' : ' (goal: at least 0.9)';
      notes.push(`${caseName}: serve-auth / serve = ${(withAuth.rate / serve.rate).toFixed(2)}${goal}`);
    }
    for (const [name] of brokers) {
      const r = best.get(name);
      if (r === undefined) {
        rows.push([caseName, name, 'not available', '', '']);
        continue;
      }
      const ratio = serve === undefined || r === serve ? '' : `${(serve.rate / r.rate).toFixed(2)}x`;
      rows.push([caseName, name, r.text, `${(r.rssBytes / 1024 / 1024).toFixed(0)} MiB`, ratio]);
    }
  }
  process.stdout.write(`\n${table(rows)}${notes.map((n) => `${n}\n`).join('')}`);
  if (auth !== null) fs.rmSync(auth.dir, { recursive: true, force: true });
}

function table(rows: string[][]): string {
  const widths = (rows[0] ?? []).map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length)));
  const line = (r: string[]) => `| ${r.map((c, i) => c.padEnd(widths[i] ?? 0)).join(' | ')} |`;
  return [line(rows[0] ?? []), `|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`, ...rows.slice(1).map(line)].join('\n') + '\n';
}

function rate(perSecond: number): string {
  return String(Math.round(perSecond));
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

if (process.argv.includes('--bare-aedes')) {
  void runBareAedes();
} else {
  main().then(
    () => process.exit(0),
    (err: unknown) => {
      process.stderr.write(`bench:ingest failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
      process.exit(1);
    },
  );
}
