/**
 * `npm run bench:bridge` — MQTT-SN through firmware-bridge inside `serve` (deployed V8 flags, data dir
 * on the disk) against the same load sent as MQTT directly to the same serve, in the same run.
 *
 * Load generator: this process. MQTT-SN devices are UDP sockets speaking the bridge's own codec (the
 * tests check it against scapy's); MQTT publishers are raw mqtt-packet clients. Cases:
 *   qos1      4 publishers × BENCH_MESSAGES (default 20,000) × 100 B, 16 in flight each (the bridge's
 *             default publishesInFlightMax), PUBACK-clocked; msgs/s via the bridge and direct
 *   qos0      4 devices × BENCH_MESSAGES QoS 0, 100 B, paced so the kernel keeps the datagrams; msgs/s
 *             that reached the log (sum of tributary_log_end_offset)
 *   latency   one publisher each way, 2,000 sequential QoS 1 publishes each, in alternating blocks of
 *             100: p50/p99 ack latency; the difference is the latency the bridge adds
 *   1k        1,000 devices connected (one MQTT connection each inside serve): serve's RSS, against
 *             serve's RSS before
 * Goals printed with the ratios: QoS 1 via the bridge ≥ 0.5 × direct; p99 added < 5 ms.
 */
import { spawn } from 'node:child_process';
import dgram from 'node:dgram';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import mqttPacket from 'mqtt-packet';
import { decode, encode, type Message } from '../../firmware-bridge/src/codec.js';
import { deployedNodeFlags } from './serve-flags.js';

const CLI = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../src/cli/entry.cjs');
const MESSAGES = Number(process.env.BENCH_MESSAGES ?? 20_000);
const PUBLISHERS = 4;
const WINDOW = 16;
const PAYLOAD = Buffer.alloc(100, 0x78);
const LATENCY_SAMPLES = 2_000;
const DEVICES = 1_000;

interface Serve { pid: number; mqttPort: number; udpPort: number; httpPort: number; stop(): Promise<void> }

async function startServe(): Promise<Serve> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tributary-bench-bridge-'));
  const config = path.join(dir, 'config.yaml');
  fs.writeFileSync(config, 'firmwareBridge:\n  mqttsn:\n    udp: [{ host: 127.0.0.1, port: 0 }]\n    devicesMax: 2000\n');
  const child = spawn(process.execPath, [...deployedNodeFlags(), CLI, 'serve', '--config', config, '--data-dir', path.join(dir, 'data'), '--mqtt-port', '0', '--http-port', '0'], { stdio: ['ignore', 'pipe', 'inherit'] });
  const ready = await new Promise<{ mqtt: Array<{ port: number }>; http: number; bridge: Array<{ port: number }> }>((resolve, reject) => {
    let buf = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => {
      buf += d;
      const line = buf.split('\n').find((l) => l.includes('"msg":"listening"'));
      if (line !== undefined) resolve(JSON.parse(line));
    });
    child.once('exit', (code) => reject(new Error(`serve exited with ${code}`)));
  });
  return {
    pid: child.pid as number, mqttPort: ready.mqtt[0]?.port ?? 0, udpPort: ready.bridge[0]?.port ?? 0, httpPort: ready.http,
    stop: () => new Promise((resolve) => { child.once('exit', () => resolve()); child.kill('SIGTERM'); }),
  };
}

/** One MQTT-SN device on its own UDP socket. */
class Device {
  private readonly socket = dgram.createSocket('udp4');
  private waiter: ((m: Message) => void) | null = null;
  onPuback: (msgId: number) => void = () => undefined;
  constructor(private readonly port: number) {
    this.socket.on('message', (d) => {
      const m = decode(d);
      if (m.type === 'PUBACK') this.onPuback(m.msgId);
      else this.waiter?.(m);
    });
  }
  send(m: Message): void {
    this.socket.send(encode(m), this.port, '127.0.0.1');
  }
  next(): Promise<Message> {
    return new Promise((resolve) => (this.waiter = resolve));
  }
  async connect(clientId: string): Promise<number> {
    const acked = this.next();
    this.send({ type: 'CONNECT', will: false, cleanSession: true, duration: 600, clientId });
    await acked;
    const reg = this.next();
    this.send({ type: 'REGISTER', topicId: 0, msgId: 1, topicName: `bench/${clientId}` });
    return ((await reg) as { topicId: number }).topicId;
  }
  publish(topicId: number, msgId: number, qos: 0 | 1): void {
    this.send({ type: 'PUBLISH', dup: false, qos, retain: false, topic: { kind: 'normal', id: topicId }, msgId, data: PAYLOAD });
  }
  close(): void {
    this.socket.close();
  }
}

