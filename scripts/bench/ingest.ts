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
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import mqttPacket from 'mqtt-packet';
import { CLI, findMosquitto, peakRssBytes, sleep, startBareAedes, startMosquitto, startServe, type Broker, type Login, type Starter } from './brokers.js';
import { Conn, peakQoS1, publishTemplate, quantile, steadyQoS1, type Target } from './mqtt-load.js';

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 2);
const MESSAGES = Number(process.env.BENCH_MESSAGES ?? 50_000);
const PUBLISHERS = 4;
const IN_FLIGHT = 100;
const IDLE_CLIENTS = 1000;
const IDLE_SECONDS = 10;
const QUIET_TIMEOUT_MS = 3_000;

// ---- brokers -----------------------------------------------------------------------------------

/** RAM-backed, so fsync costs nothing there: `serve-tmpfs` shows what serve costs apart from the disk. */
const TMPFS = '/dev/shm';

async function startServeOnTmpfs(): Promise<Broker | null> {
  return fs.existsSync(TMPFS) ? startServe('serve-tmpfs', { root: TMPFS }) : null;
}

/** serve with authentication and the ACL on: its clients log in as `bench`, the last user of the file. */
async function startServeWithAuth(): Promise<Broker> {
  const auth = authFiles();
  const config = path.join(auth.dir, 'serve.yaml');
  fs.writeFileSync(config, `mqtt: { auth: { passwordFile: ${auth.passwd}, aclFile: ${auth.acl} } }\n`);
  return { ...(await startServe('serve-auth', { config })), login: BENCH_LOGIN };
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

function startMosquittoWithAuth(): Promise<Broker | null> {
  const files = authFiles();
  return startMosquitto({ name: 'mosquitto-auth', auth: { passwordFile: files.passwd, aclFile: files.acl, login: BENCH_LOGIN } });
}

// ---- the load generator ------------------------------------------------------------------------

async function caseQoS1(target: Target): Promise<string> {
  const seconds = await peakQoS1(target, PUBLISHERS, MESSAGES, IN_FLIGHT);
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
  sub.onData = (d) => { bytes += d.length; last = performance.now(); };
  const pubs = await Promise.all(Array.from({ length: PUBLISHERS }, (_, i) => Conn.open(target, `bench-pub-${i}`)));
  const total = PUBLISHERS * MESSAGES;
  const t0 = performance.now();
  await Promise.all(pubs.map((c, i) => publishQoS0(c, `bench/p${i}`, MESSAGES)));
  while (bytes / deliveredBytes < total && performance.now() - last < QUIET_TIMEOUT_MS) await sleep(20);
  const delivered = Math.floor(bytes / deliveredBytes);
  [...pubs, sub].forEach((c) => c.close());
  return `${rate(delivered / ((last - t0) / 1000))} (${Math.round((100 * delivered) / total)}% delivered)`;
}

/** Each client publishes QoS 1 once a second, the clients spread evenly over the second. */
async function caseManyClients(target: Target): Promise<string> {
  let t0 = 0;
  const load = { clients: IDLE_CLIENTS, ratePerClient: 1, seconds: IDLE_SECONDS, drainMs: 500, topic: (i: number) => `bench/idle/${i}` };
  const result = await steadyQoS1(target, load, { measuring: () => (t0 = performance.now()), measured: () => undefined });
  const seconds = (performance.now() - t0) / 1000;
  return `${rate(result.acked / seconds)} (ack p99 ${quantile(result.latenciesMs, 0.99).toFixed(1)} ms)`;
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
  ['serve', () => startServe()],
  ['serve-tmpfs', startServeOnTmpfs],
  ['serve-auth', startServeWithAuth],
  ['aedes', startBareAedes],
  ['mosquitto', () => startMosquitto()],
  ['mosquitto-auth', startMosquittoWithAuth],
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
    if (broker.commitSummary) process.stdout.write(`    ${broker.name}: ${await broker.commitSummary()}\n`);
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

main().then(
  () => process.exit(0),
  (err: unknown) => {
    process.stderr.write(`bench:ingest failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exit(1);
  },
);
