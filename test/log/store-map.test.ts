/**
 * The writer's resident set does not grow with the log: LMDB reads its tail page at every commit, and
 * the kernel's fault-around maps the freshly written pages around it, so without the store's periodic
 * remap the map would come to hold every page ever written (store.ts, "Resident set"). Measured the
 * way the kernel counts it: the data file's Rss in /proc/self/smaps.
 */
import test from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { logPath } from '../../src/log/index.js';
import { REMAP_TRAFFIC_BYTES, Store } from '../../src/log/store.js';
import { tmpDir } from '../helpers/tmp.js';

/** Resident bytes of every mapping of `file` in this process. */
function mappedBytes(file: string): number {
  let name = '';
  let kib = 0;
  for (const line of fs.readFileSync('/proc/self/smaps', 'utf8').split('\n')) {
    const header = /^[0-9a-f]+-[0-9a-f]+ \S+ \S+ \S+ \d+\s*(.*)$/.exec(line);
    if (header) name = header[1] ?? '';
    const rss = /^Rss:\s+(\d+) kB/.exec(line);
    if (rss && name === file) kib += Number(rss[1]);
  }
  return kib * 1024;
}

function key(i: number): Buffer {
  const k = Buffer.alloc(16);
  k.writeUInt32BE(i, 12);
  return k;
}

function value(i: number): Buffer {
  return Buffer.alloc(200, i % 251);
}

const COMMITS = 400;
const PER_COMMIT = 256; // ~55 KiB a commit, ~22 MiB in all

test('a writer that commits 22 MiB holds no more than the remap interval of its map resident, and reads every record back', async () => {
  const dir = logPath(tmpDir());
  const store = Store.open({ path: dir, readOnly: false, mapSizeBytes: 256 * 1024 * 1024, mapSizeMaxBytes: 256 * 1024 * 1024 });
  assert.ok(store);
  const file = fs.realpathSync(`${dir}/data.mdb`);
  let peak = 0;
  let n = 0;
  for (let c = 0; c < COMMITS; c++) {
    const batch = store.batch();
    for (let i = 0; i < PER_COMMIT; i++, n++) batch.putRecord(key(n), value(n));
    // A read while the commit is on the worker: the map must stay as it is until the write is done.
    // Record 0 is committed from the second commit on; during the first it may or may not be yet (a
    // loaded machine can deschedule this thread until the worker has committed and synced).
    const writing = store.write(batch);
    store.read((txn) => {
      const first = store.get(txn, 'records', key(0));
      if (c > 0 || first !== null) assert.ok(first?.equals(value(0)), `record 0 during commit ${c}: ${first?.length} bytes`);
    });
    await writing;
    peak = Math.max(peak, mappedBytes(file));
  }
  const written = fs.statSync(file).blocks * 512;
  assert.ok(written >= 20 * 1024 * 1024, `the log file holds ${written} bytes`);
  assert.ok(store.remaps >= 4, `${store.remaps} remaps`);
  assert.equal(store.remapError, null);
  // The remap interval, plus the pages around the last commits and the tree's branch pages.
  assert.ok(peak <= REMAP_TRAFFIC_BYTES + 2 * 1024 * 1024, `at most ${peak} bytes of the ${written}-byte file mapped at once`);

  // Everything reads back after the remaps, through a scan and through point reads.
  let scanned = 0;
  store.read((txn) =>
    store.scan(txn, 'records', null, (k, v) => {
      const i = k.readUInt32BE(12);
      assert.equal(i, scanned);
      assert.ok(v.equals(value(i)), `record ${i}`);
      scanned++;
      return true;
    }),
  );
  assert.equal(scanned, COMMITS * PER_COMMIT);
  // A read nested in a read ends while the outer transaction is open: it must not remap under it.
  store.read((outer) => {
    for (let i = 0; i < n; i += 97) store.read((inner) => assert.ok(store.get(inner, 'records', key(i))?.equals(value(i))));
    assert.ok(store.get(outer, 'records', key(n - 1))?.equals(value(n - 1)));
  });
  store.close();
});

test('a read transaction left open (a bug elsewhere) stops the remapping, never a commit: every write resolves durable', async () => {
  const dir = logPath(tmpDir());
  const store = Store.open({ path: dir, readOnly: false, mapSizeBytes: 64 * 1024 * 1024, mapSizeMaxBytes: 64 * 1024 * 1024 });
  assert.ok(store);
  // Reaching past the Store's API is the only way to leak a transaction: its own reads always close theirs.
  const leaked = (store as unknown as { env: { beginTxn(o: { readOnly: boolean }): { abort(): void } } }).env.beginTxn({ readOnly: true });
  let n = 0;
  for (let c = 0; c < 100; c++) {
    const batch = store.batch();
    for (let i = 0; i < PER_COMMIT; i++, n++) batch.putRecord(key(n), value(n));
    assert.deepEqual(await store.write(batch), { refused: [] });
  }
  assert.equal(store.remaps, 0);
  assert.match(store.remapError?.message ?? '', /transactions/);
  leaked.abort();
  store.read((txn) => assert.ok(store.get(txn, 'records', key(n - 1))?.equals(value(n - 1))));
  store.close();
});
