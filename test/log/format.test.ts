/**
 * Log formats 3 and 4 (keys.ts, migrate.ts): a partition's state is a checkpoint plus the values
 * appended since; in format 4 a value is a record or the batch of records one commit appended to the
 * partition. Proven here: a log killed between checkpoints reopens with the exact end, byte and key
 * counts, the values it holds read back one by one as the oracle; a format 2 log (a fixture written by
 * tributary at c04d490) is upgraded in place by the writer with its records, offsets, trims and cursors
 * intact, and refused by a read-only process with what to do; a format 3 log (built here key by key from
 * keys.ts's layout) is read as it is, read-only too, and upgraded by the format key alone.
 */
import test from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Log, logPath } from '../../src/log/index.js';
import { CHECKPOINT_RECORDS } from '../../src/log/commit-batch.js';
import { checkpointIn } from '../../src/log/reader.js';
import { FORMAT_VERSION, storedFormat } from '../../src/log/migrate.js';
import { encodeRecord } from '../../src/log/record.js';
import { Store } from '../../src/log/store.js';
import { StreamMismatchError } from '../../src/errors.js';
import { tmpDir } from '../helpers/tmp.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const CHILD = path.resolve(here, '../fixtures/log-append-then-die.js');
// Tests run from dist/test/log; the fixture's bytes stay in the source tree.
const FORMAT_2_FIXTURE = path.resolve(here, '../../../test/fixtures/log-format-2/data.mdb');
const ALL = { maxRecords: Number.MAX_SAFE_INTEGER, maxBytes: Number.MAX_SAFE_INTEGER };

/** Values in the records table and their bytes, counted by a walk of the table itself. */
function storedValues(dataDir: string): { keys: number; bytes: number } {
  const store = openStore(dataDir, true);
  let keys = 0;
  let bytes = 0;
  store.read((txn) => store.scan(txn, 'records', null, (_key, value) => {
    keys++;
    bytes += value.length;
    return true;
  }));
  store.close();
  return { keys, bytes };
}

function openStore(dataDir: string, readOnly: boolean): Store {
  const store = Store.open({ path: logPath(dataDir), readOnly, mapSizeBytes: readOnly ? 0 : 64 * 1024 * 1024, mapSizeMaxBytes: 64 * 1024 * 1024 });
  assert.ok(store);
  return store;
}

test('a log killed between checkpoints reopens with its exact end and bytes; close checkpoints', async () => {
  const dataDir = tmpDir();
  const count = 2 * CHECKPOINT_RECORDS + 1234;
  const size = 100;
  const child = spawnSync(process.execPath, [CHILD, dataDir, String(count), String(size)], { stdio: 'inherit' });
  assert.equal(child.signal, 'SIGKILL');

  let store = openStore(dataDir, true);
  const address = { stream: 's', streamId: 0, index: 0 };
  const before = store.read((txn) => checkpointIn(store, txn, address));
  store.close();
  assert.ok(before.endOffset >= count - CHECKPOINT_RECORDS - 100 && before.endOffset < count, `checkpoint at ${before.endOffset} of ${count}`);

  const log = await Log.open({ dataDir, verify: 'full' }, [{ name: 's', partitions: 2 }]);
  const info = log.partitionInfo('s', 0);
  const records = log.read('s', 0, 0, ALL);
  assert.equal(info.endOffset, count);
  assert.equal(records.length, count);
  records.forEach((r, i) => assert.equal(r.payload[0], i % 256));
  // The oracle: what the records table holds, value by value. The child appended in groups of 100 at
  // once, so the values are batches, most of them of 100 records.
  await log.close();
  // (Only with the log closed: LMDB forbids a process a second environment on the same file.)
  const stored = storedValues(dataDir);
  assert.equal(info.bytes, stored.bytes);
  assert.ok(stored.keys >= count / 100 && stored.keys < count / 10, `${stored.keys} values hold ${count} records`);
  store = openStore(dataDir, true);
  const closed = store.read((txn) => checkpointIn(store, txn, address));
  store.close();
  assert.deepEqual(closed, { startOffset: 0, endOffset: count, bytes: stored.bytes, keys: stored.keys }, 'close checkpoints');

  const reopened = await Log.open({ dataDir }, [{ name: 's', partitions: 2 }]);
  assert.equal(await reopened.append('s', 0, { timestamp: 1, topic: 't', qos: 1, retain: false, clientId: 'c', payload: Buffer.alloc(size) }), count);
  await reopened.close();
  const single = storedValues(dataDir);
  assert.equal(single.keys, stored.keys + 1, 'a commit of one record is one value');
  store = openStore(dataDir, true);
  const after = store.read((txn) => checkpointIn(store, txn, address));
  store.close();
  assert.deepEqual(after, { startOffset: 0, endOffset: count + 1, bytes: single.bytes, keys: single.keys });
});

