/**
 * The write side of GatedConnection over a real TCP socket: writes go straight to the socket (no
 * Writable buffer of its own), the PUBACKs mqtt-packet writes in one tick leave in one socket write,
 * writes after end or destroy fail as a Writable's do, and a client that does not read is still cut.
 */
import test from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { once } from 'node:events';
import mqtt from 'mqtt-packet';
import { GatedConnection, type ViolationReason } from '../../src/ingest/connection.js';

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

async function pair(writeBufferMaxBytes = 1 << 20): Promise<Pair> {
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
  const conn = new GatedConnection(socket, { frameBytesMax: 1 << 20, writeBufferMaxBytes, appendsInFlightMax: 1 }, (reason, detail) => violations.push([reason, detail]));
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
