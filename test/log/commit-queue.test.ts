/**
 * CommitQueue's timing (src/log/commit-queue.ts), with a flush that resolves on demand: a group waits
 * out the commit interval unless `commitSoon` asks for it, and a `commitSoon` during a flush starts the
 * next group as soon as that flush ends.
 */
import test from 'node:test';
import assert from 'node:assert/strict';
import { CommitQueue } from '../../src/log/commit-queue.js';

interface Item {
  bytes: number;
  n: number;
}

/** A queue whose flushes are recorded and end when `end()` is called. */
function queue(commitIntervalMs: number) {
  const groups: number[][] = [];
  const ends: Array<() => void> = [];
  const q = new CommitQueue<Item>({ commitIntervalMs, commitBytesMax: 1 << 30, itemsMax: 1000 }, (items) => {
    groups.push(items.map((i) => i.n));
    return new Promise<void>((resolve) => ends.push(resolve));
  });
  const end = async (): Promise<void> => {
    (ends.shift() as () => void)();
    await new Promise((r) => setImmediate(r));
  };
  return { q, groups, end };
}

const turns = async (n: number): Promise<void> => {
  for (let i = 0; i < n; i++) await new Promise((r) => setImmediate(r));
};

test('after a flush, the next group waits out the commit interval; commitSoon starts it on the next turn', async () => {
  const { q, groups, end } = queue(60_000);
  q.push({ bytes: 1, n: 1 });
  await turns(2);
  assert.deepEqual(groups, [[1]], 'the first group starts at once (no flush in the last interval)');
  await end();
  q.push({ bytes: 1, n: 2 });
  q.push({ bytes: 1, n: 3 });
  await turns(5);
  assert.deepEqual(groups, [[1]], 'within the interval the group waits');
  q.commitSoon();
  q.push({ bytes: 1, n: 4 });
  await turns(2);
  assert.deepEqual(groups, [[1], [2, 3, 4]], 'commitSoon: started on the next turn, with what arrived in this one');
  await end();
  q.commitSoon();
  await turns(3);
  assert.equal(groups.length, 2, 'commitSoon with nothing pending starts nothing');
});

test('commitSoon during a flush: the next group starts as soon as it ends, not after the interval', async () => {
  const { q, groups, end } = queue(60_000);
  q.push({ bytes: 1, n: 1 });
  await turns(2);
  q.push({ bytes: 1, n: 2 });
  q.commitSoon();
  await turns(3);
  assert.deepEqual(groups, [[1]], 'one flush at a time');
  await end();
  assert.deepEqual(groups, [[1], [2]], 'started when the running flush ended');
  // Without commitSoon the group after that one waits out the interval.
  q.push({ bytes: 1, n: 3 });
  await end();
  await turns(5);
  assert.deepEqual(groups, [[1], [2]]);
  const drained = q.drain();
  assert.deepEqual(groups, [[1], [2], [3]], 'drain flushes it at once');
  await end();
  await drained;
});
