/**
 * `npm run bench:forward` — how fast the forwarder drains a backlog into Kafka, against Kafka's own
 * producer in the same run, and the end-to-end latency through `serve`.
 *
 *   drain: 1,000,000 records of 100 payload bytes are appended to a temp log (4 partitions), then a
 *       Forwarder sends them to the local Kafka (scripts/kafka-dev.sh, 127.0.0.1:19092) with acks=all, an
 *       idempotent producer and the same compression; records/s and payload MB/s from start() until every
 *       cursor is at the end. Each tributary record also carries a key and the five headers (~110 bytes).
 *   peer: org.apache.kafka.tools.ProducerPerformance, same count, record size, acks=all, idempotence and
 *       compression, no key, no headers. The ratio tributary / Kafka is the result (goal >= 0.5).
 *   latency at a steady 5,000 msg/s for 10 s, batch.lingerMs 5, two ways:
 *     - log append → Kafka ack, in process: records appended to a Log at the rate; the Sink the forwarder
 *       uses is wrapped to note when each batch was acknowledged (acks=all); latency = ack − record time.
 *     - MQTT publish → Kafka consumer, through `tributary serve`: one MQTT client publishes QoS 1, each
 *       payload stamped with its send time; a Kafka consumer (fetch wait 10 ms) notes each arrival. The
 *       ack happens inside serve, out of reach, so this is an upper bound: it adds the consumer's fetch.
 *       (Kafka's LogAppendTime would give the broker's append time, but the client reads it as CreateTime.)
 *
 * Environment: BENCH_RECORDS (default 1,000,000), BENCH_COMPRESSION (default lz4), BENCH_LATENCY_RATE
 * (default 5000), BENCH_LATENCY_SECONDS (default 10); BENCH_DRAIN_ONLY=1 runs the drain alone (for profiling),
 * BENCH_BATCH_RECORDS its batch.maxRecords (default 10,000).
 */
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { promisify } from 'node:util';
import { Consumer, MessagesStreamModes, type Message } from '@platformatic/kafka';
import { connectAsync } from 'mqtt';
import { parseConfig } from '../../src/config/load.js';
import { createForwarder, createKafkaSink, kafkaSinkOptions, type KafkaCompression, type Sink } from '../../src/forward/index.js';
import { Log } from '../../src/log/index.js';
import { silentLogger } from '../../src/ops/logger.js';
import { startServe } from '../../test/helpers/broker.js';
import { createTopic, ensureKafka, kafkaDev } from '../../test/helpers/kafka.js';

const execFileAsync = promisify(execFile);
const RECORDS = Number(process.env.BENCH_RECORDS ?? 1_000_000);
const COMPRESSION = (process.env.BENCH_COMPRESSION ?? 'lz4') as Exclude<KafkaCompression, 'zstd'>;
const LATENCY_RATE = Number(process.env.BENCH_LATENCY_RATE ?? 5000);
const LATENCY_SECONDS = Number(process.env.BENCH_LATENCY_SECONDS ?? 10);
const LATENCY_LINGER_MS = 5;
const RECORD_BYTES = 100;
const PARTITIONS = 4;
const MB = 1e6;

interface Throughput {
  recordsPerSec: number;
  mbPerSec: number;
}

async function buildBacklog(dataDir: string): Promise<Log> {
  const log = await Log.open({ dataDir, commitIntervalMs: 2 }, [{ name: 'bench', partitions: PARTITIONS }]);
  const payload = Buffer.alloc(RECORD_BYTES, 0x61);
  const chunk = 20_000;
  for (let done = 0; done < RECORDS; done += chunk) {
    const appends: Promise<number>[] = [];
    for (let i = done; i < Math.min(RECORDS, done + chunk); i++) {
      const topic = `sensors/dev-${i % 64}/telemetry`;
      appends.push(log.append('bench', i % PARTITIONS, { timestamp: Date.now(), topic, qos: 1, retain: false, clientId: 'bench', payload }));
    }
    await Promise.all(appends);
  }
  return log;
}

