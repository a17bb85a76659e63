/**
 * Retention by age and by bytes deletes the oldest records, but never records the hold group
 * (`upstream`, the forwarder) has not consumed yet; the storage limit does delete those, lowest
 * priority stream first, and counts every such drop by stream and reason. Passes are bounded, so a
 * large backlog is trimmed over several passes.
 */
import test from 'node:test';
import assert from 'node:assert/strict';
import { Log, type DropReason, type RecordInput } from '../../src/log/index.js';
import { BATCH_RECORDS_MAX } from '../../src/log/commit-batch.js';
import { tmpDir } from '../helpers/tmp.js';

function rec(timestamp: number, size = 100): RecordInput {
  return { timestamp, topic: 't', qos: 0, retain: false, clientId: 'c', payload: Buffer.alloc(size) };
}

function counter() {
  const counts = new Map<string, number>();
  return {
    counts,
    observer: {
      dropped: (stream: string, reason: DropReason, n: number) => counts.set(`dropped ${stream} ${reason}`, (counts.get(`dropped ${stream} ${reason}`) ?? 0) + n),
      expired: (stream: string, reason: DropReason, n: number) => counts.set(`expired ${stream} ${reason}`, (counts.get(`expired ${stream} ${reason}`) ?? 0) + n),
    },
  };
}

test('age retention deletes old records and keeps new ones', async () => {
  const c = counter();
  const log = await Log.open({ dataDir: tmpDir(), observer: c.observer }, [{ name: 's', partitions: 2, retention: { ageMs: 60_000 } }]);
  const now = Date.now();
  for (let i = 0; i < 10; i++) await log.append('s', i % 2, rec(now - 120_000 + i));
  for (let i = 0; i < 4; i++) await log.append('s', i % 2, rec(now - 1000));
  assert.equal(await log.runRetention(now), 10);
  assert.deepEqual([log.partitionInfo('s', 0).startOffset, log.partitionInfo('s', 1).startOffset], [5, 5]);
  assert.equal(log.partitionInfo('s', 0).records + log.partitionInfo('s', 1).records, 4);
  assert.equal(c.counts.get('expired s retention.age'), 10);
  assert.equal(c.counts.get('dropped s retention.age'), undefined);
  await log.close();
});

test('bytes retention trims the stream to its limit, oldest first across partitions', async () => {
  const log = await Log.open({ dataDir: tmpDir() }, [{ name: 's', partitions: 2, retention: { bytes: 1240 * 2 } }]);
  const t0 = Date.now() - 10_000;
  for (let i = 0; i < 20; i++) await log.append('s', i % 2, rec(t0 + i));
  const recordBytes = log.partitionInfo('s', 0).bytes / 10;
  await log.runRetention();
  const total = log.partitionInfo('s', 0).bytes + log.partitionInfo('s', 1).bytes;
  assert.ok(total <= 1240 * 2, `stream holds ${total} bytes`);
  assert.ok(total > 1240 * 2 - recordBytes, 'no more than needed was deleted');
  // The newest records survive in both partitions.
  assert.equal(log.partitionInfo('s', 0).endOffset, 10);
  assert.equal(log.read('s', 1, 0, { maxRecords: 100, maxBytes: 1e9 }).at(-1)?.timestamp, t0 + 19);
  await log.close();
});

test('retention never passes the hold group cursor; the storage limit does, counted as dropped', async () => {
  const c = counter();
  const dataDir = tmpDir();
  const log = await Log.open(
    { dataDir, retentionHoldGroup: 'upstream', observer: c.observer },
    [
      { name: 'low', partitions: 1, retention: { ageMs: 1000 }, priority: 1 },
      { name: 'high', partitions: 1, retention: { ageMs: 1000 }, priority: 9 },
    ],
  );
  const old = Date.now() - 3_600_000;
  for (let i = 0; i < 10; i++) {
    await log.append('low', 0, rec(old + i));
    await log.append('high', 0, rec(old + i));
  }
  await log.commitCursor('upstream', 'low', 0, 4);
  await log.runRetention();
  assert.equal(log.partitionInfo('low', 0).startOffset, 4, 'age retention stops at the forwarder cursor');
  assert.equal(log.partitionInfo('high', 0).startOffset, 0, 'nothing forwarded: nothing expires');
  assert.equal(c.counts.get('expired low retention.age'), 4);

  // Now a storage limit that only the low-priority stream's remaining records can satisfy.
  await log.close();
  const recordBytes = 124;
  const limited = await Log.open(
    { dataDir, retentionHoldGroup: 'upstream', observer: c.observer, storageMaxBytes: 12 * recordBytes },
    [
      { name: 'low', partitions: 1, priority: 1 },
      { name: 'high', partitions: 1, priority: 9 },
    ],
  );
  await limited.runRetention();
  assert.equal(limited.partitionInfo('low', 0).records, 2, 'the low-priority stream gave up its oldest unforwarded records');
  assert.equal(limited.partitionInfo('high', 0).records, 10, 'the high-priority stream kept everything');
  assert.equal(c.counts.get('dropped low storage.maxBytes'), 4);
  assert.equal(limited.read('low', 0, 0, { maxRecords: 10, maxBytes: 1e9 })[0]?.offset, 8, 'the newest records were kept');
  await limited.close();
});

