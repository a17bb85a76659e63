/**
 * Keepalive and sleep through the bridge inside `serve`, with scapy's MQTT-SN codec on the device side:
 *  - a device silent past 1.5 × its keepalive is lost: its MQTT link is dropped without DISCONNECT,
 *    so the broker publishes its will (and the loss is counted);
 *  - the full sleep cycle: DISCONNECT with a duration is answered and the device sleeps; messages for
 *    it are buffered (nothing is sent while it sleeps); PINGREQ with its client id gets every buffered
 *    message, in order, each REGISTERed first where needed, and only THEN PINGRESP; it sleeps again;
 *    a CONNECT wakes it and the buffer follows the CONNACK;
 *  - the buffer is bounded: beyond `bufferedMessagesMax` messages are dropped and counted;
 *  - a sleeping device silent past 1.5 × its sleep duration is lost, and its will fires.
 */
import test from 'node:test';
import assert from 'node:assert/strict';
import { metricValue } from '../helpers/broker.js';
import { nextPublish, publisher, subscriber } from './mqtt-side.js';
import { startBridgeServe, type BridgeServe } from './serve-bridge.js';
import { SnClient } from './sn-client.js';

let broker: BridgeServe;
let sn: SnClient;

test.before(async () => {
  broker = await startBridgeServe('    bufferedMessagesMax: 3\n');
  sn = SnClient.start();
});
test.after(async () => {
  await sn.close();
  assert.equal(await broker.stop(), 0);
});

async function connectWithWill(sock: string, clientId: string, duration: number): Promise<void> {
  await sn.send(sock, { type: 'CONNECT', client_id: clientId, duration, cleansess: 1, will: 1 });
  await sn.expect(sock, 'WILLTOPICREQ');
  await sn.send(sock, { type: 'WILLTOPIC', qos: 1, will_topic: `wills/${clientId}` });
  await sn.expect(sock, 'WILLMSGREQ');
  await sn.send(sock, { type: 'WILLMSG', will_msg: `${clientId} lost` });
  assert.equal((await sn.expect(sock, 'CONNACK')).return_code, 0);
}

/** Acks the next delivery on `sock` (REGISTER first if one comes); returns the PUBLISH. */
async function takeDelivery(sock: string): Promise<{ type: string; data?: unknown; tid?: unknown }> {
  let p = await sn.recv(sock, 3);
  assert.ok(p !== null, 'a delivery');
  if (p.type === 'REGISTER') {
    await sn.send(sock, { type: 'REGACK', tid: p.tid, mid: p.mid, return_code: 0 });
    p = await sn.recv(sock, 3);
    assert.ok(p !== null, 'the PUBLISH after the REGISTER');
  }
  if (p.type === 'PUBLISH') await sn.send(sock, { type: 'PUBACK', tid: p.tid, mid: p.mid, return_code: 0 });
  return p;
}

test('keepalive: a device silent past 1.5 x its duration is lost and the broker publishes its will', async () => {
  const wills = await subscriber(broker.mqttPort, 'wills/dev-k');
  await sn.open('k', broker.udpPort);
  await connectWithWill('k', 'dev-k', 1);
  const t0 = Date.now();
  await sn.send('k', { type: 'PINGREQ' });
  await sn.expect('k', 'PINGRESP');
  const will = await nextPublish(wills, 5_000);
  const ms = Date.now() - t0;
  assert.deepEqual([will.topic, will.payload], ['wills/dev-k', 'dev-k lost']);
  assert.ok(ms >= 1_400 && ms < 4_000, `will after ${ms} ms`);
  assert.ok(metricValue(await broker.metrics(), 'tributary_bridge_devices_lost_total') >= 1);
  wills.destroy();
});

test('sleep cycle: buffered while asleep; PINGREQ(client id) delivers the buffer in order, then PINGRESP; CONNECT wakes; bound counted', async () => {
  const pub = await publisher(broker.mqttPort);
  await sn.open('z', broker.udpPort);
  await sn.connect('z', 'dev-z', { duration: 10, cleansess: 1 });
  await sn.send('z', { type: 'SUBSCRIBE', qos: 1, topic_name: 'sleep/dev-z/#', mid: 1 });
  await sn.expect('z', 'SUBACK');
  await sn.send('z', { type: 'DISCONNECT', duration: 20 });
  await sn.expect('z', 'DISCONNECT');

  for (const [topic, payload] of [['sleep/dev-z/a', 'm1'], ['sleep/dev-z/b', 'm2'], ['sleep/dev-z/a', 'm3']] as const) await pub.publish(topic, payload);
  await sn.silence('z', 0.7); // asleep: nothing is sent

  await sn.send('z', { type: 'PINGREQ', client_id: 'dev-z' });
  const seen: string[] = [];
  for (;;) {
    const p = await takeDelivery('z');
    if (p.type === 'PINGRESP') break;
    assert.equal(p.type, 'PUBLISH');
    seen.push(String(p.data));
  }
  assert.deepEqual(seen, ['m1', 'm2', 'm3'], 'every buffered message, in order, before PINGRESP');

  // Asleep again: a PINGREQ with nothing buffered is answered at once.
  await sn.send('z', { type: 'PINGREQ', client_id: 'dev-z' });
  await sn.expect('z', 'PINGRESP');

  // Beyond the bound of 3: dropped and counted.
  const before = metricValue(await broker.metrics(), 'tributary_bridge_dropped_total{reason="sleep-buffer-full"}');
  for (const payload of ['b1', 'b2', 'b3', 'b4', 'b5']) await pub.publish('sleep/dev-z/a', payload);
  await sn.silence('z', 0.5);
  assert.equal(metricValue(await broker.metrics(), 'tributary_bridge_dropped_total{reason="sleep-buffer-full"}'), before + 2);

  // CONNECT wakes it: CONNACK, then the buffer.
  await sn.send('z', { type: 'CONNECT', client_id: 'dev-z', duration: 10, cleansess: 0 });
  assert.equal((await sn.expect('z', 'CONNACK')).return_code, 0);
  const woke: string[] = [];
  for (let i = 0; i < 3; i++) woke.push(String((await takeDelivery('z')).data));
  assert.deepEqual(woke, ['b1', 'b2', 'b3']);
  await sn.send('z', { type: 'DISCONNECT' });
  await sn.expect('z', 'DISCONNECT');
  pub.close();
});

test('a sleeping device silent past 1.5 x its sleep duration is lost, and its will fires', async () => {
  const wills = await subscriber(broker.mqttPort, 'wills/dev-q');
  await sn.open('q', broker.udpPort);
  await connectWithWill('q', 'dev-q', 60);
  await sn.send('q', { type: 'DISCONNECT', duration: 1 });
  await sn.expect('q', 'DISCONNECT');
  const t0 = Date.now();
  const will = await nextPublish(wills, 5_000);
  const ms = Date.now() - t0;
  assert.equal(will.payload, 'dev-q lost');
  assert.ok(ms >= 1_300, `will after ${ms} ms`);
  wills.destroy();
});
