/**
 * MQTT-SN to the cloud: a device's QoS 1 publishes through serve's firmware bridge (driven by the scapy
 * client) reach the real Kafka the forwarder ships to, in order, with the MQTT topic in the
 * `mqtt.topic` header and the stream in `tributary.stream`. Read back with a Kafka consumer.
 */
import test from 'node:test';
import assert from 'node:assert/strict';
import { consumeAll, ensureKafka } from '../helpers/kafka.js';
import { startBridgeServe } from './serve-bridge.js';
import { SnClient } from './sn-client.js';

test('MQTT-SN QoS 1 publishes arrive in Kafka in order, with their topic and stream', async () => {
  const { brokers } = await ensureKafka();
  const topic = `bridge-e2e-${process.pid}-${Date.now()}`;
  const bridge = await startBridgeServe('', {
    extraYaml: `streams:
  - { name: radio, match: ["radio/#"], partitions: 1, upstream: { topic: ${topic} } }
upstream:
  kafka: { brokers: ["${brokers[0] ?? ''}"], batch: { lingerMs: 10 } }
`,
  });
  const sn = SnClient.start();
  const sent: string[] = [];
  try {
    await sn.open('d', bridge.udpPort);
    await sn.connect('d', 'node-9');
    await sn.send('d', { type: 'REGISTER', tid: 0, mid: 1, topic_name: 'radio/node-9/temp' });
    const { tid } = await sn.expect('d', 'REGACK');
    for (let i = 0; i < 20; i++) {
      await sn.send('d', { type: 'PUBLISH', qos: 1, tid, mid: 10 + i, data: `t-${i}` });
      assert.equal((await sn.expect('d', 'PUBACK', 5)).return_code, 0);
      sent.push(`t-${i}`);
    }
    const records = await consumeAll(brokers, topic, sent.length, 60_000);
    assert.deepEqual(records.map((r) => r.value.toString()), sent);
    const first = records[0];
    assert.equal(first?.headers.get('mqtt.topic')?.toString(), 'radio/node-9/temp');
    assert.equal(first?.headers.get('tributary.stream')?.toString(), 'radio');
  } finally {
    await sn.close();
    assert.equal(await bridge.stop(), 0);
  }
});