test('a format 2 log is upgraded by the writer, records, trims and cursors intact', async () => {
  const dataDir = tmpDir();
  fs.mkdirSync(logPath(dataDir), { recursive: true });
  fs.copyFileSync(FORMAT_2_FIXTURE, path.join(logPath(dataDir), 'data.mdb'));

  assert.throws(() => Log.openReadOnly(dataDir), (err: unknown) => err instanceof StreamMismatchError && /log format 2 .*start the broker of this version once/.test(err.message));

  const specs = [{ name: 'telemetry', partitions: 2 }, { name: 'alerts', partitions: 1 }];
  const upgrades: Array<[number, number]> = [];
  let log = await Log.open({ dataDir, verify: 'full', observer: { upgraded: (from, to) => upgrades.push([from, to]) } }, specs);
  assert.deepEqual(upgrades, [[2, FORMAT_VERSION]]);
  // What the fixture's writer reported before it closed (test/fixtures/log-format-2/README.md).
  assert.deepEqual(log.partitionInfo('telemetry', 0), { partition: 0, startOffset: 50, endOffset: 60, records: 10, bytes: 430 });
  assert.deepEqual(log.partitionInfo('telemetry', 1), { partition: 1, startOffset: 5, endOffset: 5, records: 0, bytes: 0 });
  assert.deepEqual(log.partitionInfo('alerts', 0), { partition: 0, startOffset: 0, endOffset: 3, records: 3, bytes: 132 });
  assert.deepEqual(log.read('telemetry', 0, 0, ALL).map((r) => [r.offset, r.payload.toString(), r.topic, r.clientId]),
    Array.from({ length: 10 }, (_, k) => [50 + k, `payload-${50 + k}`, `sensors/${(50 + k) % 3}/t`, `c${(50 + k) % 2}`]));
  assert.deepEqual(log.read('alerts', 0, 0, ALL).map((r) => r.payload.toString()), ['payload-200', 'payload-201', 'payload-202']);
  assert.equal(log.cursor('upstream', 'telemetry', 0), 20);
  assert.equal(await log.append('telemetry', 1, { timestamp: 1, topic: 't', qos: 1, retain: false, clientId: 'c', payload: Buffer.from('after') }), 5, 'an emptied partition keeps its end');
  assert.equal(await log.append('telemetry', 0, { timestamp: 1, topic: 't', qos: 1, retain: false, clientId: 'c', payload: Buffer.from('after') }), 60);
  await log.close();

  const store = openStore(dataDir, true);
  assert.equal(storedFormat(store), FORMAT_VERSION);
  assert.equal(store.entryCount('records'), 10 + 3 + 2, 'the records table holds records only');
  store.close();
  log = await Log.open({ dataDir, verify: 'full', observer: { upgraded: (from, to) => upgrades.push([from, to]) } }, specs);
  assert.equal(upgrades.length, 1, 'a format 4 log is not upgraded again');
  assert.equal(log.partitionInfo('telemetry', 1).endOffset, 6);
  const { startOffset, endOffset, bytes } = log.partitionInfo('telemetry', 0);
  assert.deepEqual([startOffset, endOffset], [50, 61]);
  await log.close();
  const reader = Log.openReadOnly(dataDir);
  assert.ok(reader);
  assert.deepEqual(reader.partitionState('telemetry', 0), { startOffset, endOffset, bytes, keys: 11 });
  reader.close();
});

