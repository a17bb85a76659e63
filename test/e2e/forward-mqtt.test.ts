/**
 * The whole path, end to end: 100,000 messages published over MQTT (QoS 1, four clients) to a real
 * `tributary serve` reach the shared Kafka (19092): exact counts per Kafka topic, every message once or more,
 * per-key order (each device's sequence numbers arrive in order), and the five headers. Mid-forward
 * (forwarding held back by `rateLimitBytesPerSec` so a backlog exists) serve is killed with SIGKILL and
 * started again on the same data dir: nothing is lost and the duplicates stay within one batch per partition.
 * The duplicate count is printed. Kafka must be startable: this fails, never skips, without it.
 */
import assert from 'node:assert/strict';
import { before, test } from 'node:test';
import { connectAsync } from 'mqtt';
import { Log } from '../../src/log/index.js';
import { startServe, type RunningBroker } from '../helpers/broker.js';
import { consumeAll, ensureKafka, type ConsumedRecord } from '../helpers/kafka.js';
import { checkDelivery } from '../forward/delivery.js';
import { forwardProgress } from '../helpers/progress.js';
import { until } from '../helpers/until.js';

const runId = `${process.pid}-${Date.now()}`;
const telemetryTopic = `e2e-telemetry-${runId}`;
const eventsTopic = `e2e-events-${runId}`;
const clients = 4;
const perClient = 25_000;
const devicesPerClient = 10;
const inFlightMax = 200;
const batchRecords = 2000;
const forwardedPartitions = 6;

let brokers: string[] = [];
before(async () => {
  ({ brokers } = await ensureKafka());
});

function configYaml(rateLimit: string): string {
  return `
gateway: { id: gw-e2e }
streams:
  - { name: telemetry, match: ["sensors/+/telemetry"], partitions: 4, key: "topic-level:1", upstream: { topic: ${telemetryTopic} } }
  - { name: events, match: ["events/#"], partitions: 2, key: topic, upstream: { topic: ${eventsTopic} } }
upstream:
  kafka:
    brokers: ["${brokers[0] ?? ''}"]
    compression: lz4
    batch: { maxRecords: ${batchRecords}, maxBytes: 1MiB, lingerMs: 20 }
    rateLimitBytesPerSec: ${rateLimit}
`;
}

/** Client c publishes seq 0..perClient-1; every 10th goes to an events topic, the rest to its devices. */
function topicFor(c: number, seq: number): string {
  return seq % 10 === 9 ? `events/c${c}` : `sensors/dev-${c}-${seq % devicesPerClient}/telemetry`;
}

async function publishAll(url: string, c: number): Promise<void> {
  const client = await connectAsync(url, { clientId: `e2e-pub-${c}`, reconnectPeriod: 0 });
  try {
    await new Promise<void>((resolve, reject) => {
      let sent = 0;
      let acked = 0;
      let inFlight = 0;
      const pump = (): void => {
        while (inFlight < inFlightMax && sent < perClient) {
          const seq = sent++;
          inFlight++;
          client.publish(topicFor(c, seq), `c${c} ${seq}`, { qos: 1 }, (err) => {
            inFlight--;
            if (err) return reject(err);
            if (++acked === perClient) resolve();
            else pump();
          });
        }
      };
      pump();
    });
  } finally {
    await client.endAsync();
  }
}

const progress = (dataDir: string) => forwardProgress(dataDir, ['telemetry', 'events']);


/** Per device, the sequence numbers of first arrivals must increase. */
function orderProblems(records: ConsumedRecord[]): string[] {
  const last = new Map<string, number>();
  const seen = new Set<string>();
  const problems: string[] = [];
  for (const r of records) {
    const [client, seqText] = r.value.toString().split(' ') as [string, string];
    const id = `${client} ${seqText}`;
    if (seen.has(id)) continue;
    seen.add(id);
    const key = `${client}/${r.key?.toString() ?? ''}`;
    const seq = Number(seqText);
    if (seq < (last.get(key) ?? -1) && problems.length < 10) problems.push(`${key}: ${seq} after ${last.get(key)}`);
    last.set(key, Math.max(seq, last.get(key) ?? -1));
  }
  return problems;
}

test('100,000 MQTT messages reach Kafka through a kill -9 of serve mid-forward', async (t) => {
  let serve: RunningBroker = await startServe({ configYaml: configYaml('1MiB') });
  t.after(() => serve.stop());
  const started = Date.now();
  await Promise.all(Array.from({ length: clients }, (_, c) => publishAll(serve.mqttUrl, c)));
  const publishMs = Date.now() - started;
  const total = clients * perClient;
  assert.equal(progress(serve.dataDir).appended, total, 'every acked message is in the log');
  await until('mid-forward', () => progress(serve.dataDir).forwarded >= total * 0.3, 120_000);
  const before = progress(serve.dataDir);
  await serve.kill();
  assert.ok(before.forwarded < total, `killed mid-forward (${before.forwarded} of ${total} forwarded)`);

  serve = await startServe({ dataDir: serve.dataDir, configYaml: configYaml('0') });
  await until('drained', () => progress(serve.dataDir).forwarded === total, 120_000);
  const status = (await (await fetch(`http://127.0.0.1:${serve.httpPort}/api/v1/status`)).json()) as Record<string, unknown>;
  assert.equal(JSON.stringify(status).includes('"online"'), true, `status shows the upstream online: ${JSON.stringify(status).slice(0, 400)}`);

  const telemetry = await consumeAll(brokers, telemetryTopic, total * 0.9, 60_000);
  const events = await consumeAll(brokers, eventsTopic, total * 0.1, 60_000);
  const reader = Log.openReadOnly(serve.dataDir);
  assert.ok(reader);
  const expected = new Map<string, [number, number]>();
  for (const stream of ['telemetry', 'events']) {
    for (let p = 0; p < reader.partitionCount(stream); p++) expected.set(`${stream}/${p}`, [0, reader.partitionState(stream, p).endOffset]);
  }
  reader.close();
  const report = checkDelivery([...telemetry, ...events], expected);
  console.log(`e2e: published ${total} in ${publishMs} ms; killed at ${before.forwarded} forwarded; Kafka got ${report.received}, unique ${report.unique}, duplicates ${report.duplicates}`);
  assert.deepEqual(report.missing, []);
  assert.deepEqual(report.badHeaders, []);
  assert.equal(report.unique, total);
  assert.equal(new Set(telemetry.map((r) => r.value.toString())).size, total * 0.9, 'telemetry topic: exact count');
  assert.equal(new Set(events.map((r) => r.value.toString())).size, total * 0.1, 'events topic: exact count');
  assert.deepEqual(orderProblems(telemetry), []);
  assert.deepEqual(orderProblems(events), []);
  const sample = telemetry[0];
  assert.ok(sample);
  assert.equal(sample.headers.get('tributary.gateway')?.toString(), 'gw-e2e');
  assert.equal(sample.headers.get('tributary.stream')?.toString(), 'telemetry');
  assert.match(sample.headers.get('mqtt.topic')?.toString() ?? '', /^sensors\/dev-\d-\d\/telemetry$/);
  assert.equal(sample.key?.toString(), (sample.headers.get('mqtt.topic')?.toString() ?? '').split('/')[1]);
  assert.ok(report.duplicates <= forwardedPartitions * batchRecords, `${report.duplicates} duplicates ≤ one batch per partition`);
});
