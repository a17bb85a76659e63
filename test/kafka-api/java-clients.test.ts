/**
 * Kafka's own Java tools, unmodified, against serve's Kafka API (Java 3.9 client: Metadata 12,
 * JoinGroup 9, Fetch up to what serve advertises): records published over MQTT reach
 * `kafka-console-consumer --group G --from-beginning` with their keys, values, offsets and the five
 * headers; `kafka-consumer-groups --describe --members` shows the running consumer with all four
 * partitions; after it leaves, `--list` shows G and `--describe` shows the committed offsets and the
 * lag of records published since (serve's lag metric says the same); `--reset-offsets --to-earliest
 * --execute` moves G back, and a second console consumer in G then replays everything from offset 0.
 *
 * JVM starts are slow: six in all, one serve for the file.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { metricValue } from '../helpers/broker.js';
import { until } from '../helpers/until.js';
import {
  Background,
  CONSOLE_CONSUMER,
  CONSUMER_GROUPS,
  MqttFeed,
  assertRecord,
  byPosition,
  parseConsole,
  parseReset,
  parseTable,
  runJava,
  serveYaml,
  startKafkaApi,
  topicsCoveringPartitions,
  type KafkaApiServe,
  type Published,
} from './harness.js';

const gateway = 'gw-java';
const stream = 'sensors';
const partitions = 4;
const group = 'java-console';
const firstCount = 40;
const laterPerPartition = 2;

let serve: KafkaApiServe;
let feed: MqttFeed;

before(async () => {
  serve = await startKafkaApi(serveYaml(gateway, [{ name: stream, partitions }]));
  feed = await MqttFeed.open(serve.broker.mqttUrl, partitions);
});

after(async () => {
  await feed?.close();
  const code = await serve?.broker.stop();
  assert.equal(code, 0, 'serve exits cleanly');
});

const printProps = ['print.partition', 'print.offset', 'print.headers', 'print.key'].flatMap((p) => ['--property', `${p}=true`]);

function assertAll(seen: ReturnType<typeof parseConsole>, expected: Published[]): void {
  assert.equal(seen.length, expected.length, `records read: ${seen.length} of ${expected.length}`);
  const sorted = byPosition(seen);
  byPosition(expected).forEach((p, i) => assertRecord(sorted[i] as (typeof sorted)[number], p, stream, gateway));
}

async function groups(args: string[]): Promise<string> {
  const r = await runJava(CONSUMER_GROUPS, ['--bootstrap-server', serve.bootstrap, ...args]);
  assert.equal(r.code, 0, `kafka-consumer-groups ${args.join(' ')} exits 0; stderr: ${r.stderr}\nstdout: ${r.stdout}`);
  return r.stdout;
}

test('console consumer and kafka-consumer-groups: read, describe members, list, describe lag, reset, replay', async () => {
  const topics = topicsCoveringPartitions('sensors/java', partitions, 2);
  const first = await feed.publishMany(topics, firstCount, 'first');

  // 1. A console consumer in group G reads everything from the beginning, and keeps running.
  const consumer = await Background.java(CONSOLE_CONSUMER, ['--bootstrap-server', serve.bootstrap, '--topic', stream, '--group', group, '--from-beginning', ...printProps]);
  try {
    await until(`the console consumer printing ${firstCount} records`, () => parseConsole(consumer.stdout).length >= firstCount, 30_000).catch((err: Error) => {
      throw new Error(`${err.message}; stdout: ${consumer.stdout.slice(-2000)}; stderr: ${consumer.stderr.slice(-4000)}`);
    });
    assertAll(parseConsole(consumer.stdout), first);

    // 2. While it runs: one member holding all four partitions.
    const members = parseTable(await groups(['--describe', '--group', group, '--members']));
    assert.equal(members.length, 1, `one member: ${JSON.stringify(members)}`);
    assert.equal(members[0]?.GROUP, group);
    assert.equal(members[0]?.['#PARTITIONS'], String(partitions), `the member holds every partition: ${JSON.stringify(members)}`);
    assert.match(members[0]?.['CONSUMER-ID'] ?? '', /\S{8,}/, 'a member id');
  } finally {
    // SIGTERM: the console consumer commits its position as it closes.
    await consumer.stop();
  }

  // 3. Records published after it left are lag.
  const laterTopics = topicsCoveringPartitions('sensors/java-later', partitions, 1);
  const later = await feed.publishMany(laterTopics, laterPerPartition * partitions, 'later');
  const ends = feed.endOffsets();

  assert.ok((await groups(['--list'])).split('\n').map((l) => l.trim()).includes(group), `--list shows ${group}`);

  const described = parseTable(await groups(['--describe', '--group', group])).filter((r) => r.TOPIC === stream);
  assert.equal(described.length, partitions, `a row per partition: ${JSON.stringify(described)}`);
  for (const row of described) {
    const p = Number(row.PARTITION);
    const end = ends.get(p) as number;
    assert.equal(Number(row['LOG-END-OFFSET']), end, `partition ${p}: log end offset`);
    assert.equal(Number(row['CURRENT-OFFSET']), end - laterPerPartition, `partition ${p}: the committed offset is where the consumer stopped`);
    assert.equal(Number(row.LAG), laterPerPartition, `partition ${p}: lag`);
  }
  const metrics = await serve.broker.metrics();
  for (let p = 0; p < partitions; p++) {
    const sample = `tributary_kafka_api_group_lag_records{group="${group}",stream="${stream}",partition="${p}"}`;
    assert.equal(metricValue(metrics, sample), laterPerPartition, `${sample} in:\n${metrics.split('\n').filter((l) => l.includes('kafka_api_group_lag')).join('\n')}`);
  }

  // 4. Reset to the earliest offsets.
  const reset = parseReset(await groups(['--reset-offsets', '--to-earliest', '--execute', '--group', group, '--topic', stream]));
  assert.deepEqual(
    byPosition(reset.map((r) => ({ ...r, offset: r.newOffset }))).map((r) => [r.group, r.topic, r.partition, r.newOffset]),
    [...Array(partitions).keys()].map((p) => [group, stream, p, 0]),
    'every partition reset to 0',
  );

  // 5. A new consumer in G, without --from-beginning, starts at the committed (reset) offsets: all of it again.
  const total = firstCount + later.length;
  const replay = await runJava(CONSOLE_CONSUMER, ['--bootstrap-server', serve.bootstrap, '--topic', stream, '--group', group, '--max-messages', String(total), '--timeout-ms', '20000', ...printProps]);
  assertAll(parseConsole(replay.stdout), [...first, ...later]);
  assert.equal(replay.code, 0, `the replaying consumer got --max-messages and exited 0; stderr: ${replay.stderr.slice(-4000)}`);

  // It committed as it exited: no lag left.
  await until('the lag metric reaching 0 after the replay', async () => {
    const text = await serve.broker.metrics();
    return [...Array(partitions).keys()].every((p) => metricValue(text, `tributary_kafka_api_group_lag_records{group="${group}",stream="${stream}",partition="${p}"}`) === 0);
  }, 10_000);
});
