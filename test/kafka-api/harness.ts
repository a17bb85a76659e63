/**
 * What the Kafka API end-to-end tests share: a `serve` with the Kafka API on port 0, records published
 * over MQTT with the partition and offset the log gives them, the five headers a record must carry,
 * and stock clients run as child processes (consumer-child.ts for kafkajs and @platformatic/kafka,
 * kcat, and the Java tools from the Kafka jars scripts/kafka-dev.sh fetched) so that a test can
 * SIGKILL one and read what it printed line by line.
 *
 * Nothing here speaks the Kafka protocol itself: the clients do, unmodified.
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { connectAsync, type MqttClient } from 'mqtt';
import { partitionFor } from '../../src/log/index.js';
import { startServe, type RunningBroker, type ServeOptions } from '../helpers/broker.js';
import { runProgram, type CliResult } from '../helpers/cli.js';
import { kafkaDev } from '../helpers/kafka.js';
import { until } from '../helpers/until.js';

const here = path.dirname(fileURLToPath(import.meta.url));
/** The compiled consumer-child.ts beside this file. */
export const CONSUMER_CHILD = path.join(here, 'consumer-child.js');

export interface KafkaApiListener {
  host: string;
  port: number;
  sasl: boolean;
  tls: boolean;
}

export interface KafkaApiServe {
  broker: RunningBroker;
  listeners: KafkaApiListener[];
  /** `127.0.0.1:PORT` of the first listener. */
  bootstrap: string;
}

export interface StreamYaml {
  name: string;
  partitions: number;
  /** `retention.bytes`; no upstream in any case. */
  retentionBytes?: number;
}

/**
 * serve's YAML for these tests: one Kafka API listener on 127.0.0.1 port 0 (with `listener` added, e.g.
 * `sasl: true`), a 1 s minimum session timeout, and each stream matching `NAME/#`. No upstream.
 */
export function serveYaml(gateway: string, streams: StreamYaml[], options: { listener?: string; extra?: string } = {}): string {
  const listener = ['host: 127.0.0.1', 'port: 0', ...(options.listener === undefined ? [] : [options.listener])].join(', ');
  const lines = streams.map((s) => {
    const retention = s.retentionBytes === undefined ? '' : `, retention: { bytes: ${s.retentionBytes} }`;
    return `  - { name: ${s.name}, match: ["${s.name}/#"], partitions: ${s.partitions}${retention} }`;
  });
  return [`gateway: { id: ${gateway} }`, `kafkaApi: { listeners: [{ ${listener} }], groupMinSessionTimeoutMs: 1000 }`, options.extra ?? '', 'streams:', ...lines, ''].join('\n');
}

/** Starts serve with `yaml` (which names `kafkaApi`), and reads the Kafka API listeners from its `listening` line. */
export async function startKafkaApi(yaml: string, options: Omit<ServeOptions, 'configYaml'> = {}): Promise<KafkaApiServe> {
  const broker = await startServe({ ...options, configYaml: yaml });
  const ready = broker.lines.find((l) => l.msg === 'listening');
  const listeners = ready?.kafkaApi as KafkaApiListener[] | undefined;
  assert.ok(Array.isArray(listeners) && listeners.length > 0, `serve's listening line names no kafkaApi listener: ${JSON.stringify(ready)}`);
  const first = listeners[0] as KafkaApiListener;
  assert.ok(first.port > 0, `kafkaApi port ${first.port}`);
  return { broker, listeners, bootstrap: `127.0.0.1:${first.port}` };
}

/** A record as published over MQTT, with where the log put it (the stream is fresh: offsets count from 0). */
export interface Published {
  topic: string;
  payload: string;
  partition: number;
  offset: number;
}

/**
 * Publishes over MQTT with QoS 1, one at a time, so that each partition's offsets follow publish order.
 * `counters` carries each partition's next offset across calls (the stream must be fresh at the first).
 */
export class MqttFeed {
  readonly published: Published[] = [];
  private readonly next = new Map<number, number>();

  private constructor(private readonly client: MqttClient, readonly partitions: number) {}

  static async open(url: string, partitions: number): Promise<MqttFeed> {
    const client = await connectAsync(url, { clientId: `ka-feed-${process.pid}-${Date.now()}`, reconnectPeriod: 0 });
    return new MqttFeed(client, partitions);
  }

