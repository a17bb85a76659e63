/**
 * Fetch over a real log (src/kafka-api/fetch.ts), below the wire: batches decoded by the Kafka client's
 * own decoder (@platformatic/kafka `readRecordsBatch`, an independent implementation) carry the log's
 * offsets and the forwarder's keys, values, timestamps and headers; a fetch at the end long-polls and
 * is woken by the commit, not by a timer; the wait ends at maxWaitMs or when the connection goes; an offset
 * that retention trimmed is OFFSET_OUT_OF_RANGE with the log start; byte limits hold, except that the
 * first partition with data returns one record however large (KIP-74).
 */
import assert from 'node:assert/strict';
import test from 'node:test';
import { readRecordsBatch, Reader } from '@platformatic/kafka';
import { Log, type RecordInput } from '../../src/log/index.js';
import { FetchService, type FetchRequest } from '../../src/kafka-api/fetch.js';
import { TopicCatalog, topicId } from '../../src/kafka-api/topics.js';
import { tmpDir } from '../helpers/tmp.js';

const OPTIONS = { gatewayId: 'gw-test', keySpecs: new Map([['s', 'topic']]), maxWaitMsMax: 30_000, recordsPerPartitionMax: 10_000 };

function rec(i: number, size = 50): RecordInput {
  return { timestamp: 1_700_000_000_000 + i, topic: `sensors/${i % 3}/t`, qos: 1, retain: false, clientId: `c${i}`, payload: Buffer.alloc(size, i % 256) };
}

function request(partitions: Array<{ partition: number; fetchOffset: number; partitionMaxBytes?: number }>, over: Partial<FetchRequest> = {}): FetchRequest {
  return {
    maxWaitMs: 0,
    minBytes: 1,
    maxBytes: 50 * 1024 * 1024,
    topics: [{ topic: 's', topicId: topicId('s'), partitions: partitions.map((p) => ({ partition: p.partition, fetchOffset: BigInt(p.fetchOffset), partitionMaxBytes: p.partitionMaxBytes ?? 1024 * 1024, currentLeaderEpoch: 0 })) }],
    ...over,
  };
}

function decode(records: Buffer | null) {
  assert.ok(records !== null && records.length > 0, 'records returned');
  const reader = Reader.from(records);
  const batch = readRecordsBatch(reader);
  return batch;
}

async function open(specs = [{ name: 's', partitions: 2 }]) {
  const log = await Log.open({ dataDir: tmpDir() }, specs);
  const fetch = new FetchService(log, new TopicCatalog(log), OPTIONS);
  return { log, fetch, close: async () => (fetch.close(), await log.close()) };
}

test('records come back at their log offsets with the forwarder\'s key, value, timestamp and headers; by name (v12) and by topic id (v13)', async () => {
  const { log, fetch, close } = await open();
  for (let i = 0; i < 5; i++) await log.append('s', 1, rec(i));
  for (const version of [12, 13]) {
    const res = await fetch.fetch(request([{ partition: 1, fetchOffset: 2 }]), version, new AbortController().signal);
    const topic = res.responses[0];
    assert.equal(topic?.topic, 's');
    assert.deepEqual(topic?.topicId, topicId('s'));
    const p = topic?.partitions[0];
    assert.equal(p?.errorCode, 0);
    assert.equal(p?.highWatermark, 5n);
    assert.equal(p?.logStartOffset, 0n);
    const batch = decode(p?.records ?? null);
    assert.equal(batch.firstOffset, 2n);
    assert.equal(batch.records.length, 3);
    batch.records.forEach((r, i) => {
      const want = rec(i + 2);
      assert.equal(Number(batch.firstOffset) + r.offsetDelta, i + 2);
      assert.equal(Number(batch.firstTimestamp + r.timestampDelta), want.timestamp);
      assert.equal(r.key?.toString(), want.topic);
      assert.deepEqual(r.value, want.payload);
      assert.deepEqual(
        r.headers.map(([k, v]) => [k?.toString(), v?.toString()]),
        [['tributary.gateway', 'gw-test'], ['tributary.stream', 's'], ['tributary.partition', '1'], ['tributary.offset', String(i + 2)], ['mqtt.topic', want.topic]],
      );
    });
  }
  await close();
});

