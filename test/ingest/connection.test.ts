/**
 * GatedConnection over a real TCP socket. The write side: writes go straight to the socket (no
 * Writable buffer of its own), the PUBACKs mqtt-packet writes in one tick leave in one socket write,
 * writes after end or destroy fail as a Writable's do, and a client that does not read is still cut.
 * The read side's fast path (issue 13), with a recording FastPath in place of fast-publish.ts: which
 * packets are offered, and the order rules between them and the packets aedes reads.
 */
import test from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { once } from 'node:events';
import mqtt from 'mqtt-packet';
import { until } from '../helpers/until.js';
import { GatedConnection, type FastPath, type ViolationReason } from '../../src/ingest/connection.js';

interface Pair {
  server: net.Server;
  /** The broker's side, wrapped. */
  conn: GatedConnection;
  socket: net.Socket;
  /** The client's side. */
  client: net.Socket;
  violations: Array<[ViolationReason, string]>;
  /** Calls of the socket's own write paths: each is one write syscall (or one writev). */
  socketWrites: () => number;
}

async function pair(writeBufferMaxBytes = 1 << 20, appendsInFlightMax = 1): Promise<Pair> {
  const server = net.createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const client = net.connect((server.address() as net.AddressInfo).port, '127.0.0.1');
  const [socket] = (await once(server, 'connection')) as [net.Socket];
  let writes = 0;
  const s = socket as unknown as { _write: (...a: unknown[]) => void; _writev: (...a: unknown[]) => void };
  const write = s._write.bind(socket);
  const writev = s._writev.bind(socket);
  s._write = (...a) => {
    writes++;
    write(...a);
  };
  s._writev = (...a) => {
    writes++;
    writev(...a);
  };
  const violations: Array<[ViolationReason, string]> = [];
  const conn = new GatedConnection(socket, { frameBytesMax: 1 << 20, writeBufferMaxBytes, appendsInFlightMax }, (reason, detail) => violations.push([reason, detail]));
  return { server, conn, socket, client, violations, socketWrites: () => writes };
}

async function close(p: Pair): Promise<void> {
  p.client.destroy();
  p.conn.destroy();
  await new Promise((r) => p.server.close(r));
}

async function receive(client: net.Socket, bytes: number): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let got = 0;
  while (got < bytes) {
    const [chunk] = (await once(client, 'data')) as [Buffer];
    chunks.push(chunk);
    got += chunk.length;
  }
  return Buffer.concat(chunks);
}

test('50 PUBACKs written in one tick reach the client whole, in order, in one socket write', async () => {
  const p = await pair();
  try {
    const ids = Array.from({ length: 50 }, (_, i) => i + 1);
    // mqtt-packet writes each PUBACK in two pieces, corking the stream until the next tick.
    for (const messageId of ids) assert.equal(mqtt.writeToStream({ cmd: 'puback', messageId }, p.conn), true);
    assert.equal(p.conn.writableLength, 0, 'nothing queued in the connection itself');
    const bytes = await receive(p.client, 4 * ids.length);
    // An independent oracle for the bytes: PUBACK is 0x40 0x02 then the id, big-endian [MQTT-3.4].
    assert.deepEqual(bytes, Buffer.concat(ids.map((id) => Buffer.from([0x40, 0x02, id >> 8, id & 0xff]))));
    assert.equal(p.socketWrites(), 1, `the socket wrote ${p.socketWrites()} times for one tick's acks`);
  } finally {
    await close(p);
  }
});

test('a write callback runs after the chunk was handed to the socket; writes after end or destroy fail and send nothing', async () => {
  const p = await pair();
  try {
    const calls: Array<Error | null | undefined> = [];
    assert.equal(
      p.conn.write(Buffer.from([0xd0, 0x00]), (err) => calls.push(err)),
      true,
    );
    assert.deepEqual(calls, [], 'not called synchronously');
    await new Promise((r) => setImmediate(r));
    assert.deepEqual(calls, [null]);
    assert.deepEqual(await receive(p.client, 2), Buffer.from([0xd0, 0x00]));

    p.conn.end();
    const afterEnd = await new Promise<Error | null | undefined>((resolve) => assert.equal(p.conn.write(Buffer.from([1]), resolve), false));
    assert.equal((afterEnd as NodeJS.ErrnoException).code, 'ERR_STREAM_WRITE_AFTER_END');

    p.conn.destroy();
    const afterDestroy = await new Promise<Error | null | undefined>((resolve) => assert.equal(p.conn.write(Buffer.from([2]), 'utf8', resolve), false));
    assert.equal((afterDestroy as NodeJS.ErrnoException).code, 'ERR_STREAM_DESTROYED');
    // The client saw the end of the stream and neither of the refused bytes.
    const rest: Buffer[] = [];
    p.client.on('data', (c: Buffer) => rest.push(c));
    await once(p.client, 'end');
    assert.equal(Buffer.concat(rest).length, 0);
  } finally {
    await close(p);
  }
});