async function drain(brokers: string[]): Promise<Throughput> {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'tributary-bench-forward-'));
  try {
    const log = await buildBacklog(dataDir);
    const topic = `bench-forward-${Date.now()}`;
    await createTopic(brokers, topic, PARTITIONS, 1);
    const config = parseConfig({
      streams: [{ name: 'bench', match: ['sensors/#'], partitions: PARTITIONS, upstream: { topic } }],
      upstream: { kafka: { brokers, compression: COMPRESSION, batch: { maxRecords: Number(process.env.BENCH_BATCH_RECORDS ?? 10_000), maxBytes: 1024 * 1024, lingerMs: 0 } } },
    });
    const kafka = config.upstream.kafka;
    if (kafka === undefined) throw new Error('unreachable');
    const forwarder = createForwarder({ log, config, gatewayId: 'bench', logger: silentLogger(), sinkFactory: () => createKafkaSink(kafkaSinkOptions(kafka, 'bench')) });
    const started = performance.now();
    forwarder.start();
    while (forwarder.lag().some((l) => l.stream === 'bench' && l.lagRecords > 0)) await new Promise((r) => setTimeout(r, 5));
    const seconds = (performance.now() - started) / 1000;
    const state = forwarder.state();
    await forwarder.close();
    await log.close();
    if (state.state !== 'online') throw new Error(`forwarder ended ${state.state}: ${state.lastError}`);
    return { recordsPerSec: RECORDS / seconds, mbPerSec: (RECORDS * RECORD_BYTES) / MB / seconds };
  } finally {
    fs.rmSync(dataDir, { recursive: true, force: true });
  }
}

async function producerPerformance(brokers: string[]): Promise<Throughput> {
  const classpath = (await kafkaDev(['classpath'])).trim();
  const topic = `bench-producer-perf-${Date.now()}`;
  await createTopic(brokers, topic, PARTITIONS, 1);
  const props = [`bootstrap.servers=${brokers.join(',')}`, 'acks=all', 'enable.idempotence=true', `compression.type=${COMPRESSION}`];
  const { stdout } = await execFileAsync(
    'java',
    ['-Xmx512m', '-cp', classpath, 'org.apache.kafka.tools.ProducerPerformance', '--topic', topic, '--num-records', String(RECORDS), '--record-size', String(RECORD_BYTES), '--throughput', '-1', '--producer-props', ...props],
    { maxBuffer: 16 * 1024 * 1024, timeout: 600_000 },
  );
  // The summary line: "1000000 records sent, 412371.1 records/sec (39.33 MB/sec), ..."
  const summary = /(\d+) records sent, ([\d.]+) records\/sec \(([\d.]+) MB\/sec\)/.exec(stdout.trim().split('\n').at(-1) ?? '');
  if (summary === null) throw new Error(`ProducerPerformance printed no summary:\n${stdout}`);
  const recordsPerSec = Number(summary[2]);
  return { recordsPerSec, mbPerSec: (recordsPerSec * RECORD_BYTES) / MB };
}

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? Number.NaN;
}

interface Latency {
  p50: number;
  p99: number;
  max: number;
  count: number;
}

function summarise(latencies: number[]): Latency {
  const sorted = [...latencies].sort((a, b) => a - b);
  return { p50: percentile(sorted, 50), p99: percentile(sorted, 99), max: sorted.at(-1) ?? Number.NaN, count: sorted.length };
}

/** Calls `tick(i)` LATENCY_RATE times a second for LATENCY_SECONDS, paced against the clock (a late tick is caught up). */
async function paced(tick: (i: number) => void): Promise<void> {
  const total = LATENCY_RATE * LATENCY_SECONDS;
  const started = performance.now();
  for (let i = 0; i < total; i++) {
    const wait = started + (i * 1000) / LATENCY_RATE - performance.now();
    if (wait > 1) await new Promise((r) => setTimeout(r, wait));
    tick(i);
  }
}

/** In process: Log.append → the forwarder's sink resolves (Kafka acknowledged with acks=all). */
async function appendToAck(brokers: string[]): Promise<Latency> {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'tributary-bench-latency-'));
  const topic = `bench-latency-log-${Date.now()}`;
  await createTopic(brokers, topic, PARTITIONS, 1);
  const config = parseConfig({
    streams: [{ name: 'lat', match: ['lat/#'], partitions: PARTITIONS, upstream: { topic } }],
    upstream: { kafka: { brokers, compression: COMPRESSION, batch: { maxRecords: 10_000, maxBytes: 1024 * 1024, lingerMs: LATENCY_LINGER_MS } } },
  });
  const kafka = config.upstream.kafka;
  if (kafka === undefined) throw new Error('unreachable');
  const log = await Log.open({ dataDir, commitIntervalMs: 2 }, [{ name: 'lat', partitions: PARTITIONS }]);
  const sink = createKafkaSink(kafkaSinkOptions(kafka, 'bench'));
  const latencies: number[] = [];
  const timed: Sink = {
    send: async (records) => {
      await sink.send(records);
      const ackedAt = Date.now();
      for (const r of records) latencies.push(ackedAt - r.timestamp);
    },
    close: () => sink.close(),
  };
  const forwarder = createForwarder({ log, sink: timed, config, gatewayId: 'bench', logger: silentLogger() });
  forwarder.start();
  try {
    const payload = Buffer.alloc(RECORD_BYTES, 0x62);
    await paced((i) => void log.append('lat', i % PARTITIONS, { timestamp: Date.now(), topic: `lat/dev-${i % 16}`, qos: 1, retain: false, clientId: 'bench', payload }));
    const deadline = Date.now() + 30_000;
    while (latencies.length < LATENCY_RATE * LATENCY_SECONDS && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    return summarise(latencies);
  } finally {
    await forwarder.close();
    await sink.close();
    await log.close();
    fs.rmSync(dataDir, { recursive: true, force: true });
  }
}

