/**
 * Proves forwarding survives the loss of a partition leader, on a three-broker Kafka of its own (port
 * 19692, replication factor 3, min.insync.replicas 2): while records are appended continuously, the broker
 * leading Kafka partition 0 of the topic is killed with SIGKILL; forwarding continues (the cursor keeps
 * moving after the kill) and, after the drain, every record is in Kafka, per-key order holds; the
 * duplicate count is printed. Kafka must be startable: this fails, never skips, without it.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { Admin } from '@platformatic/kafka';
import { createForwarder, createKafkaSink, kafkaSinkOptions } from '../../src/forward/index.js';
import { consumeAll, createTopic, ensureKafka, kafkaDev } from '../helpers/kafka.js';
import { checkDelivery, expectAll } from './delivery.js';
import { captureLogger, forwardConfig, openLog, publish, waitFor } from './harness.js';

const cluster = { port: 19692, nodes: 3 as const };
const topic = `fwd-failover-${process.pid}-${Date.now()}`;

let brokers: string[] = [];
before(async () => {
  ({ brokers } = await ensureKafka(cluster));
});
after(async () => {
  await kafkaDev(['stop'], cluster);
});

async function leaderOf(partition: number): Promise<number> {
  const admin = new Admin({ clientId: 'tributary-test-admin', bootstrapBrokers: brokers });
  try {
    const metadata = await admin.metadata({ topics: [topic], forceUpdate: true });
    const leader = metadata.topics.get(topic)?.partitions[partition]?.leader;
    assert.ok(leader !== undefined && leader >= 1, `partition ${partition} has a leader`);
    return leader;
  } finally {
    await admin.close();
  }
}

test('the leader of a partition is killed: forwarding continues, nothing is lost', async (t) => {
  await createTopic(brokers, topic, 3, 3);
  const config = forwardConfig({ brokers, requestTimeoutMs: 3000, retryBackoffMinMs: 100, retryBackoffMaxMs: 1000, batch: { maxRecords: 200, maxBytes: 1024 * 1024, lingerMs: 10 } }, [
    { name: 'default', partitions: 3, upstream: { topic } },
  ]);
  const log = await openLog(config);
  const { logger } = captureLogger();
  const kafka = config.upstream.kafka;
  assert.ok(kafka);
  const forwarder = createForwarder({ log, config, gatewayId: 'gw-failover', logger, sinkFactory: () => createKafkaSink(kafkaSinkOptions(kafka, 'gw-failover')) });
  let appending = true;
  let appended = 0;
  t.after(async () => {
    appending = false;
    await forwarder.close();
    await log.close();
  });
  forwarder.start();
  const appender = (async () => {
    while (appending) {
      await publish(log, config, 20, (i) => `sensors/s${(appended + i) % 24}/t`);
      appended += 20;
      await new Promise((r) => setTimeout(r, 10));
    }
  })();

  await waitFor('forwarding', () => forwarder.status().partitions.every((p) => p.cursor > 0), 30_000);
  const leader = await leaderOf(0);
  await kafkaDev(['stop-node', String(leader), '--kill'], cluster);
  const killedAt = Date.now();
  const cursorAtKill = forwarder.status().partitions.reduce((n, p) => n + p.cursor, 0);
  await waitFor('forwarding continues after the kill', () => forwarder.status().partitions.reduce((n, p) => n + p.cursor, 0) > cursorAtKill + 2000, 60_000);
  const resumedAfterMs = Date.now() - killedAt;
  appending = false;
  await appender;
  await waitFor('drained', () => forwarder.lag().every((l) => l.lagRecords === 0), 60_000);

  const expected = expectAll(log.info().flatMap((s) => s.partitions.map((p) => ({ stream: s.stream, ...p }))));
  const total = [...expected.values()].reduce((n, [s, e]) => n + e - s, 0);
  assert.equal(total, appended);
  const records = await consumeAll(brokers, topic, total, 60_000, 'distinct');
  const report = checkDelivery(records, expected);
  console.log(`leader failover: broker ${leader} killed; 2000 more records forwarded ${resumedAfterMs} ms later; appended ${appended}, unique ${report.unique}, duplicates ${report.duplicates}`);
  assert.deepEqual(report.missing, []);
  assert.deepEqual(report.outOfOrder, []);
  assert.equal(report.unique, total);
});
