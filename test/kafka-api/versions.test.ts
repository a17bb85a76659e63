/**
 * Every version the Kafka API advertises works: for each API in SUPPORTED (src/kafka-api/handlers.ts)
 * and each version in its range, a request encoded at that version by the codec (checked against a real
 * Kafka in codec.test.ts) goes to a real server over a real log, and the answer decodes at that version
 * and says what it should: the records at their offsets for Fetch, the end for ListOffsets, the stream for
 * Metadata, a group formed, synced, heartbeated and left for the group APIs, committed offsets read back,
 * and Produce refused. A version whose handler misread a field that version lacks, or wrote one it lacks,
 * fails here by name.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { readRecordsBatch, Reader } from '@platformatic/kafka';
import { hashPassword } from '../../src/auth/password-file.js';
import { createKafkaApi, type KafkaApi } from '../../src/kafka-api/index.js';
import { ApiKey, SUPPORTED, type ApiName } from '../../src/kafka-api/handlers.js';
import { decodeResponse, encodeRequest } from '../../src/kafka-api/protocol/codec.js';
import { topicId } from '../../src/kafka-api/topics.js';
import { Log } from '../../src/log/index.js';
import { tmpDir } from '../helpers/tmp.js';
import { KafkaConnection } from './helpers/frames.js';

const silent = { info: () => {}, warn: () => {}, error: () => {}, debug: () => {} };
let log: Log;
let api: KafkaApi;
let port = 0;
let saslPort = 0;
let conn: KafkaConnection;
let correlation = 1;

before(async () => {
  log = await Log.open({ dataDir: tmpDir() }, [{ name: 's', partitions: 2 }]);
  for (let i = 0; i < 5; i++) await log.append('s', 0, { timestamp: 1_700_000_000_000 + i, topic: 'sensors/x', qos: 1, retain: false, clientId: 'c', payload: Buffer.from(`v${i}`) });
  const passwords = new Map([['u', await hashPassword('u', 'pw')]]);
  api = createKafkaApi({ log, gatewayId: 'gw', keySpecs: new Map(), listeners: [{ host: '127.0.0.1', port: 0, sasl: false }, { host: '127.0.0.1', port: 0, sasl: true }], passwords: () => passwords, logger: silent, sessionTimeoutMinMs: 100 });
  const bound = await api.start();
  port = (bound[0] as { port: number }).port;
  saslPort = (bound[1] as { port: number }).port;
  conn = await KafkaConnection.connect('127.0.0.1', port);
});

after(async () => {
  conn.close();
  await api.close();
  await log.close();
});

type Body = Record<string, any>;

async function call(name: ApiName, version: number, body: object, on: KafkaConnection = conn): Promise<Body> {
  const frame = await on.send(encodeRequest({ apiKey: ApiKey[name], apiVersion: version, correlationId: correlation++, clientId: 'sweep' }, body));
  return decodeResponse(ApiKey[name], version, frame).body as Body;
}

function versions(name: ApiName): number[] {
  const s = SUPPORTED.find((e) => e.api === name);
  assert.ok(s, name);
  return Array.from({ length: s.max - s.min + 1 }, (_, i) => s.min + i);
}

const meta = Buffer.from([0, 1, 0, 0, 0, 1, 0, 1, 0x73, 0, 0, 0, 0]);

/** A formed group at the given versions: the member id, generation and the leader's answer. */
async function formGroup(group: string, joinVersion: number, syncVersion: number): Promise<{ memberId: string; generationId: number }> {
  const join = (memberId: string) =>
    call('JoinGroup', joinVersion, { groupId: group, sessionTimeoutMs: 10_000, rebalanceTimeoutMs: 10_000, memberId, groupInstanceId: null, protocolType: 'consumer', protocols: [{ name: 'range', metadata: meta }], reason: null });
  let res = await join('');
  if (res.errorCode === 79) res = await join(res.memberId as string);
  assert.equal(res.errorCode, 0, `JoinGroup v${joinVersion}: error ${res.errorCode}`);
  assert.equal(res.leader, res.memberId, 'the only member leads');
  const sync = await call('SyncGroup', syncVersion, { groupId: group, generationId: res.generationId, memberId: res.memberId, groupInstanceId: null, protocolType: 'consumer', protocolName: 'range', assignments: [{ memberId: res.memberId, assignment: Buffer.from('assigned') }] });
  assert.equal(sync.errorCode, 0, `SyncGroup v${syncVersion}: error ${sync.errorCode}`);
  assert.deepEqual(sync.assignment, Buffer.from('assigned'));
  return { memberId: res.memberId as string, generationId: res.generationId as number };
}

