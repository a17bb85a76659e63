/**
 * Stock Node clients in consumer groups against serve's Kafka API: `@platformatic/kafka` (flexible
 * encodings: Metadata 12, JoinGroup 9, Fetch 12+) and kafkajs (classic: Metadata 4-6, JoinGroup 5,
 * Fetch 11), each in its own child process (consumer-child.ts), and kcat (librdkafka).
 *
 * For each Node client:
 *   - two consumers in one group get disjoint partitions that cover all four, and between them read
 *     every record published over MQTT, with its key, value, offset and headers;
 *   - one is killed with SIGKILL: the other takes over its partitions only after the session
 *     timeout (not before: a member is not removed for its connection closing), and starts each at
 *     the dead one's last commit, so nothing is lost or skipped past a commit;
 *   - the survivor leaves, records are published, and a new consumer in the group resumes exactly at
 *     the committed offsets (nothing before them again, nothing after them missed).
 * kcat: a balanced consumer (-G) reads every record and commits (serve's lag metric goes to 0), and
 * the simple consumer (-C -o) reads one partition from a given offset.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { metricValue } from '../helpers/broker.js';
import { until } from '../helpers/until.js';
import {
  ConsumerChild,
  KCAT_FORMAT,
  MqttFeed,
  assertRecord,
  byPosition,
  parseKcat,
  runTool,
  serveYaml,
  startKafkaApi,
  topicsCoveringPartitions,
  type KafkaApiServe,
  type Published,
  type SeenRecord,
} from './harness.js';

const gateway = 'gw-node';
const partitions = 4;
const sessionTimeoutMs = 3000;
const heartbeatMs = 300;
const streams = { kafkajs: 'kjs', platformatic: 'plat', kcat: 'kcat' } as const;

let serve: KafkaApiServe;
const feeds = new Map<string, MqttFeed>();
const children: ConsumerChild[] = [];

before(async () => {
  serve = await startKafkaApi(serveYaml(gateway, Object.values(streams).map((name) => ({ name, partitions }))));
  for (const s of Object.values(streams)) feeds.set(s, await MqttFeed.open(serve.broker.mqttUrl, partitions));
});

after(async () => {
  await Promise.all(children.map((c) => c.kill()));
  for (const f of feeds.values()) await f.close();
  assert.equal(await serve?.broker.stop(), 0, 'serve exits cleanly');
});

function feedOf(stream: string): MqttFeed {
  return feeds.get(stream) as MqttFeed;
}

/** Each published record exactly matched by some seen record at its position (duplicates allowed). */
function assertCovered(seen: SeenRecord[], expected: Published[], stream: string, what: string): void {
  const at = new Map(seen.map((r) => [`${r.partition}:${r.offset}`, r]));
  const missing = expected.filter((p) => !at.has(`${p.partition}:${p.offset}`));
  assert.deepEqual(missing.map((p) => `${p.partition}:${p.offset}`), [], `${what}: records never read`);
  for (const p of expected) assertRecord(at.get(`${p.partition}:${p.offset}`) as SeenRecord, p, stream, gateway);
}

function committedAll(children: ConsumerChild[], ends: Map<number, number>, only?: number[]): boolean {
  return [...ends].every(([p, end]) => (only !== undefined && !only.includes(p)) || children.some((c) => (c.committed().get(p) ?? 0) >= end));
}

function start(client: 'kafkajs' | 'platformatic', name: string, groupId: string): ConsumerChild {
  const child = ConsumerChild.start(name, { client, bootstrap: serve.bootstrap, groupId, topic: streams[client], clientId: name, sessionTimeoutMs, heartbeatMs, maxWaitMs: 500 });
  children.push(child);
  return child;
}

