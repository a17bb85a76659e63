/**
 * The classic MQTT 3.1.1 interoperability scenarios (after the Eclipse Paho test suite) against a
 * real `tributary serve`: basic connect, retained messages, will on abnormal disconnect, zero-length
 * client id, offline queueing for a persistent session, overlapping subscriptions, keepalive timeout
 * firing the will, redelivery on reconnect, `$`-topics not matched by `#`, unsubscribe. Live delivery
 * must behave as in any broker while every publish also goes through the log.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { connect as mqttConnect, connectAsync, type IClientOptions, type MqttClient } from 'mqtt';
import type { IConnackPacket, IPublishPacket } from 'mqtt-packet';
import { RawClient, startServe, type RunningBroker } from '../helpers/broker.js';
import { until } from '../helpers/until.js';

let broker: RunningBroker;
const open: MqttClient[] = [];

before(async () => {
  broker = await startServe();
});

after(async () => {
  await Promise.all(open.map((c) => c.endAsync(true)));
  assert.equal(await broker.stop(), 0);
});

async function connect(options: IClientOptions = {}): Promise<MqttClient> {
  const c = await connectAsync(broker.mqttUrl, { reconnectPeriod: 0, ...options });
  open.push(c);
  return c;
}

/** Collects messages a client receives. */
function inbox(c: MqttClient): Array<{ topic: string; payload: string; qos: number; retain: boolean }> {
  const got: Array<{ topic: string; payload: string; qos: number; retain: boolean }> = [];
  c.on('message', (topic, payload, packet) => got.push({ topic, payload: payload.toString(), qos: packet.qos, retain: packet.retain }));
  return got;
}


const settle = (ms = 300) => new Promise((resolve) => setTimeout(resolve, ms));

test('basic: connect, subscribe, publish at QoS 0, 1 and 2, receive all three', async () => {
  const c = await connect({ clientId: 'basic' });
  const got = inbox(c);
  await c.subscribeAsync('basic/#', { qos: 2 });
  for (const qos of [0, 1, 2] as const) await c.publishAsync('basic/t', `qos${qos}`, { qos });
  await until('the expected messages', () => got.length === 3);
  assert.deepEqual(got.map((m) => [m.payload, m.qos]).sort(), [['qos0', 0], ['qos1', 1], ['qos2', 2]]);
});

test('retained messages: delivered to new subscribers with the retain flag, cleared by an empty payload', async () => {
  const pub = await connect();
  for (const qos of [0, 1, 2] as const) await pub.publishAsync(`retained/q${qos}`, `r${qos}`, { qos, retain: true });
  const sub = await connect();
  const got = inbox(sub);
  await sub.subscribeAsync('retained/+', { qos: 2 });
  await until('the expected messages', () => got.length === 3);
  assert.ok(got.every((m) => m.retain));
  for (const qos of [0, 1, 2]) await pub.publishAsync(`retained/q${qos}`, '', { qos: 1, retain: true });
  await settle(); // the clearing publishes are delivered live after their PUBACK; let them pass
  const late = await connect();
  const none = inbox(late);
  await late.subscribeAsync('retained/+', { qos: 2 });
  await settle();
  assert.deepEqual(none, []);
});

test('will message on abnormal disconnect, not on DISCONNECT', async () => {
  const watcher = await connect();
  const got = inbox(watcher);
  await watcher.subscribeAsync('will/#', { qos: 2 });
  const polite = await connect({ will: { topic: 'will/polite', payload: Buffer.from('no'), qos: 1, retain: false } });
  await polite.endAsync();
  const dying = await connect({ will: { topic: 'will/abnormal', payload: Buffer.from('gone'), qos: 1, retain: false } });
  dying.stream.destroy();
  await until('the expected messages', () => got.length >= 1);
  await settle();
  assert.deepEqual(got.map((m) => m.topic), ['will/abnormal']);
});

test('zero-length client id: accepted with clean session, refused (CONNACK 2) without [MQTT-3.1.3-8]', async () => {
  const clean = await RawClient.connect(broker.mqttPort, { clientId: '', clean: true });
  assert.equal(clean.connack.returnCode, 0);
  clean.client.destroy();
  // mqt-packet will not even encode this CONNECT, so it is written by hand: protocol "MQTT" level 4,
  // flags 0 (CleanSession 0), keepalive 0, client id of length 0.
  const persistent = await RawClient.open(broker.mqttPort);
  persistent.socket.write(Buffer.from([0x10, 0x0c, 0x00, 0x04, 0x4d, 0x51, 0x54, 0x54, 0x04, 0x00, 0x00, 0x00, 0x00, 0x00]));
  const connack = (await persistent.next('connack')) as IConnackPacket;
  assert.equal(connack.returnCode, 2);
  await persistent.closed;
});

