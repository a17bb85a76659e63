/**
 * The group coordinator against Kafka's classic protocol, in memory with short real timeouts: two
 * members join (the second by rebalancing the first) and the leader alone gets both members' metadata,
 * its disjoint assignments reach each member; JoinGroup v4+ hands out a member id first (KIP-394) and v3
 * does not; a member that stops heartbeating is removed after its session timeout and the other is told
 * to rejoin; a static member restarting with unchanged metadata takes its old place without a
 * rebalance and fences its old member id, and with changed metadata rebalances; LeaveGroup (v0 and v3)
 * removes members and rebalances; wrong generations, unknown members, bad session timeouts and
 * mismatched protocols get Kafka's error codes; `upstream` and '' are refused by every API; a
 * commit from outside group management is allowed only while the group has no members, a member's only
 * in its generation; an offset commit answers only after the store's commit resolved, and a failed
 * store commit is answered as an error; OffsetFetch (v1, v7 with all partitions, v8 groups) returns
 * offsets and metadata; DeleteGroups refuses a group with members; DescribeGroups and ListGroups show
 * members, states and offset-only groups; the lag is the end minus the committed offset; the status
 * report's summaries list the same groups with state, member count and per-partition lag; close()
 * answers every waiting request.
 */
import test from 'node:test';
import { performance } from 'node:perf_hooks';
import assert from 'node:assert/strict';
import { GroupCoordinator, type CoordinatorLogger } from '../../src/kafka-api/group-coordinator.js';
import { ErrorCode as E } from '../../src/kafka-api/error-codes.js';
import type * as M from '../../src/kafka-api/group-messages.js';
import { createLogger } from '../../src/ops/logger.js';
import { CATALOG, CLIENT, commitBody, commitErrors, joinBody, MemoryOffsetStore, RANGE, settled, sleep } from './group-harness.js';

// The coordinator's timers are unref'd (a server's sockets keep a process alive, not they): while these
// tests wait on them, this does.
const keepAlive = setInterval(() => undefined, 1000);
test.after(() => clearInterval(keepAlive));

// pino's logger is what the broker will hand in.
const logger: CoordinatorLogger = createLogger({ level: 'silent' });

function coordinator(store = new MemoryOffsetStore(), extra: { initialRebalanceDelayMs?: number } = {}): { c: GroupCoordinator; store: MemoryOffsetStore } {
  const c = new GroupCoordinator({ offsets: store, topics: CATALOG, logger, minSessionTimeoutMs: 50, ...extra });
  return { c, store };
}

const sync = (groupId: string, generationId: number, memberId: string, assignments: M.SyncGroupRequest['assignments'] = [], groupInstanceId: string | null = null): M.SyncGroupRequest => ({
  groupId,
  generationId,
  memberId,
  groupInstanceId,
  assignments,
});
const beat = (groupId: string, generationId: number, memberId: string, groupInstanceId: string | null = null): M.HeartbeatRequest => ({ groupId, generationId, memberId, groupInstanceId });

/** A JoinGroup as clients send it: again with the member id when MEMBER_ID_REQUIRED hands one out. */
async function joinWithId(c: GroupCoordinator, body: M.JoinGroupRequest, version: number, client: typeof CLIENT): Promise<M.JoinGroupResponse> {
  const first = await c.joinGroup(body, version, client);
  return first.errorCode === E.MEMBER_ID_REQUIRED ? c.joinGroup({ ...body, memberId: first.memberId }, version, client) : first;
}