async function groupScenario(client: 'kafkajs' | 'platformatic'): Promise<void> {
  const stream = streams[client];
  const feed = feedOf(stream);
  const groupId = `${client}-group`;
  const topics = topicsCoveringPartitions(stream, partitions, 2);
  const all = partitions === 4 ? [0, 1, 2, 3] : [...Array(partitions).keys()];

  // Two members: disjoint partitions that cover all, and every record read.
  const phase1 = await feed.publishMany(topics, 80, 'one');
  // B joins only once A holds every partition, so B never held a partition that is A's after the split.
  // Started together, B could hold one of them in the first generation and, after the rebalance, still
  // hand out and commit records it had buffered for it (the likely cause of one CI failure with
  // @platformatic/kafka, where B started at 1 with A's last commit at 20; not proven): that late
  // commit moves the group's offset back — as Kafka allows, last commit wins — and the takeover below
  // then rightly starts there, which this test would misread as starting before A's last commit.
  const a = start(client, `${client}-a`, groupId);
  await a.waitFor('A alone holding every partition', (c) => c.assignment()?.join() === all.join(), 30_000);
  const b = start(client, `${client}-b`, groupId);
  await until('two members holding disjoint partitions that cover all', () => {
    const pa = a.assignment();
    const pb = b.assignment();
    return pa !== null && pb !== null && pa.length > 0 && pb.length > 0 && [...pa, ...pb].sort().join() === all.join();
  }, 30_000).catch((err: Error) => assert.fail(`${err.message}; ${a.describe()}; ${b.describe()}`));
  const [heldByA, heldByB] = [a.assignment() as number[], b.assignment() as number[]];
  assert.deepEqual([...heldByA, ...heldByB].sort(), all, `disjoint and covering: A ${heldByA}, B ${heldByB}`);
  await until('every record of phase 1 committed', () => committedAll([a, b], feed.endOffsets()), 30_000).catch((err: Error) =>
    assert.fail(`${err.message}; ${a.describe()}; ${b.describe()}`),
  );
  assertCovered([...a.records(), ...b.records()], phase1, stream, 'two members');
  assert.deepEqual([...a.errors(), ...b.errors()], [], 'no client errors');
  // The assignment is still the same (no rebalance storm while reading).
  assert.deepEqual([a.assignment(), b.assignment()], [heldByA, heldByB], 'assignments stable');

  // kill -9 A, publish more: B takes over after the session timeout, from A's commits.
  // Before the split one member may have read (and committed) partitions the other holds now: take both.
  const committedBefore = new Map<number, number>();
  const lastReadBefore = new Map<number, number>();
  for (const child of [a, b]) {
    for (const [p, o] of child.committed()) committedBefore.set(p, Math.max(committedBefore.get(p) ?? 0, o));
    for (const r of child.records()) lastReadBefore.set(r.partition, Math.max(lastReadBefore.get(r.partition) ?? -1, r.offset));
  }
  const seenByBBefore = b.records().length;
  const killedAt = Date.now();
  await a.kill();
  const phase2 = await feed.publishMany(topics, 40, 'two');
  await b.waitFor('B holding every partition', (c) => c.assignment()?.join() === all.join(), sessionTimeoutMs + 20_000);
  const takeover = b.events.find((e) => e.ev === 'assigned' && e.at >= killedAt && e.partitions.length === partitions);
  assert.ok(takeover !== undefined && takeover.ev === 'assigned');
  const takeoverMs = takeover.at - killedAt;
  console.log(`${client}: B took over ${heldByA} ${takeoverMs} ms after A was killed (session timeout ${sessionTimeoutMs} ms)`);
  assert.ok(takeoverMs >= sessionTimeoutMs - heartbeatMs - 500, `B took over after ${takeoverMs} ms, before A's session (${sessionTimeoutMs} ms) could have expired`);
  await b.waitFor('B committing every record of phase 2', (c) => committedAll([c], feed.endOffsets()), 30_000);
  const afterKill = b.records().slice(seenByBBefore);
  for (const p of heldByA) {
    const first = afterKill.find((r) => r.partition === p);
    assert.ok(first !== undefined, `B read partition ${p} after the takeover`);
    const committed = committedBefore.get(p) ?? 0;
    const lastRead = lastReadBefore.get(p) ?? -1;
    assert.ok(first.offset >= committed, `partition ${p}: B started at ${first.offset}, before the last commit ${committed}`);
    assert.ok(first.offset <= lastRead + 1, `partition ${p}: B started at ${first.offset}, past the last read ${lastRead}: records skipped`);
    // Everything read before the kill was committed (waited for above), so B starts exactly there.
    assert.equal(first.offset, committed, `partition ${p}: B resumes at the committed offset`);
  }
  assertCovered([...a.records(), ...b.records()], [...phase1, ...phase2], stream, 'after the takeover');

  // B leaves; a new consumer resumes exactly at the committed offsets.
  const committedByB = b.committed();
  assert.equal(await b.stop(), 0, `B leaves cleanly; ${b.describe()}`);
  const phase3 = await feed.publishMany(topics, 20, 'three');
  const c = start(client, `${client}-c`, groupId);
  await c.waitFor('C committing every record of phase 3', (x) => committedAll([x], feed.endOffsets()), 30_000);
  for (const p of all) {
    const first = c.records().find((r) => r.partition === p);
    assert.equal(first?.offset, committedByB.get(p), `partition ${p}: the restarted consumer resumes at the committed offset`);
  }
  assertCovered(c.records(), phase3, stream, 'restarted consumer');
  assert.ok(c.records().every((r) => r.offset >= (committedByB.get(r.partition) ?? 0)), 'nothing before the committed offsets read again');
  assert.deepEqual([...b.errors(), ...c.errors()], [], 'no client errors');
  assert.equal(await c.stop(), 0);
}

