/**
 * The LMDB-backed aedes persistence (src/ingest/persistence.ts) passes the abstract test suite that
 * aedes-persistence ships for every implementation, driven the way that package drives its own async
 * memory persistence (`testAsync: true`: `setup(broker)` awaited, promise methods). Each case gets a
 * fresh log in a temp dir, closed by the persistence's `destroy()`.
 *
 * The suite never restarts a persistence; that state survives a restart is proven here by a reload test
 * and end to end in test/e2e/ingest-restart.test.ts.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import abstractPersistence from 'aedes-persistence/abstract.js';
import { Log } from '../../src/log/index.js';
import { LogPersistence } from '../../src/ingest/persistence.js';

const MAP_SIZE_BYTES = 64 * 1024 * 1024;

async function openLog(dir: string): Promise<Log> {
  return Log.open({ dataDir: dir, commitIntervalMs: 0, mapSizeBytes: MAP_SIZE_BYTES }, [{ name: 'default', partitions: 1 }]);
}

async function freshPersistence(): Promise<LogPersistence> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tributary-persistence-'));
  const log = await openLog(dir);
  return new LogPersistence(log, async () => {
    await log.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });
}

abstractPersistence({ test, persistence: freshPersistence, testAsync: true });

test('state survives closing and reopening the log', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tributary-persistence-'));
  try {
    const broker = { id: 'b1' };
    let log = await openLog(dir);
    let p = new LogPersistence(log);
    await p.setup(broker);
    const client = { id: 'c1' };
    await p.storeRetained({ cmd: 'publish', topic: 'a/b', payload: Buffer.from([0, 255]), qos: 1, retain: true });
    await p.addSubscriptions(client, [{ topic: 'x/#', qos: 1 }, { topic: 'y', qos: 0 }]);
    await p.outgoingEnqueueCombi([{ clientId: 'c1' }], { cmd: 'publish', topic: 'x/1', payload: 'text', qos: 1, brokerId: 'b1', brokerCounter: 7 });
    await p.outgoingEnqueueCombi([{ clientId: 'c1' }], { cmd: 'publish', topic: 'x/2', payload: Buffer.from('bin'), qos: 1, brokerId: 'b1', brokerCounter: 8 });
    await p.outgoingUpdate(client, { cmd: 'publish', brokerId: 'b1', brokerCounter: 7, messageId: 11 });
    await p.incomingStorePacket(client, { cmd: 'publish', topic: 'q2', payload: Buffer.from('z'), qos: 2, messageId: 5 });
    await p.putWill(client, { cmd: 'publish', topic: 'will', payload: Buffer.from('bye'), qos: 1, retain: false });
    await log.close();

    log = await openLog(dir);
    p = new LogPersistence(log);
    await p.setup({ id: 'b2' });
    const retained = await p.createRetainedStream('a/+').toArray();
    assert.deepEqual((retained[0] as { payload: Buffer }).payload, Buffer.from([0, 255]));
    assert.deepEqual((await p.subscriptionsByClient(client)).map((s) => [s.topic, s.qos]), [['x/#', 1], ['y', 0]]);
    assert.deepEqual((await p.subscriptionsByTopic('x/9')).map((s) => s.clientId), ['c1']);
    const queued = (await p.outgoingStream(client).toArray()) as Array<{ topic: string; messageId?: number; payload: unknown }>;
    assert.deepEqual(queued.map((q) => [q.topic, q.messageId]), [['x/1', 11], ['x/2', undefined]]);
    assert.equal(queued[0]?.payload, 'text');
    assert.equal((await p.incomingGetPacket(client, { messageId: 5 })).topic, 'q2');
    const wills = (await p.streamWill({ b2: Date.now() }).toArray()) as Array<{ clientId: string; brokerId: string }>;
    assert.deepEqual(wills.map((w) => [w.clientId, w.brokerId]), [['c1', 'b1']]);
    await log.close();
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
