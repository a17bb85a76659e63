/**
 * Bad input against a real `tributary serve`: an oversized payload, a packet announcing a huge length,
 * an invalid topic (wildcards in PUBLISH), a publish to `$SYS`, malformed bytes, and a subscriber that
 * never reads while being sent a flood. Each time: that client is disconnected, the reason is counted
 * in `tributary_rejected_publishes_total{reason}` on /metrics and logged, and a second client that
 * publishes QoS 1 all along keeps getting PUBACKs (the process never falls over).
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { connectAsync, type MqttClient } from 'mqtt';
import { until } from '../helpers/until.js';
import { metricValue, RawClient, startServe, type RunningBroker } from '../helpers/broker.js';

const CONFIG = `
mqtt:
  maxPayloadBytes: 65536
  clientWriteBufferMaxBytes: 65536
`;

let broker: RunningBroker;
let good: MqttClient;
let goodAcks = 0;
let goodTimer: NodeJS.Timeout;

before(async () => {
  broker = await startServe({ configYaml: CONFIG });
  good = await connectAsync(broker.mqttUrl, { clientId: 'good', reconnectPeriod: 0 });
  goodTimer = setInterval(() => good.publish('good/t', 'fine', { qos: 1 }, (err) => { if (!err) goodAcks++; }), 10);
});

after(async () => {
  clearInterval(goodTimer);
  await good.endAsync();
  assert.equal(await broker.stop(), 0);
});

async function rejected(reason: string): Promise<number> {
  return metricValue(await broker.metrics(), `tributary_rejected_publishes_total{reason="${reason}"}`);
}

/** Runs a bad client and checks the disconnect, the counted reason, the log line and the good client. */
async function expectRefused(reason: string, misbehave: (c: RawClient) => void | Promise<void>): Promise<void> {
  const before = await rejected(reason);
  const acksBefore = goodAcks;
  const linesBefore = broker.lines.filter((l) => l.reason === reason && l.msg === 'client refused and disconnected').length;
  const { client, connack } = await RawClient.connect(broker.mqttPort, { clientId: `bad-${reason}` });
  assert.equal(connack.returnCode, 0);
  await misbehave(client);
  await client.closed;
  assert.equal(await rejected(reason), before + 1, `one more "${reason}" counted`);
  // The log line travels through the child's stdout pipe and may trail the metrics answer.
  await until(`a log line naming ${reason}`, () => broker.lines.filter((l) => l.reason === reason && l.msg === 'client refused and disconnected').length > linesBefore, 5_000);
  // A PUBACK waits for an fsync, which a loaded disk may stall for a few hundred ms: wait for the next
  // ack rather than for a fixed time (a broker that fell over sends none at all).
  await until('the good client getting PUBACKs', () => goodAcks > acksBefore, 10_000);
  assert.ok(good.connected, 'the good client is still connected');
}

test('an oversized payload disconnects its client', async () => {
  await expectRefused('oversized', (c) => c.send({ cmd: 'publish', topic: 'big', payload: Buffer.alloc(70_000), qos: 1, messageId: 1, retain: false, dup: false }));
});

test('a packet announcing 256 MB is refused before its body is buffered', async () => {
  // PUBLISH QoS 1 with remaining length 268,435,455 (the maximum), and no body.
  await expectRefused('oversized', (c) => void c.socket.write(Buffer.from([0x32, 0xff, 0xff, 0xff, 0x7f])));
});

test('a PUBLISH with wildcards in its topic disconnects its client [MQTT-3.3.2-2]', async () => {
  await expectRefused('invalid-topic', (c) => c.send({ cmd: 'publish', topic: 'a/+/b', payload: Buffer.from('x'), qos: 1, messageId: 1, retain: false, dup: false }));
});

test('a client publishing to $SYS is refused and nothing is logged', async () => {
  await expectRefused('reserved-topic', (c) => c.send({ cmd: 'publish', topic: '$SYS/fake', payload: Buffer.from('x'), qos: 1, messageId: 1, retain: false, dup: false }));
});

test('malformed bytes: a reserved packet type', async () => {
  await expectRefused('malformed', (c) => void c.socket.write(Buffer.from([0x00, 0x00])));
});

test('malformed bytes: a PUBLISH with both QoS bits set', async () => {
  await expectRefused('malformed', (c) => void c.socket.write(Buffer.from([0x36, 0x05, 0x00, 0x01, 0x61, 0x00, 0x01])));
});

test('a subscriber that never reads is disconnected when its write buffer passes the limit', async () => {
  const flooder = await connectAsync(broker.mqttUrl, { clientId: 'flooder', reconnectPeriod: 0 });
  try {
    await expectRefused('slow-client', async (c) => {
      c.send({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: 'flood/#', qos: 0 }] });
      await c.next('suback');
      c.socket.pause(); // never read again
      const payload = Buffer.alloc(60_000, 0x61);
      for (let batch = 0; batch < 40 && !c.socket.destroyed; batch++) {
        await Promise.all(Array.from({ length: 20 }, () => flooder.publishAsync('flood/x', payload, { qos: 1 })));
        if (await rejected('slow-client')) break;
      }
      c.socket.resume(); // read again, only to notice the disconnect
    });
  } finally {
    await flooder.endAsync();
  }
});
