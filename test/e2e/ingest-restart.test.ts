/**
 * Broker state in LMDB survives a restart, including a crash: retained messages and a persistent
 * session (CleanSession 0) with its subscription and the QoS 1 messages queued for it while it was
 * offline. serve is killed with SIGKILL after the publisher got its PUBACKs, restarted on the same
 * data dir, and the state is all there.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { connect, connectAsync, type MqttClient } from 'mqtt';
import { startServe } from '../helpers/broker.js';
import { until } from '../helpers/until.js';

function collect(c: MqttClient): Array<{ topic: string; payload: string; retain: boolean }> {
  const got: Array<{ topic: string; payload: string; retain: boolean }> = [];
  c.on('message', (topic, payload, packet) => got.push({ topic, payload: payload.toString(), retain: packet.retain }));
  return got;
}


test('retained messages and a persistent session queue survive kill -9 and restart', async () => {
  const first = await startServe();
  const session = await connectAsync(first.mqttUrl, { clientId: 'sleeper', clean: false, reconnectPeriod: 0 });
  await session.subscribeAsync('queue/#', { qos: 1 });
  await session.endAsync();

  const pub = await connectAsync(first.mqttUrl, { reconnectPeriod: 0 });
  await pub.publishAsync('state/retained', 'kept', { qos: 1, retain: true });
  for (let i = 0; i < 3; i++) await pub.publishAsync('queue/x', `queued-${i}`, { qos: 1 });
  // Nothing to wait for: the retained store and the offline queue are synced before each PUBACK.
  await pub.endAsync(true);
  await first.kill();

  const second = await startServe({ dataDir: first.dataDir });
  try {
    const fresh = await connectAsync(second.mqttUrl, { reconnectPeriod: 0 });
    const retained = collect(fresh);
    await fresh.subscribeAsync('state/#', { qos: 1 });
    await until('the expected messages', () => retained.length === 1);
    assert.deepEqual(retained, [{ topic: 'state/retained', payload: 'kept', retain: true }]);
    await fresh.endAsync();

    const back = connect(second.mqttUrl, { clientId: 'sleeper', clean: false, reconnectPeriod: 0 });
    const queued = collect(back);
    await until('the expected messages', () => queued.length === 3);
    assert.deepEqual(queued.map((m) => m.payload), ['queued-0', 'queued-1', 'queued-2']);
    await back.endAsync();
  } finally {
    assert.equal(await second.stop(), 0);
  }
});
