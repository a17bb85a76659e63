/**
 * Issue 10's end-to-end proof, against the real `serve` process:
 *  1. Two clients publish QoS 1 while a third publishes retained messages on topics of 600 and 60,000
 *     bytes (legal MQTT; over LMDB's 511-byte key limit if the topic were the key). Every publish is
 *     acked and no client is disconnected.
 *  2. A retained message on each long topic, and a QoS 1 message for an offline persistent session,
 *     survive a kill -9 sent the instant their PUBACK arrives (each in its own crash), because the
 *     retained store and the offline queue are synced before the PUBACK, not after it.
 *  3. After the crashes, `tributary log streams` and `log read` agree with the acks: exactly one
 *     record per acked publish, every acked payload present, offsets contiguous from 0 in every
 *     partition.
 */
import test from 'node:test';
import assert from 'node:assert/strict';
import { connectAsync, type MqttClient } from 'mqtt';
import { RawClient, startServe, type RunningBroker } from '../helpers/broker.js';
import { jsonLines, runCli } from '../helpers/cli.js';
import { until } from '../helpers/until.js';

const TOPIC_600 = `long/${'a'.repeat(595)}`;
const TOPIC_60000 = `long/${'b'.repeat(59_995)}`;
const LOAD_MESSAGES = 2_000;
const LOAD_WINDOW = 50;

/** Publishes `count` QoS 1 messages with up to `window` in flight; resolves with the acked payloads. */
function load(client: MqttClient, name: string, count: number, window: number): Promise<string[]> {
  return new Promise((resolve, reject) => {
    const acked: string[] = [];
    let sent = 0;
    const pump = (): void => {
      while (sent < count && sent - acked.length < window) {
        const payload = `${name}-${sent}`;
        client.publish(`load/${name}/${sent % 4}`, payload, { qos: 1 }, (err) => {
          if (err) return reject(err);
          acked.push(payload);
          if (acked.length === count) resolve(acked);
          else pump();
        });
        sent++;
      }
    };
    pump();
  });
}

/** Publishes one QoS 1 message with a raw client and kills serve with SIGKILL the moment its PUBACK arrives. */
async function publishThenCrash(broker: RunningBroker, topic: string, payload: string, retain: boolean): Promise<void> {
  const { client } = await RawClient.connect(broker.mqttPort, { clientId: `crash-${payload}` });
  const acked = client.next('puback', 10_000).then(() => process.kill(broker.pid, 'SIGKILL'));
  client.send({ cmd: 'publish', topic, payload: Buffer.from(payload), qos: 1, messageId: 1, retain, dup: false });
  await acked;
  await broker.kill(); // waits for the exit
  client.destroy();
}

test('long retained topics under QoS 1 load, and acked state through kill -9 at the PUBACK', async () => {
  let broker = await startServe();
  const dataDir = broker.dataDir;
  const acked: string[] = [];
  const disconnects: string[] = [];
  try {
    // An offline persistent session that a later publish is queued for.
    const sleeper = await connectAsync(broker.mqttUrl, { clientId: 'sleeper', clean: false, reconnectPeriod: 0 });
    await sleeper.subscribeAsync('durable/queued', { qos: 1 });
    await sleeper.endAsync();

    const clients = await Promise.all(['a', 'b', 'r'].map((id) => connectAsync(broker.mqttUrl, { clientId: `load-${id}`, reconnectPeriod: 0 })));
    for (const [i, c] of clients.entries()) c.on('close', () => disconnects.push(`client ${i} closed`));
    const [a, b, r] = clients as [MqttClient, MqttClient, MqttClient];
    const retainedLoad = (async () => {
      const mine: string[] = [];
      for (let i = 0; i < 20; i++) {
        const payload = `retained-${i}`;
        await r.publishAsync(i % 2 === 0 ? TOPIC_600 : TOPIC_60000, payload, { qos: 1, retain: true });
        mine.push(payload);
      }
      return mine;
    })();
    const results = await Promise.all([load(a, 'a', LOAD_MESSAGES, LOAD_WINDOW), load(b, 'b', LOAD_MESSAGES, LOAD_WINDOW), retainedLoad]);
    for (const list of results) acked.push(...list);
    assert.equal(acked.length, 2 * LOAD_MESSAGES + 20);
    assert.deepEqual(disconnects, [], 'no client may be disconnected');
    for (const c of clients) await c.endAsync();

    // Each crash right at a PUBACK; the next run starts on the same data dir.
    const crashes: Array<[string, string, boolean]> = [
      [TOPIC_600, 'final-600', true],
      [TOPIC_60000, 'final-60000', true],
      ['durable/queued', 'queued-final', false],
    ];
    for (const [topic, payload, retain] of crashes) {
      await publishThenCrash(broker, topic, payload, retain);
      acked.push(payload);
      broker = await startServe({ dataDir });
    }

    const fresh = await connectAsync(broker.mqttUrl, { reconnectPeriod: 0 });
    const retained = new Map<string, string>();
    fresh.on('message', (topic, payload, packet) => {
      if (packet.retain) retained.set(topic, payload.toString());
    });
    await fresh.subscribeAsync('long/#', { qos: 1 });
    await until('both retained messages', () => retained.size === 2, 20_000);
    assert.equal(retained.get(TOPIC_600), 'final-600');
    assert.equal(retained.get(TOPIC_60000), 'final-60000');
    await fresh.endAsync();

    const back = await connectAsync(broker.mqttUrl, { clientId: 'sleeper', clean: false, reconnectPeriod: 0 });
    const queued: string[] = [];
    back.on('message', (_topic, payload) => queued.push(payload.toString()));
    await until('the queued message', () => queued.length >= 1, 20_000);
    assert.deepEqual(queued, ['queued-final']);
    await back.endAsync();
  } finally {
    assert.equal(await broker.stop(), 0);
  }

  const streams = await runCli(['log', 'streams', '--data-dir', dataDir, '--json']);
  assert.equal(streams.code, 0, streams.stderr);
  const [def] = JSON.parse(streams.stdout) as Array<{ stream: string; partitions: Array<{ partition: number; startOffset: number; endOffset: number; records: number }> }>;
  assert.equal(def?.stream, 'default');
  const total = def.partitions.reduce((n, p) => n + p.records, 0);
  assert.equal(total, acked.length, 'exactly one record per acked publish');

  const read = await runCli(['log', 'read', 'default', '--data-dir', dataDir, '--json']);
  assert.equal(read.code, 0, read.stderr);
  const records = jsonLines<{ partition: number; offset: number; payload: string }>(read.stdout);
  for (const p of def.partitions) {
    const offsets = records.filter((rec) => rec.partition === p.partition).map((rec) => rec.offset);
    assert.equal(p.startOffset, 0);
    assert.deepEqual(offsets, Array.from({ length: p.endOffset }, (_, i) => i), `partition ${p.partition}: offsets 0..${p.endOffset - 1} without a gap`);
  }
  const logged = new Set(records.map((rec) => rec.payload));
  const missing = acked.filter((payload) => !logged.has(payload));
  assert.deepEqual(missing, [], `${missing.length} acked messages are not in the log`);
});
