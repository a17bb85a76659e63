/**
 * Log format 3 (keys.ts, migrate.ts): a partition's state is a checkpoint plus the records appended
 * since. Proven here: a log killed between checkpoints reopens with the exact end and byte count; a
 * format 2 log (a fixture written by tributary at c04d490) is upgraded in place by the writer with its
 * records, offsets, trims and cursors intact, and refused by a read-only process with what to do.
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
import { Store } from '../../src/log/store.js';
import { StreamMismatchError } from '../../src/errors.js';
import { tmpDir } from '../helpers/tmp.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const CHILD = path.resolve(here, '../fixtures/log-append-then-die.js');
// Tests run from dist/test/log; the fixture's bytes stay in the source tree.
const FORMAT_2_FIXTURE = path.resolve(here, '../../../test/fixtures/log-format-2/data.mdb');
const ALL = { maxRecords: Number.MAX_SAFE_INTEGER, maxBytes: Number.MAX_SAFE_INTEGER };

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
  const perRecord = info.bytes / count;
  assert.ok(Number.isInteger(perRecord) && perRecord > size, `bytes ${info.bytes} are ${count} equal records`);
  assert.equal(await log.append('s', 0, { timestamp: 1, topic: 't', qos: 1, retain: false, clientId: 'c', payload: Buffer.alloc(size) }), count);
  await log.close();

  store = openStore(dataDir, true);
  const after = store.read((txn) => checkpointIn(store, txn, address));
  store.close();
  assert.deepEqual(after, { startOffset: 0, endOffset: count + 1, bytes: (count + 1) * perRecord });
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
  assert.equal(upgrades.length, 1, 'a format 3 log is not upgraded again');
  assert.equal(log.partitionInfo('telemetry', 1).endOffset, 6);
  const { startOffset, endOffset, bytes } = log.partitionInfo('telemetry', 0);
  assert.deepEqual([startOffset, endOffset], [50, 61]);
  await log.close();
  const reader = Log.openReadOnly(dataDir);
  assert.ok(reader);
  assert.deepEqual(reader.partitionState('telemetry', 0), { startOffset, endOffset, bytes });
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
  assert.throws(() => Log.openReadOnly(dataDir), /log format 9 in .* is not supported \(expected 3\)/);
});
