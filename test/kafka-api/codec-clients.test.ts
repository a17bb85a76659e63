/**
 * The Kafka protocol codec against real clients' traffic: a recording proxy (helpers/recording-proxy.ts)
 * stands between a real consumer and the real Kafka on 19092 and keeps every request and response frame;
 * each is decoded with our codec and re-encoded, and the bytes must be identical. The consumers run a
 * consumer group that reads the records produced here (join, sync, offsets, fetch, commit, leave):
 * kafkajs (classic encodings: Metadata v6, JoinGroup v5, Fetch v11), @platformatic/kafka (flexible:
 * Metadata v12, JoinGroup v9, Fetch v17) and Kafka's own Java console consumer (`--group`). Frames of
 * APIs outside the codec's tables pass through and are only counted. Then the clients' request frames are
 * cut at every byte and mutated 10,000 times: ProtocolError or a decode, nothing else.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { after, before, test } from 'node:test';
import kafkajs from 'kafkajs';
import { Consumer, MessagesStreamFallbackModes, MessagesStreamModes } from '@platformatic/kafka';
import { apiByKey, decodeRequest, decodeResponse, encodeRequest, encodeResponse } from '../../src/kafka-api/protocol/codec.js';
import { API_KEYS } from '../../src/kafka-api/protocol/messages.generated.js';
import { createTopic, ensureKafka, kafkaDev } from '../helpers/kafka.js';
import { assertEveryTruncationRejected, fuzz } from './helpers/fuzz.js';
import { startRecordingProxy, type RecordedFrame, type RecordingProxy } from './helpers/recording-proxy.js';

const execFileAsync = promisify(execFile);
const RECORDS = 5;
const consumeTimeoutMs = 30_000;
const topic = `codec-clients-${process.pid}-${Date.now()}`;

let brokers: string[];
let proxy: RecordingProxy;
/** Client request frames of every run, for the bad-input tests at the end. */
const clientRequests: RecordedFrame[] = [];

before(async () => {
  ({ brokers } = await ensureKafka());
  await createTopic(brokers, topic, 1, 1);
  const kafka = new kafkajs.Kafka({ clientId: 'tributary-codec-clients', brokers, logLevel: kafkajs.logLevel.NOTHING });
  const producer = kafka.producer();
  await producer.connect();
  await producer.send({ topic, messages: Array.from({ length: RECORDS }, (_, i) => ({ key: `k${i}`, value: `client-record-${i}` })) });
  await producer.disconnect();
  const [host = '', port = ''] = (brokers[0] ?? '').split(':');
  proxy = await startRecordingProxy({ host, port: Number(port) });
});

after(async () => {
  await proxy?.close();
});

const isKnown = (f: RecordedFrame): boolean => {
  const api = apiByKey(f.apiKey);
  return api !== undefined && f.apiVersion >= api.validVersions[0] && f.apiVersion <= api.validVersions[1];
};

/** Decodes and re-encodes each frame recorded since `from`; returns the versions seen per API name. */
function assertRoundtrip(from: number, client: string): Map<string, Set<number>> {
  assert.deepEqual(proxy.errors, [], `${client}: the proxy placed and decoded every frame`);
  const seen = new Map<string, Set<number>>();
  const frames = proxy.frames.slice(from);
  assert.ok(frames.length > 0, `${client}: traffic went through the proxy`);
  for (const f of frames) {
    const name = apiByKey(f.apiKey)?.name ?? `api-${f.apiKey}`;
    if (!isKnown(f)) {
      if (!seen.has(`${name}(passed through)`)) seen.set(`${name}(passed through)`, new Set());
      seen.get(`${name}(passed through)`)?.add(f.apiVersion);
      continue;
    }
    if (!seen.has(name)) seen.set(name, new Set());
    seen.get(name)?.add(f.apiVersion);
    const what = `${client} ${name} v${f.apiVersion} ${f.direction} (correlation id ${f.correlationId})`;
    if (f.direction === 'request') {
      clientRequests.push(f);
      const { header, body } = decodeRequest(f.frame);
      assert.ok(body !== null, `${what} decoded`);
      assert.deepEqual(encodeRequest(header, body).subarray(4), f.frame, `${what} re-encodes byte for byte`);
    } else {
      const { correlationId, body } = decodeResponse(f.apiKey, f.apiVersion, f.frame);
      assert.deepEqual(encodeResponse(f.apiKey, f.apiVersion, correlationId, body).subarray(4), f.frame, `${what} re-encodes byte for byte`);
    }
  }
  return seen;
}

/** Asserts that `client` used each API at the version given; returns what it used, for the test's diagnostics. */
function assertSaw(seen: Map<string, Set<number>>, client: string, expected: Record<string, number>): string {
  const summary = [...seen].map(([name, versions]) => `${name} v${[...versions].join('/')}`).join(', ');
  for (const [name, version] of Object.entries(expected)) {
    assert.ok(seen.get(name)?.has(version), `${client} used ${name} v${version}; it used ${summary}`);
  }
  return `${client}: ${summary}`;
}

const groupApis = ['FindCoordinator', 'JoinGroup', 'SyncGroup', 'OffsetFetch', 'Fetch'] as const;

