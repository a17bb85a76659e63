/**
 * MQTT broker state layout 2 (src/ingest/state-codec.ts), through the persistence aedes uses:
 *  - every legal name is storable: topics and client ids of 600, 60,000 and 65,535 bytes (multi-byte
 *    UTF-8 too) in every kind of state — retained, subscription, offline queue, inbound QoS 2, will —
 *    and all of it comes back after a reopen;
 *  - ids are collision-proof: with a digest that gives every name the same value, names still get
 *    their own keys, a freed slot is reused, and a reopen restores each name's own state;
 *  - a layout 1 state table (written here byte by byte from its documented format, not by the codec)
 *    is upgraded in place in one transaction: no layout 1 key is left, the version key says 2, and the
 *    state is the same before and after another reopen;
 *  - a state table of an unknown layout is refused with both layouts named.
 */
import test from 'node:test';
import assert from 'node:assert/strict';
import { Log } from '../../src/log/index.js';
import { LogPersistence } from '../../src/ingest/persistence.js';
import type { Digest } from '../../src/ingest/state-codec.js';
import { tmpDir } from '../helpers/tmp.js';

const SPECS = [{ name: 'default', partitions: 1 }];

async function open(dataDir: string, digest?: Digest): Promise<{ log: Log; p: LogPersistence }> {
  const log = await Log.open({ dataDir, commitIntervalMs: 0 }, SPECS);
  const p = new LogPersistence(log, async () => undefined, digest);
  await p.setup({ id: 'broker' });
  return { log, p };
}

const name = (bytes: number, fill: string): string => {
  // `fill` may be multi-byte: repeat it, then pad with ASCII to exactly `bytes` UTF-8 bytes.
  let s = fill.repeat(Math.floor(bytes / Buffer.byteLength(fill)));
  while (Buffer.byteLength(s) < bytes) s += 'x';
  assert.equal(Buffer.byteLength(s), bytes);
  return s;
};

test('topics and client ids up to 65,535 bytes are stored in every kind of state and survive a reopen', async () => {
  const dataDir = tmpDir();
  const topics = [`long/${name(595, 'a')}`, `long/${name(59_995, 'é')}`, `long/${name(65_530, '温度')}`];
  const clientId = name(65_535, 'ß');
  let { log, p } = await open(dataDir);
  const client = { id: clientId };
  for (const [i, topic] of topics.entries()) {
    await p.storeRetained({ cmd: 'publish', topic, payload: Buffer.from(`r${i}`), qos: 1, retain: true });
  }
  await p.addSubscriptions(client, topics.map((topic) => ({ topic, qos: 1 })));
  await p.outgoingEnqueueCombi([{ clientId }], { cmd: 'publish', topic: topics[2] as string, payload: Buffer.from('queued'), qos: 1, brokerId: 'broker', brokerCounter: 1 });
  await p.incomingStorePacket(client, { cmd: 'publish', topic: topics[1] as string, payload: Buffer.from('q2'), qos: 2, messageId: 9 });
  await p.putWill(client, { cmd: 'publish', topic: topics[0] as string, payload: Buffer.from('bye'), qos: 1, retain: false });
  await log.close();

  ({ log, p } = await open(dataDir));
  try {
    for (const [i, topic] of topics.entries()) {
      const retained = (await p.createRetainedStream(topic).toArray()) as Array<{ topic: string; payload: Buffer }>;
      assert.deepEqual(retained.map((r) => [r.topic, r.payload.toString()]), [[topic, `r${i}`]]);
    }
    assert.deepEqual((await p.subscriptionsByClient(client)).map((s) => s.topic).sort(), [...topics].sort());
    assert.deepEqual((await p.subscriptionsByTopic(topics[2] as string)).map((s) => s.clientId), [clientId]);
    const queued = (await p.outgoingStream(client).toArray()) as Array<{ topic: string; payload: Buffer }>;
    assert.deepEqual(queued.map((q) => [q.topic, q.payload.toString()]), [[topics[2], 'queued']]);
    assert.equal((await p.incomingGetPacket(client, { messageId: 9 })).topic, topics[1]);
    assert.equal((await p.getWill(client))?.topic, topics[0]);
    // Every key stays far inside LMDB's 511 bytes.
    for (const [key] of log.stateScan(Buffer.from('mqtt:'))) assert.ok(key.length <= 31, `a state key of ${key.length} bytes`);
  } finally {
    await log.close();
  }
});

test('names whose digests collide get their own keys, and a freed slot is reused', async () => {
  const dataDir = tmpDir();
  const same: Digest = () => Buffer.alloc(16, 7);
  let { log, p } = await open(dataDir, same);
  for (const t of ['a', 'b', 'c']) await p.storeRetained({ cmd: 'publish', topic: t, payload: Buffer.from(`v-${t}`), qos: 0, retain: true });
  await p.storeRetained({ cmd: 'publish', topic: 'b', payload: Buffer.alloc(0), qos: 0, retain: true }); // clears b
  await p.storeRetained({ cmd: 'publish', topic: 'd', payload: Buffer.from('v-d'), qos: 0, retain: true });
  for (const id of ['c1', 'c2']) {
    await p.addSubscriptions({ id }, [{ topic: 'x', qos: 1 }]);
    await p.outgoingEnqueueCombi([{ clientId: id }], { cmd: 'publish', topic: 'x', payload: Buffer.from(`to-${id}`), qos: 1, brokerId: 'broker', brokerCounter: 1 });
  }
  const retainedKeys = log.stateScan(Buffer.from('mqtt:r'));
  assert.equal(retainedKeys.length, 3);
  // Slots 0, 1, 2: d took b's slot 1.
  assert.deepEqual(retainedKeys.map(([k]) => k[k.length - 1]), [0, 1, 2]);
  await log.close();

  ({ log, p } = await open(dataDir, same));
  try {
    const retained = (await p.createRetainedStream('#').toArray()) as Array<{ topic: string; payload: Buffer }>;
    assert.deepEqual(retained.map((r) => `${r.topic}=${r.payload.toString()}`).sort(), ['a=v-a', 'c=v-c', 'd=v-d']);
    for (const id of ['c1', 'c2']) {
      const queued = (await p.outgoingStream({ id }).toArray()) as Array<{ payload: Buffer }>;
      assert.deepEqual(queued.map((q) => q.payload.toString()), [`to-${id}`]);
    }
  } finally {
    await log.close();
  }
});

