/**
 * Fetch semantics through stock clients:
 *   - OFFSET_OUT_OF_RANGE: a group of kafkajs, and one of kcat (librdkafka), each on its own stream
 *     with a small `retention.bytes` and no upstream, commits offset 10; more records push retention
 *     past 10; the consumer then starts at its committed offset, is told OFFSET_OUT_OF_RANGE, and with
 *     auto.offset.reset=earliest restarts at the log start (what `tributary log streams` says) and
 *     reads every record from there on, once, in order. serve counts the Fetch error.
 *   - per-request byte limits: kafkajs (Fetch 11) and @platformatic/kafka (Fetch 12+) with
 *     maxBytesPerPartition 1 KiB read 200 records of ~200 bytes: every record once, in order, in many
 *     Fetches (serve's request counter says how many).
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { runCli } from '../helpers/cli.js';
import { until } from '../helpers/until.js';
import { ConsumerChild, KCAT_FORMAT, MqttFeed, assertRecord, parseKcat, runTool, serveYaml, startKafkaApi, type KafkaApiServe, type Published, type SeenRecord } from './harness.js';

const gateway = 'gw-fetch';
const limited = 'limited';
const trimmedStreams = ['trimmed-kafkajs', 'trimmed-kcat'] as const;
const retentionBytes = 4096;
const payloadPad = 'x'.repeat(180);

let serve: KafkaApiServe;
const children: ConsumerChild[] = [];

before(async () => {
  serve = await startKafkaApi(serveYaml(gateway, [...trimmedStreams.map((name) => ({ name, partitions: 1, retentionBytes })), { name: limited, partitions: 1 }]));
});

after(async () => {
  await Promise.all(children.map((c) => c.kill()));
  assert.equal(await serve?.broker.stop(), 0);
});

async function startOffset(stream: string): Promise<number> {
  const r = await runCli(['log', 'streams', '--data-dir', serve.broker.dataDir, '--json']);
  assert.equal(r.code, 0, r.stderr);
  const all = JSON.parse(r.stdout) as Array<{ stream: string; partitions: Array<{ partition: number; startOffset: number; endOffset: number }> }>;
  const s = all.find((x) => x.stream === stream);
  assert.ok(s !== undefined, `stream ${stream} in ${r.stdout}`);
  return (s.partitions[0] as { startOffset: number }).startOffset;
}

/** Sum of tributary_kafka_api_requests_total samples whose labels match all of `labels`. */
async function requests(labels: RegExp[]): Promise<number> {
  const text = await serve.broker.metrics();
  return text
    .split('\n')
    .filter((l) => l.startsWith('tributary_kafka_api_requests_total{') && labels.every((re) => re.test(l)))
    .reduce((sum, l) => sum + Number(l.slice(l.lastIndexOf(' ') + 1)), 0);
}

/** A client in a group on its own trimmed stream: `read` consumes to the end (committing) and returns what it read. */
interface TrimClient {
  stream: string;
  read(expectedLast: number): Promise<SeenRecord[]>;
}

/** kafkajs in a child (fromBeginning: auto.offset.reset=earliest), stopped once it committed `expectedLast + 1`. */
const kafkajsTrim: TrimClient = {
  stream: trimmedStreams[0],
  async read(expectedLast) {
    const c = ConsumerChild.start('kafkajs', { client: 'kafkajs', bootstrap: serve.bootstrap, groupId: 'trim-kafkajs', topic: this.stream, sessionTimeoutMs: 3000, heartbeatMs: 300, maxWaitMs: 200 });
    children.push(c);
    await c.waitFor(`kafkajs committing ${expectedLast + 1}`, (x) => x.committed().get(0) === expectedLast + 1, 30_000);
    assert.equal(await c.stop(), 0);
    return c.records();
  },
};

/** kcat's balanced consumer with auto.offset.reset=earliest, to the end of the stream (it commits as it exits). */
const kcatTrim: TrimClient = {
  stream: trimmedStreams[1],
  async read() {
    const r = await runTool('kcat', ['-b', serve.bootstrap, '-G', 'trim-kcat', '-X', 'auto.offset.reset=earliest', '-e', '-q', '-f', KCAT_FORMAT, this.stream], 15_000);
    assert.equal(r.code, 0, r.stderr);
    return parseKcat(r.stdout);
  },
};

