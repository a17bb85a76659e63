/**
 * The Kafka API's connection layer (src/kafka-api/server.ts) over real sockets, with requests encoded by
 * the codec (whose encodings are checked against a real Kafka in codec.test.ts): ApiVersions at every
 * advertised version, and an unknown version answered UNSUPPORTED_VERSION in the v0 layout; answers in
 * request order even when an earlier one long-polls; an API not served (Produce), a malformed frame and
 * an oversized frame close the connection and are counted, and the server keeps serving others; SASL
 * PLAIN against a Mosquitto-format password file: nothing before it, a wrong password refused after the
 * delay and the connection closed, the right one let through.
 */
import assert from 'node:assert/strict';
import net from 'node:net';
import test from 'node:test';
import { hashPassword } from '../../src/auth/password-file.js';
import { KafkaApiServer, type BadInputReason, type Dispatch } from '../../src/kafka-api/server.js';
import { decodeResponse, encodeRequest } from '../../src/kafka-api/protocol/codec.js';
import { KafkaConnection } from './helpers/frames.js';

const silent = { info: () => {}, warn: () => {}, error: () => {}, debug: () => {} };

async function start(dispatch: Dispatch, sasl = false) {
  const bad: BadInputReason[] = [];
  const requests: string[] = [];
  const passwords = new Map([['alice', await hashPassword('alice', 'right-password')]]);
  const server = new KafkaApiServer({
    dispatch,
    passwords: () => passwords,
    logger: silent,
    observer: { badInput: (r) => bad.push(r), request: (api, code) => requests.push(`${api}:${code}`) },
    maxFrameBytes: 64 * 1024,
    writeStallMs: 2_000,
    idleMs: 60_000,
  });
  const bound = await server.listen({ host: '127.0.0.1', port: 0, sasl });
  return { server, port: bound.port, bad, requests };
}

let correlation = 1;
function req(apiKey: number, apiVersion: number, body: object): Buffer {
  return encodeRequest({ apiKey, apiVersion, correlationId: correlation++, clientId: 'test' }, body);
}

/** A request frame written by hand: size, API key, version, correlation id, null client id, `bodyBytes` zeros. */
function rawRequest(apiKey: number, apiVersion: number, correlationId: number, bodyBytes: number): Buffer {
  const frame = Buffer.alloc(4 + 10 + bodyBytes);
  frame.writeInt32BE(10 + bodyBytes, 0);
  frame.writeInt16BE(apiKey, 4);
  frame.writeInt16BE(apiVersion, 6);
  frame.writeInt32BE(correlationId, 8);
  frame.writeInt16BE(-1, 12);
  return frame;
}

function closed(conn: KafkaConnection, probe: Buffer): Promise<boolean> {
  return conn.send(probe, 5_000).then(() => false, (err: Error) => /closed/.test(err.message));
}

test('ApiVersions at v0..v4, and an unknown version gets UNSUPPORTED_VERSION (35) in the v0 layout with the ranges', async () => {
  const { server, port } = await start(() => ({}));
  const conn = await KafkaConnection.connect('127.0.0.1', port);
  for (let v = 0; v <= 4; v++) {
    const body = v >= 3 ? { clientSoftwareName: 'test', clientSoftwareVersion: '1' } : {};
    const res = decodeResponse(18, v, await conn.send(req(18, v, body))).body as { errorCode: number; apiKeys: Array<{ apiKey: number; maxVersion: number }> };
    assert.equal(res.errorCode, 0, `v${v}`);
    assert.equal(res.apiKeys.find((k) => k.apiKey === 1)?.maxVersion, 13);
  }
  // v99: the codec cannot encode it, so the header is written by hand.
  const raw = await conn.send(rawRequest(18, 99, 7, 0));
  const res = decodeResponse(18, 0, raw);
  assert.equal(res.correlationId, 7);
  assert.equal((res.body as { errorCode: number }).errorCode, 35);
  assert.ok(((res.body as { apiKeys: unknown[] }).apiKeys).length > 10);
  conn.close();
  await server.close();
});

test('answers go out in request order, even when the first one waits', async () => {
  let first = true;
  const { server, port } = await start(async (apiKey) => {
    if (apiKey === 3 && first) {
      first = false;
      await new Promise((r) => setTimeout(r, 200));
    }
    return { brokers: [], topics: [], clusterId: 'c', controllerId: 0, throttleTimeMs: 0 };
  });
  const conn = await KafkaConnection.connect('127.0.0.1', port);
  const a = req(3, 12, { topics: null });
  const b = req(3, 12, { topics: null });
  const [ra, rb] = await Promise.all([conn.send(a), conn.send(b)]);
  assert.equal(decodeResponse(3, 12, ra as Buffer).correlationId, a.readInt32BE(8));
  assert.equal(decodeResponse(3, 12, rb as Buffer).correlationId, b.readInt32BE(8));
  conn.close();
  await server.close();
});