/** Two members join in the initial delay (v3: ids at once) and sync: a Stable group. */
async function formGroup(c: GroupCoordinator, groupId: string, o: { sessionTimeoutMs?: number; rebalanceTimeoutMs?: number; instances?: [string, string]; version?: number } = {}) {
  const version = o.version ?? 5;
  const { sessionTimeoutMs, rebalanceTimeoutMs } = o;
  const [ja, jb] = await Promise.all([
    joinWithId(c, joinBody(groupId, { sessionTimeoutMs, rebalanceTimeoutMs, protocols: RANGE('a'), instance: o.instances?.[0] ?? null }), version, CLIENT),
    joinWithId(c, joinBody(groupId, { sessionTimeoutMs, rebalanceTimeoutMs, protocols: RANGE('b'), instance: o.instances?.[1] ?? null }), version, { clientId: 'other', clientHost: '/10.0.0.2' }),
  ]);
  assert.equal(ja.errorCode, E.NONE);
  assert.equal(jb.errorCode, E.NONE);
  const [leader, follower] = ja.leader === ja.memberId ? [ja, jb] : [jb, ja];
  const [fs, ls] = await Promise.all([
    c.syncGroup(sync(groupId, follower.generationId, follower.memberId, [], o.instances ? (o.instances[leader === ja ? 1 : 0]) : null), 3),
    c.syncGroup(sync(groupId, leader.generationId, leader.memberId, [{ memberId: leader.memberId, assignment: Buffer.from('L') }, { memberId: follower.memberId, assignment: Buffer.from('F') }], o.instances ? (o.instances[leader === ja ? 0 : 1]) : null), 3),
  ]);
  assert.equal(ls.assignment.toString(), 'L');
  assert.equal(fs.assignment.toString(), 'F');
  return { leader, follower, generation: leader.generationId, a: ja, b: jb };
}

test('two members: the first is rebalanced, the leader gets both members, the assignment is relayed', async () => {
  const { c } = coordinator();
  const a1 = await c.joinGroup(joinBody('g', { memberId: '', protocols: RANGE('a') }), 3, CLIENT);
  assert.equal(a1.errorCode, E.NONE);
  assert.equal(a1.leader, a1.memberId);
  assert.equal(a1.generationId, 1);
  assert.deepEqual(a1.members.map((m) => m.metadata.toString()), ['a']);
  assert.equal((await c.syncGroup(sync('g', 1, a1.memberId, [{ memberId: a1.memberId, assignment: Buffer.from('all') }]), 3)).assignment.toString(), 'all');

  // B joins: its JoinGroup waits for A, which learns of the rebalance from its heartbeat.
  const b = c.joinGroup(joinBody('g', { protocols: RANGE('b') }), 3, CLIENT);
  assert.equal(await settled(b), false);
  assert.equal(c.heartbeat(beat('g', 1, a1.memberId), 4).errorCode, E.REBALANCE_IN_PROGRESS);
  const a2 = await c.joinGroup(joinBody('g', { memberId: a1.memberId, protocols: RANGE('a') }), 7, CLIENT);
  const b2 = await b;
  assert.equal(a2.generationId, 2);
  assert.equal(b2.generationId, 2);
  assert.equal(a2.leader, a1.memberId, 'the leader is kept');
  assert.equal(a2.protocolType, 'consumer');
  assert.equal(a2.protocolName, 'range');
  assert.deepEqual(a2.members.map((m) => [m.memberId, m.metadata.toString()]), [[a1.memberId, 'a'], [b2.memberId, 'b']]);
  assert.deepEqual(b2.members, [], 'followers get no member list');

  // The follower's SyncGroup waits for the leader's; each gets its own part.
  const bs = c.syncGroup(sync('g', 2, b2.memberId), 5);
  assert.equal(await settled(bs), false);
  const as = await c.syncGroup(sync('g', 2, a1.memberId, [{ memberId: a1.memberId, assignment: Buffer.from('p0,p1') }, { memberId: b2.memberId, assignment: Buffer.from('p2,p3') }]), 5);
  assert.equal(as.assignment.toString(), 'p0,p1');
  assert.equal((await bs).assignment.toString(), 'p2,p3');
  assert.equal(c.heartbeat(beat('g', 2, b2.memberId), 4).errorCode, E.NONE);
  c.close();
});