function assertInOrderOnce(seen: SeenRecord[], expected: Published[], stream: string, what: string): void {
  assert.deepEqual(seen.map((r) => r.offset), expected.map((p) => p.offset), `${what}: offsets read, in order, once`);
  expected.forEach((p, i) => assertRecord(seen[i] as SeenRecord, p, stream, gateway));
}

for (const client of [kafkajsTrim, kcatTrim]) {
  test(`${client.stream}: a committed offset that retention trimmed gets OFFSET_OUT_OF_RANGE, and auto.offset.reset=earliest restarts at the log start`, async () => {
    const { stream } = client;
    const feed = await MqttFeed.open(serve.broker.mqttUrl, 1);
    try {
      const first = await feed.publishMany([`${stream}/a`], 10, `first-${payloadPad}`);
      assertInOrderOnce(await client.read(9), first, stream, 'before the trim');

      // Enough records for retention (4 KiB) to drop the first ten and more.
      const second = await feed.publishMany([`${stream}/a`], 60, `second-${payloadPad}`);
      await until('retention trimming past offset 10', async () => (await startOffset(stream)) > 12, 15_000);
      // Let the once-a-second retention pass settle, then take the log start the consumer must restart at.
      await new Promise((resolve) => setTimeout(resolve, 1500));
      const logStart = await startOffset(stream);
      const expected = second.filter((p) => p.offset >= logStart);
      assert.ok(expected.length > 0 && expected.length < second.length, `log start ${logStart} within the second batch`);
      const oorBefore = await requests([/api="Fetch"/, /error="(OFFSET_OUT_OF_RANGE|1)"/]);

      assertInOrderOnce(await client.read(69), expected, stream, 'after OFFSET_OUT_OF_RANGE');
      const oor = (await requests([/api="Fetch"/, /error="(OFFSET_OUT_OF_RANGE|1)"/])) - oorBefore;
      const counters = (await serve.broker.metrics()).split('\n').filter((l) => l.includes('kafka_api_requests_total'));
      assert.ok(oor >= 1, `serve answered OFFSET_OUT_OF_RANGE (counted ${oor}); metrics:\n${counters.join('\n')}`);
    } finally {
      await feed.close();
    }
  });
}

test('per-request byte limits: maxBytesPerPartition 1 KiB → many Fetches, every record once, in order', async () => {
  const feed = await MqttFeed.open(serve.broker.mqttUrl, 1);
  try {
    const published = await feed.publishMany(['limited/a'], 200, `rec-${payloadPad}`);
    for (const client of ['kafkajs', 'platformatic'] as const) {
      const fetchesBefore = await requests([/api="Fetch"/]);
      const c = ConsumerChild.start(client, { client, bootstrap: serve.bootstrap, groupId: `limited-${client}`, topic: limited, sessionTimeoutMs: 3000, heartbeatMs: 300, maxWaitMs: 200, maxBytesPerPartition: 1024, commit: false });
      children.push(c);
      await c.waitFor(`${client} reading all 200`, (x) => x.records().length >= published.length, 60_000);
      await new Promise((resolve) => setTimeout(resolve, 300));
      assertInOrderOnce(c.records(), published, limited, client);
      const fetches = (await requests([/api="Fetch"/])) - fetchesBefore;
      // ~40 KB of records at most 1 KiB (one batch may exceed it) a Fetch.
      console.log(`${client}: 200 records of ~${payloadPad.length + 10} bytes in ${fetches} Fetches at maxBytesPerPartition 1024`);
      assert.ok(fetches >= 20, `${client}: ${fetches} Fetches for 40 KB at 1 KiB a partition: the limit was not honoured`);
      assert.deepEqual(c.errors(), [], `${client}: no errors`);
      await c.stop();
    }
  } finally {
    await feed.close();
  }
});