/** Through `serve`: MQTT publish (QoS 1) → a Kafka consumer receives the record (an upper bound of → ack). */
async function publishToConsumer(brokers: string[]): Promise<Latency> {
  const topic = `bench-latency-mqtt-${Date.now()}`;
  await createTopic(brokers, topic, PARTITIONS, 1);
  const serve = await startServe({
    configYaml: `streams: [{ name: lat, match: ["lat/#"], partitions: ${PARTITIONS}, upstream: { topic: ${topic} } }]\nupstream: { kafka: { brokers: ["${brokers.join('","')}"], compression: ${COMPRESSION}, batch: { maxRecords: 10000, maxBytes: 1MiB, lingerMs: ${LATENCY_LINGER_MS} } } }\n`,
  });
  const consumer = new Consumer({ clientId: 'bench-latency', groupId: `bench-latency-${Date.now()}`, bootstrapBrokers: brokers, sessionTimeout: 10_000, heartbeatInterval: 500 });
  const latencies: number[] = [];
  try {
    const stream = await consumer.consume({ topics: [topic], mode: MessagesStreamModes.EARLIEST, autocommit: false, maxWaitTime: 10 });
    let warmedUp = false;
    stream.on('data', (message: Message) => {
      const sentAt = Number(message.value.toString());
      if (Number.isNaN(sentAt)) warmedUp = true;
      else latencies.push(performance.timeOrigin + performance.now() - sentAt);
    });
    const client = await connectAsync(serve.mqttUrl, { clientId: 'bench-latency' });
    // The consumer joins its group and gets its partitions first; records sent before would wait for that.
    for (let i = 0; !warmedUp; i++) {
      if (i > 300) throw new Error('the latency consumer received nothing within 30 s');
      client.publish(`lat/dev-${i % 16}`, 'warm-up', { qos: 1 });
      await new Promise((r) => setTimeout(r, 100));
    }
    await paced((i) => void client.publish(`lat/dev-${i % 16}`, String(performance.timeOrigin + performance.now()), { qos: 1 }));
    const deadline = Date.now() + 30_000;
    while (latencies.length < LATENCY_RATE * LATENCY_SECONDS && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    await client.endAsync();
    await stream.close();
    return summarise(latencies);
  } finally {
    await consumer.close(true);
    await serve.stop();
  }
}

function row(cells: string[]): string {
  return cells.map((c, i) => (i === 0 ? c.padEnd(44) : c.padStart(14))).join('');
}

async function main(): Promise<void> {
  const { brokers } = await ensureKafka();
  console.log(`forward benchmark: ${RECORDS.toLocaleString('en')} records of ${RECORD_BYTES} B, compression ${COMPRESSION}, acks=all, Kafka ${brokers.join(',')}`);
  const ours = await drain(brokers);
  if (process.env.BENCH_DRAIN_ONLY === '1') {
    console.log(`drain only: ${ours.recordsPerSec.toFixed(0)} records/s`);
    return;
  }
  const peer = await producerPerformance(brokers);
  const inProcess = await appendToAck(brokers);
  const viaServe = await publishToConsumer(brokers);
  console.log(row(['', 'records/s', 'MB/s']));
  console.log(row(['tributary forwarder (backlog drain)', ours.recordsPerSec.toFixed(0), ours.mbPerSec.toFixed(1)]));
  console.log(row(['Kafka ProducerPerformance', peer.recordsPerSec.toFixed(0), peer.mbPerSec.toFixed(1)]));
  console.log(row(['ratio tributary / Kafka', (ours.recordsPerSec / peer.recordsPerSec).toFixed(2), '']));
  const latencyRow = (name: string, l: Latency): string => `${name.padEnd(44)}${l.p50.toFixed(1).padStart(10)}${l.p99.toFixed(1).padStart(10)}${l.max.toFixed(1).padStart(10)}${String(l.count).padStart(10)}`;
  console.log(`\nlatency at ${LATENCY_RATE} msg/s for ${LATENCY_SECONDS} s, batch.lingerMs ${LATENCY_LINGER_MS}, ms:`);
  console.log(`${''.padEnd(44)}${'p50'.padStart(10)}${'p99'.padStart(10)}${'max'.padStart(10)}${'records'.padStart(10)}`);
  console.log(latencyRow('log append -> Kafka ack (in process)', inProcess));
  console.log(latencyRow('MQTT publish -> Kafka consumer (serve)', viaServe));
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