test('JoinGroup v4+ hands out a member id first (MEMBER_ID_REQUIRED); v3 joins at once', async () => {
  const { c } = coordinator();
  const first = await c.joinGroup(joinBody('g'), 4, CLIENT);
  assert.equal(first.errorCode, E.MEMBER_ID_REQUIRED);
  assert.match(first.memberId, /^app-[0-9a-f-]{36}$/);
  assert.equal(first.protocolName, '', 'not nullable before v7');
  // Pending is not a member yet.
  assert.equal(c.heartbeat(beat('g', 0, first.memberId), 4).errorCode, E.UNKNOWN_MEMBER_ID);
  const joined = await c.joinGroup(joinBody('g', { memberId: first.memberId }), 4, CLIENT);
  assert.equal(joined.errorCode, E.NONE);
  assert.equal(joined.memberId, first.memberId);
  assert.equal(joined.leader, first.memberId);

  const v7 = await c.joinGroup(joinBody('h'), 7, CLIENT);
  assert.equal(v7.errorCode, E.MEMBER_ID_REQUIRED);
  assert.equal(v7.protocolName, null);
  const old = await c.joinGroup(joinBody('k'), 3, CLIENT);
  assert.equal(old.errorCode, E.NONE);
  assert.match(old.memberId, /^app-/);
  // A member id nobody handed out.
  assert.equal((await c.joinGroup(joinBody('g', { memberId: 'app-made-up' }), 4, CLIENT)).errorCode, E.UNKNOWN_MEMBER_ID);
  c.close();
});

test('a member that stops heartbeating is removed after its session timeout; the other rejoins alone', async () => {
  const { c } = coordinator(undefined, { initialRebalanceDelayMs: 20 });
  const { leader, follower, generation } = await formGroup(c, 'g', { sessionTimeoutMs: 120 });
  // The leader keeps heartbeating; the follower has died.
  let code: number = E.NONE;
  for (let waited = 0; code === E.NONE && waited < 2000; waited += 20) {
    await sleep(20);
    code = c.heartbeat(beat('g', generation, leader.memberId), 4).errorCode;
  }
  assert.equal(code, E.REBALANCE_IN_PROGRESS);
  assert.equal(c.heartbeat(beat('g', generation, follower.memberId), 4).errorCode, E.UNKNOWN_MEMBER_ID);
  const again = await c.joinGroup(joinBody('g', { memberId: leader.memberId, sessionTimeoutMs: 120, protocols: RANGE('a') }), 5, CLIENT);
  assert.equal(again.generationId, generation + 1);
  assert.deepEqual(again.members.map((m) => m.memberId), [leader.memberId]);
  c.close();
});

test('a member that does not rejoin within the rebalance timeout is removed, and so is one that sends no SyncGroup', async () => {
  const { c } = coordinator(undefined, { initialRebalanceDelayMs: 20 });
  const { leader, follower, generation } = await formGroup(c, 'g', { rebalanceTimeoutMs: 100 });
  const started = performance.now();
  const newcomer = c.joinGroup(joinBody('g', { rebalanceTimeoutMs: 100 }), 3, CLIENT);
  const rejoined = c.joinGroup(joinBody('g', { memberId: leader.memberId, rebalanceTimeoutMs: 100, protocols: RANGE('a') }), 5, CLIENT);
  // The follower never rejoins: the join phase ends at the rebalance timeout, without it.
  const [n, l] = await Promise.all([newcomer, rejoined]);
  assert.ok(performance.now() - started >= 90, 'waited for the rebalance timeout');
  assert.equal(l.generationId, generation + 1);
  assert.deepEqual(l.members.map((m) => m.memberId).sort(), [leader.memberId, n.memberId].sort());
  assert.equal(c.heartbeat(beat('g', generation, follower.memberId), 4).errorCode, E.UNKNOWN_MEMBER_ID);
  // The leader syncs; the newcomer never does and is removed after the rebalance timeout.
  await c.syncGroup(sync('g', l.generationId, leader.memberId, [{ memberId: leader.memberId, assignment: Buffer.from('x') }]), 3);
  assert.equal(c.heartbeat(beat('g', l.generationId, leader.memberId), 4).errorCode, E.NONE);
  await sleep(150);
  assert.equal(c.heartbeat(beat('g', l.generationId, leader.memberId), 4).errorCode, E.REBALANCE_IN_PROGRESS);
  assert.equal(c.heartbeat(beat('g', l.generationId, n.memberId), 4).errorCode, E.UNKNOWN_MEMBER_ID);
  c.close();
});