  async publish(topic: string, payload: string): Promise<Published> {
    await this.client.publishAsync(topic, payload, { qos: 1 });
    const partition = partitionFor(topic, this.partitions);
    const offset = this.next.get(partition) ?? 0;
    this.next.set(partition, offset + 1);
    const p = { topic, payload, partition, offset };
    this.published.push(p);
    return p;
  }

  /** Publishes `count` records over `topics` round-robin, payloads `${prefix}-${i}`. */
  async publishMany(topics: readonly string[], count: number, prefix: string): Promise<Published[]> {
    const out: Published[] = [];
    for (let i = 0; i < count; i++) out.push(await this.publish(topics[i % topics.length] as string, `${prefix}-${i}`));
    return out;
  }

  /** Each partition's end offset (next offset to be written), as far as this feed wrote. */
  endOffsets(): Map<number, number> {
    const ends = new Map<number, number>();
    for (let p = 0; p < this.partitions; p++) ends.set(p, this.next.get(p) ?? 0);
    return ends;
  }

  async close(): Promise<void> {
    await this.client.endAsync();
  }
}

/** MQTT topics that land on every one of `partitions` (at least `perPartition` distinct topics each). */
export function topicsCoveringPartitions(prefix: string, partitions: number, perPartition = 1): string[] {
  const byPartition = new Map<number, string[]>();
  for (let i = 0; byPartition.size < partitions || [...byPartition.values()].some((t) => t.length < perPartition); i++) {
    assert.ok(i < 100_000, 'cannot find topics for every partition');
    const topic = `${prefix}/dev-${i}`;
    const p = partitionFor(topic, partitions);
    const list = byPartition.get(p) ?? [];
    if (list.length < perPartition) list.push(topic);
    byPartition.set(p, list);
  }
  return [...byPartition.entries()].sort((a, b) => a[0] - b[0]).flatMap(([, t]) => t);
}

/** A record as a client printed it (see consumer-child.ts): headers and key as UTF-8 text. */
export interface SeenRecord {
  partition: number;
  offset: number;
  key: string | null;
  value: string;
  headers: Record<string, string>;
}

/** Asserts that `seen` is exactly the record `p` of `stream` on gateway `gateway`: key, value, offset and the five headers. */
export function assertRecord(seen: SeenRecord, p: Published, stream: string, gateway: string): void {
  const where = `${stream}[${p.partition}]@${p.offset}`;
  assert.equal(seen.partition, p.partition, `${where}: partition`);
  assert.equal(seen.offset, p.offset, `${where}: offset`);
  assert.equal(seen.key, p.topic, `${where}: key is the partition key (the MQTT topic)`);
  assert.equal(seen.value, p.payload, `${where}: value`);
  assert.deepEqual(
    seen.headers,
    { 'tributary.gateway': gateway, 'tributary.stream': stream, 'tributary.partition': String(p.partition), 'tributary.offset': String(p.offset), 'mqtt.topic': p.topic },
    `${where}: headers`,
  );
}

/** Sorts by partition, then offset. */
export function byPosition<T extends { partition: number; offset: number }>(records: T[]): T[] {
  return [...records].sort((a, b) => a.partition - b.partition || a.offset - b.offset);
}

// ---- consumer-child.ts as a child process ------------------------------------------------------

export type ChildEvent =
  | { ev: 'ready' }
  | { ev: 'assigned'; partitions: number[]; at: number }
  | ({ ev: 'record'; at: number } & SeenRecord)
  | { ev: 'committed'; partition: number; offset: number }
  | { ev: 'error'; message: string; name?: string; type?: string }
  | { ev: 'crashed'; message: string; name?: string; type?: string };

export interface ConsumerChildOptions {
  client: 'kafkajs' | 'platformatic';
  bootstrap: string;
  groupId: string;
  topic: string;
  clientId?: string;
  sessionTimeoutMs?: number;
  heartbeatMs?: number;
  /** kafkajs: maxBytesPerPartition; platformatic: maxBytesPerPartition. */
  maxBytesPerPartition?: number;
  /** kafkajs: maxBytes per fetch. */
  maxBytes?: number;
  maxWaitMs?: number;
  sasl?: { username: string; password: string };
  /** Commit after each record (default true). */
  commit?: boolean;
}

