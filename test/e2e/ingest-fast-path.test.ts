/**
 * The PUBLISH fast path (src/ingest/fast-publish.ts, issue 13) in a real `tributary serve`, over raw
 * sockets, where it could break what aedes' own path kept:
 *
 * - order: one TCP write (after the CONNACK, or led by the CONNECT) mixing QoS 1, QoS 0, QoS 2 and retained publishes (the fast path takes some,
 *   aedes the others) and a DISCONNECT — the log holds them in the order sent, the acks come in that
 *   order, the last PUBACK arrives before the broker closes the connection, and the retained one is
 *   retained; and runs of QoS 2, retained and plain ones, alternating between aedes and the fast path,
 *   acked and logged in the order sent (it fails when the fast path overtakes what aedes still handles;
 *   that aedes gets a run's packets together is pinned by test/ingest/connection.test.ts, not here);
 * - commit: a client at its window of appends in flight gets its commit at once, not after the interval
 *   (CommitQueue.commitSoon);
 * - keepalive: a client that only publishes (never a PINGREQ) is not timed out, as aedes refreshes its
 *   keepalive on every packet it handles;
 * - many clients at once with acks written per tick per client: 16 clients each pipelining QoS 1
 *   publishes; serve is killed with SIGKILL mid-stream; every client's PUBACKs came in its send order,
 *   and after a restart every acked message is in the log, each client's in its send order;
 * - delivery: a live subscriber and an offline persistent session get QoS 0 and 1 messages the fast
 *   path took.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import mqttPacket, { type Packet } from 'mqtt-packet';
import { connectAsync } from 'mqtt';
import { RawClient, startServe } from '../helpers/broker.js';
import { jsonLines, runCli } from '../helpers/cli.js';
import { until } from '../helpers/until.js';

interface LoggedRecord {
  topic: string;
  payload: string;
  qos: number;
  retain: boolean;
}

async function readLog(dataDir: string): Promise<LoggedRecord[]> {
  const read = await runCli(['log', 'read', 'default', '--data-dir', dataDir, '--json']);
  assert.equal(read.code, 0, read.stderr);
  return jsonLines<LoggedRecord>(read.stdout);
}

const publish = (topic: string, payload: string, qos: 0 | 1 | 2, messageId?: number, retain = false): Packet =>
  ({ cmd: 'publish', topic, payload: Buffer.from(payload), qos, retain, dup: false, ...(messageId === undefined ? {} : { messageId }) }) as Packet;

/**
 * One write of QoS 1, 0, 2, retained publishes and a DISCONNECT. `withConnect`: the CONNECT leads the
 * same write, so every packet reaches aedes before the client is connected and none takes the fast
 * path (aedes queues them while connecting); otherwise the write follows the CONNACK and the fast path
 * takes the QoS 0 and 1 ones. Either way aedes would destroy the connection at the DISCONNECT while
 * the appends before it wait for their commit, unless the connection holds the DISCONNECT back.
 */
async function mixedWriteThenDisconnect(withConnect: boolean): Promise<void> {
  const broker = await startServe();
  try {
    const clientId = withConnect ? 'mixed-connect' : 'mixed';
    const connect = { cmd: 'connect', protocolId: 'MQTT', protocolVersion: 4, clean: true, clientId, keepalive: 0 } as Packet;
    const client = withConnect ? await RawClient.open(broker.mqttPort) : (await RawClient.connect(broker.mqttPort, { clientId })).client;
    const topic = `fast/${clientId}`;
    const sent: Packet[] = [
      ...(withConnect ? [connect] : []),
      publish(topic, 'p1', 1, 1),
      publish(topic, 'p2', 0),
      publish(topic, 'p3', 2, 3),
      publish(topic, 'p4', 1, 4, true),
      publish(topic, 'p5', 1, 5),
      publish(topic, 'p6', 0),
      publish(topic, 'p7', 1, 7),
      { cmd: 'disconnect' },
    ];
    client.socket.write(Buffer.concat(sent.map((p) => mqttPacket.generate(p))));
    await client.closed;
    // The acks, in the order their PUBLISHes were sent [MQTT-4.6.0-2, -3], all before the close.
    const acks = client.packets.filter((p) => p.cmd === 'puback' || p.cmd === 'pubrec').map((p) => `${p.cmd} ${(p as { messageId: number }).messageId}`);
    assert.deepEqual(acks, ['puback 1', 'pubrec 3', 'puback 4', 'puback 5', 'puback 7']);
    assert.equal(await broker.stop(), 0);
    const logged = (await readLog(broker.dataDir)).filter((r) => r.topic === topic);
    assert.deepEqual(
      logged.map((r) => [r.payload, r.qos, r.retain]),
      [['p1', 1, false], ['p2', 0, false], ['p3', 2, false], ['p4', 1, true], ['p5', 1, false], ['p6', 0, false], ['p7', 1, false]],
    );
    // The retained one is the broker's retained message for the topic.
    const again = await startServe({ dataDir: broker.dataDir });
    try {
      const sub = await connectAsync(again.mqttUrl, { clientId: `${clientId}-sub`, reconnectPeriod: 0 });
      const got = new Promise<[string, boolean]>((resolve) => sub.once('message', (_t, payload, packet) => resolve([payload.toString(), packet.retain])));
      await sub.subscribeAsync(topic, { qos: 1 });
      assert.deepEqual(await got, ['p4', true]);
      await sub.endAsync();
    } finally {
      await again.stop();
    }
  } finally {
    await broker.kill();
  }
}

