/**
 * A Kafka API listener with `sasl: true` checks SASL PLAIN against `mqtt.auth.passwordFile`:
 *   - kafkajs (SaslHandshake + SaslAuthenticate, classic) and @platformatic/kafka (flexible) with the
 *     right user and password consume in a group;
 *   - a wrong password, or an unknown user, fails with an authentication error (kafkajs:
 *     KafkaJSSASLAuthenticationError), and nothing is read;
 *   - a client that skips SASL (a Metadata request as its first frame) is disconnected unanswered;
 *   - ApiVersions there advertises SaslHandshake and SaslAuthenticate, and neither Produce nor
 *     OffsetForLeaderEpoch; an authenticated kafkajs producer cannot write, and the log is unchanged.
 */
import assert from 'node:assert/strict';
import net from 'node:net';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { Kafka, logLevel } from 'kafkajs';
import { runCli } from '../helpers/cli.js';
import { tmpDir } from '../helpers/tmp.js';
import { ConsumerChild, MqttFeed, assertRecord, byPosition, serveYaml, startKafkaApi, type KafkaApiServe, type SeenRecord } from './harness.js';

const gateway = 'gw-sasl';
const stream = 'secured';
const user = 'reader';
const password = 'correct horse battery staple';

let serve: KafkaApiServe;
const children: ConsumerChild[] = [];

before(async () => {
  const passwordFile = path.join(tmpDir('ka-sasl-'), 'passwd');
  const made = await runCli(['passwd', '-c', '-b', passwordFile, user, password]);
  assert.equal(made.code, 0, made.stderr);
  serve = await startKafkaApi(serveYaml(gateway, [{ name: stream, partitions: 2 }], { listener: 'sasl: true', extra: `mqtt: { auth: { passwordFile: ${JSON.stringify(passwordFile)} } }` }));
  assert.equal(serve.listeners[0]?.sasl, true, `the listening line says sasl: ${JSON.stringify(serve.listeners)}`);
});

after(async () => {
  await Promise.all(children.map((c) => c.kill()));
  assert.equal(await serve?.broker.stop(), 0);
});

/** End offsets of the stream, from the log itself. */
async function endOffsets(): Promise<number[]> {
  const r = await runCli(['log', 'streams', '--data-dir', serve.broker.dataDir, '--json']);
  assert.equal(r.code, 0, r.stderr);
  const s = (JSON.parse(r.stdout) as Array<{ stream: string; partitions: Array<{ endOffset: number }> }>).find((x) => x.stream === stream);
  return s?.partitions.map((p) => p.endOffset) ?? [];
}