/** A consumer in a child process; `events` fills as it prints. */
export class ConsumerChild {
  readonly events: ChildEvent[] = [];
  readonly exited: Promise<number | null>;
  stderr = '';
  private constructor(readonly name: string, private readonly child: ChildProcess) {
    let buffered = '';
    child.stdout?.setEncoding('utf8').on('data', (d: string) => {
      buffered += d;
      let nl: number;
      while ((nl = buffered.indexOf('\n')) >= 0) {
        const line = buffered.slice(0, nl);
        buffered = buffered.slice(nl + 1);
        try {
          this.events.push(JSON.parse(line) as ChildEvent);
        } catch {
          // a client's own log line
        }
      }
    });
    child.stderr?.setEncoding('utf8').on('data', (d: string) => (this.stderr = (this.stderr + d).slice(-20_000)));
    this.exited = new Promise((resolve) => child.once('close', (code) => resolve(code)));
  }

  static start(name: string, options: ConsumerChildOptions): ConsumerChild {
    const child = spawn(process.execPath, [CONSUMER_CHILD, JSON.stringify(options)], { stdio: ['ignore', 'pipe', 'pipe'] });
    return new ConsumerChild(name, child);
  }

  records(): SeenRecord[] {
    return this.events.filter((e): e is Extract<ChildEvent, { ev: 'record' }> => e.ev === 'record');
  }

  /** The partitions of the last assignment, or null before the first. */
  assignment(): number[] | null {
    const a = this.events.filter((e): e is Extract<ChildEvent, { ev: 'assigned' }> => e.ev === 'assigned').at(-1);
    return a === undefined ? null : [...a.partitions].sort((x, y) => x - y);
  }

  /** The last committed next-offset per partition this child reported. */
  committed(): Map<number, number> {
    const out = new Map<number, number>();
    for (const e of this.events) if (e.ev === 'committed') out.set(e.partition, Math.max(out.get(e.partition) ?? 0, e.offset));
    return out;
  }

  errors(): string[] {
    return this.events.filter((e) => e.ev === 'error' || e.ev === 'crashed').map((e) => JSON.stringify(e));
  }

  describe(): string {
    return `${this.name}: events ${JSON.stringify(this.events.slice(-8))}; stderr ${this.stderr.slice(-2000)}`;
  }

  /** Waits until `check` holds; fails at once if the client crashed (it would never hold then). */
  async waitFor(what: string, check: (c: ConsumerChild) => boolean, timeoutMs: number): Promise<void> {
    try {
      await until(what, () => {
        if (this.events.some((e) => e.ev === 'crashed')) throw new Error(`the client crashed while waiting for ${what}`);
        return check(this);
      }, timeoutMs);
    } catch (err) {
      throw new Error(`${(err as Error).message}; ${this.describe()}`, { cause: err });
    }
  }

  /** SIGTERM: the client leaves its group and exits. */
  async stop(): Promise<number | null> {
    this.child.kill('SIGTERM');
    return this.exited;
  }

  /** SIGKILL: the client vanishes without leaving its group. */
  async kill(): Promise<void> {
    this.child.kill('SIGKILL');
    await this.exited;
  }
}

// ---- kcat and the Java tools -------------------------------------------------------------------

/** kcat's -f format for one record: partition, offset, key, value, headers; fields split by \x1f, records end with \x1e. */
export const KCAT_FORMAT = '%p\\x1f%o\\x1f%k\\x1f%s\\x1f%h\\x1e';

/** Parses what kcat printed with KCAT_FORMAT (headers as `name=value,...`). */
export function parseKcat(stdout: string): SeenRecord[] {
  return stdout
    .split('\x1e')
    .filter((r) => r.includes('\x1f'))
    .map((r) => {
      const [partition = '', offset = '', key = '', value = '', headers = ''] = r.replace(/^\n+/, '').split('\x1f');
      const h: Record<string, string> = {};
      for (const kv of headers.split(',').filter((x) => x !== '')) h[kv.slice(0, kv.indexOf('='))] = kv.slice(kv.indexOf('=') + 1);
      return { partition: Number(partition), offset: Number(offset), key: key === '' ? null : key, value, headers: h };
    });
}

export type ToolResult = CliResult;

/** Runs a program to its end (or `timeoutMs`, then SIGTERM); never throws on a non-zero exit. */
export function runTool(program: string, args: string[], timeoutMs: number): Promise<ToolResult> {
  return runProgram(program, args, {}, timeoutMs);
}

let classpath: Promise<string> | null = null;
/** The Kafka jars' classpath (`scripts/kafka-dev.sh classpath`), fetched once per process. */
export function kafkaClasspath(): Promise<string> {
  classpath ??= kafkaDev(['classpath']).then((s) => s.trim());
  return classpath;
}