test('a log of an unknown format is refused, naming it', async () => {
  const dataDir = tmpDir();
  const log = await Log.open({ dataDir }, [{ name: 's', partitions: 1 }]);
  await log.close();
  const store = openStore(dataDir, false);
  await store.write([{ db: 'meta', key: Buffer.from('format'), value: Buffer.from([0, 0, 0, 9]) }]);
  store.close();
  await assert.rejects(Log.open({ dataDir }, [{ name: 's', partitions: 1 }]), /log format 9 in .* is not supported/);
  assert.throws(() => Log.openReadOnly(dataDir), /log format 9 in .* is not supported \(expected 4\)/);
});

test('a format 3 log is read as it is, by a read-only process too, and upgraded by its format key alone', async () => {
  const dataDir = tmpDir();
  const specs = [{ name: 's', partitions: 1 }];
  await (await Log.open({ dataDir }, specs)).close();
  // Format 3, from keys.ts's layout: one v1 record per key, a 24-byte checkpoint (start, end, bytes)
  // five records behind the end, and the format key 3.
  const values = Array.from({ length: 10 }, (_, i) => encodeRecord({ timestamp: 1_700_000_000_000 + i, topic: `t/${i}`, qos: 1, retain: false, clientId: 'c', payload: Buffer.from(`v3-${i}`) }));
  const key = (offset: number): Buffer => {
    const k = Buffer.alloc(16);
    k.writeUInt32BE(0, 0);
    k.writeUInt32BE(0, 4);
    k.writeBigUInt64BE(BigInt(offset), 8);
    return k;
  };
  const checkpoint = Buffer.alloc(24);
  checkpoint.writeBigUInt64BE(0n, 0);
  checkpoint.writeBigUInt64BE(5n, 8);
  checkpoint.writeBigUInt64BE(BigInt(values.slice(0, 5).reduce((n, v) => n + v.length, 0)), 16);
  const bytes = values.reduce((n, v) => n + v.length, 0);
  let store = openStore(dataDir, false);
  await store.write([
    ...values.map((value, i) => ({ db: 'records' as const, key: key(i), value })),
    { db: 'partitions', key: Buffer.from([0, 0, 0, 0, 0, 0, 0, 0]), value: checkpoint },
    { db: 'meta', key: Buffer.from('format'), value: Buffer.from([0, 0, 0, 3]) },
  ]);
  store.close();

  const reader = Log.openReadOnly(dataDir);
  assert.ok(reader);
  assert.deepEqual(reader.partitionState('s', 0), { startOffset: 0, endOffset: 10, bytes, keys: 10 });
  assert.deepEqual(reader.read('s', 0, 3, ALL).map((r) => [r.offset, r.payload.toString()]), Array.from({ length: 7 }, (_, k) => [3 + k, `v3-${3 + k}`]));
  reader.close();
  store = openStore(dataDir, true);
  assert.equal(storedFormat(store), 3, 'a reader writes nothing');
  store.close();

  const upgrades: Array<[number, number]> = [];
  let log = await Log.open({ dataDir, verify: 'full', observer: { upgraded: (from, to) => upgrades.push([from, to]) } }, specs);
  assert.deepEqual(upgrades, [[3, FORMAT_VERSION]]);
  assert.deepEqual(log.partitionInfo('s', 0), { partition: 0, startOffset: 0, endOffset: 10, records: 10, bytes });
  await log.close();
  assert.deepEqual(storedValues(dataDir), { keys: 10, bytes }, 'no record is rewritten');
  log = await Log.open({ dataDir, verify: 'full', observer: { upgraded: (from, to) => upgrades.push([from, to]) } }, specs);
  assert.equal(upgrades.length, 1);
  const appended = await Promise.all([0, 1, 2].map((i) => log.append('s', 0, { timestamp: 1, topic: 't', qos: 1, retain: false, clientId: 'c', payload: Buffer.from(`v4-${i}`) })));
  assert.deepEqual(appended, [10, 11, 12]);
  assert.deepEqual(log.read('s', 0, 8, ALL).map((r) => r.payload.toString()), ['v3-8', 'v3-9', 'v4-0', 'v4-1', 'v4-2']);
  await log.close();
  assert.equal(storedValues(dataDir).keys, 11, 'the three appends of one commit are one value');
  store = openStore(dataDir, true);
  assert.equal(storedFormat(store), FORMAT_VERSION);
  store.close();
});
