/**
 * The log's core promises, in one process: concurrent appends across partitions get contiguous
 * offsets with nothing lost and per-partition order kept; appends share group commits; offsets,
 * streams, cursors and byte counts (checked against sizes worked out from the record format) survive a
 * close and reopen, and offsets are never reused; reads honour record and byte limits; a full append
 * queue makes callers wait instead of growing memory; the map grows past its first size without an
 * error; and a damaged log is refused on open with the stream, partition and offset named.
 */
import test from 'node:test';
import assert from 'node:assert/strict';
import { Log, logPath, type RecordInput } from '../../src/log/index.js';
import { Store, type WriteOp } from '../../src/log/store.js';
import { recordKey } from '../../src/log/keys.js';
import { encodeRecord } from '../../src/log/record.js';
import { LogCorruptError, StreamMismatchError, UnknownStreamError } from '../../src/errors.js';
import { tmpDir } from '../helpers/tmp.js';

function rec(i: number, size = 100): RecordInput {
  const payload = Buffer.alloc(size, i % 256);
  payload.writeUInt32BE(i >>> 0, 0);
  return { timestamp: Date.now(), topic: `sensors/${i % 7}/t`, qos: 1, retain: false, clientId: `c${i % 3}`, payload };
}

const ALL = { maxRecords: Number.MAX_SAFE_INTEGER, maxBytes: Number.MAX_SAFE_INTEGER };

/**
 * A record's stored size by the format at the top of src/log/record.ts, worked out here rather than by the
 * encoder: version u8, crc u32, flags u8, timestamp u48, then u16 + topic, u16 + client id, u32 + payload.
 */
function encodedBytes(r: RecordInput): number {
  return 1 + 4 + 1 + 6 + 2 + Buffer.byteLength(r.topic, 'utf8') + 2 + Buffer.byteLength(r.clientId, 'utf8') + 4 + r.payload.length;
}

test('concurrent appends across partitions: contiguous offsets, nothing lost, order kept, commits shared', async () => {
  const dataDir = tmpDir();
  let commits = 0;
  let committedRecords = 0;
  const log = await Log.open({ dataDir, observer: { commit: (_ms, n) => ((commits += 1), (committedRecords += n)) } }, [{ name: 's', partitions: 4 }]);
  const n = 20_000;
  const appends = Array.from({ length: n }, (_, i) => log.append('s', i % 4, rec(i)).then((offset) => ({ i, offset })));
  const results = await Promise.all(appends);
  for (let p = 0; p < 4; p++) {
    const mine = results.filter((r) => r.i % 4 === p);
    // Offsets are 0..k-1 in the order the appends were made.
    assert.deepEqual(mine.map((r) => r.offset), mine.map((_, k) => k));
    const records = log.read('s', p, 0, ALL);
    assert.equal(records.length, n / 4);
    records.forEach((r, k) => assert.equal(r.payload.readUInt32BE(0), (mine[k] as { i: number }).i));
  }
  assert.equal(committedRecords, n);
  assert.ok(commits < n / 10, `expected group commits, got ${commits} commits for ${n} appends`);
  await log.close();
});

test('offsets, streams and cursors survive reopen; offsets are never reused after retention', async () => {
  const dataDir = tmpDir();
  let log = await Log.open({ dataDir }, [{ name: 's', partitions: 2 }]);
  const appended = Array.from({ length: 10 }, (_, i) => rec(i));
  for (const r of appended) await log.append('s', 0, r);
  await log.commitCursor('g', 's', 0, 6);
  await log.close();
  // 10 records of 20 bytes of framing, an 11-byte topic, a 2-byte client id and 100 payload bytes.
  const bytes = appended.reduce((sum, r) => sum + encodedBytes(r), 0);
  assert.equal(bytes, 10 * 133);

  log = await Log.open({ dataDir, retentionHoldGroup: null }, [{ name: 's', partitions: 2, retention: { bytes: 0 } }]);
  assert.deepEqual(log.partitionInfo('s', 0), { partition: 0, startOffset: 0, endOffset: 10, records: 10, bytes });
  assert.equal(log.cursor('g', 's', 0), 6);
  assert.equal(log.cursor('g', 's', 1), null);
  await log.runRetention();
  assert.equal(log.partitionInfo('s', 0).records, 0);
  assert.equal(await log.append('s', 0, rec(10)), 10, 'the next offset continues after deleted ones');
  await log.close();

  log = await Log.open({ dataDir }, [{ name: 's', partitions: 2 }]);
  assert.equal(await log.append('s', 0, rec(11)), 11);
  assert.deepEqual(log.read('s', 0, 0, ALL).map((r) => r.offset), [10, 11]);
  await log.close();
});