test('offline queueing: a persistent session receives the QoS 1 and 2 messages sent while it was away', async () => {
  const first = await connect({ clientId: 'offline-q', clean: false });
  await first.subscribeAsync('offline/#', { qos: 2 });
  await first.endAsync();
  const pub = await connect();
  for (const qos of [0, 1, 2] as const) await pub.publishAsync('offline/t', `q${qos}`, { qos });
  // Listen before the CONNACK: the queued messages follow it at once.
  const back = mqttConnect(broker.mqttUrl, { clientId: 'offline-q', clean: false, reconnectPeriod: 0 });
  open.push(back);
  const got = inbox(back);
  await until('the expected messages', () => got.length >= 2);
  await settle();
  const payloads = got.map((m) => m.payload).sort();
  assert.ok(payloads.includes('q1') && payloads.includes('q2'), `got ${payloads.join(',')}`);
});

test('overlapping subscriptions: the message arrives at the highest granted QoS', async () => {
  const c = await connect();
  const got = inbox(c);
  await c.subscribeAsync({ 'overlap/#': { qos: 2 }, 'overlap/+': { qos: 1 } });
  await c.publishAsync('overlap/x', 'both', { qos: 2 });
  await until('the expected messages', () => got.length >= 1);
  await settle();
  // Either one copy at QoS 2 or one per subscription (QoS 1 and 2) is allowed [MQTT-3.3.5-1].
  assert.ok(got.some((m) => m.qos === 2), JSON.stringify(got));
  assert.ok(got.length <= 2);
});

test('keepalive timeout fires the will', async () => {
  const watcher = await connect();
  const got = inbox(watcher);
  await watcher.subscribeAsync('keepalive/#', { qos: 1 });
  // A client that promises a ping every second and then goes silent (but keeps its socket open).
  const { client, connack } = await RawClient.connect(broker.mqttPort, {
    clientId: 'silent',
    keepalive: 1,
    will: { topic: 'keepalive/will', payload: Buffer.from('timed out'), qos: 1, retain: false },
  });
  assert.equal(connack.returnCode, 0);
  // [MQTT-3.1.2-24]: the server disconnects after 1.5 x keepalive without a packet.
  await client.closed;
  await until('the expected messages', () => got.length === 1);
  assert.equal(got[0]?.payload, 'timed out');
});

test('redelivery on reconnect: an unacknowledged QoS 1 message is sent again with DUP set', async () => {
  const first = await RawClient.connect(broker.mqttPort, { clientId: 'redeliver', clean: false });
  first.client.send({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: 'redeliver/t', qos: 1 }] });
  await first.client.next('suback');
  const pub = await connect();
  await pub.publishAsync('redeliver/t', 'again', { qos: 1 });
  const unacked = (await first.client.next('publish')) as IPublishPacket;
  assert.equal(unacked.payload.toString(), 'again');
  first.client.destroy(); // no PUBACK
  await first.client.closed;
  const second = await RawClient.connect(broker.mqttPort, { clientId: 'redeliver', clean: false });
  assert.equal(second.connack.sessionPresent, true);
  const again = (await second.client.next('publish')) as IPublishPacket;
  assert.equal(again.payload.toString(), 'again');
  assert.equal(again.dup, true);
  second.client.send({ cmd: 'puback', messageId: again.messageId as number });
  second.client.destroy();
});

test('$-topics are not matched by #', async () => {
  const c = await connect();
  const got = inbox(c);
  await c.subscribeAsync('#', { qos: 1 });
  const pub = await connect();
  await pub.publishAsync('$internal/x', 'dollar', { qos: 1 });
  await pub.publishAsync('plain/x', 'plain', { qos: 1 });
  await until('the expected messages', () => got.some((m) => m.payload === 'plain'));
  await settle();
  assert.ok(got.every((m) => !m.topic.startsWith('$')), JSON.stringify(got.map((m) => m.topic)));
  await c.unsubscribeAsync('#');
});

test('unsubscribe: no more messages on the filter that was removed', async () => {
  const c = await connect();
  const got = inbox(c);
  await c.subscribeAsync(['unsub/a', 'unsub/b'], { qos: 1 });
  await c.unsubscribeAsync('unsub/a');
  const pub = await connect();
  await pub.publishAsync('unsub/a', 'a', { qos: 1 });
  await pub.publishAsync('unsub/b', 'b', { qos: 1 });
  await until('the expected messages', () => got.length >= 1);
  await settle();
  assert.deepEqual(got.map((m) => m.topic), ['unsub/b']);
});
