/**
 * Committed offsets over the real log: a group's commits through the coordinator land in the log's
 * cursors table and survive closing and reopening the log (a new coordinator reads them back); a reset
 * moves an offset back and that survives a reopen too; the upstream group's cursors are never shown or
 * touched; DeleteGroups deletes a group's cursors from the log.
 */
import test from 'node:test';
import assert from 'node:assert/strict';
import { GroupCoordinator } from '../../src/kafka-api/group-coordinator.js';
import { logOffsetStore, logTopicCatalog } from '../../src/kafka-api/offsets.js';
import { Log, UPSTREAM_GROUP, type RecordInput } from '../../src/log/index.js';
import { tmpDir } from '../helpers/tmp.js';
import { commitBody, commitErrors } from './group-harness.js';

const STREAMS = [{ name: 'telemetry', partitions: 2 }];
const rec = (i: number): RecordInput => ({ timestamp: Date.now(), topic: 'sensors/1/t', qos: 1, retain: false, clientId: 'c', payload: Buffer.from(String(i)) });

function coordinatorOver(log: Log): GroupCoordinator {
  return new GroupCoordinator({ offsets: logOffsetStore(log), topics: logTopicCatalog(log) });
}

const fetchAll = (c: GroupCoordinator, groupId: string): Array<[string, number, number]> =>
  c.offsetFetch({ groupId, topics: null }, 7).topics.flatMap((t) => t.partitions.map((p): [string, number, number] => [t.name, p.partitionIndex, Number(p.committedOffset)]));

test('offsets committed through the coordinator survive a reopen of the log; a reset moves back', async () => {
  const dataDir = tmpDir();
  let log = await Log.open({ dataDir }, STREAMS);
  await Promise.all(Array.from({ length: 20 }, (_, i) => log.append('telemetry', i % 2, rec(i))));
  await log.commitCursor(UPSTREAM_GROUP, 'telemetry', 0, 10);
  let c = coordinatorOver(log);
  assert.deepEqual(commitErrors(await c.offsetCommit(commitBody('app', [['telemetry', 0, 7], ['telemetry', 1, 9]]), 8)), ['telemetry/0=0', 'telemetry/1=0']);
  assert.deepEqual(commitErrors(await c.offsetCommit(commitBody('app', [['telemetry', 1, 11]]), 8)), ['telemetry/1=1'], 'past the end (10)');
  c.close();
  await log.close();

  log = await Log.open({ dataDir }, STREAMS);
  c = coordinatorOver(log);
  assert.deepEqual(fetchAll(c, 'app'), [['telemetry', 0, 7], ['telemetry', 1, 9]]);
  assert.deepEqual((await c.listGroups({}, 4)).groups.map((g) => [g.groupId, g.groupState]), [['app', 'Empty']], 'upstream is not a listed group');
  assert.deepEqual(c.groupLag(), [{ group: 'app', stream: 'telemetry', partition: 0, lagRecords: 3 }, { group: 'app', stream: 'telemetry', partition: 1, lagRecords: 1 }]);
  // kafka-consumer-groups --reset-offsets --to-earliest --execute
  assert.deepEqual(commitErrors(await c.offsetCommit(commitBody('app', [['telemetry', 0, 0]]), 8)), ['telemetry/0=0']);
  c.close();
  await log.close();

  log = await Log.open({ dataDir }, STREAMS);
  c = coordinatorOver(log);
  assert.deepEqual(fetchAll(c, 'app'), [['telemetry', 0, 0], ['telemetry', 1, 9]]);
  assert.deepEqual((await c.deleteGroups({ groupsNames: ['app'] }, 2)).results, [{ groupId: 'app', errorCode: 0 }]);
  c.close();
  await log.close();

  log = await Log.open({ dataDir }, STREAMS);
  assert.deepEqual(log.cursorGroups(), [UPSTREAM_GROUP]);
  assert.equal(log.cursor(UPSTREAM_GROUP, 'telemetry', 0), 10);
  await log.close();
});