test('reads honour maxRecords and maxBytes but always return at least one record', async () => {
  const log = await Log.open({ dataDir: tmpDir() }, [{ name: 's', partitions: 1 }]);
  await Promise.all(Array.from({ length: 50 }, (_, i) => log.append('s', 0, rec(i, 1000))));
  assert.equal(log.read('s', 0, 0, { maxRecords: 7, maxBytes: 1e9 }).length, 7);
  const byBytes = log.read('s', 0, 10, { maxRecords: 100, maxBytes: 5000 });
  assert.deepEqual(byBytes.map((r) => r.offset), [10, 11, 12, 13]);
  assert.equal(log.read('s', 0, 0, { maxRecords: 100, maxBytes: 1 }).length, 1);
  assert.deepEqual(log.read('s', 0, 50, ALL), []);
  await log.close();
});

test('unknown streams and partitions, and a changed partition count, are clear errors', async () => {
  const dataDir = tmpDir();
  const log = await Log.open({ dataDir }, [{ name: 's', partitions: 2 }]);
  await assert.rejects(log.append('nope', 0, rec(0)), UnknownStreamError);
  await assert.rejects(log.append('s', 2, rec(0)), /stream "s" has no partition 2/);
  await log.close();
  await assert.rejects(Log.open({ dataDir }, [{ name: 's', partitions: 3 }]), StreamMismatchError);
});

test('a full append queue makes callers wait for the commit instead of growing without bound', async () => {
  const log = await Log.open({ dataDir: tmpDir(), appendsInFlightMax: 10, commitIntervalMs: 50 }, [{ name: 's', partitions: 1 }]);
  const first = Array.from({ length: 10 }, (_, i) => log.append('s', 0, rec(i)));
  assert.equal(log.saturated, true);
  const more = log.append('s', 0, rec(10));
  const offsets = await Promise.all([...first, more]);
  assert.deepEqual(offsets, [...Array(11).keys()]);
  await log.close();
});

test('the LMDB map grows past its first size without an error reaching the caller', async () => {
  const dataDir = tmpDir();
  const log = await Log.open({ dataDir, mapSizeBytes: 1024 * 1024 }, [{ name: 's', partitions: 2 }]);
  const first = log.mapSizeBytes;
  for (let batch = 0; batch < 10; batch++) {
    await Promise.all(Array.from({ length: 100 }, (_, i) => log.append('s', i % 2, rec(i, 8 * 1024))));
  }
  assert.ok(log.mapSizeBytes > first, `map ${log.mapSizeBytes} should have grown from ${first}`);
  assert.equal(log.partitionInfo('s', 0).records + log.partitionInfo('s', 1).records, 1000);
  await log.close();
  const reopened = await Log.open({ dataDir, mapSizeBytes: 1024 * 1024 }, [{ name: 's', partitions: 2 }]);
  assert.equal(reopened.read('s', 1, 0, ALL).length, 500);
  await reopened.close();
});

