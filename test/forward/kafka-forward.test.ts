/**
 * Proves forwarding into a real Apache Kafka (the shared cluster of scripts/kafka-dev.sh on 19092): records
 * of two streams arrive in their Kafka topics (`upstream.topic`, or the stream name) with the partition key
 * as Kafka key, the payload as value, the record timestamp, and all five headers; per key, order holds; the
 * `upstream` cursor reaches the end of every partition. Then bad upstream configs (an unknown host, a port
 * nothing listens on, a topic name Kafka refuses) each give a clear state and log line, no crash and no
 * unhandled rejection, and leave every record in the log with the cursor unmoved. Kafka must be startable:
 * these tests fail, never skip, without it.
 */
import assert from 'node:assert/strict';
import net from 'node:net';
import { after, before, describe, test } from 'node:test';
import { createForwarder, createKafkaSink, kafkaSinkOptions, type Forwarder } from '../../src/forward/index.js';
import type { Config } from '../../src/config/load.js';
import { UPSTREAM_GROUP, type Log } from '../../src/log/index.js';
import { consumeAll, ensureKafka } from '../helpers/kafka.js';
import { checkDelivery, expectAll } from './delivery.js';
import { captureLogger, forwardConfig, openLog, publish, waitFor } from './harness.js';

const runId = `${process.pid}-${Date.now()}`;
const unhandled: unknown[] = [];
process.on('unhandledRejection', (reason) => unhandled.push(reason));

function kafkaForwarder(log: Log, config: Config) {
  const { logger, lines } = captureLogger();
  const kafka = config.upstream.kafka;
  assert.ok(kafka);
  const forwarder = createForwarder({ log, config, gatewayId: config.gateway.id, logger, sinkFactory: () => createKafkaSink(kafkaSinkOptions(kafka, config.gateway.id)) });
  return { forwarder, lines };
}

function partitionsOf(log: Log, streams: string[]) {
  return streams.flatMap((stream) => log.info().find((s) => s.stream === stream)?.partitions.map((p) => ({ stream, ...p })) ?? []);
}