test('a client that lets more than writeBufferMaxBytes pile up unread is cut as slow-client', async () => {
  const p = await pair(64 * 1024);
  try {
    p.client.pause();
    const chunk = Buffer.alloc(16 * 1024, 0x30);
    for (let i = 0; i < 4096 && p.violations.length === 0; i++) {
      p.conn.write(chunk);
      if (i % 16 === 15) await new Promise((r) => setImmediate(r));
    }
    assert.equal(p.violations.length, 1, 'one violation');
    assert.equal(p.violations[0]?.[0], 'slow-client');
    assert.match(p.violations[0]?.[1] ?? '', /bytes unread by the client; the limit is 65536/);
    assert.ok(p.conn.destroyed && p.socket.destroyed, 'the connection and its socket are gone');
  } finally {
    await close(p);
  }
});

/** A FastPath that takes every PUBLISH, holding the connection as authorizePublish does, and settles on demand. */
class RecordingFast implements FastPath {
  readonly offered: Buffer[] = [];
  private readonly settles: Array<() => void> = [];
  isReady = true;
  constructor(private readonly conn: GatedConnection) {}
  ready(): boolean {
    return this.isReady;
  }
  offer(frame: Buffer, settled: () => void): boolean {
    this.offered.push(Buffer.from(frame));
    this.conn.hold();
    this.settles.push(() => {
      this.conn.release();
      settled();
    });
    return true;
  }
  /** Settles the oldest PUBLISH taken, acking it as fast-publish.ts does. */
  settleNext(messageId: number): void {
    this.conn.ack(messageId);
    (this.settles.shift() as () => void)();
  }
}

/** What the aedes side reads from the connection, packet by packet. */
function aedesSide(conn: GatedConnection): Array<mqtt.Packet> {
  const got: mqtt.Packet[] = [];
  const parser = mqtt.parser({ protocolVersion: 4 });
  parser.on('packet', (p: mqtt.Packet) => got.push(p));
  conn.on('readable', () => {
    let chunk: Buffer | null;
    while ((chunk = conn.read() as Buffer | null) !== null) parser.parse(chunk);
  });
  return got;
}

const turn = (): Promise<void> => new Promise((r) => setImmediate(r));
const publish = (messageId: number, topic = 't'): Buffer => mqtt.generate({ cmd: 'publish', topic, payload: Buffer.from(`m${messageId}`), qos: 1, messageId, retain: false, dup: false });

test('fast path: PUBLISHes are offered, a packet for aedes waits until those before it are settled, and one after it waits until aedes has read it', async () => {
  const p = await pair(1 << 20, 8);
  try {
    const fast = new RecordingFast(p.conn);
    p.conn.fast = fast;
    const read = aedesSide(p.conn);
    const received: Buffer[] = [];
    p.client.on('data', (chunk: Buffer) => received.push(chunk));
    p.client.write(Buffer.concat([publish(1), publish(2), mqtt.generate({ cmd: 'pingreq' }), publish(3)]));
    await until('fast.offered.length === 2', () => fast.offered.length === 2);
    await turn();
    assert.equal(read.length, 0, 'the PINGREQ waits behind the two PUBLISHes in flight');
    assert.equal(fast.offered.length, 2, 'and the PUBLISH after it waits behind the PINGREQ');
    fast.settleNext(1);
    await turn();
    assert.equal(read.length, 0, 'one PUBLISH is still in flight');
    fast.settleNext(2);
    await until('read.length === 1', () => read.length === 1);
    assert.equal(read[0]?.cmd, 'pingreq');
    await until('fast.offered.length === 3', () => fast.offered.length === 3);
    assert.deepEqual(fast.offered, [publish(1), publish(2), publish(3)]);
    fast.settleNext(3);
    // The acks, in order.
    await until('three PUBACKs', () => Buffer.concat(received).length >= 12);
    assert.deepEqual(Buffer.concat(received), Buffer.from([0x40, 2, 0, 1, 0x40, 2, 0, 2, 0x40, 2, 0, 3]));
  } finally {
    await close(p);
  }
});

