/**
 * Proves store-and-forward across a Kafka outage, on a Kafka of its own (port 19592, so the shared one on
 * 19092 keeps running for other tests): while records are appended continuously, Kafka is killed (SIGKILL); the
 * forwarder goes `offline` with the connection error as lastError while appends go on at full speed (at
 * least half the rate measured while Kafka was up, in the same run); Kafka is started again on its old data;
 * every appended record arrives, per-key order holds, and the test prints how many duplicates
 * at-least-once produced. Kafka must be startable: this fails, never skips, without it.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { createForwarder, createKafkaSink, kafkaSinkOptions } from '../../src/forward/index.js';
import { consumeAll, createTopic, ensureKafka, kafkaDev } from '../helpers/kafka.js';
import { checkDelivery, expectAll } from './delivery.js';
import { captureLogger, forwardConfig, openLog, publish, waitFor } from './harness.js';

const cluster = { port: 19592 };
const topic = `fwd-outage-${process.pid}-${Date.now()}`;
const appendRatePerSec = 2000;

let brokers: string[] = [];
before(async () => {
  ({ brokers } = await ensureKafka(cluster));
});
after(async () => {
  await kafkaDev(['stop'], cluster);
});

test('Kafka stopped and restarted while appends continue: every record arrives, in order', async (t) => {
  await createTopic(brokers, topic, 4, 1);
  const config = forwardConfig({ brokers, requestTimeoutMs: 2000, retryBackoffMinMs: 100, retryBackoffMaxMs: 1000, batch: { maxRecords: 200, maxBytes: 1024 * 1024, lingerMs: 10 } }, [
    { name: 'default', partitions: 4, upstream: { topic } },
  ]);
  const log = await openLog(config);
  const { logger, lines } = captureLogger();
  const kafka = config.upstream.kafka;
  assert.ok(kafka);
  const forwarder = createForwarder({ log, config, gatewayId: 'gw-outage', logger, sinkFactory: () => createKafkaSink(kafkaSinkOptions(kafka, 'gw-outage')) });
  let appending = true;
  t.after(async () => {
    appending = false;
    await forwarder.close();
    await log.close();
  });
  forwarder.start();

  let appended = 0;
  const appendingSince = performance.now();
  const appender = (async () => {
    while (appending) {
      await publish(log, config, appendRatePerSec / 100, (i) => `sensors/s${(appended + i) % 16}/t`);
      appended += appendRatePerSec / 100;
      await new Promise((r) => setTimeout(r, 10));
    }
  })();

  await waitFor('forwarding', () => forwarder.status().partitions.some((p) => p.cursor > 0), 30_000);
  // The rate while Kafka is up, measured in this run, is the yardstick for the rate while it is down: a
  // fixed figure (the appender's nominal 2,000/s) fails on a loaded machine, where neither phase reaches it.
  const upRate = appended / (performance.now() - appendingSince);
  await kafkaDev(['stop-node', '1', '--kill'], cluster);
  await waitFor('offline', () => forwarder.state().state === 'offline', 30_000);
  const offline = forwarder.state();
  assert.match(offline.lastError ?? '', /UPSTREAM_(UNREACHABLE|TIMEOUT)/);
  const offlineAt = { appended, at: performance.now() };
  await new Promise((r) => setTimeout(r, 3000));
  const downCount = appended - offlineAt.appended;
  const downRate = downCount / (performance.now() - offlineAt.at);
  assert.ok(
    downCount > 0 && downRate >= upRate / 2,
    `appends went on at full speed while Kafka was down: ${downCount} in 3 s, ${(downRate * 1000).toFixed(0)}/s offline vs ${(upRate * 1000).toFixed(0)}/s online`,
  );
  assert.ok(forwarder.lag().some((l) => l.lagSeconds >= 2), 'lag in seconds shows the outage');
  await kafkaDev(['start-node', '1'], cluster, 180_000);
  await new Promise((r) => setTimeout(r, 1000));
  appending = false;
  await appender;

  await waitFor('drained', () => forwarder.lag().every((l) => l.lagRecords === 0), 90_000);
  assert.equal(forwarder.state().state, 'online');
  await forwarder.close();
  const expected = expectAll(log.info().flatMap((s) => s.partitions.map((p) => ({ stream: s.stream, ...p }))));
  const total = [...expected.values()].reduce((n, [s, e]) => n + e - s, 0);
  assert.equal(total, appended);
  const records = await consumeAll(brokers, topic, total, 60_000, 'distinct');
  const report = checkDelivery(records, expected);
  console.log(`outage: appended ${appended}, received ${report.received}, unique ${report.unique}, duplicates ${report.duplicates}, appends ${(downRate * 1000).toFixed(0)}/s offline vs ${(upRate * 1000).toFixed(0)}/s online, offline lastError: ${offline.lastError}`);
  assert.deepEqual(report.missing, []);
  assert.deepEqual(report.outOfOrder, []);
  assert.equal(report.unique, total);
  assert.ok(lines.some((l) => l.level === 'warn' && /retrying/.test(String(l.msg))), 'the outage was logged');
  await log.close();
});