/** JVM options for the tools: small heap, quick start, no log4j output. */
const JVM = ['-Xmx192m', '-XX:TieredStopAtLevel=1', '-XX:+UseSerialGC', '-Xshare:auto', '-Dlog4j.configuration=file:/dev/null', '-Dlog4j2.level=OFF'];

/** Arguments for `java` running `mainClass` with the Kafka jars. */
export async function javaArgs(mainClass: string, args: string[]): Promise<string[]> {
  return [...JVM, '-cp', await kafkaClasspath(), mainClass, ...args];
}

export const CONSOLE_CONSUMER = 'org.apache.kafka.tools.consumer.ConsoleConsumer';
export const CONSUMER_GROUPS = 'org.apache.kafka.tools.consumer.group.ConsumerGroupCommand';

export async function runJava(mainClass: string, args: string[], timeoutMs = 60_000): Promise<ToolResult> {
  return runTool('java', await javaArgs(mainClass, args), timeoutMs);
}

/**
 * Parses the console consumer's lines printed with print.partition, print.offset, print.headers,
 * print.key (in that order, tab-separated; headers `name:value,...` or NO_HEADERS).
 */
export function parseConsole(stdout: string): SeenRecord[] {
  // Only whole lines: a consumer stopped once it has printed enough may leave a line cut short, which
  // would parse as a record with an empty key (seen in CI).
  return stdout
    .slice(0, stdout.lastIndexOf('\n') + 1)
    .split('\n')
    .filter((l) => l.startsWith('Partition:'))
    .map((line) => {
      const [partition = '', offset = '', headers = '', key = '', value = ''] = line.split('\t');
      const h: Record<string, string> = {};
      if (headers !== 'NO_HEADERS') for (const kv of headers.split(',')) h[kv.slice(0, kv.indexOf(':'))] = kv.slice(kv.indexOf(':') + 1);
      return { partition: Number(partition.slice('Partition:'.length)), offset: Number(offset.slice('Offset:'.length)), headers: h, key: key === 'null' ? null : key, value };
    });
}

/** Rows of a ConsumerGroupCommand table (first line is the header): each row as column → value. */
export function parseTable(stdout: string): Array<Record<string, string>> {
  const lines = stdout.split('\n').filter((l) => l.trim() !== '');
  const headerAt = lines.findIndex((l) => /^GROUP\s/.test(l));
  if (headerAt < 0) return [];
  const columns = (lines[headerAt] as string).trim().split(/\s+/);
  return lines
    .slice(headerAt + 1)
    .filter((l) => !/^GROUP\s/.test(l))
    .map((l) => {
      const cells = l.trim().split(/\s+/);
      return Object.fromEntries(columns.map((c, i) => [c, cells[i] ?? '']));
    });
}

/** A long-running tool (a console consumer) whose output a test reads while it runs. */
export class Background {
  stdout = '';
  stderr = '';
  readonly exited: Promise<number | null>;
  private constructor(private readonly child: ChildProcess) {
    child.stdout?.setEncoding('utf8').on('data', (d: string) => (this.stdout += d));
    child.stderr?.setEncoding('utf8').on('data', (d: string) => (this.stderr = (this.stderr + d).slice(-20_000)));
    this.exited = new Promise((resolve) => child.once('close', (code) => resolve(code)));
  }

  static start(program: string, args: string[]): Background {
    return new Background(spawn(program, args, { stdio: ['ignore', 'pipe', 'pipe'] }));
  }

  static async java(mainClass: string, args: string[]): Promise<Background> {
    return Background.start('java', await javaArgs(mainClass, args));
  }

  async stop(): Promise<number | null> {
    this.child.kill('SIGTERM');
    return this.exited;
  }
}

/** `--reset-offsets` output (Kafka 3.9 prints its rows without line breaks): GROUP TOPIC PARTITION NEW-OFFSET, four tokens a row. */
export function parseReset(stdout: string): Array<{ group: string; topic: string; partition: number; newOffset: number }> {
  const tokens = stdout.trim().split(/\s+/);
  const at = tokens.indexOf('NEW-OFFSET');
  if (at < 0) return [];
  const rows = [];
  for (let i = at + 1; i + 3 < tokens.length; i += 4) {
    rows.push({ group: tokens[i] as string, topic: tokens[i + 1] as string, partition: Number(tokens[i + 2]), newOffset: Number(tokens[i + 3]) });
  }
  return rows;
}