test('fast path: nothing is offered before the client is ready, and at appendsInFlightMax nothing more is read', async () => {
  const p = await pair(1 << 20, 2);
  try {
    const fast = new RecordingFast(p.conn);
    fast.isReady = false;
    p.conn.fast = fast;
    const read = aedesSide(p.conn);
    p.client.write(publish(1));
    await until('read.length === 1', () => read.length === 1);
    assert.equal(fast.offered.length, 0, 'not ready (still connecting): aedes gets it');
    fast.isReady = true;
    p.client.write(Buffer.concat([publish(2), publish(3), publish(4)]));
    await until('fast.offered.length === 2', () => fast.offered.length === 2);
    await turn();
    assert.equal(fast.offered.length, 2, 'two appends in flight: the third PUBLISH is not taken');
    fast.settleNext(2);
    await until('fast.offered.length === 3', () => fast.offered.length === 3);
    assert.equal(read.length, 1);
  } finally {
    await close(p);
  }
});

test('fast path: the PUBACKs of one tick leave in order in one socket write', async () => {
  const p = await pair(1 << 20, 64);
  try {
    const fast = new RecordingFast(p.conn);
    p.conn.fast = fast;
    aedesSide(p.conn);
    const received: Buffer[] = [];
    p.client.on('data', (chunk: Buffer) => received.push(chunk));
    const ids = Array.from({ length: 40 }, (_, i) => 1000 + i);
    p.client.write(Buffer.concat(ids.map((id) => publish(id))));
    await until('40 offered', () => fast.offered.length === 40);
    const writesBefore = p.socketWrites();
    for (const id of ids) fast.settleNext(id);
    await until('40 PUBACKs', () => Buffer.concat(received).length >= 160);
    assert.deepEqual(Buffer.concat(received), Buffer.concat(ids.map((id) => Buffer.from([0x40, 0x02, id >> 8, id & 0xff]))));
    assert.equal(p.socketWrites() - writesBefore, 1, `${p.socketWrites() - writesBefore} socket writes for one tick's acks`);
  } finally {
    await close(p);
  }
});

test('aedes gets packets together only while they are PUBLISHes of one kind: retained ones after plain ones, a PINGREQ, each wait until aedes has finished every packet before them', async () => {
  const p = await pair(1 << 20, 8);
  try {
    const handled = p.conn.countHandled();
    const read = aedesSide(p.conn);
    const retained = (messageId: number, dup = false): Buffer =>
      mqtt.generate({ cmd: 'publish', topic: 't', payload: Buffer.from('r'), qos: 1, messageId, retain: true, dup });
    p.client.write(Buffer.concat([publish(1), publish(2), retained(3), retained(4, true), mqtt.generate({ cmd: 'pingreq' }), publish(6)]));
    await until('two plain PUBLISHes read together', () => read.length === 2);
    await turn();
    assert.equal(read.length, 2, 'the retained PUBLISHes wait while aedes handles the two before them');
    handled();
    await turn();
    assert.equal(read.length, 2, 'one of them is still being handled');
    handled();
    await until('both retained ones read together (the DUP flag does not change the kind)', () => read.length === 4);
    assert.deepEqual(read.slice(2).map((r) => (r as mqtt.IPublishPacket).retain), [true, true]);
    handled();
    await turn();
    assert.equal(read.length, 4, 'the PINGREQ waits while a retained one is handled');
    handled();
    await until('the PINGREQ read', () => read.length === 5);
    assert.equal(read[4]?.cmd, 'pingreq');
    await turn();
    assert.equal(read.length, 5, 'and the plain PUBLISH after it waits for the PINGREQ');
    handled();
    await until('the last PUBLISH read', () => read.length === 6);
    assert.deepEqual(read.map((r) => (r as { messageId?: number }).messageId), [1, 2, 3, 4, undefined, 6]);
    assert.throws(() => p.conn.countHandled(), /handed on before counting began/);
    handled();
    const errored = once(p.conn, 'error') as Promise<[Error]>;
    handled();
    assert.match((await errored)[0].message, /reported a packet handled that was never handed to it/);
    assert.ok(p.conn.destroyed, 'a report with nothing counted cuts the connection');
  } finally {
    await close(p);
  }
});