test('a static member restarting with the same metadata takes its place without a rebalance; its old id is fenced', async () => {
  const { c } = coordinator(undefined, { initialRebalanceDelayMs: 20 });
  const { a, b, generation } = await formGroup(c, 'g', { instances: ['i-a', 'i-b'] });
  const restarted = await c.joinGroup(joinBody('g', { instance: 'i-b', protocols: RANGE('b') }), 5, CLIENT);
  assert.equal(restarted.errorCode, E.NONE);
  assert.notEqual(restarted.memberId, b.memberId);
  assert.match(restarted.memberId, /^i-b-/);
  assert.equal(restarted.generationId, generation, 'same generation: no rebalance');
  assert.equal(c.heartbeat(beat('g', generation, a.memberId, 'i-a'), 4).errorCode, E.NONE, 'the other member is not told to rejoin');
  assert.equal(c.heartbeat(beat('g', generation, b.memberId, 'i-b'), 4).errorCode, E.FENCED_INSTANCE_ID);
  assert.equal((await c.syncGroup(sync('g', generation, b.memberId, [], 'i-b'), 3)).errorCode, E.FENCED_INSTANCE_ID);
  const s = await c.syncGroup(sync('g', generation, restarted.memberId, [], 'i-b'), 3);
  assert.equal(s.errorCode, E.NONE);
  assert.equal(s.assignment.toString(), b.leader === b.memberId ? 'L' : 'F', 'its old assignment');
  const described = (await c.describeGroups({ groups: ['g'] }, 5)).groups[0];
  assert.equal(described?.groupState, 'Stable');
  assert.deepEqual(described?.members.map((m) => m.groupInstanceId).sort(), ['i-a', 'i-b']);

  // With other metadata the restart rebalances.
  const changed = c.joinGroup(joinBody('g', { instance: 'i-a', protocols: RANGE('a2') }), 5, CLIENT);
  assert.equal(c.heartbeat(beat('g', generation, restarted.memberId, 'i-b'), 4).errorCode, E.REBALANCE_IN_PROGRESS);
  await c.joinGroup(joinBody('g', { memberId: restarted.memberId, instance: 'i-b', protocols: RANGE('b') }), 5, CLIENT);
  assert.equal((await changed).generationId, generation + 1);
  c.close();
});

test('LeaveGroup removes members and rebalances; unknown members are named; v0 answers with the member\'s error', async () => {
  const { c } = coordinator(undefined, { initialRebalanceDelayMs: 20 });
  const { leader, follower, generation } = await formGroup(c, 'g');
  const left = c.leaveGroup({ groupId: 'g', members: [{ memberId: follower.memberId, groupInstanceId: null }, { memberId: 'nobody', groupInstanceId: null }] }, 3);
  assert.equal(left.errorCode, E.NONE);
  assert.deepEqual(left.members.map((m) => m.errorCode), [E.NONE, E.UNKNOWN_MEMBER_ID]);
  assert.equal(c.heartbeat(beat('g', generation, leader.memberId), 4).errorCode, E.REBALANCE_IN_PROGRESS);
  assert.equal(c.leaveGroup({ groupId: 'g', memberId: 'nobody' }, 0).errorCode, E.UNKNOWN_MEMBER_ID);
  assert.equal(c.leaveGroup({ groupId: 'g', memberId: leader.memberId }, 0).errorCode, E.NONE);
  // Nobody left: the join phase ends with an Empty group, which offsets alone do not keep.
  await sleep(5);
  assert.equal((await c.describeGroups({ groups: ['g'] }, 5)).groups[0]?.groupState, 'Dead');
  c.close();
});

