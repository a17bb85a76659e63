/**
 * The raw-MQTT 3.1.1 load generator the benchmarks share: connections over TCP with no client library
 * in the way, PUBLISH packets built once and patched per packet identifier, and two loads — the peak
 * (a few publishers, a fixed window of QoS 1 in flight, PUBACK-clocked) and the steady one (many
 * clients, each at a fixed rate, spread evenly over time, PUBACK latency per message).
 *
 * The generator must stay cheaper than what it measures: on the steady load it reads PUBACKs with a
 * four-byte scanner instead of mqtt-packet's parser, keeps send times in a typed array per client,
 * and reports its own CPU and how far it fell behind its schedule.
 */
import net from 'node:net';
import mqttPacket from 'mqtt-packet';
import type { Broker } from './brokers.js';

export const PAYLOAD = Buffer.alloc(100, 0x78);
const CONNECT_BATCH = 50;
const PACKET_IDS = 65535;

/** Where a load goes: a broker's port, and the login its clients use. */
export type Target = Pick<Broker, 'port' | 'login'>;

/** One raw MQTT connection. `onPacket` sees every packet the broker sends, unless `onData` takes the bytes first. */
export class Conn {
  onPacket: (p: mqttPacket.Packet) => void = () => undefined;
  onData: ((d: Buffer) => void) | null = null;
  private readonly parser = mqttPacket.parser({ protocolVersion: 4 });