test('Fetch: the records at their offsets, at every advertised version', async () => {
  for (const v of versions('Fetch')) {
    const res = await call('Fetch', v, { replicaId: -1, maxWaitMs: 0, minBytes: 1, maxBytes: 1_000_000, isolationLevel: 0, sessionId: 0, sessionEpoch: -1, topics: [{ topic: 's', topicId: topicId('s'), partitions: [{ partition: 0, currentLeaderEpoch: -1, fetchOffset: 2n, lastFetchedEpoch: -1, logStartOffset: -1n, partitionMaxBytes: 1_000_000 }] }], forgottenTopicsData: [], rackId: '' });
    const p = res.responses[0].partitions[0];
    assert.equal(p.errorCode, 0, `v${v}`);
    assert.equal(p.highWatermark, 5n, `v${v}`);
    const batch = readRecordsBatch(Reader.from(p.records as Buffer));
    assert.equal(batch.firstOffset, 2n, `v${v}`);
    assert.deepEqual(batch.records.map((r) => r.value?.toString()), ['v2', 'v3', 'v4'], `v${v}`);
  }
});

test('ListOffsets and Metadata at every advertised version', async () => {
  for (const v of versions('ListOffsets')) {
    const res = await call('ListOffsets', v, { replicaId: -1, isolationLevel: 0, topics: [{ name: 's', partitions: [{ partitionIndex: 0, currentLeaderEpoch: -1, timestamp: -1n, maxNumOffsets: 1 }] }] });
    assert.equal(res.topics[0].partitions[0].errorCode, 0, `v${v}`);
    assert.equal(res.topics[0].partitions[0].offset, 5n, `v${v}`);
  }
  for (const v of versions('Metadata')) {
    const res = await call('Metadata', v, { topics: null, allowAutoTopicCreation: false, includeClusterAuthorizedOperations: false, includeTopicAuthorizedOperations: false });
    assert.deepEqual(res.brokers.map((b: Body) => [b.nodeId, b.port]), [[0, port]], `v${v}`);
    const s = res.topics.find((t: Body) => t.name === 's');
    assert.equal(s?.partitions.length, 2, `v${v}`);
  }
});

test('FindCoordinator, and a group joined, synced, heartbeated, described, listed and left, at every advertised version of each', async () => {
  for (const v of versions('FindCoordinator')) {
    const res = await call('FindCoordinator', v, v >= 4 ? { keyType: 0, coordinatorKeys: ['g'] } : { key: 'g', keyType: 0 });
    const answer = v >= 4 ? res.coordinators[0] : res;
    assert.equal(answer.errorCode, 0, `v${v}`);
    assert.equal(answer.port, port, `v${v}`);
  }
  for (const v of versions('JoinGroup')) await formGroup(`join-v${v}`, v, 3);
  for (const v of versions('SyncGroup')) await formGroup(`sync-v${v}`, 5, v);
  const { memberId, generationId } = await formGroup('heartbeat', 5, 3);
  for (const v of versions('Heartbeat')) {
    const res = await call('Heartbeat', v, { groupId: 'heartbeat', generationId, memberId, groupInstanceId: null });
    assert.equal(res.errorCode, 0, `Heartbeat v${v}`);
  }
  for (const v of versions('DescribeGroups')) {
    const res = await call('DescribeGroups', v, { groups: ['heartbeat'], includeAuthorizedOperations: false });
    assert.equal(res.groups[0].errorCode, 0, `DescribeGroups v${v}`);
    assert.equal(res.groups[0].groupState, 'Stable', `DescribeGroups v${v}`);
    assert.deepEqual(res.groups[0].members.map((m: Body) => m.memberId), [memberId], `DescribeGroups v${v}`);
  }
  for (const v of versions('ListGroups')) {
    const res = await call('ListGroups', v, { statesFilter: [], typesFilter: [] });
    assert.equal(res.errorCode, 0, `ListGroups v${v}`);
    assert.ok(res.groups.some((g: Body) => g.groupId === 'heartbeat'), `ListGroups v${v}`);
  }
  for (const v of versions('LeaveGroup')) {
    const group = `leave-v${v}`;
    const m = await formGroup(group, 5, 3);
    const res = await call('LeaveGroup', v, v >= 3 ? { groupId: group, members: [{ memberId: m.memberId, groupInstanceId: null, reason: null }] } : { groupId: group, memberId: m.memberId });
    assert.equal(res.errorCode, 0, `LeaveGroup v${v}`);
    if (v >= 3) assert.equal(res.members[0].errorCode, 0, `LeaveGroup v${v}`);
    const after = await call('DescribeGroups', 5, { groups: [group], includeAuthorizedOperations: false });
    assert.deepEqual(after.groups[0].members, [], `LeaveGroup v${v}: the member is gone`);
  }
});