test('wrong generation, unknown member, rebalance in progress, bad session timeout, mismatched protocol', async () => {
  const { c } = coordinator(undefined, { initialRebalanceDelayMs: 20 });
  const { leader, generation } = await formGroup(c, 'g');
  assert.equal((await c.syncGroup(sync('g', generation + 1, leader.memberId), 3)).errorCode, E.ILLEGAL_GENERATION);
  assert.equal(c.heartbeat(beat('g', generation - 1, leader.memberId), 4).errorCode, E.ILLEGAL_GENERATION);
  assert.equal(c.heartbeat(beat('g', generation, 'nobody'), 4).errorCode, E.UNKNOWN_MEMBER_ID);
  assert.equal((await c.syncGroup(sync('nogroup', 1, 'nobody'), 3)).errorCode, E.UNKNOWN_MEMBER_ID);
  assert.equal((await c.joinGroup(joinBody('g', { sessionTimeoutMs: 10 }), 5, CLIENT)).errorCode, E.INVALID_SESSION_TIMEOUT);
  assert.equal((await c.joinGroup(joinBody('g', { sessionTimeoutMs: 400_000 }), 5, CLIENT)).errorCode, E.INVALID_SESSION_TIMEOUT);
  assert.equal((await c.joinGroup(joinBody('g', { protocolType: 'connect' }), 5, CLIENT)).errorCode, E.INCONSISTENT_GROUP_PROTOCOL);
  assert.equal((await c.joinGroup(joinBody('g', { protocols: [{ name: 'sticky', metadata: Buffer.alloc(0) }] }), 5, CLIENT)).errorCode, E.INCONSISTENT_GROUP_PROTOCOL);
  // A new member starts a rebalance: SyncGroup from the old generation is now REBALANCE_IN_PROGRESS.
  const joining = c.joinGroup(joinBody('g'), 3, CLIENT);
  assert.equal((await c.syncGroup(sync('g', generation, leader.memberId), 3)).errorCode, E.REBALANCE_IN_PROGRESS);
  c.close();
  assert.equal((await joining).errorCode, E.NOT_COORDINATOR, 'close() answers a waiting JoinGroup');
  assert.equal(c.heartbeat(beat('g', generation, leader.memberId), 4).errorCode, E.COORDINATOR_NOT_AVAILABLE);
});

test('the upstream group and the empty group id are refused by every API', async () => {
  const { c, store } = coordinator();
  for (const groupId of ['upstream', '']) {
    assert.equal((await c.joinGroup(joinBody(groupId), 5, CLIENT)).errorCode, E.INVALID_GROUP_ID);
    assert.equal((await c.syncGroup(sync(groupId, 1, 'm'), 3)).errorCode, E.INVALID_GROUP_ID);
    assert.equal(c.heartbeat(beat(groupId, 1, 'm'), 4).errorCode, E.INVALID_GROUP_ID);
    assert.equal(c.leaveGroup({ groupId, members: [{ memberId: 'm', groupInstanceId: null }] }, 3).errorCode, E.INVALID_GROUP_ID);
    assert.deepEqual(commitErrors(await c.offsetCommit(commitBody(groupId, [['s', 0, 1]]), 8)), [`s/0=${E.INVALID_GROUP_ID}`]);
    assert.equal(c.offsetFetch({ groupId, topics: null }, 7).errorCode, E.INVALID_GROUP_ID);
    assert.equal(c.offsetFetch({ groups: [{ groupId, topics: null }] }, 8).groups[0]?.errorCode, E.INVALID_GROUP_ID);
    assert.equal(c.offsetFetch({ groupId, topics: [{ name: 's', partitionIndexes: [0] }] }, 1).topics[0]?.partitions[0]?.errorCode, E.INVALID_GROUP_ID);
    assert.equal((await c.describeGroups({ groups: [groupId] }, 5)).groups[0]?.errorCode, E.INVALID_GROUP_ID);
    assert.equal((await c.deleteGroups({ groupsNames: [groupId] }, 2)).results[0]?.errorCode, E.INVALID_GROUP_ID);
  }
  assert.equal(store.commits, 0);
  c.close();
});

