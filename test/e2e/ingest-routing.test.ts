/**
 * End to end through a real `tributary serve` process and a real MQTT client (mqtt.js): QoS 0, 1 and 2
 * publishes land in the stream whose `match` fits their topic (else `default`), in the partition the
 * stream's key hashes to (FNV-1a 32 of the key, worked out beforehand and written down: see
 * test/log/routing.test.ts), and `tributary log read --json` prints them with topic, QoS and payload.
 * A QoS 2 PUBLISH retransmitted with DUP before its PUBREL is logged once. `$SYS` topics never reach the
 * log, and the ingest counters in /metrics count what was appended.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { connectAsync, type MqttClient } from 'mqtt';
import type { IPubcompPacket, IPubrecPacket } from 'mqtt-packet';
import { RawClient, startServe, metricValue, type RunningBroker } from '../helpers/broker.js';
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
  // partition = FNV-1a 32 of the key mod partitions, computed outside tributary (Python): 's1' 0x0851b8c9,
  // 's2' 0x0551b410, 's3' 0x0651b5a3 (4 partitions), 'router-1' 0x321293ce (3), 'other/thing' 0x840a0dee (4).
  const sent = [
    { topic: 'sensors/s1/telemetry/temp', qos: 0, stream: 'telemetry', key: 's1', partition: 1 },
    { topic: 'sensors/s2/telemetry/temp', qos: 1, stream: 'telemetry', key: 's2', partition: 0 },
    { topic: 'sensors/s3/telemetry/hum/x', qos: 2, stream: 'telemetry', key: 's3', partition: 3 },
    { topic: 'events/door', qos: 1, stream: 'events', key: 'router-1', partition: 1 },
    { topic: 'other/thing', qos: 2, stream: 'default', key: 'other/thing', partition: 2 },
  ] as const;
  for (const [i, m] of sent.entries()) await client.publishAsync(m.topic, `payload-${i}`, { qos: m.qos });
  // QoS 0 has no ack: a QoS 1 publish after it on the same connection is committed no earlier.
  await client.publishAsync('other/fence', 'fence', { qos: 1 });

  for (const [i, m] of sent.entries()) {
    const found = (await read(m.stream)).find((r) => r.payload === `payload-${i}`);
    assert.ok(found, `${m.topic} is in stream ${m.stream}`);
    assert.equal(found.topic, m.topic);
    assert.equal(found.qos, m.qos);
    assert.equal(found.partition, m.partition, `${m.topic} is in the partition of key ${m.key}`);
  }
});

test('a QoS 2 PUBLISH retransmitted with DUP before its PUBREL is logged once, and the counters match the log', async () => {
  const { client: raw } = await RawClient.connect(broker.mqttPort, { clientId: 'qos2-dup' });
  const publish = { cmd: 'publish', topic: 'events/once', payload: Buffer.from('exactly-once'), qos: 2, messageId: 7, retain: false } as const;
  raw.send({ ...publish, dup: false });
  assert.equal(((await raw.next('pubrec')) as IPubrecPacket).messageId, 7);
  // [MQTT-4.3.3-2]: the sender may retransmit until it has the PUBREC; this one did not see it arrive.
  raw.send({ ...publish, dup: true });
  assert.equal(((await raw.next('pubrec')) as IPubrecPacket).messageId, 7);
  raw.send({ cmd: 'pubrel', messageId: 7 });
  assert.equal(((await raw.next('pubcomp')) as IPubcompPacket).messageId, 7);
  raw.destroy();
  await raw.closed;
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