test('kafkajs consumer group (classic encodings): every frame re-encodes byte for byte', async (t) => {
  const from = proxy.frames.length;
  const kafka = new kafkajs.Kafka({ clientId: 'codec-kafkajs', brokers: [proxy.bootstrap], logLevel: kafkajs.logLevel.NOTHING });
  const consumer = kafka.consumer({ groupId: `codec-kafkajs-${process.pid}-${Date.now()}`, maxWaitTimeInMs: 200 });
  await consumer.connect();
  await consumer.subscribe({ topic, fromBeginning: true });
  const values: string[] = [];
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`kafkajs read ${values.length} of ${RECORDS} records`)), consumeTimeoutMs);
    void consumer.run({
      eachMessage: async ({ message }) => {
        values.push(String(message.value));
        if (values.length === RECORDS) {
          clearTimeout(timer);
          resolve();
        }
      },
    }).catch(reject);
  });
  await consumer.disconnect();
  assert.deepEqual(values, Array.from({ length: RECORDS }, (_, i) => `client-record-${i}`));
  const seen = assertRoundtrip(from, 'kafkajs');
  t.diagnostic(assertSaw(seen, 'kafkajs', { Metadata: 6, JoinGroup: 5, Fetch: 11 }));
  for (const name of [...groupApis, 'OffsetCommit', 'LeaveGroup']) assert.ok(seen.has(name), `kafkajs used ${name}`);
});

test('@platformatic/kafka consumer group (flexible encodings): every frame re-encodes byte for byte', async (t) => {
  const from = proxy.frames.length;
  const consumer = new Consumer({
    clientId: 'codec-platformatic',
    groupId: `codec-platformatic-${process.pid}-${Date.now()}`,
    bootstrapBrokers: [proxy.bootstrap],
    sessionTimeout: 10_000,
    heartbeatInterval: 500,
  });
  consumer.on('error', () => {});
  const values: string[] = [];
  try {
    const stream = await consumer.consume({ topics: [topic], mode: MessagesStreamModes.COMMITTED, fallbackMode: MessagesStreamFallbackModes.EARLIEST, autocommit: 100, maxWaitTime: 200 });
    stream.on('error', () => {});
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`@platformatic/kafka read ${values.length} of ${RECORDS} records`)), consumeTimeoutMs);
      stream.on('data', (message: { value: Buffer }) => {
        values.push(message.value.toString());
        if (values.length === RECORDS) {
          clearTimeout(timer);
          resolve();
        }
      });
    });
    // Long enough for a heartbeat and an autocommit to go through the proxy too.
    await new Promise((resolve) => setTimeout(resolve, 700));
    await stream.close();
  } finally {
    await consumer.close(true);
  }
  assert.deepEqual(values, Array.from({ length: RECORDS }, (_, i) => `client-record-${i}`));
  const seen = assertRoundtrip(from, '@platformatic/kafka');
  t.diagnostic(assertSaw(seen, '@platformatic/kafka', { Metadata: 12, JoinGroup: 9, Fetch: 17 }));
  for (const name of [...groupApis, 'Heartbeat', 'OffsetCommit']) assert.ok(seen.has(name), `@platformatic/kafka used ${name}`);
});

test('the Java console consumer (--group): every frame re-encodes byte for byte', async (t) => {
  const from = proxy.frames.length;
  const classpath = (await kafkaDev(['classpath'])).trim();
  const { stdout } = await execFileAsync('java', [
    '-Xmx256m', '-Dlog4j.configuration=file:/dev/null', '-cp', classpath,
    'org.apache.kafka.tools.consumer.ConsoleConsumer', '--bootstrap-server', proxy.bootstrap, '--topic', topic,
    '--group', `codec-java-${process.pid}-${Date.now()}`, '--from-beginning', '--max-messages', String(RECORDS),
    '--timeout-ms', String(consumeTimeoutMs),
  ], { timeout: consumeTimeoutMs + 60_000 });
  assert.deepEqual(stdout.trim().split('\n'), Array.from({ length: RECORDS }, (_, i) => `client-record-${i}`));
  const seen = assertRoundtrip(from, 'Java console consumer');
  t.diagnostic(assertSaw(seen, 'Java console consumer', { Fetch: 17, JoinGroup: 9 }));
  for (const name of [...groupApis, 'ApiVersions', 'Metadata', 'OffsetCommit', 'LeaveGroup']) assert.ok(seen.has(name), `the Java consumer used ${name}: ${JSON.stringify([...seen.keys()])}`);
});

test('clients\' request frames: every truncation and 10,000 mutations give ProtocolError or a decode', () => {
  const byApi = new Map<string, RecordedFrame>();
  for (const f of clientRequests) byApi.set(`${f.apiKey}/${f.apiVersion}`, f);
  assert.ok(byApi.has(`${API_KEYS.Fetch}/17`) && byApi.has(`${API_KEYS.JoinGroup}/9`) && byApi.has(`${API_KEYS.Fetch}/11`));
  for (const f of byApi.values()) assertEveryTruncationRejected((frame) => decodeRequest(frame), f.frame, `API ${f.apiKey} v${f.apiVersion} request`);
  const frames = [...byApi.values()].map((f) => ({ frame: f.frame, decode: (frame: Buffer) => decodeRequest(frame), what: `API ${f.apiKey} v${f.apiVersion} request` }));
  const tally = fuzz(frames, 10_000, 7);
  assert.ok(tally.rejected > 3_000, JSON.stringify(tally));
});