test('a big backlog is trimmed in bounded passes, of whole batches', async () => {
  const log = await Log.open({ dataDir: tmpDir(), retentionBatchRecords: 300 }, [{ name: 's', partitions: 1, retention: { ageMs: 1000 } }]);
  const old = Date.now() - 60_000;
  // One commit: its 1,000 records are batches of BATCH_RECORDS_MAX (128), the unit a trim deletes.
  await Promise.all(Array.from({ length: 1000 }, (_, i) => log.append('s', 0, rec(old + i))));
  assert.equal(BATCH_RECORDS_MAX, 128);
  assert.equal(await log.runRetention(), 256, 'two batches: a third would pass the bound of 300');
  assert.equal(log.partitionInfo('s', 0).startOffset, 256);
  assert.equal(await log.runRetention(), 256);
  while ((await log.runRetention()) > 0);
  assert.equal(log.partitionInfo('s', 0).records, 0);
  assert.equal(log.partitionInfo('s', 0).startOffset, 1000);
  await log.close();
});

test('a batch goes only when all of it is due: its newest record past the age, all of it below the hold cursor', async () => {
  const log = await Log.open({ dataDir: tmpDir(), retentionHoldGroup: 'upstream' }, [{ name: 's', partitions: 1, retention: { ageMs: 10_000 } }]);
  const old = Date.now() - 60_000;
  // One batch of 0..9 whose last record is new, then one of 10..19, all old.
  await Promise.all(Array.from({ length: 10 }, (_, i) => log.append('s', 0, rec(i === 9 ? Date.now() : old + i))));
  await Promise.all(Array.from({ length: 10 }, (_, i) => log.append('s', 0, rec(old + 10 + i))));
  await log.commitCursor('upstream', 's', 0, 20);
  assert.equal(await log.runRetention(), 0, 'the first batch holds a record younger than the age');
  await log.close();

  const held = await Log.open({ dataDir: tmpDir(), retentionHoldGroup: 'upstream' }, [{ name: 's', partitions: 1, retention: { ageMs: 10_000 } }]);
  await Promise.all(Array.from({ length: 10 }, (_, i) => held.append('s', 0, rec(old + i))));
  await Promise.all(Array.from({ length: 10 }, (_, i) => held.append('s', 0, rec(old + 10 + i))));
  await held.commitCursor('upstream', 's', 0, 15);
  assert.equal(await held.runRetention(), 10, 'the batch the cursor is inside stays');
  assert.equal(held.partitionInfo('s', 0).startOffset, 10);
  await held.commitCursor('upstream', 's', 0, 20);
  assert.equal(await held.runRetention(), 10);
  await held.close();
});

test('a pass whose bound is below one batch still deletes that batch', async () => {
  const log = await Log.open({ dataDir: tmpDir(), retentionBatchRecords: 10 }, [{ name: 's', partitions: 1, retention: { ageMs: 1000 } }]);
  await Promise.all(Array.from({ length: 200 }, (_, i) => log.append('s', 0, rec(Date.now() - 60_000 + i))));
  assert.equal(await log.runRetention(), 128);
  assert.equal(await log.runRetention(), 72);
  await log.close();
});

test('a disk-pressure limit drops the oldest low-priority records, counted as disk.free, and lifts', async () => {
  const c = counter();
  const log = await Log.open({ dataDir: tmpDir(), retentionHoldGroup: 'upstream', observer: c.observer }, [
    { name: 'bulk', partitions: 2, priority: 0 },
    { name: 'alarms', partitions: 1, priority: 10 },
  ]);
  const t0 = Date.now() - 1000;
  for (let i = 0; i < 20; i++) await log.append('bulk', i % 2, rec(t0 + i));
  for (let i = 0; i < 5; i++) await log.append('alarms', 0, rec(t0 + i));
  const size = log.partitionInfo('alarms', 0).bytes / 5;
  log.setPressureLimit(log.totalBytes() - 10 * size);
  await log.runRetention();
  assert.equal(c.counts.get('dropped bulk disk.free'), 10);
  assert.equal(log.partitionInfo('alarms', 0).records, 5, 'high priority untouched');
  assert.equal(log.partitionInfo('bulk', 0).startOffset + log.partitionInfo('bulk', 1).startOffset, 10, 'oldest first across partitions');
  // While the cap holds, new appends push out as much old data; lifting it stops the drops.
  for (let i = 0; i < 4; i++) await log.append('bulk', 0, rec(Date.now()));
  await log.runRetention();
  assert.equal(c.counts.get('dropped bulk disk.free'), 14);
  log.setPressureLimit(null);
  await log.append('bulk', 0, rec(Date.now()));
  assert.equal(await log.runRetention(), 0);
  await log.close();
});