test('one write of QoS 1, 0, 2, retained and a DISCONNECT after the CONNACK: logged and acked in the order sent, the last PUBACK before the close', () =>
  mixedWriteThenDisconnect(false));

test('the same write led by its CONNECT (all of it for aedes, queued while connecting): logged and acked in the order sent, the last PUBACK before the close', () =>
  mixedWriteThenDisconnect(true));

test('runs of QoS 2, retained, plain and QoS 0 PUBLISHes in one write: every ack in the order sent, every record logged in that order', async () => {
  const broker = await startServe();
  try {
    const { client } = await RawClient.connect(broker.mqttPort, { clientId: 'runs' });
    const kinds: Array<[qos: 0 | 1 | 2, retain: boolean]> = [[2, false], [1, true], [1, false], [2, true], [2, false], [0, false], [1, true]];
    const sent: Packet[] = [];
    let id = 0;
    for (const [qos, retain] of kinds) for (let k = 0; k < 6; k++) sent.push(publish('fast/runs', `m${sent.length}`, qos, qos === 0 ? undefined : ++id, retain));
    client.socket.write(Buffer.concat(sent.map((p) => mqttPacket.generate(p))));
    const expected = sent.filter((p) => (p as { qos: number }).qos > 0).map((p) => `${(p as { qos: number }).qos === 2 ? 'pubrec' : 'puback'} ${(p as { messageId: number }).messageId}`);
    await until('every ack', () => client.packets.filter((p) => p.cmd === 'puback' || p.cmd === 'pubrec').length === expected.length, 10_000);
    const acks = client.packets.filter((p) => p.cmd === 'puback' || p.cmd === 'pubrec').map((p) => `${p.cmd} ${(p as { messageId: number }).messageId}`);
    assert.deepEqual(acks, expected);
    client.destroy();
    assert.equal(await broker.stop(), 0);
    const logged = (await readLog(broker.dataDir)).filter((r) => r.topic === 'fast/runs');
    assert.deepEqual(logged.map((r) => r.payload), sent.map((p) => String((p as { payload: Buffer }).payload)));
  } finally {
    await broker.kill();
  }
});

test('a client at its window of appends in flight does not wait out the commit interval; a client below it does', async () => {
  // A 2 s interval and a window of 4: three windows, each sent once the last is acked, are all acked
  // well within one interval (each full window asks for its commit at once); a lone PUBLISH after
  // them waits out the interval.
  const INTERVAL_MS = 2_000;
  const broker = await startServe({ configYaml: `durability: { commitIntervalMs: ${INTERVAL_MS} }\nmqtt: { clientAppendsInFlightMax: 4 }\n` });
  try {
    const { client } = await RawClient.connect(broker.mqttPort, { clientId: 'window' });
    const started = performance.now();
    for (let w = 0; w < 3; w++) {
      const ids = [1, 2, 3, 4].map((k) => w * 4 + k);
      client.socket.write(Buffer.concat(ids.map((id) => mqttPacket.generate(publish('fast/window', `w${id}`, 1, id)))));
      for (const id of ids) assert.equal(((await client.next('puback')) as { messageId: number }).messageId, id);
    }
    const windowsMs = performance.now() - started;
    assert.ok(windowsMs < INTERVAL_MS / 2, `three full windows acked in ${windowsMs.toFixed(0)} ms; the interval is ${INTERVAL_MS} ms`);
    const lone = performance.now();
    client.send(publish('fast/window', 'lone', 1, 13));
    assert.equal(((await client.next('puback', 3 * INTERVAL_MS)) as { messageId: number }).messageId, 13);
    const loneMs = performance.now() - lone;
    assert.ok(loneMs > INTERVAL_MS / 2, `a lone PUBLISH acked after ${loneMs.toFixed(0)} ms: it should wait out the ${INTERVAL_MS} ms interval`);
  } finally {
    await broker.kill();
  }
});

test('a client that only publishes, never pinging, outlives its keepalive', async () => {
  const broker = await startServe();
  try {
    // keepalive 1 s: aedes closes a client silent for 1.5 s.
    const { client } = await RawClient.connect(broker.mqttPort, { clientId: 'publish-only', keepalive: 1 });
    let closed = false;
    void client.closed.then(() => (closed = true));
    for (let i = 1; i <= 12; i++) {
      client.send(publish('fast/keepalive', `k${i}`, 1, i));
      const ack = (await client.next('puback')) as { messageId: number };
      assert.equal(ack.messageId, i);
      await new Promise((r) => setTimeout(r, 250));
    }
    assert.equal(closed, false, 'still connected after 3 s of publishing without a PINGREQ');
    // And the keepalive still works: silent, it is closed.
    await Promise.race([client.closed, new Promise((_, reject) => setTimeout(() => reject(new Error('not closed after 4 s of silence')), 4_000))]);
  } finally {
    await broker.kill();
  }
});