test('a log with a missing record or a damaged value is refused on open, naming where', async () => {
  const dataDir = tmpDir();
  const log = await Log.open({ dataDir }, [{ name: 'damaged', partitions: 2 }]);
  // One append per commit: every record is a value of its own (a batch's damage is the next test's).
  for (let i = 0; i < 40; i++) await log.append('damaged', i % 2, rec(i));
  await log.close();

  const store = Store.open({ path: logPath(dataDir), readOnly: false, mapSizeBytes: 64 * 1024 * 1024, mapSizeMaxBytes: 64 * 1024 * 1024 });
  assert.ok(store);
  await store.write([{ db: 'records', key: recordKey(0, 1, 5), value: null }]);
  store.close();
  await assert.rejects(Log.open({ dataDir }, [{ name: 'damaged', partitions: 2 }]), (err: unknown) => {
    assert.ok(err instanceof LogCorruptError);
    assert.match(err.message, /stream damaged partition 1 offset 5: record missing/);
    return true;
  });
  // A reader does not verify at open; its read finds the hole itself.
  const reader = Log.openReadOnly(dataDir);
  assert.ok(reader);
  assert.equal(reader.read('damaged', 1, 0, { maxRecords: 5, maxBytes: 1 << 20 }).length, 5);
  assert.throws(() => reader.read('damaged', 1, 0, ALL), (err: unknown) => err instanceof LogCorruptError && /stream damaged partition 1 offset 5: record missing/.test(err.message));
  reader.close();

  const store2 = Store.open({ path: logPath(dataDir), readOnly: false, mapSizeBytes: 64 * 1024 * 1024, mapSizeMaxBytes: 64 * 1024 * 1024 });
  assert.ok(store2);
  await store2.write([{ db: 'records', key: recordKey(0, 1, 5), value: Buffer.from([9, 0, 0, 0, 0]) }]);
  store2.close();
  await assert.rejects(Log.open({ dataDir }, [{ name: 'damaged', partitions: 2 }]), /stream damaged partition 1 offset 5: record is 5 bytes/);
});

test('a batch (one commit\'s records of a partition) with a damaged record, a bad length or a lost batch is refused on open, naming the record', async () => {
  const dataDir = tmpDir();
  const specs = [{ name: 'batched', partitions: 1 }];
  const log = await Log.open({ dataDir }, specs);
  assert.deepEqual(await Promise.all(Array.from({ length: 20 }, (_, i) => log.append('batched', 0, rec(i)))), Array.from({ length: 20 }, (_, i) => i));
  assert.deepEqual(await Promise.all(Array.from({ length: 10 }, (_, i) => log.append('batched', 0, rec(20 + i)))), Array.from({ length: 10 }, (_, i) => 20 + i));
  await log.close();
  const store = Store.open({ path: logPath(dataDir), readOnly: false, mapSizeBytes: 64 * 1024 * 1024, mapSizeMaxBytes: 64 * 1024 * 1024 });
  assert.ok(store);
  const keys: number[] = [];
  store.read((txn) => store.scan(txn, 'records', null, (key) => keys.push(Number(key.readBigUInt64BE(8))) > 0));
  assert.deepEqual(keys, [0, 20], 'two commits, two values');
  const batch = store.read((txn) => store.get(txn, 'records', recordKey(0, 0, 20)));
  assert.ok(batch);
  store.close();
  const damage = async (value: Buffer | null): Promise<void> => {
    const s = Store.open({ path: logPath(dataDir), readOnly: false, mapSizeBytes: 64 * 1024 * 1024, mapSizeMaxBytes: 64 * 1024 * 1024 });
    assert.ok(s);
    await s.write([{ db: 'records', key: recordKey(0, 0, 20), value }]);
    s.close();
  };
  // The batch of 20..29: u8 version 2, u32 count, then u32 length + record per entry. The entries are
  // equal-sized records, so entry k starts at 5 + k * (4 + length).
  assert.equal(batch[0], 2);
  assert.equal(batch.readUInt32BE(1), 10);
  const entry = 4 + batch.readUInt32BE(5);
  const flipped = Buffer.from(batch);
  const last7 = 5 + 7 * entry + entry - 1; // the last payload byte of entry 7: offset 27
  flipped[last7] = (flipped[last7] as number) ^ 0xff;
  await damage(flipped);
  await assert.rejects(Log.open({ dataDir }, specs), /stream batched partition 0 offset 27: checksum mismatch/);
  const longer = Buffer.from(batch);
  longer.writeUInt32BE(entry + 100 - 4, 5 + 3 * entry); // entry 3's length runs 100 bytes into entry 4
  await damage(longer);
  await assert.rejects(Log.open({ dataDir }, specs), /stream batched partition 0 offset 23: checksum mismatch/);
  await damage(batch.subarray(0, batch.length - 1));
  await assert.rejects(Log.open({ dataDir }, specs), (err: unknown) => err instanceof LogCorruptError && /stream batched partition 0 offset 29/.test(err.message));
  await damage(null);
  await assert.rejects(Log.open({ dataDir }, specs), /stream batched partition 0 offset 20: record missing \(the partition ends at 30\)/);
  await damage(batch);
  const reopened = await Log.open({ dataDir, verify: 'full' }, specs);
  assert.deepEqual(reopened.read('batched', 0, 17, { maxRecords: 5, maxBytes: 1 << 20 }).map((r) => r.offset), [17, 18, 19, 20, 21], 'a read across the two values');
  await reopened.close();
});