test('a commit from outside group management only while the group has no members; a member commits in its generation', async () => {
  const { c, store } = coordinator(undefined, { initialRebalanceDelayMs: 20 });
  // What kafka-consumer-groups --reset-offsets --execute sends: generation -1, no member id.
  assert.deepEqual(commitErrors(await c.offsetCommit(commitBody('g', [['s', 0, 40], ['s', 1, 50]]), 8)), ['s/0=0', 's/1=0']);
  assert.equal(store.committed('g', 's', 0), 40);
  const { leader, generation } = await formGroup(c, 'g');
  assert.deepEqual(commitErrors(await c.offsetCommit(commitBody('g', [['s', 0, 10]]), 8)), [`s/0=${E.UNKNOWN_MEMBER_ID}`]);
  assert.deepEqual(commitErrors(await c.offsetCommit(commitBody('g', [['s', 0, 10]], { generation: generation + 1, memberId: leader.memberId }), 8)), [`s/0=${E.ILLEGAL_GENERATION}`]);
  assert.deepEqual(commitErrors(await c.offsetCommit(commitBody('g', [['s', 0, 10]], { generation, memberId: 'nobody' }), 8)), [`s/0=${E.UNKNOWN_MEMBER_ID}`]);
  // The member's commit: moving back is allowed; unknown partitions and offsets past the end fail alone.
  const mixed = await c.offsetCommit(commitBody('g', [['s', 0, 10], ['s', 9, 1], ['nope', 0, 1], ['t', 0, 101], ['t', 0, 100]], { generation, memberId: leader.memberId }), 8);
  assert.deepEqual(commitErrors(mixed), ['s/0=0', `s/9=${E.UNKNOWN_TOPIC_OR_PARTITION}`, `nope/0=${E.UNKNOWN_TOPIC_OR_PARTITION}`, 't/0=0', 't/0=0']);
  assert.equal(store.committed('g', 's', 0), 10, 'moved back from 40');
  assert.equal(store.committed('g', 't', 0), 100, 'the last of a partition named twice');
  // kafkajs commits -2 ("earliest") when it resets after OFFSET_OUT_OF_RANGE: accepted, the position cleared,
  // so OffsetFetch says -1 and the client's reset policy applies. Past the end: kept as the end.
  assert.deepEqual(commitErrors(await c.offsetCommit(commitBody('g', [['s', 0, -2], ['s', 1, 10_000]], { generation, memberId: leader.memberId }), 5)), ['s/0=0', 's/1=0']);
  assert.equal(store.committed('g', 's', 0), null, 'cleared');
  assert.equal(c.offsetFetch({ groupId: 'g', topics: [{ name: 's', partitionIndexes: [0] }] }, 5).topics[0]?.partitions[0]?.committedOffset, -1n);
  assert.ok((store.committed('g', 's', 1) ?? 0) <= 100, 'clamped to the end');
  // A member's commit to a group that has none is from a generation long gone.
  assert.deepEqual(commitErrors(await c.offsetCommit(commitBody('other', [['s', 0, 1]], { generation: 3, memberId: 'x' }), 8)), [`s/0=${E.ILLEGAL_GENERATION}`]);
  c.close();
});