/** One raw MQTT publisher. */
async function mqttClient(port: number, id: string): Promise<{ publish(msgId: number): void; onPuback: (id: number) => void; close(): void }> {
  const socket = net.connect(port, '127.0.0.1');
  socket.setNoDelay(true);
  const parser = mqttPacket.parser({ protocolVersion: 4 });
  const client = { onPuback: (_id: number) => undefined as void, publish: (messageId: number) => void socket.write(mqttPacket.generate({ cmd: 'publish', topic: `bench/${id}`, payload: PAYLOAD, qos: 1, messageId, retain: false, dup: false })), close: () => socket.destroy() };
  await new Promise<void>((resolve) => {
    parser.on('packet', (p) => (p.cmd === 'connack' ? resolve() : p.cmd === 'puback' ? client.onPuback(p.messageId as number) : undefined));
    socket.on('data', (d) => parser.parse(d));
    socket.write(mqttPacket.generate({ cmd: 'connect', protocolId: 'MQTT', protocolVersion: 4, clientId: id, clean: true, keepalive: 600 }));
  });
  return client;
}

/** Runs `count` PUBACK-clocked publishes with WINDOW in flight; resolves with the elapsed ms. */
function windowed(count: number, publish: (msgId: number) => void, setOnAck: (f: (id: number) => void) => void): Promise<void> {
  return new Promise((resolve) => {
    let sent = 0;
    let acked = 0;
    const next = (): void => void publish((sent++ % 60000) + 1);
    setOnAck(() => {
      if (++acked === count) resolve();
      else if (sent < count) next();
    });
    for (let i = 0; i < WINDOW && sent < count; i++) next();
  });
}

async function qos1(serve: Serve): Promise<{ bridge: number; direct: number }> {
  const devices = await Promise.all(Array.from({ length: PUBLISHERS }, async (_, i) => { const d = new Device(serve.udpPort); return { d, tid: await d.connect(`q1-${i}`) }; }));
  let t0 = performance.now();
  await Promise.all(devices.map(({ d, tid }) => windowed(MESSAGES, (id) => d.publish(tid, id, 1), (f) => (d.onPuback = f))));
  const bridge = (PUBLISHERS * MESSAGES) / ((performance.now() - t0) / 1000);
  devices.forEach(({ d }) => d.close());
  const clients = await Promise.all(Array.from({ length: PUBLISHERS }, (_, i) => mqttClient(serve.mqttPort, `direct-${i}`)));
  t0 = performance.now();
  await Promise.all(clients.map((c) => windowed(MESSAGES, (id) => c.publish(id), (f) => (c.onPuback = f))));
  const direct = (PUBLISHERS * MESSAGES) / ((performance.now() - t0) / 1000);
  clients.forEach((c) => c.close());
  return { bridge, direct };
}