test('OffsetCommit, OffsetFetch and DeleteGroups at every advertised version', async () => {
  for (const v of versions('OffsetCommit')) {
    const group = `commit-v${v}`;
    const res = await call('OffsetCommit', v, { groupId: group, generationIdOrMemberEpoch: -1, memberId: '', groupInstanceId: null, retentionTimeMs: -1n, topics: [{ name: 's', partitions: [{ partitionIndex: 0, committedOffset: 3n, committedLeaderEpoch: -1, commitTimestamp: -1n, committedMetadata: 'm' }] }] });
    assert.equal(res.topics[0].partitions[0].errorCode, 0, `OffsetCommit v${v}`);
    assert.equal(log.cursor(group, 's', 0), 3, `OffsetCommit v${v}: in the log`);
  }
  for (const v of versions('OffsetFetch')) {
    const topics = [{ name: 's', partitionIndexes: [0, 1] }];
    const res = await call('OffsetFetch', v, v >= 8 ? { groups: [{ groupId: 'commit-v2', memberId: null, memberEpoch: -1, topics }], requireStable: false } : { groupId: 'commit-v2', topics, requireStable: false });
    const parts = v >= 8 ? res.groups[0].topics[0].partitions : res.topics[0].partitions;
    assert.deepEqual(parts.map((p: Body) => [p.partitionIndex, p.committedOffset, p.errorCode]), [[0, 3n, 0], [1, -1n, 0]], `OffsetFetch v${v}`);
  }
  for (const v of versions('DeleteGroups')) {
    const group = `commit-v${3 + v}`;
    const res = await call('DeleteGroups', v, { groupsNames: [group] });
    assert.equal(res.results[0].errorCode, 0, `DeleteGroups v${v}`);
    assert.equal(log.cursor(group, 's', 0), null, `DeleteGroups v${v}: its offsets gone from the log`);
  }
});

test('Produce is refused at every advertised version, and nothing is written', async () => {
  const before = log.partitionInfo('s', 0).endOffset;
  for (const v of versions('Produce')) {
    const res = await call('Produce', v, { transactionalId: null, acks: -1, timeoutMs: 1000, topicData: [{ name: 's', partitionData: [{ index: 0, records: null }] }] });
    assert.equal(res.responses[0].partitionResponses[0].errorCode, 29, `Produce v${v}`);
  }
  assert.equal(log.partitionInfo('s', 0).endOffset, before);
});

test('SASL: SaslHandshake v0 with a bare token, v1 with SaslAuthenticate at every advertised version', async () => {
  const token = Buffer.from('\u0000u\u0000pw');
  const raw = await KafkaConnection.connect('127.0.0.1', saslPort);
  assert.equal((await call('SaslHandshake', 0, { mechanism: 'PLAIN' }, raw)).errorCode, 0);
  const size = Buffer.alloc(4);
  size.writeInt32BE(token.length, 0);
  assert.equal((await raw.send(Buffer.concat([size, token]))).length, 0, 'an empty token back: authenticated');
  assert.equal((await call('Metadata', 12, { topics: null }, raw)).topics.length, 1);
  raw.close();
  for (const v of versions('SaslAuthenticate')) {
    const c = await KafkaConnection.connect('127.0.0.1', saslPort);
    assert.equal((await call('SaslHandshake', 1, { mechanism: 'PLAIN' }, c)).errorCode, 0);
    assert.equal((await call('SaslAuthenticate', v, { authBytes: token }, c)).errorCode, 0, `SaslAuthenticate v${v}`);
    assert.equal((await call('Metadata', 12, { topics: null }, c)).topics.length, 1);
    c.close();
  }
});