test('an offset commit answers only after the store\'s commit resolved; a failed one is an error', async () => {
  const { c, store } = coordinator();
  let sync!: () => void;
  store.gate = new Promise<void>((resolve) => (sync = resolve));
  const pending = c.offsetCommit(commitBody('g', [['s', 2, 7]]), 2);
  assert.equal(await settled(pending), false, 'not answered before the disk sync');
  sync();
  assert.deepEqual(commitErrors(await pending), ['s/2=0']);
  store.gate = null;
  store.failWith = Object.assign(new Error('EIO'), { retriable: true });
  assert.deepEqual(commitErrors(await c.offsetCommit(commitBody('g', [['s', 2, 9]]), 2)), [`s/2=${E.COORDINATOR_NOT_AVAILABLE}`]);
  store.failWith = new Error('broken');
  assert.deepEqual(commitErrors(await c.offsetCommit(commitBody('g', [['s', 2, 9]]), 2)), [`s/2=${E.UNKNOWN_SERVER_ERROR}`]);
  assert.equal(store.committed('g', 's', 2), 7);
  c.close();
});

test('OffsetFetch: v1 named partitions, v7 all partitions (topics null), v8 groups; -1 and \'\' when nothing is committed', async () => {
  const { c } = coordinator();
  await c.offsetCommit(commitBody('g', [['s', 1, 5], ['t', 0, 9]]), 8);
  const v1 = c.offsetFetch({ groupId: 'g', topics: [{ name: 's', partitionIndexes: [0, 1] }, { name: 'nope', partitionIndexes: [0] }] }, 1);
  assert.deepEqual(v1.topics.map((t) => t.partitions.map((p) => [t.name, p.partitionIndex, Number(p.committedOffset), p.metadata, p.errorCode])), [
    [['s', 0, -1, '', 0], ['s', 1, 5, 'm5', 0]],
    [['nope', 0, -1, '', 0]],
  ]);
  const v7 = c.offsetFetch({ groupId: 'g', topics: null, requireStable: true }, 7);
  assert.deepEqual(v7.topics.map((t) => [t.name, t.partitions.map((p) => Number(p.committedOffset))]), [['s', [5]], ['t', [9]]]);
  const v8 = c.offsetFetch({ groups: [{ groupId: 'g', topics: [{ name: 't', partitionIndexes: [0] }] }, { groupId: 'none', topics: null }] }, 8);
  assert.deepEqual(v8.groups.map((g) => [g.groupId, g.errorCode, g.topics.flatMap((t) => t.partitions.map((p) => Number(p.committedOffset)))]), [['g', 0, [9]], ['none', 0, []]]);
  c.close();
});

test('DeleteGroups refuses a group with members and deletes an empty group\'s offsets; describe and list show groups', async () => {
  const { c, store } = coordinator(undefined, { initialRebalanceDelayMs: 20 });
  await c.offsetCommit(commitBody('idle', [['s', 0, 3]]), 8);
  const { leader, follower } = await formGroup(c, 'busy');
  await c.offsetCommit(commitBody('busy', [['s', 0, 60]], { generation: leader.generationId, memberId: leader.memberId }), 8);

  const described = await c.describeGroups({ groups: ['busy', 'idle', 'never'] }, 5);
  const [busy, idle, never] = described.groups;
  assert.equal(busy?.groupState, 'Stable');
  assert.equal(busy?.protocolType, 'consumer');
  assert.equal(busy?.protocolData, 'range');
  const byId = new Map(busy?.members.map((m) => [m.memberId, m]));
  assert.equal(byId.get(leader.memberId)?.memberAssignment.toString(), 'L');
  assert.equal(byId.get(follower.memberId)?.memberAssignment.toString(), 'F');
  assert.deepEqual([...byId.values()].map((m) => [m.clientId, m.clientHost, m.memberMetadata.toString()]).sort(), [['app', '/127.0.0.1', 'a'], ['other', '/10.0.0.2', 'b']]);
  assert.deepEqual([idle?.groupState, idle?.members], ['Empty', []]);
  assert.equal(never?.groupState, 'Dead');

  const listed = await c.listGroups({}, 3);
  assert.deepEqual(listed.groups.map((g) => [g.groupId, g.groupState, g.protocolType]), [['busy', 'Stable', 'consumer'], ['idle', 'Empty', '']]);
  assert.deepEqual((await c.listGroups({ statesFilter: ['empty'] }, 4)).groups.map((g) => g.groupId), ['idle']);
  assert.deepEqual((await c.listGroups({ typesFilter: ['consumer'] }, 5)).groups, []);

  assert.deepEqual(c.groupLag().sort((x, y) => x.group.localeCompare(y.group)), [
    { group: 'busy', stream: 's', partition: 0, lagRecords: 40 },
    { group: 'idle', stream: 's', partition: 0, lagRecords: 97 },
  ]);

  const deleted = await c.deleteGroups({ groupsNames: ['busy', 'idle', 'never'] }, 2);
  assert.deepEqual(deleted.results.map((r) => [r.groupId, r.errorCode]), [['busy', E.NON_EMPTY_GROUP], ['idle', E.NONE], ['never', E.GROUP_ID_NOT_FOUND]]);
  assert.equal(store.committed('idle', 's', 0), null);
  assert.equal(store.committed('busy', 's', 0), 60);
  c.close();
});

