/**
 * The ACL (`mqtt.auth.aclFile`, Mosquitto's acl_file syntax) enforced by `serve`, with users from a
 * password file and real MQTT clients:
 *  - a denied PUBLISH is acked (MQTT 3.1.1 has no negative PUBACK), never appended to the log, never
 *    delivered, and counted as `tributary_rejected_publishes_total{reason="not-authorized"}`;
 *  - a denied SUBSCRIBE gets SUBACK 0x80 for that filter while the others in the packet are granted;
 *  - a wildcard subscription never delivers a topic the client may not read, live or retained;
 *  - `pattern` rules with %u and %c give each device its own topics;
 *  - a will on a topic the client may not write is refused at CONNECT with return code 5.
 */
import test from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { connectAsync, type MqttClient } from 'mqtt';
import type { IPublishPacket, ISubackPacket } from 'mqtt-packet';
import { metricValue, RawClient, startServe } from '../helpers/broker.js';
import { jsonLines, runCli } from '../helpers/cli.js';
import { tmpDir } from '../helpers/tmp.js';
import { until } from '../helpers/until.js';

const ACL = `user alice
topic readwrite plant/#
topic deny plant/secret
user bob
topic read plant/+/temp
pattern write devices/%c/up
pattern read inbox/%u/#
`;

test('publish, subscribe, delivery (live and retained), patterns and wills follow the ACL', async () => {
  const dir = tmpDir();
  const passwd = path.join(dir, 'passwd');
  execFileSync('mosquitto_passwd', ['-c', '-b', passwd, 'alice', 'a']);
  execFileSync('mosquitto_passwd', ['-b', passwd, 'bob', 'b']);
  fs.writeFileSync(path.join(dir, 'acl'), ACL);
  const broker = await startServe({ configYaml: `mqtt: { auth: { passwordFile: ${passwd}, aclFile: ${path.join(dir, 'acl')} } }\n` });
  const clients: MqttClient[] = [];
  const open = async (username: string, password: string, clientId: string): Promise<MqttClient> => {
    const c = await connectAsync(broker.mqttUrl, { username, password, clientId, reconnectPeriod: 0 });
    clients.push(c);
    return c;
  };
  try {
    const alice = await open('alice', 'a', 'alice-1');
    // Retained before bob subscribes: one he may read, one he may not.
    await alice.publishAsync('plant/1/temp', '21', { qos: 1, retain: true });
    await alice.publishAsync('plant/1/pressure', '3', { qos: 1, retain: true });

    // A raw client: mqtt.js rejects a SUBACK that refuses a filter, and this one should.
    const { client: bob } = await RawClient.connect(broker.mqttPort, { clientId: 'bob-1', username: 'bob', password: Buffer.from('b') });
    const got = (): string[] =>
      bob.packets.filter((p): p is IPublishPacket => p.cmd === 'publish').map((p) => `${p.topic}=${p.payload.toString()}`);
    bob.send({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: 'plant/#', qos: 0 }, { topic: 'plant/+/pressure', qos: 0 }, { topic: 'inbox/bob/#', qos: 0 }] });
    const suback = (await bob.next('suback')) as ISubackPacket;
    assert.deepEqual(suback.granted, [0, 128, 0]);
    await until('the readable retained message', () => got().includes('plant/1/temp=21'));

    await alice.publishAsync('plant/2/temp', '19', { qos: 1 });
    await alice.publishAsync('plant/2/pressure', '4', { qos: 1 });
    await alice.publishAsync('plant/secret', 'leak', { qos: 1 }); // denied for alice: acked, dropped
    await alice.publishAsync('inbox/bob/hello', 'hi', { qos: 1 }); // alice may not write there: acked, dropped
    await alice.publishAsync('devices/alice-1/up', 'mine', { qos: 1 }); // %c pattern
    await alice.publishAsync('devices/bob-1/up', 'not mine', { qos: 1 }); // denied
    await until('the readable live message', () => got().includes('plant/2/temp=19'));
    const marker = await open('alice', 'a', 'alice-2');
    await marker.publishAsync('plant/9/temp', 'last', { qos: 1 });
    await until('the last message', () => got().includes('plant/9/temp=last'));
    bob.destroy();
    assert.deepEqual(got(), ['plant/1/temp=21', 'plant/2/temp=19', 'plant/9/temp=last'], 'bob received only what he may read');

    // A will on a topic the client may not write: refused at CONNECT.
    const { client: raw, connack } = await RawClient.connect(broker.mqttPort, {
      clientId: 'bob-2',
      username: 'bob',
      password: Buffer.from('b'),
      will: { topic: 'plant/1/temp', payload: Buffer.from('gone'), qos: 0, retain: false },
    });
    raw.destroy();
    assert.equal(connack.returnCode, 5);

    const metrics = await broker.metrics();
    assert.equal(metricValue(metrics, 'tributary_rejected_publishes_total{reason="not-authorized"}'), 3);
    assert.equal(metricValue(metrics, 'tributary_auth_failures_total{reason="will-denied"}'), 1);
  } finally {
    for (const c of clients) await c.endAsync();
    assert.equal(await broker.stop(), 0);
  }
  const read = await runCli(['log', 'read', 'default', '--data-dir', broker.dataDir, '--json']);
  assert.equal(read.code, 0, read.stderr);
  const topics = jsonLines<{ topic: string }>(read.stdout).map((r) => r.topic).sort();
  assert.deepEqual(topics, ['devices/alice-1/up', 'plant/1/pressure', 'plant/1/temp', 'plant/2/pressure', 'plant/2/temp', 'plant/9/temp'], 'denied publishes are not in the log');
});