test('the right PLAIN user and password consume; a wrong one is refused; no SASL, no answer; nothing can be produced', async () => {
  const feed = await MqttFeed.open(serve.broker.mqttUrl, 2);
  const published = await feed.publishMany(['secured/a', 'secured/b', 'secured/c'], 30, 'secret');
  await feed.close();

  for (const client of ['kafkajs', 'platformatic'] as const) {
    const c = ConsumerChild.start(client, { client, bootstrap: serve.bootstrap, groupId: `sasl-${client}`, topic: stream, sessionTimeoutMs: 3000, heartbeatMs: 300, sasl: { username: user, password } });
    children.push(c);
    await c.waitFor(`${client} reading all ${published.length}`, (x) => x.records().length >= published.length, 30_000);
    const seen = byPosition(c.records());
    byPosition(published).forEach((p, i) => assertRecord(seen[i] as SeenRecord, p, stream, gateway));
    assert.deepEqual(c.errors(), [], `${client} authenticated without errors`);
    assert.equal(await c.stop(), 0);
  }

  for (const [who, pass] of [[user, 'wrong password'], ['nobody', password]] as const) {
    const kafka = new Kafka({ clientId: 'sasl-wrong', brokers: [serve.bootstrap], logLevel: logLevel.NOTHING, retry: { retries: 0 }, sasl: { mechanism: 'plain', username: who, password: pass } });
    const consumer = kafka.consumer({ groupId: 'sasl-wrong' });
    await assert.rejects(consumer.connect(), (err: Error) => {
      assert.equal(err.name, 'KafkaJSSASLAuthenticationError', `${who}/${pass}: ${err.name}: ${err.message}`);
      return true;
    });
    await consumer.disconnect();
  }

  // No SASL: a Metadata v4 request as the first frame gets no answer, and the connection closes.
  const metadataV4 = frame(3, 4, 7, Buffer.from([0xff, 0xff, 0xff, 0xff, 0x00]));
  const reply = await exchange(metadataV4);
  assert.equal(reply.closed, true, 'the connection is closed');
  assert.equal(reply.data.length, 0, `no answer without SASL (got ${reply.data.length} bytes)`);

  // ApiVersions v0 is answered before SASL, as in Kafka: it names the SASL APIs; Produce is advertised
  // only for librdkafka's sake (handlers.ts) and refused below.
  const versions = await exchange(frame(18, 0, 9, Buffer.alloc(0)), true);
  const apis = parseApiVersionsV0(versions.data);
  assert.equal(apis.correlationId, 9);
  assert.equal(apis.errorCode, 0);
  const keys = new Set(apis.apis.map((a) => a.key));
  for (const [key, name] of [[17, 'SaslHandshake'], [36, 'SaslAuthenticate']] as const) assert.ok(keys.has(key), `${name} advertised`);
  assert.ok(!keys.has(23), 'OffsetForLeaderEpoch not advertised');

  // An authenticated producer cannot write.
  const before = await endOffsets();
  const kafka = new Kafka({ clientId: 'sasl-producer', brokers: [serve.bootstrap], logLevel: logLevel.NOTHING, retry: { retries: 0 }, sasl: { mechanism: 'plain', username: user, password } });
  const producer = kafka.producer({ allowAutoTopicCreation: false });
  await producer.connect().catch(() => undefined);
  await assert.rejects(producer.send({ topic: stream, acks: -1, messages: [{ value: 'from a producer' }] }), (err: Error) => {
    assert.match(`${err.message} ${String((err as { cause?: unknown }).cause ?? '')}`, /authoriz|read-only|MQTT/i, `the producer is told it may not write: ${err.message}`);
    return true;
  });
  await producer.disconnect();
  assert.deepEqual(await endOffsets(), before, 'the log is unchanged');
});

/** A request frame: size, api key, version, correlation id, client id `sasl-test` (header v1), body. */
function frame(apiKey: number, version: number, correlationId: number, body: Buffer): Buffer {
  const clientId = Buffer.from('sasl-test');
  const header = Buffer.alloc(10);
  header.writeInt16BE(apiKey, 0);
  header.writeInt16BE(version, 2);
  header.writeInt32BE(correlationId, 4);
  header.writeInt16BE(clientId.length, 8);
  const payload = Buffer.concat([header, clientId, body]);
  const size = Buffer.alloc(4);
  size.writeInt32BE(payload.length, 0);
  return Buffer.concat([size, payload]);
}

/** Sends `request` on a fresh connection; collects what comes back until close, or one whole frame when `oneFrame`. */
function exchange(request: Buffer, oneFrame = false, timeoutMs = 5000): Promise<{ data: Buffer; closed: boolean }> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(Number(serve.bootstrap.split(':')[1]), '127.0.0.1');
    let data = Buffer.alloc(0);
    const timer = setTimeout(() => {
      socket.destroy();
      resolve({ data, closed: false });
    }, timeoutMs);
    socket.on('connect', () => socket.write(request));
    socket.on('data', (d: Buffer) => {
      data = Buffer.concat([data, d]);
      if (oneFrame && data.length >= 4 && data.length >= 4 + data.readInt32BE(0)) {
        clearTimeout(timer);
        socket.destroy();
        resolve({ data, closed: false });
      }
    });
    socket.on('error', () => undefined);
    socket.on('close', () => {
      clearTimeout(timer);
      resolve({ data, closed: true });
    });
    socket.on('timeout', () => reject(new Error('timeout')));
  });
}

/** ApiVersions response v0: size, correlation id, error code, [api key, min, max]. */
function parseApiVersionsV0(b: Buffer): { correlationId: number; errorCode: number; apis: Array<{ key: number; min: number; max: number }> } {
  assert.ok(b.length >= 14, `an ApiVersions response (${b.length} bytes)`);
  const count = b.readInt32BE(10);
  const apis = [];
  for (let i = 0, at = 14; i < count; i++, at += 6) apis.push({ key: b.readInt16BE(at), min: b.readInt16BE(at + 2), max: b.readInt16BE(at + 4) });
  return { correlationId: b.readInt32BE(4), errorCode: b.readInt16BE(8), apis };
}
