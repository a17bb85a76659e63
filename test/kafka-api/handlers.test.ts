/**
 * The answers without group state (src/kafka-api/handlers.ts, topics.ts), over a real log: topic ids are
 * stable, version-8 UUIDs and never null; Metadata lists every stream as a topic with its partitions led
 * by this one broker at the address the client reached; ListOffsets answers earliest, latest, max
 * timestamp and a timestamp search (the first record at or after it, checked against a linear scan).
 */
import assert from 'node:assert/strict';
import test from 'node:test';
import { Log } from '../../src/log/index.js';
import { apiVersions, listOffsets, metadata, SUPPORTED } from '../../src/kafka-api/handlers.js';
import { TopicCatalog, topicId } from '../../src/kafka-api/topics.js';
import { tmpDir } from '../helpers/tmp.js';

test('topic ids: stable across calls, RFC 4122 version 8 and variant bits, distinct per stream, never all zero', () => {
  const a = topicId('sensors');
  assert.deepEqual(a, topicId('sensors'));
  assert.equal(a.length, 16);
  assert.equal((a[6] as number) >> 4, 8);
  assert.equal((a[8] as number) >> 6, 2);
  assert.notDeepEqual(a, topicId('sensor'));
  assert.ok(a.some((b) => b !== 0));
});

test('ApiVersions advertises no Produce and no OffsetForLeaderEpoch, and the SASL APIs only with SASL', () => {
  const keys = (sasl: boolean) => (apiVersions(sasl) as { apiKeys: Array<{ apiKey: number }> }).apiKeys.map((k) => k.apiKey);
  for (const sasl of [false, true]) {
    assert.ok(!keys(sasl).includes(0), 'no Produce');
    assert.ok(!keys(sasl).includes(23), 'no OffsetForLeaderEpoch');
  }
  assert.ok(!keys(false).includes(17) && !keys(false).includes(36));
  assert.ok(keys(true).includes(17) && keys(true).includes(36));
  assert.ok(SUPPORTED.every((s) => s.min <= s.max));
});

test('Metadata: every stream a topic led by this broker at the address reached; unknown names answered UNKNOWN_TOPIC_OR_PARTITION', async () => {
  const log = await Log.open({ dataDir: tmpDir() }, [{ name: 'a', partitions: 3 }, { name: 'b', partitions: 1 }]);
  const topics = new TopicCatalog(log);
  const self = { host: '127.0.0.1', port: 12345 };
  const all = metadata({ topics: null }, 12, topics, self, 'c') as { brokers: unknown[]; topics: Array<{ name: string; topicId: Buffer; errorCode: number; partitions: Array<{ partitionIndex: number; leaderId: number; replicaNodes: number[] }> }> };
  assert.deepEqual(all.brokers, [{ nodeId: 0, host: '127.0.0.1', port: 12345, rack: null }]);
  assert.deepEqual(all.topics.map((t) => [t.name, t.partitions.length]).sort(), [['a', 3], ['b', 1]]);
  const a = all.topics.find((t) => t.name === 'a');
  assert.deepEqual(a?.topicId, topicId('a'));
  assert.deepEqual(a?.partitions.map((p) => [p.partitionIndex, p.leaderId, p.replicaNodes]), [[0, 0, [0]], [1, 0, [0]], [2, 0, [0]]]);
  const some = metadata({ topics: [{ name: 'b' }, { name: 'zz' }] }, 6, topics, self, 'c') as { topics: Array<{ name: string; errorCode: number }> };
  assert.deepEqual(some.topics.map((t) => [t.name, t.errorCode]), [['b', 0], ['zz', 3]]);
  assert.equal((metadata({ topics: [] }, 6, topics, self, 'c') as { topics: unknown[] }).topics.length, 0, 'an empty list is no topics from v1 on');
  await log.close();
});

test('ListOffsets: earliest, latest, max timestamp, and the first offset at or after a timestamp', async () => {
  const log = await Log.open({ dataDir: tmpDir() }, [{ name: 's', partitions: 1 }]);
  const stamps: number[] = [];
  let t = 1_700_000_000_000;
  for (let i = 0; i < 200; i++) {
    t += i % 7 === 0 ? 0 : 1 + (i % 5);
    stamps.push(t);
    await log.append('s', 0, { timestamp: t, topic: 'x', qos: 1, retain: false, clientId: 'c', payload: Buffer.from([i]) });
  }
  const topics = new TopicCatalog(log);
  const ask = (timestamp: bigint) => {
    const res = listOffsets({ topics: [{ name: 's', partitions: [{ partitionIndex: 0, timestamp, currentLeaderEpoch: -1 }] }] }, log, topics) as { topics: Array<{ partitions: Array<{ errorCode: number; offset: bigint; timestamp: bigint }> }> };
    return res.topics[0]?.partitions[0];
  };
  assert.equal(ask(-2n)?.offset, 0n);
  assert.equal(ask(-1n)?.offset, 200n);
  assert.equal(ask(-3n)?.offset, 199n);
  for (const probe of [stamps[0] as number, (stamps[0] as number) - 5, stamps[57] as number, (stamps[57] as number) + 1, stamps[199] as number]) {
    const want = stamps.findIndex((s) => s >= probe);
    const got = ask(BigInt(probe));
    assert.equal(got?.offset, BigInt(want), `timestamp ${probe}`);
    assert.equal(got?.timestamp, BigInt(stamps[want] as number));
  }
  assert.equal(ask(BigInt((stamps[199] as number) + 1))?.offset, -1n, 'after the last record: none');
  const unknown = listOffsets({ topics: [{ name: 's', partitions: [{ partitionIndex: 5, timestamp: -1n }] }] }, log, topics) as { topics: Array<{ partitions: Array<{ errorCode: number }> }> };
  assert.equal(unknown.topics[0]?.partitions[0]?.errorCode, 3);
  await log.close();
});
