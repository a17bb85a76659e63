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
 *   latency: `tributary serve` with batch.lingerMs 5; one MQTT client publishes QoS 1 at a steady
 *       5,000 msg/s for 10 s, each payload stamped with its send time (ms since the epoch); the Kafka topic
 *       uses LogAppendTime, so each record's Kafka timestamp is when the broker appended it, which on this
 *       one-node cluster with acks=all is when the produce was acknowledged. p50 and p99 of the difference
 *       (same host, same clock; millisecond resolution) are printed.
 *
 * Environment: BENCH_RECORDS (default 1,000,000), BENCH_COMPRESSION (default lz4), BENCH_LATENCY_RATE
 * (default 5000), BENCH_LATENCY_SECONDS (default 10).
 */
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { promisify } from 'node:util';
import { Admin, Consumer, MessagesStreamModes, type Message } from '@platformatic/kafka';
import { connectAsync } from 'mqtt';
import { parseConfig } from '../../src/config/load.js';
import { createForwarder, createKafkaSink, kafkaSinkOptions, type KafkaCompression } from '../../src/forward/index.js';
import { Log } from '../../src/log/index.js';
import { silentLogger } from '../../src/ops/logger.js';
import { startServe } from '../../test/helpers/broker.js';
import { createTopic, ensureKafka, kafkaDev } from '../../test/helpers/kafka.js';

const execFileAsync = promisify(execFile);
const RECORDS = Number(process.env.BENCH_RECORDS ?? 1_000_000);
const COMPRESSION = (process.env.BENCH_COMPRESSION ?? 'lz4') as Exclude<KafkaCompression, 'zstd'>;
const LATENCY_RATE = Number(process.env.BENCH_LATENCY_RATE ?? 5000);
const LATENCY_SECONDS = Number(process.env.BENCH_LATENCY_SECONDS ?? 10);
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
      upstream: { kafka: { brokers, compression: COMPRESSION, batch: { maxRecords: 10_000, maxBytes: 1024 * 1024, lingerMs: 0 } } },
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

async function latency(brokers: string[]): Promise<{ p50: number; p99: number; max: number; count: number }> {
  const topic = `bench-latency-${Date.now()}`;
  // LogAppendTime: the broker stamps each record when it appends it, i.e. at the acknowledgement of an
  // acks=all produce on this one-node cluster; the consumer's own fetch delay then does not count.
  const admin = new Admin({ clientId: 'bench-admin', bootstrapBrokers: brokers });
  await admin.createTopics({ topics: [topic], partitions: PARTITIONS, replicas: 1, configs: [{ name: 'message.timestamp.type', value: 'LogAppendTime' }] });
  await admin.close();
  const serve = await startServe({
    configYaml: `streams: [{ name: lat, match: ["lat/#"], partitions: ${PARTITIONS}, upstream: { topic: ${topic} } }]\nupstream: { kafka: { brokers: ["${brokers.join('","')}"], compression: ${COMPRESSION}, batch: { maxRecords: 10000, maxBytes: 1MiB, lingerMs: 5 } } }\n`,
  });
  const consumer = new Consumer({ clientId: 'bench-latency', groupId: `bench-latency-${Date.now()}`, bootstrapBrokers: brokers, sessionTimeout: 10_000, heartbeatInterval: 500 });
  const latencies: number[] = [];
  try {
    const stream = await consumer.consume({ topics: [topic], mode: MessagesStreamModes.EARLIEST, autocommit: false, maxWaitTime: 10 });
    let warmedUp = false;
    stream.on('data', (message: Message) => {
      const sentAt = Number(message.value.toString());
      if (Number.isNaN(sentAt)) warmedUp = true;
      else latencies.push(Number(message.timestamp) - sentAt);
    });
    const client = await connectAsync(serve.mqttUrl, { clientId: 'bench-latency' });
    // The consumer joins its group and gets its partitions first; records sent before would wait for that.
    for (let i = 0; !warmedUp; i++) {
      if (i > 300) throw new Error('the latency consumer received nothing within 30 s');
      client.publish(`lat/dev-${i % 16}`, 'warm-up', { qos: 1 });
      await new Promise((r) => setTimeout(r, 100));
    }
    const total = LATENCY_RATE * LATENCY_SECONDS;
    const started = performance.now();
    for (let i = 0; i < total; i++) {
      // Paced against the wall clock so a slow tick is caught up, keeping the average rate exact.
      const due = started + (i * 1000) / LATENCY_RATE;
      const wait = due - performance.now();
      if (wait > 1) await new Promise((r) => setTimeout(r, wait));
      client.publish(`lat/dev-${i % 16}`, String(performance.timeOrigin + performance.now()), { qos: 1 });
    }
    const deadline = Date.now() + 30_000;
    while (latencies.length < total && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    await client.endAsync();
    await stream.close();
    const sorted = latencies.slice(0, total).sort((a, b) => a - b);
    return { p50: percentile(sorted, 50), p99: percentile(sorted, 99), max: sorted.at(-1) ?? Number.NaN, count: sorted.length };
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
  const peer = await producerPerformance(brokers);
  const lat = await latency(brokers);
  console.log(row(['', 'records/s', 'MB/s']));
  console.log(row(['tributary forwarder (backlog drain)', ours.recordsPerSec.toFixed(0), ours.mbPerSec.toFixed(1)]));
  console.log(row(['Kafka ProducerPerformance', peer.recordsPerSec.toFixed(0), peer.mbPerSec.toFixed(1)]));
  console.log(row(['ratio tributary / Kafka', (ours.recordsPerSec / peer.recordsPerSec).toFixed(2), '']));
  console.log(`latency MQTT publish -> Kafka append (ack) at ${LATENCY_RATE} msg/s for ${LATENCY_SECONDS} s (${lat.count} records): p50 ${lat.p50.toFixed(1)} ms, p99 ${lat.p99.toFixed(1)} ms, max ${lat.max.toFixed(1)} ms`);
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