describe('forwarding to a running Kafka', () => {
  let brokers: string[] = [];
  before(async () => {
    ({ brokers } = await ensureKafka());
  });
  after(() => assert.deepEqual(unhandled, []));

  test('topic, key, value, timestamp, headers and per-key order; the cursor reaches the end', async (t) => {
    const telemetryTopic = `fwd-telemetry-${runId}`;
    // A request timeout no loaded machine reaches: a timed-out request is sent again and may duplicate what
    // Kafka already wrote (the contract allows it), and here exactly once is asserted.
    const config = forwardConfig({ brokers, requestTimeoutMs: 30_000, batch: { maxRecords: 500, maxBytes: 1024 * 1024, lingerMs: 5 } }, [
      { name: 'telemetry', match: ['sensors/+/telemetry'], partitions: 4, key: 'topic-level:1', upstream: { topic: telemetryTopic } },
      { name: `events-${runId}`, match: ['events/#'], partitions: 2, key: 'client-id' },
    ]);
    const log = await openLog(config);
    const { forwarder } = kafkaForwarder(log, config);
    t.after(() => forwarder.close().then(() => log.close()));
    forwarder.start();
    await publish(log, config, 3000, (i) => `sensors/dev-${i % 13}/telemetry`);
    await publish(log, config, 500, (i) => `events/e${i}`, 'client-7');
    await waitFor('drained', () => forwarder.lag().every((l) => l.lagRecords === 0), 60_000);
    for (const p of partitionsOf(log, ['telemetry'])) assert.equal(log.cursor(UPSTREAM_GROUP, 'telemetry', p.partition), p.endOffset);

    const telemetry = await consumeAll(brokers, telemetryTopic, 3000, 30_000);
    const report = checkDelivery(telemetry, expectAll(partitionsOf(log, ['telemetry'])));
    assert.deepEqual({ missing: report.missing, outOfOrder: report.outOfOrder, badHeaders: report.badHeaders, duplicates: report.duplicates }, { missing: [], outOfOrder: [], badHeaders: [], duplicates: 0 });
    const sample = telemetry[0];
    assert.ok(sample);
    const mqttTopic = sample.headers.get('mqtt.topic')?.toString() ?? '';
    assert.equal(sample.key?.toString(), mqttTopic.split('/')[1], 'key = the stream partition key (topic-level:1)');
    assert.equal(sample.headers.get('tributary.gateway')?.toString(), 'gw-test');
    assert.equal(sample.headers.get('tributary.stream')?.toString(), 'telemetry');
    const [logRecord] = log.read('telemetry', Number(sample.headers.get('tributary.partition')?.toString()), Number(sample.headers.get('tributary.offset')?.toString()), { maxRecords: 1, maxBytes: 1 << 20 });
    assert.ok(logRecord);
    assert.deepEqual(sample.value, logRecord.payload, 'value = payload');
    assert.equal(sample.timestamp, BigInt(logRecord.timestamp), 'Kafka timestamp = record timestamp');
    const keysPerKafkaPartition = new Map<string, Set<number>>();
    for (const r of telemetry) keysPerKafkaPartition.set(r.key?.toString() ?? '', (keysPerKafkaPartition.get(r.key?.toString() ?? '') ?? new Set()).add(r.partition));
    assert.ok([...keysPerKafkaPartition.values()].every((s) => s.size === 1), 'one key, one Kafka partition');

    const events = await consumeAll(brokers, `events-${runId}`, 500, 30_000);
    const eventReport = checkDelivery(events, expectAll(partitionsOf(log, [`events-${runId}`])));
    assert.equal(eventReport.unique, 500, 'the stream name is the default Kafka topic');
    assert.equal(events[0]?.key?.toString(), 'client-7', 'client-id keys');
    await forwarder.close();
    await log.close();
  });

  test('bad upstream config: unknown host, wrong port, refused topic → clear state and log line, nothing dropped', async (t) => {
    const server = net.createServer().listen(0, '127.0.0.1');
    await new Promise((r) => server.once('listening', r));
    const address = server.address();
    assert.ok(address !== null && typeof address === 'object');
    await new Promise((r) => server.close(r));
    const cases = [
      { name: 'unknown host', kafka: { brokers: ['no-such-host.invalid:9092'] }, upstreamTopic: undefined, state: 'offline', error: /UPSTREAM_UNKNOWN_HOST/ },
      { name: 'wrong port', kafka: { brokers: [`127.0.0.1:${address.port}`] }, upstreamTopic: undefined, state: 'offline', error: /UPSTREAM_UNREACHABLE/ },
      { name: 'refused topic', kafka: { brokers }, upstreamTopic: 'not a valid topic!', state: 'offline', error: /UPSTREAM_(INVALID_TOPIC|UNKNOWN_TOPIC)/ },
    ];
    for (const c of cases) {
      const config = forwardConfig({ requestTimeoutMs: 1000, retryBackoffMinMs: 50, retryBackoffMaxMs: 500, ...c.kafka }, [
        { name: 'default', partitions: 1, ...(c.upstreamTopic === undefined ? {} : { upstream: { topic: c.upstreamTopic } }) },
      ]);
      const log = await openLog(config);
      await publish(log, config, 100, (i) => `bad/${i}`);
      const { forwarder, lines } = kafkaForwarder(log, config);
      t.after(() => forwarder.close().then(() => log.close()));
      forwarder.start();
      await waitFor(`${c.name}: state ${c.state}`, () => forwarder.state().state === c.state && c.error.test(forwarder.state().lastError ?? ''), 30_000);
      await new Promise((r) => setTimeout(r, 500));
      const logged = lines.filter((l) => l.level === 'warn' || l.level === 'error').map((l) => `${String(l.msg)} ${String(l.err)}`);
      assert.ok(logged.some((l) => c.error.test(l)), `${c.name}: a log line names the error: ${logged.join(' | ')}`);
      console.log(`${c.name}: state ${forwarder.state().state}, lastError ${forwarder.state().lastError}`);
      assert.equal(log.partitionInfo('default', 0).records, 100, `${c.name}: nothing dropped from the log`);
      assert.equal(log.cursor(UPSTREAM_GROUP, 'default', 0), null, `${c.name}: the cursor did not move`);
      assert.equal(forwarder.lag()[0]?.lagRecords, 100);
      await forwarder.close();
      await log.close();
    }
  });
});

export type { Forwarder };
