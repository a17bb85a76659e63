/**
 * One bad write fails alone (issue 10): a write LMDB would refuse — a key over 511 bytes, an empty key —
 * is refused before it joins a group commit, with a typed, counted error, while the appends and the
 * good writes of the same group commit and get their offsets, and no offset is ever handed out twice
 * (the ends after a reopen are exactly the appends made). A cursor never moves back: the attempt is
 * refused where it would be made and breaks the log (a broken invariant stops the acks).
 */
import test from 'node:test';
import assert from 'node:assert/strict';
import { Log, type RecordInput } from '../../src/log/index.js';
import { InvalidWriteError, LogInvariantError } from '../../src/errors.js';
import { tmpDir } from '../helpers/tmp.js';

function rec(i: number): RecordInput {
  return { timestamp: Date.now(), topic: `t/${i}`, qos: 1, retain: false, clientId: 'c', payload: Buffer.from(`m-${i}`) };
}

test('a state write with a 600-byte key fails only itself; its group commits, offsets stay contiguous', async () => {
  const dataDir = tmpDir();
  const invalid: string[] = [];
  const commits: number[] = [];
  // A long commit interval puts everything below into one group commit.
  const options = { dataDir, commitIntervalMs: 200, observer: { invalidWrite: (reason: string) => invalid.push(reason), commit: (_ms: number, n: number) => commits.push(n) } };
  const log = await Log.open(options, [{ name: 's', partitions: 2 }]);
  await log.writeStates([[Buffer.from('warm'), Buffer.from('up')]]); // the first commit goes at once; the rest share the next
  commits.length = 0;
  const first = Array.from({ length: 50 }, (_, i) => log.append('s', i % 2, rec(i)));
  const bad = log.writeStates([[Buffer.alloc(600, 0x61), Buffer.from('v')]]);
  const empty = log.writeStates([[Buffer.alloc(0), Buffer.from('v')]]);
  const good = log.writeStates([[Buffer.alloc(511, 0x62), Buffer.from('kept')]]);
  const second = Array.from({ length: 50 }, (_, i) => log.append('s', i % 2, rec(50 + i)));

  await assert.rejects(bad, (err: unknown) => err instanceof InvalidWriteError && err.reason === 'key-too-long' && /600 bytes/.test(err.message));
  await assert.rejects(empty, (err: unknown) => err instanceof InvalidWriteError && err.reason === 'key-empty');
  await good;
  const offsets = await Promise.all([...first, ...second]);
  // Per partition, the 100 appends got 0..49 in call order: nothing skipped, nothing reused.
  for (const p of [0, 1]) {
    const mine = offsets.filter((_, i) => i % 2 === p);
    assert.deepEqual(mine, Array.from({ length: 50 }, (_, k) => k));
  }
  assert.deepEqual(invalid, ['key-too-long', 'key-empty']);
  assert.equal(commits.reduce((a, b) => a + b, 0), 100);
  assert.deepEqual(log.stateGet(Buffer.alloc(511, 0x62)), Buffer.from('kept'));
  await log.close();

  const reopened = await Log.open({ dataDir }, [{ name: 's', partitions: 2 }]);
  try {
    assert.deepEqual(reopened.info()[0]?.partitions.map((p) => [p.startOffset, p.endOffset]), [[0, 50], [0, 50]]);
    assert.equal(await reopened.append('s', 0, rec(100)), 50);
    assert.deepEqual(reopened.read('s', 1, 0, { maxRecords: 100, maxBytes: 1e9 }).map((r) => r.payload.toString()), Array.from({ length: 50 }, (_, k) => `m-${2 * k + 1}`));
  } finally {
    await reopened.close();
  }
});

test('a cursor never moves back: the attempt breaks the log, which acks nothing more', async () => {
  const broken: Error[] = [];
  const log = await Log.open({ dataDir: tmpDir(), observer: { broken: (err) => broken.push(err) } }, [{ name: 's', partitions: 1 }]);
  try {
    for (let i = 0; i < 10; i++) await log.append('s', 0, rec(i));
    await log.commitCursor('g', 's', 0, 7);
    await log.commitCursor('g', 's', 0, 7);
    await assert.rejects(log.commitCursor('g', 's', 0, 3), (err: unknown) => err instanceof LogInvariantError && /from 7 to 3/.test(err.message));
    assert.equal(log.cursor('g', 's', 0), 7);
    assert.equal(broken.length, 1);
    await assert.rejects(log.append('s', 0, rec(10)), (err: unknown) => err === broken[0]);
    await assert.rejects(log.commitCursor('g', 's', 0, 10), (err: unknown) => err === broken[0]);
    assert.equal(log.cursor('g', 's', 0), 7);
  } finally {
    await log.close();
  }
});