  private constructor(readonly socket: net.Socket) {
    this.parser.on('packet', (p: mqttPacket.Packet) => this.onPacket(p));
    socket.on('data', (d: Buffer) => (this.onData ? this.onData(d) : this.parser.parse(d)));
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

  /** `count` connections, CONNECT_BATCH at a time (a thousand at once overflows the accept backlog). */
  static async openMany(target: Target, count: number, clientId: (i: number) => string): Promise<Conn[]> {
    const conns: Conn[] = [];
    for (let i = 0; i < count; i += CONNECT_BATCH) {
      const batch = Array.from({ length: Math.min(CONNECT_BATCH, count - i) }, (_, j) => Conn.open(target, clientId(i + j)));
      conns.push(...(await Promise.all(batch)));
    }
    return conns;
  }

  close(): void {
    this.socket.destroy();
  }
}

/** A PUBLISH built once; `withId` copies it with another packet identifier. */
export function publishTemplate(topic: string, qos: 0 | 1): { bytes: Buffer; withId(id: number): Buffer } {
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

/** Publishes `total` QoS 1 messages keeping `inFlight` unacknowledged; resolves at the last PUBACK. */
export function publishQoS1(conn: Conn, topic: string, total: number, inFlight: number): Promise<void> {
  const template = publishTemplate(topic, 1);
  let sent = 0;
  let acked = 0;
  return new Promise((resolve) => {
    const send = (): void => void conn.socket.write(template.withId((sent++ % PACKET_IDS) + 1));
    conn.onPacket = (p) => {
      if (p.cmd !== 'puback') return;
      if (++acked === total) resolve();
      else if (sent < total) send();
    };
    while (sent < Math.min(inFlight, total)) send();
  });
}

/** The peak case: `publishers` connections × `messages` QoS 1 each, `inFlight` in flight; returns seconds. */
export async function peakQoS1(target: Target, publishers: number, messages: number, inFlight: number): Promise<number> {
  const pubs = await Promise.all(Array.from({ length: publishers }, (_, i) => Conn.open(target, `bench-pub-${i}`)));
  const t0 = performance.now();
  await Promise.all(pubs.map((c, i) => publishQoS1(c, `bench/p${i}`, messages, inFlight)));
  const seconds = (performance.now() - t0) / 1000;
  pubs.forEach((c) => c.close());
  return seconds;
}

// ---- the steady load -----------------------------------------------------------------------------

const PUBACK = 0x40;
/** The scheduler's tick; each tick sends every message whose time has come. */
const TICK_MS = 1;
/** Behind schedule by more than this, the generator — not the broker — is what is measured. */
const BEHIND_WARN_MS = 20;
/**
 * Send times kept per client, by packet identifier modulo this: identifiers go up one by one, so
 * this many messages of one client can be in flight before a slot is reused (25 s at 10 msg/s).
 */
const SENT_AT_SLOTS = 256;

/**
 * Reads the PUBACKs of one connection from raw bytes: every packet the broker sends a publisher after
 * CONNACK is a PUBACK (4 bytes: 0x40 0x02 id id), and the scanner carries a packet split across reads.
 */
function pubackScanner(onPuback: (id: number) => void): (d: Buffer) => void {
  let carry: Buffer | null = null;
  return (data) => {
    const d = carry === null ? data : Buffer.concat([carry, data]);
    carry = null;
    let at = 0;
    while (at < d.length) {
      if (d.length - at < 2 || d.length - at < 2 + (d[at + 1] as number)) {
        carry = d.subarray(at);
        return;
      }
      const type = d[at] as number;
      const length = d[at + 1] as number;
      if (length >= 0x80) throw new Error(`the broker sent a ${type >> 4} packet longer than 127 bytes to a publisher`);
      if ((type & 0xf0) === PUBACK) onPuback(d.readUInt16BE(at + 2));
      at += 2 + length;
    }
  };
}

export interface SteadyResult {
  sent: number;
  acked: number;
  /** PUBACK latency of every acked message, ms, sorted. */
  latenciesMs: Float64Array;
  /** Wall seconds from the first publish to the last scheduled one. */
  seconds: number;
  /** The generator's own CPU over the load (this process, all threads), % of one core. */
  generatorCpuPercent: number;
  /** The furthest the generator fell behind its schedule, ms. */
  behindMaxMs: number;
}

export interface SteadyLoad {
  clients: number;
  ratePerClient: number;
  seconds: number;
  /** After the last publish, how long to wait for the outstanding PUBACKs. */
  drainMs: number;
  /** Client i's topic. */
  topic(i: number): string;
}

/**
 * Opens `clients` connections, then publishes QoS 1 from each at `ratePerClient` msg/s for `seconds`:
 * message k of the run is due at k / (clients × rate) seconds and goes from client k mod clients, so
 * the load is even in time and every client keeps its own rate. `measuring` runs once the clients are
 * connected and the load starts, `measured` when the last message is scheduled: the window of the CPU
 * figures. Resolves when every message was acked or `drainMs` passed.
 */
export async function steadyQoS1(target: Target, load: SteadyLoad, window: { measuring(): void; measured(): void }): Promise<SteadyResult> {
  const conns = await Conn.openMany(target, load.clients, (i) => `bench-steady-${i}`);
  const total = Math.round(load.clients * load.ratePerClient * load.seconds);
  const latencies = new Float64Array(total);
  let acked = 0;
  const sentAt = conns.map(() => new Float64Array(SENT_AT_SLOTS));
  const templates = conns.map((_, i) => publishTemplate(load.topic(i), 1));
  const nextId = new Uint16Array(load.clients);
  conns.forEach((conn, i) => {
    const times = sentAt[i] as Float64Array;
    conn.onData = pubackScanner((id) => {
      const at = times[id % SENT_AT_SLOTS] as number;
      if (at === 0) return;
      times[id % SENT_AT_SLOTS] = 0;
      latencies[acked++] = performance.now() - at;
    });
  });
  const intervalMs = 1000 / (load.clients * load.ratePerClient);
  let sent = 0;
  let behindMaxMs = 0;
  window.measuring();
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  await new Promise<void>((resolve) => {
    const tick = (): void => {
      const now = performance.now();
      const due = Math.min(total, Math.floor((now - t0) / intervalMs) + 1);
      if (due > sent) behindMaxMs = Math.max(behindMaxMs, now - t0 - sent * intervalMs);
      for (; sent < due; sent++) {
        const client = sent % load.clients;
        const id = ((nextId[client] as number) % PACKET_IDS) + 1;
        nextId[client] = id;
        (sentAt[client] as Float64Array)[id % SENT_AT_SLOTS] = performance.now();
        (conns[client] as Conn).socket.write((templates[client] as ReturnType<typeof publishTemplate>).withId(id));
      }
      if (sent < total) setTimeout(tick, TICK_MS);
      else resolve();
    };
    tick();
  });
  const seconds = (performance.now() - t0) / 1000;
  const cpu = process.cpuUsage(cpu0);
  window.measured();
  const drainUntil = performance.now() + load.drainMs;
  while (acked < sent && performance.now() < drainUntil) await new Promise((r) => setTimeout(r, 10));
  conns.forEach((c) => c.close());
  if (behindMaxMs > BEHIND_WARN_MS) process.stderr.write(`    warning: the load generator fell ${behindMaxMs.toFixed(0)} ms behind its schedule\n`);
  return {
    sent,
    acked,
    latenciesMs: latencies.subarray(0, acked).sort(),
    seconds,
    generatorCpuPercent: ((cpu.user + cpu.system) / 1e6 / seconds) * 100,
    behindMaxMs,
  };
}

/** The q-quantile (0..1) of sorted values. */
export function quantile(sorted: Float64Array, q: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * q))] as number;
}