test('16 clients pipelining QoS 1 through kill -9: each client’s PUBACKs in its send order, every acked message logged in that order', async () => {
  const CLIENTS = 16;
  const HALF_WINDOW = 20;
  const first = await startServe();
  const sockets = await Promise.all(
    Array.from({ length: CLIENTS }, async (_, c) => {
      const socket = net.connect(first.mqttPort, '127.0.0.1');
      socket.on('error', () => undefined);
      socket.write(mqttPacket.generate({ cmd: 'connect', protocolId: 'MQTT', protocolVersion: 4, clean: true, clientId: `pipe-${c}`, keepalive: 0 } as Packet));
      return socket;
    }),
  );
  const acked: number[][] = sockets.map(() => []);
  const done = sockets.map(
    (socket, c) =>
      new Promise<void>((resolve) => {
        // Windows of 20 publishes in one write each; 40 in flight, the next window once 20 more are acked.
        let next = 1;
        const sendWindow = (): void => {
          const frames: Buffer[] = [];
          for (let k = 0; k < HALF_WINDOW; k++, next++) frames.push(mqttPacket.generate(publish(`fast/pipe/${c}`, `${c}:${next}`, 1, ((next - 1) % 65535) + 1)));
          socket.write(Buffer.concat(frames));
        };
        const parser = mqttPacket.parser({ protocolVersion: 4 });
        parser.on('packet', (p: Packet) => {
          if (p.cmd === 'connack') {
            sendWindow();
            sendWindow();
          } else if (p.cmd === 'puback') {
            const ids = acked[c] as number[];
            ids.push(p.messageId as number);
            if (ids.length % HALF_WINDOW === 0) sendWindow();
          }
        });
        socket.on('data', (d: Buffer) => parser.parse(d));
        socket.once('close', () => resolve());
      }),
  );
  await until('500 PUBACKs', () => acked.reduce((n, a) => n + a.length, 0) >= 500, 20_000);
  await new Promise((r) => setTimeout(r, 300));
  await first.kill();
  await Promise.all(done);
  for (const [c, ids] of acked.entries()) {
    assert.ok(ids.length > 0, `client ${c} got no PUBACK`);
    assert.deepEqual(ids, ids.map((_, k) => k + 1), `client ${c}: PUBACKs out of send order`);
  }
  const second = await startServe({ dataDir: first.dataDir });
  assert.equal(await second.stop(), 0);
  const logged = await readLog(first.dataDir);
  for (const [c, ids] of acked.entries()) {
    const mine = logged.filter((r) => r.topic === `fast/pipe/${c}`).map((r) => Number(r.payload.split(':')[1]));
    assert.deepEqual(mine, mine.map((_, k) => k + 1), `client ${c}: logged out of send order`);
    assert.ok(mine.length >= ids.length, `client ${c}: ${ids.length} acked, only ${mine.length} logged`);
  }
});

test('a live subscriber and an offline persistent session receive QoS 0 and 1 messages the fast path took', async () => {
  const broker = await startServe();
  try {
    const away = await connectAsync(broker.mqttUrl, { clientId: 'fast-away', clean: false, reconnectPeriod: 0 });
    await away.subscribeAsync('fast/deliver/#', { qos: 1 });
    await away.endAsync();
    const live = await connectAsync(broker.mqttUrl, { clientId: 'fast-live', reconnectPeriod: 0 });
    await live.subscribeAsync('fast/deliver/+', { qos: 1 });
    const liveGot: string[] = [];
    live.on('message', (_t, payload) => liveGot.push(payload.toString()));
    const { client } = await RawClient.connect(broker.mqttPort, { clientId: 'fast-pub' });
    client.send(publish('fast/deliver/a', 'q1', 1, 1));
    client.send(publish('fast/deliver/a', 'q0', 0));
    client.send(publish('fast/deliver/b', 'q1b', 1, 2));
    await client.next('puback');
    await client.next('puback');
    await until('the live subscriber got all three', () => liveGot.length === 3);
    assert.deepEqual(liveGot, ['q1', 'q0', 'q1b']);
    await live.endAsync();
    client.destroy();
    // The persistent session, back: its QoS 1 subscription queued the QoS 1 messages (not the QoS 0 one).
    const back = await connectAsync(broker.mqttUrl, { clientId: 'fast-away', clean: false, reconnectPeriod: 0 });
    const queued: string[] = [];
    back.on('message', (_t, payload) => queued.push(payload.toString()));
    await until('the offline session got its queue', () => queued.length >= 2);
    await new Promise((r) => setTimeout(r, 200));
    assert.deepEqual(queued, ['q1', 'q1b']);
    await back.endAsync();
  } finally {
    await broker.kill();
  }
});