test('kafkajs (classic encodings): disjoint assignment, kill -9 takeover after the session timeout, resume at commit', async () => {
  await groupScenario('kafkajs');
});

test('@platformatic/kafka (flexible encodings): disjoint assignment, kill -9 takeover after the session timeout, resume at commit', async () => {
  await groupScenario('platformatic');
});

test('kcat (librdkafka): a balanced consumer reads and commits everything; the simple consumer reads from an offset', async () => {
  const stream = streams.kcat;
  const feed = feedOf(stream);
  const published = await feed.publishMany(topicsCoveringPartitions(stream, partitions, 2), 60, 'kcat');
  const group = 'kcat-group';
  const balanced = await runTool('kcat', ['-b', serve.bootstrap, '-G', group, '-X', 'auto.offset.reset=earliest', '-e', '-q', '-f', KCAT_FORMAT, stream], 15_000);
  assert.equal(balanced.code, 0, `kcat -G exits 0 at the end; stderr: ${balanced.stderr}`);
  const seen = byPosition(parseKcat(balanced.stdout));
  assert.equal(seen.length, published.length, `kcat -G read ${seen.length} of ${published.length}; stderr: ${balanced.stderr}`);
  byPosition(published).forEach((p, i) => assertRecord(seen[i] as SeenRecord, p, stream, gateway));
  // It committed as it left: the group has no lag.
  const ends = feed.endOffsets();
  const metrics = await serve.broker.metrics();
  for (let p = 0; p < partitions; p++) {
    const sample = `tributary_kafka_api_group_lag_records{group="${group}",stream="${stream}",partition="${p}"}`;
    assert.ok(metrics.includes(`${sample} `), `${sample} is exported (kcat committed partition ${p})`);
    assert.equal(metricValue(metrics, sample), 0, sample);
  }

  const from = 5;
  const simple = await runTool('kcat', ['-b', serve.bootstrap, '-C', '-t', stream, '-p', '0', '-o', String(from), '-e', '-q', '-f', KCAT_FORMAT], 15_000);
  assert.equal(simple.code, 0, `kcat -C exits 0; stderr: ${simple.stderr}`);
  const expected = published.filter((p) => p.partition === 0 && p.offset >= from);
  assert.equal(expected.length, (ends.get(0) as number) - from);
  const got = parseKcat(simple.stdout);
  assert.equal(got.length, expected.length, `kcat -C -p 0 -o ${from}: ${got.length} of ${expected.length}`);
  expected.forEach((p, i) => assertRecord(got[i] as SeenRecord, p, stream, gateway));
});