/** A layout 1 packet value: version 1, kind 1 (Buffer payload), JSON length, JSON, payload. */
function packet1(fields: object, payload: string): Buffer {
  const json = Buffer.from(JSON.stringify(fields));
  const header = Buffer.alloc(6);
  header[0] = 1;
  header[1] = 1;
  header.writeUInt32BE(json.length, 2);
  return Buffer.concat([header, json, Buffer.from(payload)]);
}

/** A layout 1 client part: u16 length, UTF-8 bytes. */
function client1(id: string): Buffer {
  const bytes = Buffer.from(id);
  const len = Buffer.alloc(2);
  len.writeUInt16BE(bytes.length);
  return Buffer.concat([len, bytes]);
}

test('a layout 1 state table is upgraded in place to layout 2', async () => {
  const dataDir = tmpDir();
  const seq = Buffer.alloc(8);
  seq.writeBigUInt64BE(41n);
  const mid = Buffer.alloc(2);
  mid.writeUInt16BE(3);
  const layout1: Array<[Buffer, Buffer]> = [
    [Buffer.from('mqtt:rold/retained'), packet1({ cmd: 'publish', topic: 'old/retained', qos: 1, retain: true }, 'kept')],
    [Buffer.concat([Buffer.from('mqtt:s'), client1('sleeper'), Buffer.from('old/#')]), Buffer.from(JSON.stringify({ qos: 1 }))],
    [Buffer.concat([Buffer.from('mqtt:o'), client1('sleeper'), seq]), packet1({ cmd: 'publish', topic: 'old/q', qos: 1, brokerId: 'x', brokerCounter: 5 }, 'queued')],
    [Buffer.concat([Buffer.from('mqtt:i'), client1('q2client'), mid]), packet1({ cmd: 'publish', topic: 'old/2', qos: 2, messageId: 3 }, 'two')],
    [Buffer.concat([Buffer.from('mqtt:w'), client1('sleeper')]), packet1({ cmd: 'publish', topic: 'old/will', qos: 0, brokerId: 'x', clientId: 'sleeper' }, 'bye')],
  ];
  const log0 = await Log.open({ dataDir, commitIntervalMs: 0 }, SPECS);
  await log0.writeStates(layout1);
  await log0.close();

  for (let round = 0; round < 2; round++) {
    const { log, p } = await open(dataDir);
    try {
      const keys = log.stateScan(Buffer.from('mqtt:')).map(([k]) => k);
      assert.ok(!keys.some((k) => layout1.some(([old]) => old.equals(k))), 'a layout 1 key is left');
      assert.deepEqual(log.stateGet(Buffer.from('mqtt:v')), Buffer.from([2]));
      assert.equal(keys.length, 6 + round); // r, s, o, i, w, v (+ the message queued in round 0)
      const retained = (await p.createRetainedStream('old/#').toArray()) as Array<{ payload: Buffer }>;
      assert.deepEqual(retained.map((r) => r.payload.toString()), ['kept']);
      assert.deepEqual((await p.subscriptionsByTopic('old/q')).map((s) => s.clientId), ['sleeper']);
      const queued = (await p.outgoingStream({ id: 'sleeper' }).toArray()) as Array<{ payload: Buffer; brokerCounter: number }>;
      assert.deepEqual(queued.map((q) => [q.payload.toString(), q.brokerCounter]).slice(0, 1), [['queued', 5]]);
      assert.equal(queued.length, 1 + round);
      assert.equal((await p.incomingGetPacket({ id: 'q2client' }, { messageId: 3 })).topic, 'old/2');
      assert.equal((await p.getWill({ id: 'sleeper' }))?.topic, 'old/will');
      // The queue's sequence numbers carry on after the upgraded ones.
      await p.outgoingEnqueueCombi([{ clientId: 'sleeper' }], { cmd: 'publish', topic: `old/new${round}`, payload: Buffer.from('n'), qos: 1, brokerId: 'broker', brokerCounter: 1 });
      const after = (await p.outgoingStream({ id: 'sleeper' }).toArray()) as Array<{ topic: string }>;
      assert.deepEqual(after.map((q) => q.topic), ['old/q', ...(round === 1 ? ['old/new0'] : []), `old/new${round}`]);
    } finally {
      await log.close();
    }
  }
});

test('a state table of an unknown layout is refused, naming both layouts', async () => {
  const dataDir = tmpDir();
  const log0 = await Log.open({ dataDir, commitIntervalMs: 0 }, SPECS);
  await log0.writeStates([[Buffer.from('mqtt:v'), Buffer.from([9])]]);
  await log0.close();
  const log = await Log.open({ dataDir, commitIntervalMs: 0 }, SPECS);
  try {
    await assert.rejects(new LogPersistence(log).setup({ id: 'b' }), /layout 9 is not this broker's \(2\)/);
  } finally {
    await log.close();
  }
});