test('a missing last record or a record after a gap past the end is refused on open', async () => {
  const dataDir = tmpDir();
  const log = await Log.open({ dataDir }, [{ name: 'tail', partitions: 2 }]);
  for (let i = 0; i < 20; i++) await log.append('tail', i % 2, rec(i));
  await log.close();
  const damage = async (op: WriteOp): Promise<void> => {
    const store = Store.open({ path: logPath(dataDir), readOnly: false, mapSizeBytes: 64 * 1024 * 1024, mapSizeMaxBytes: 64 * 1024 * 1024 });
    assert.ok(store);
    await store.write([op]);
    store.close();
  };
  // Partition 0 holds offsets 0..9 and its checkpoint (written by close) says so. A record at 12 would
  // be an append since the checkpoint but for the hole before it; removing 9 loses the checkpointed end.
  await damage({ db: 'records', key: recordKey(0, 0, 12), value: encodeRecord(rec(99)) });
  await assert.rejects(Log.open({ dataDir }, [{ name: 'tail', partitions: 2 }]), /stream tail partition 0 offset 10: record missing \(next stored offset is 12\)/);
  await damage({ db: 'records', key: recordKey(0, 0, 12), value: null });
  await damage({ db: 'records', key: recordKey(0, 0, 9), value: null });
  await assert.rejects(Log.open({ dataDir }, [{ name: 'tail', partitions: 2 }]), /stream tail partition 0 offset 9: record missing \(the partition ends at 10\)/);
});

test('appends after close are refused; close commits what was pending', async () => {
  const dataDir = tmpDir();
  const log = await Log.open({ dataDir, commitIntervalMs: 1000 }, [{ name: 's', partitions: 1 }]);
  const pending = log.append('s', 0, rec(1));
  await log.close();
  assert.equal(await pending, 0);
  await assert.rejects(log.append('s', 0, rec(2)), /closed/);
  const reader = Log.openReadOnly(dataDir);
  assert.ok(reader);
  assert.equal(reader.read('s', 0, 0, ALL).length, 1);
  reader.close();
});

test('onAppended tells a reader, after each durable commit, which partitions grew, and every record up to the new end is readable', async () => {
  const dataDir = tmpDir();
  const log = await Log.open({ dataDir }, [{ name: 's', partitions: 3 }, { name: 'quiet', partitions: 1 }]);
  const seen: Array<{ stream: string; partition: number; endOffset: number }> = [];
  let readable = true;
  const off = log.onAppended((grown) => {
    for (const g of grown) {
      seen.push(g);
      // What the listener is told is already readable: nothing past the end it names is missing.
      readable &&= log.read(g.stream, g.partition, 0, ALL).length === g.endOffset;
    }
  });
  // A listener that throws must not stop the acks or the other listeners.
  const offBad = log.onAppended(() => {
    throw new Error('a bad reader');
  });
  await Promise.all([log.append('s', 0, rec(1)), log.append('s', 0, rec(2)), log.append('s', 2, rec(3))]);
  const last = (p: number): number | undefined => seen.filter((g) => g.stream === 's' && g.partition === p).at(-1)?.endOffset;
  assert.equal(last(0), 2);
  assert.equal(last(2), 1);
  assert.equal(last(1), undefined, 'partition 1 did not grow');
  assert.ok(!seen.some((g) => g.stream === 'quiet'));
  assert.ok(readable);
  // A cursor commit appends nothing: no call.
  const before = seen.length;
  await log.commitCursor('g', 's', 0, 1);
  assert.equal(seen.length, before);
  off();
  offBad();
  await log.append('s', 1, rec(4));
  assert.equal(seen.length, before, 'no calls after unsubscribing');
  await log.close();
});
