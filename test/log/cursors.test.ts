/**
 * The cursors table for consumer groups: `commitCursors` writes several of a group's cursors in one
 * synced commit and they survive a reopen; a local group's cursor may move back when the commit says so
 * (an offset reset) while the upstream group's never does (it breaks the log) and its cursors cannot be
 * deleted; offsets past a partition's end and repeated partitions are refused; `cursorGroups` lists each
 * group once, `groupCursors` returns exactly one group's cursors (not a group whose name it prefixes),
 * and `deleteCursors` removes one group's cursors and no other's.
 */
import test from 'node:test';
import assert from 'node:assert/strict';
import { Log, UPSTREAM_GROUP, type RecordInput } from '../../src/log/index.js';
import { LogInvariantError, UsageError } from '../../src/errors.js';
import { tmpDir } from '../helpers/tmp.js';

const rec = (i: number): RecordInput => ({ timestamp: Date.now(), topic: 't', qos: 1, retain: false, clientId: 'c', payload: Buffer.from(String(i)) });
const STREAMS = [{ name: 's', partitions: 2 }, { name: 'x', partitions: 1 }];

async function filled(dataDir: string): Promise<Log> {
  const log = await Log.open({ dataDir }, STREAMS);
  await Promise.all(Array.from({ length: 10 }, (_, i) => log.append('s', i % 2, rec(i))));
  await log.append('x', 0, rec(0));
  return log;
}

test('commitCursors: one commit for several partitions, survives a reopen, a local group may move back', async () => {
  const dataDir = tmpDir();
  let log = await filled(dataDir);
  await log.commitCursors('app', [{ stream: 's', partition: 0, offset: 5 }, { stream: 's', partition: 1, offset: 3 }, { stream: 'x', partition: 0, offset: 1 }], { mayMoveBack: true });
  await log.commitCursors('app-2', [{ stream: 's', partition: 0, offset: 2 }], { mayMoveBack: true });
  await log.commitCursor(UPSTREAM_GROUP, 's', 0, 4);
  await log.close();

  log = await Log.open({ dataDir }, STREAMS);
  assert.deepEqual(log.groupCursors('app'), [{ stream: 's', partition: 0, offset: 5 }, { stream: 's', partition: 1, offset: 3 }, { stream: 'x', partition: 0, offset: 1 }]);
  assert.deepEqual(log.groupCursors('app-2'), [{ stream: 's', partition: 0, offset: 2 }], 'a group whose name another prefixes is its own');
  assert.deepEqual(log.groupCursors('ap'), []);
  assert.deepEqual(log.cursorGroups(), ['app', 'app-2', UPSTREAM_GROUP]);

  // A reset moves back, to 0 if need be.
  await log.commitCursors('app', [{ stream: 's', partition: 0, offset: 0 }], { mayMoveBack: true });
  assert.equal(log.cursor('app', 's', 0), 0);
  await log.close();
  log = await Log.open({ dataDir }, STREAMS);
  assert.equal(log.cursor('app', 's', 0), 0);
  assert.equal(log.cursor('app', 's', 1), 3);
  await log.close();
});

test('commitCursors refuses offsets past the end, a partition twice, unknown partitions and the upstream group moving back', async () => {
  const log = await filled(tmpDir());
  await assert.rejects(log.commitCursors('app', [{ stream: 's', partition: 0, offset: 6 }], { mayMoveBack: true }), /outside 0\.\.5/);
  await assert.rejects(log.commitCursors('app', [{ stream: 's', partition: 0, offset: -1 }], { mayMoveBack: true }), UsageError);
  await assert.rejects(log.commitCursors('app', [{ stream: 's', partition: 0, offset: 1 }, { stream: 's', partition: 0, offset: 2 }], { mayMoveBack: true }), /appears twice/);
  await assert.rejects(log.commitCursors('app', [{ stream: 's', partition: 2, offset: 0 }], { mayMoveBack: true }), /no partition 2/);
  await assert.rejects(log.commitCursors('a\u0000b', [{ stream: 's', partition: 0, offset: 0 }], { mayMoveBack: true }), UsageError);
  await assert.rejects(log.commitCursors(UPSTREAM_GROUP, [{ stream: 's', partition: 0, offset: 1 }], { mayMoveBack: true }), UsageError);
  assert.deepEqual(log.cursorGroups(), [], 'nothing refused was written');
  await log.commitCursors(UPSTREAM_GROUP, [{ stream: 's', partition: 0, offset: 3 }], { mayMoveBack: false });
  await assert.rejects(log.commitCursors(UPSTREAM_GROUP, [{ stream: 's', partition: 0, offset: 2 }], { mayMoveBack: false }), LogInvariantError);
  // Moving an upstream cursor back is a broken invariant: the log takes no more writes.
  await assert.rejects(log.append('s', 0, rec(99)), LogInvariantError);
  await log.close();
});

test('deleteCursors removes one group and no other; never the upstream group', async () => {
  const dataDir = tmpDir();
  let log = await filled(dataDir);
  await log.commitCursors('app', [{ stream: 's', partition: 0, offset: 5 }, { stream: 'x', partition: 0, offset: 1 }], { mayMoveBack: true });
  await log.commitCursors('app-2', [{ stream: 's', partition: 1, offset: 2 }], { mayMoveBack: true });
  await log.commitCursor(UPSTREAM_GROUP, 's', 1, 5);
  await assert.rejects(log.deleteCursors(UPSTREAM_GROUP), UsageError);
  await log.deleteCursors('app');
  await log.deleteCursors('nobody');
  assert.equal(log.cursor('app', 's', 0), null);
  await log.close();
  log = await Log.open({ dataDir }, STREAMS);
  assert.deepEqual(log.cursorGroups(), ['app-2', UPSTREAM_GROUP]);
  assert.deepEqual(log.groupCursors('app'), []);
  assert.equal(log.cursor(UPSTREAM_GROUP, 's', 1), 5);
  await log.close();
});
