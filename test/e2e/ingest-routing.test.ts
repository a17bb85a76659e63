/**
 * End to end through a real `tributary serve` process and a real MQTT client (mqtt.js): QoS 0, 1 and 2
 * publishes land in the stream whose `match` fits their topic (else `default`), in the partition the
 * stream's key hashes to, and `tributary log read --json` prints them with topic, QoS and payload.
 * `$SYS` topics never reach the log, and the ingest counters in /metrics count what was appended.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { connectAsync, type MqttClient } from 'mqtt';
import { partitionFor } from '../../src/log/index.js';
import { startServe, metricValue, type RunningBroker } from '../helpers/broker.js';
import { jsonLines, runCli } from '../helpers/cli.js';

const CONFIG = `
streams:
  - name: telemetry
    match: ["sensors/+/telemetry/#"]
    partitions: 4
    key: topic-level:1
  - name: events
    match: ["events/#"]
    partitions: 3
    key: client-id
`;

interface ReadLine {
  stream: string;
  partition: number;
  offset: number;
  topic: string;
  qos: number;
  payload: string;
}

let broker: RunningBroker;
let client: MqttClient;

before(async () => {
  broker = await startServe({ configYaml: CONFIG });
  client = await connectAsync(broker.mqttUrl, { clientId: 'router-1' });
});

after(async () => {
  await client.endAsync();
  assert.equal(await broker.stop(), 0, 'serve exits 0 on SIGTERM');
});

async function read(stream: string): Promise<ReadLine[]> {
  const result = await runCli(['log', 'read', stream, '--data-dir', broker.dataDir, '--json']);
  assert.equal(result.code, 0, result.stderr);
  return jsonLines<ReadLine>(result.stdout);
}

test('QoS 0, 1 and 2 publishes land in the matching stream and the partition of their key', async () => {
  const sent = [
    { topic: 'sensors/s1/telemetry/temp', qos: 0, stream: 'telemetry', key: 's1' },
    { topic: 'sensors/s2/telemetry/temp', qos: 1, stream: 'telemetry', key: 's2' },
    { topic: 'sensors/s3/telemetry/hum/x', qos: 2, stream: 'telemetry', key: 's3' },
    { topic: 'events/door', qos: 1, stream: 'events', key: 'router-1' },
    { topic: 'other/thing', qos: 2, stream: 'default', key: 'other/thing' },
  ] as const;
  for (const [i, m] of sent.entries()) await client.publishAsync(m.topic, `payload-${i}`, { qos: m.qos });
  // QoS 0 has no ack: a QoS 1 publish after it on the same connection is committed no earlier.
  await client.publishAsync('other/fence', 'fence', { qos: 1 });

  for (const [i, m] of sent.entries()) {
    const partitions = m.stream === 'telemetry' ? 4 : m.stream === 'events' ? 3 : 4;
    const found = (await read(m.stream)).find((r) => r.payload === `payload-${i}`);
    assert.ok(found, `${m.topic} is in stream ${m.stream}`);
    assert.equal(found.topic, m.topic);
    assert.equal(found.qos, m.qos);
    assert.equal(found.partition, partitionFor(m.key, partitions), `${m.topic} is in the partition of key ${m.key}`);
  }
});

test('a QoS 2 publish is logged once, and the ingest counters match the log', async () => {
  await client.publishAsync('events/once', 'exactly-once', { qos: 2 });
  const events = await read('events');
  assert.equal(events.filter((r) => r.payload === 'exactly-once').length, 1);
  const metrics = await broker.metrics();
  assert.equal(metricValue(metrics, 'tributary_ingest_records_total{stream="events"}'), events.length);
});

test('$SYS topics never reach the log', async () => {
  // aedes publishes $SYS heartbeats and client notices internally; none of them may be appended.
  for (const stream of ['telemetry', 'events', 'default']) {
    for (const r of await read(stream)) assert.ok(!r.topic.startsWith('$SYS'), `${r.topic} must not be logged`);
  }
});