async function logRecords(serve: Serve): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${serve.httpPort}/metrics`)).text();
  return text.split('\n').filter((l) => l.startsWith('tributary_log_end_offset{')).reduce((n, l) => n + Number(l.split(' ')[1]), 0);
}

async function qos0(serve: Serve): Promise<{ rate: number; delivered: number }> {
  const devices = await Promise.all(Array.from({ length: PUBLISHERS }, async (_, i) => { const d = new Device(serve.udpPort); return { d, tid: await d.connect(`q0-${i}`) }; }));
  const before = await logRecords(serve);
  const t0 = performance.now();
  // 10 datagrams per device per millisecond tick: more than that overflows the socket's receive buffer.
  for (let i = 0; i < MESSAGES; i += 10) {
    for (const { d, tid } of devices) for (let j = 0; j < 10; j++) d.publish(tid, 0, 0);
    await new Promise((r) => setTimeout(r, 1));
  }
  let last = -1;
  let now = await logRecords(serve);
  while (now !== last) {
    last = now;
    await new Promise((r) => setTimeout(r, 200));
    now = await logRecords(serve);
  }
  devices.forEach(({ d }) => d.close());
  return { rate: (now - before) / ((performance.now() - t0 - 200) / 1000), delivered: (now - before) / (PUBLISHERS * MESSAGES) };
}

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))] as number;
}

const LATENCY_BLOCK = 100;

/**
 * Sequential QoS 1 publishes, the bridge's and direct MQTT's in alternating blocks of LATENCY_BLOCK
 * (order swapped each block), so a slow moment of the disk or a GC falls on both alike.
 */
async function latency(serve: Serve): Promise<{ bridge: [number, number]; direct: [number, number] }> {
  const d = new Device(serve.udpPort);
  const tid = await d.connect('lat');
  const c = await mqttClient(serve.mqttPort, 'lat-direct');
  const times = { bridge: [] as number[], direct: [] as number[] };
  const one = (publish: () => void, setOnAck: (f: () => void) => void): Promise<number> => {
    const t0 = performance.now();
    return new Promise((resolve) => {
      setOnAck(() => resolve(performance.now() - t0));
      publish();
    });
  };
  let id = 0;
  for (let block = 0; block < LATENCY_SAMPLES / LATENCY_BLOCK; block++) {
    const order: Array<'bridge' | 'direct'> = block % 2 === 0 ? ['bridge', 'direct'] : ['direct', 'bridge'];
    for (const way of order) {
      for (let i = 0; i < LATENCY_BLOCK; i++) {
        id = (id % 65535) + 1;
        const messageId = id;
        times[way].push(way === 'bridge' ? await one(() => d.publish(tid, messageId, 1), (f) => (d.onPuback = f)) : await one(() => c.publish(messageId), (f) => (c.onPuback = f)));
      }
    }
  }
  d.close();
  c.close();
  const p = (t: number[]): [number, number] => {
    t.sort((a, b) => a - b);
    return [percentile(t, 0.5), percentile(t, 0.99)];
  };
  return { bridge: p(times.bridge), direct: p(times.direct) };
}

function rssMiB(pid: number): number {
  const kb = Number(/^VmRSS:\s+(\d+) kB/m.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1]);
  return kb / 1024;
}

async function thousandDevices(serve: Serve): Promise<{ before: number; after: number }> {
  const before = rssMiB(serve.pid);
  const devices: Device[] = [];
  for (let i = 0; i < DEVICES; i += 50) {
    await Promise.all(Array.from({ length: 50 }, async (_, j) => { const d = new Device(serve.udpPort); devices.push(d); await d.connect(`idle-${i + j}`); }));
  }
  await new Promise((r) => setTimeout(r, 1000));
  const after = rssMiB(serve.pid);
  devices.forEach((d) => d.close());
  return { before, after };
}

async function main(): Promise<void> {
  const serve = await startServe();
  try {
    const q1 = await qos1(serve);
    const q0 = await qos0(serve);
    const lat = await latency(serve);
    const rss = await thousandDevices(serve);
    const f = (n: number): string => Math.round(n).toLocaleString('en-US');
    const ms = (n: number): string => n.toFixed(2);
    const rows = [
      '| case | via the bridge (MQTT-SN/UDP) | direct MQTT | ratio / added | goal |',
      '|---|---:|---:|---:|---|',
      `| QoS 1, ${PUBLISHERS} × ${f(MESSAGES)} × 100 B, ${WINDOW} in flight (msgs/s) | ${f(q1.bridge)} | ${f(q1.direct)} | ${(q1.bridge / q1.direct).toFixed(2)} | ≥ 0.5 |`,
      `| QoS 0, ${PUBLISHERS} × ${f(MESSAGES)} × 100 B into the log (msgs/s; share that arrived) | ${f(q0.rate)} (${(q0.delivered * 100).toFixed(1)} %) | | | |`,
      `| QoS 1 ack latency p50 (ms) | ${ms(lat.bridge[0])} | ${ms(lat.direct[0])} | +${ms(lat.bridge[0] - lat.direct[0])} | |`,
      `| QoS 1 ack latency p99 (ms) | ${ms(lat.bridge[1])} | ${ms(lat.direct[1])} | +${ms(lat.bridge[1] - lat.direct[1])} | < 5 ms added |`,
      `| serve RSS with ${f(DEVICES)} devices connected (MiB; before) | ${rss.after.toFixed(1)} | ${rss.before.toFixed(1)} | +${(rss.after - rss.before).toFixed(1)} | |`,
    ];
    process.stdout.write(`${rows.join('\n')}\n`);
  } finally {
    await serve.stop();
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(1);
});