test('a fetch at the end long-polls: woken by the commit that appends, not by the timeout', async () => {
  const { log, fetch, close } = await open();
  await log.append('s', 0, rec(0));
  const started = Date.now();
  const pending = fetch.fetch(request([{ partition: 0, fetchOffset: 1 }], { maxWaitMs: 10_000 }), 12, new AbortController().signal);
  setTimeout(() => void log.append('s', 0, rec(1)), 100);
  const res = await pending;
  const waited = Date.now() - started;
  assert.ok(waited >= 90 && waited < 5_000, `answered after ${waited} ms: woken by the append, not the 10 s timeout`);
  assert.equal(decode(res.responses[0]?.partitions[0]?.records ?? null).firstOffset, 1n);
  // An append to another partition does not satisfy it: it waits to its maxWaitMs and returns empty.
  const t0 = Date.now();
  const other = fetch.fetch(request([{ partition: 0, fetchOffset: 2 }], { maxWaitMs: 300 }), 12, new AbortController().signal);
  await log.append('s', 1, rec(2));
  const empty = await other;
  assert.ok(Date.now() - t0 >= 280, 'waited out its maxWaitMs');
  assert.equal(empty.responses[0]?.partitions[0]?.records?.length, 0);
  // The connection going away ends the wait at once.
  const abort = new AbortController();
  const t1 = Date.now();
  const gone = fetch.fetch(request([{ partition: 0, fetchOffset: 2 }], { maxWaitMs: 20_000 }), 12, abort.signal);
  setTimeout(() => abort.abort(), 50);
  await gone;
  assert.ok(Date.now() - t1 < 5_000);
  await close();
});

test('an offset retention trimmed, or one past the end, is OFFSET_OUT_OF_RANGE with the log start and end', async () => {
  const { log, fetch, close } = await open([{ name: 's', partitions: 1, retention: { bytes: 400 } } as never]);
  for (let i = 0; i < 40; i++) await log.append('s', 0, rec(i));
  await log.runRetention();
  const start = log.partitionInfo('s', 0).startOffset;
  assert.ok(start > 0, 'retention trimmed');
  const trimmed = (await fetch.fetch(request([{ partition: 0, fetchOffset: 0 }]), 12, new AbortController().signal)).responses[0]?.partitions[0];
  assert.equal(trimmed?.errorCode, 1);
  assert.equal(trimmed?.logStartOffset, BigInt(start));
  assert.equal(trimmed?.highWatermark, 40n);
  const past = (await fetch.fetch(request([{ partition: 0, fetchOffset: 41 }]), 12, new AbortController().signal)).responses[0]?.partitions[0];
  assert.equal(past?.errorCode, 1);
  const ok = (await fetch.fetch(request([{ partition: 0, fetchOffset: start }]), 12, new AbortController().signal)).responses[0]?.partitions[0];
  assert.equal(ok?.errorCode, 0);
  assert.equal(decode(ok?.records ?? null).firstOffset, BigInt(start));
  // Unknown partition and unknown topic id.
  const unknown = await fetch.fetch(request([{ partition: 7, fetchOffset: 0 }]), 12, new AbortController().signal);
  assert.equal(unknown.responses[0]?.partitions[0]?.errorCode, 3);
  const byId = await fetch.fetch({ ...request([{ partition: 0, fetchOffset: 0 }]), topics: [{ topicId: topicId('nope'), partitions: [{ partition: 0, fetchOffset: 0n, partitionMaxBytes: 1000 }] }] }, 13, new AbortController().signal);
  assert.equal(byId.responses[0]?.partitions[0]?.errorCode, 100);
  await close();
});

test('byte limits: a partition stops at partitionMaxBytes, the response at maxBytes, but the first partition with data returns one record however large', async () => {
  const { log, fetch, close } = await open();
  for (let i = 0; i < 50; i++) await Promise.all([log.append('s', 0, rec(i, 200)), log.append('s', 1, rec(i, 200))]);
  const small = await fetch.fetch(request([{ partition: 0, fetchOffset: 0, partitionMaxBytes: 2_000 }]), 12, new AbortController().signal);
  const batch = small.responses[0]?.partitions[0]?.records ?? null;
  assert.ok(batch !== null && batch.length <= 2_000, `batch of ${batch?.length} bytes within 2000`);
  assert.ok(decode(batch).records.length >= 1);
  const tiny = await fetch.fetch(request([{ partition: 0, fetchOffset: 0, partitionMaxBytes: 10 }, { partition: 1, fetchOffset: 0, partitionMaxBytes: 10 }]), 12, new AbortController().signal);
  assert.equal(decode(tiny.responses[0]?.partitions[0]?.records ?? null).records.length, 1, 'one record past the limit, for the first partition');
  assert.equal(tiny.responses[0]?.partitions[1]?.records?.length, 0, 'nothing for the second');
  const capped = await fetch.fetch(request([{ partition: 0, fetchOffset: 0 }, { partition: 1, fetchOffset: 0 }], { maxBytes: 3_000 }), 12, new AbortController().signal);
  const total = capped.responses[0]?.partitions.reduce((n, p) => n + (p.records?.length ?? 0), 0) ?? 0;
  assert.ok(total <= 3_000 + 20_000, `response bytes ${total}`);
  const first = capped.responses[0]?.partitions[0]?.records?.length ?? 0;
  assert.ok(first > 0 && total - first <= Math.max(0, 3_000 - first), `the second partition fits in what the first left (${first} + ${total - first})`);
  await close();
});