test('groupSummaries: every known group with its state, members and committed positions; a read changes nothing', async () => {
  const { c, store } = coordinator(undefined, { initialRebalanceDelayMs: 20 });
  assert.deepEqual(c.groupSummaries(), []);
  // 'idle' has offsets only (one on a stream no longer served: left out, as from the lag); 'busy' has members.
  await c.offsetCommit(commitBody('idle', [['t', 0, 100], ['s', 3, 7], ['s', 1, 2]]), 8);
  store.offsets.get('idle')?.set('gone/0', 5);
  const { leader } = await formGroup(c, 'busy');
  const pending = await c.joinGroup(joinBody('joining'), 4, CLIENT);
  assert.equal(pending.errorCode, E.MEMBER_ID_REQUIRED, 'a KIP-394 id is pending, not a member');
  const commitsBefore = store.commits;
  const summaries = c.groupSummaries();
  assert.deepEqual(summaries, [
    { group: 'busy', state: 'Stable', members: 2, partitions: [] },
    { group: 'idle', state: 'Empty', members: 0, partitions: [
      { stream: 's', partition: 1, committedOffset: 2, lagRecords: 98 },
      { stream: 's', partition: 3, committedOffset: 7, lagRecords: 93 },
      { stream: 't', partition: 0, committedOffset: 100, lagRecords: 0 },
    ] },
    { group: 'joining', state: 'Empty', members: 0, partitions: [] },
  ]);
  assert.deepEqual(c.groupSummaries(), summaries, 'two reads agree');
  assert.equal(store.commits, commitsBefore, 'no write');
  // The same lag as the metric's, partition for partition.
  await c.offsetCommit(commitBody('busy', [['s', 0, 60]], { generation: leader.generationId, memberId: leader.memberId }), 8);
  const fromSummaries = c.groupSummaries().flatMap((g) => g.partitions.map((p) => ({ group: g.group, stream: p.stream, partition: p.partition, lagRecords: p.lagRecords })));
  assert.deepEqual(fromSummaries, c.groupLag().sort((x, y) => x.group.localeCompare(y.group)));
  c.close();
  assert.deepEqual(c.groupSummaries().map((g) => [g.group, g.state]), [['busy', 'Empty'], ['idle', 'Empty']], 'after close: what the offsets say');
});

test('close() answers a waiting SyncGroup and leaves nothing to keep the process alive', async () => {
  const { c } = coordinator();
  const j = await c.joinGroup(joinBody('g'), 3, CLIENT);
  const b = c.joinGroup(joinBody('g'), 3, CLIENT);
  c.heartbeat(beat('g', j.generationId, j.memberId), 4);
  await c.joinGroup(joinBody('g', { memberId: j.memberId }), 3, CLIENT);
  const bj = await b;
  const waiting = c.syncGroup(sync('g', bj.generationId, bj.memberId), 3);
  assert.equal(await settled(waiting), false);
  c.close();
  assert.equal((await waiting).errorCode, E.NOT_COORDINATOR);
});