test('Produce, a malformed frame and an oversized frame close that connection, are counted, and others go on', async () => {
  const { server, port, bad } = await start(() => ({ brokers: [], topics: [], clusterId: 'c', controllerId: 0, throttleTimeMs: 0 }));
  const produce = await KafkaConnection.connect('127.0.0.1', port);
  // Produce v9 (key 0): the codec has no table for it, so the header is written by hand.
  assert.ok(await closed(produce, rawRequest(0, 9, 99, 10)));
  const malformed = await KafkaConnection.connect('127.0.0.1', port);
  const good = req(3, 12, { topics: null });
  const cut = Buffer.from(good.subarray(0, good.length - 1));
  cut.writeInt32BE(cut.length - 4, 0);
  assert.ok(await closed(malformed, cut));
  const huge = await KafkaConnection.connect('127.0.0.1', port);
  const size = Buffer.alloc(4);
  size.writeInt32BE(2 ** 31 - 1, 0);
  assert.ok(await closed(huge, size));
  assert.deepEqual([...bad].sort(), ['malformed', 'oversized', 'unsupported']);
  const still = await KafkaConnection.connect('127.0.0.1', port);
  assert.equal(decodeResponse(3, 12, await still.send(req(3, 12, { topics: null }))).body.clusterId, 'c');
  still.close();
  await server.close();
});

test('SASL PLAIN: nothing before it; a wrong password is refused after the delay and closed; the right one passes', async () => {
  const { server, port, bad } = await start(() => ({ brokers: [], topics: [], clusterId: 'c', controllerId: 0, throttleTimeMs: 0 }), true);
  const early = await KafkaConnection.connect('127.0.0.1', port);
  assert.ok(await closed(early, req(3, 12, { topics: null })), 'Metadata before authentication closes the connection');
  const token = (user: string, pw: string) => Buffer.from(`\u0000${user}\u0000${pw}`);
  const wrong = await KafkaConnection.connect('127.0.0.1', port);
  assert.equal((decodeResponse(17, 1, await wrong.send(req(17, 1, { mechanism: 'SCRAM-SHA-512' }))).body as { errorCode: number }).errorCode, 33, 'only PLAIN');
  const w2 = await KafkaConnection.connect('127.0.0.1', port);
  assert.equal((decodeResponse(17, 1, await w2.send(req(17, 1, { mechanism: 'PLAIN' }))).body as { errorCode: number; mechanisms: string[] }).errorCode, 0);
  const t0 = Date.now();
  const refused = decodeResponse(36, 2, await w2.send(req(36, 2, { authBytes: token('alice', 'wrong') }))).body as { errorCode: number; errorMessage: string };
  assert.equal(refused.errorCode, 58);
  assert.ok(Date.now() - t0 >= 900, 'answered after the failure delay');
  assert.ok(!refused.errorMessage.includes('wrong'));
  assert.ok(await closed(w2, req(3, 12, { topics: null })), 'closed after a refusal');
  const ok = await KafkaConnection.connect('127.0.0.1', port);
  await ok.send(req(17, 1, { mechanism: 'PLAIN' }));
  assert.equal((decodeResponse(36, 2, await ok.send(req(36, 2, { authBytes: token('alice', 'right-password') }))).body as { errorCode: number }).errorCode, 0);
  assert.equal(decodeResponse(3, 12, await ok.send(req(3, 12, { topics: null }))).body.clusterId, 'c');
  assert.ok(bad.includes('unauthenticated') && bad.includes('sasl-failed'));
  for (const c of [early, wrong, w2, ok]) c.close();
  await server.close();
});

test('a client that never reads is dropped once a response has waited writeStallMs, and counted', async () => {
  const big = Buffer.alloc(60_000, 1);
  const { server, port, bad } = await start(() => ({ brokers: [], topics: Array.from({ length: 200 }, (_, i) => ({ errorCode: 0, name: `t${i}-${big.toString('latin1', 0, 300)}`, topicId: Buffer.alloc(16), isInternal: false, partitions: [], topicAuthorizedOperations: 0 })), clusterId: 'c', controllerId: 0, throttleTimeMs: 0 }));
  const socket = net.connect({ host: '127.0.0.1', port });
  await new Promise((r) => socket.once('connect', r));
  socket.pause();
  const one = req(3, 12, { topics: null });
  for (let i = 0; i < 200; i++) socket.write(one);
  // A paused socket sees no close; the count says when the server gave up on it.
  const t0 = Date.now();
  while (!bad.includes('slow-reader') && Date.now() - t0 < 20_000) await new Promise((r) => setTimeout(r, 50));
  assert.ok(bad.includes('slow-reader'), `counted: ${bad.join(',')}`);
  socket.destroy();
  await server.close();
});
