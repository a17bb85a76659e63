/**
 * Delivery contracts 1 and 6, at the system-call level: `tributary serve` runs under strace, and for
 * every PUBACK (QoS 1) and PUBREC (QoS 2) it writes to a client socket, the trace must show, after the
 * read() that brought the PUBLISH and before the write of the ack, an fdatasync/fsync of the log's
 * data.mdb that returned 0. Cases: a plain QoS 1 publish, a QoS 2 publish, a retained QoS 1 publish, and
 * a QoS 1 publish to a topic an offline persistent session (CleanSession 0, subscribed at QoS 1, then
 * disconnected) subscribes to. For the retained and offline cases, and for QoS 2's stored inbound
 * packet, a sync alone proves little (the record itself is synced anyway), so the check is stronger:
 * broker state is stored as values holding the packet's JSON, so a write to data.mdb containing
 * `"topic":"<that case's topic>"` must be followed by a completed sync, all between the PUBLISH read
 * and the ack. Every case also needs a write holding its (unique) payload — the log record — synced
 * before the ack. test/helpers/strace.test.ts shows the checks flag an ack that precedes its sync.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import type { Packet } from 'mqtt-packet';
import { RawClient, startServe, type RunningBroker } from '../helpers/broker.js';
import { checkAcks, parseStrace, straceArgs, type AckCheck, type Publish } from '../helpers/strace.js';
import { tmpDir } from '../helpers/tmp.js';

interface Case {
  name: string;
  topic: string;
  qos: 1 | 2;
  retain: boolean;
  /** Whether the retained store, offline queue or QoS 2 state must hold the packet's JSON before the ack. */
  stateJson: boolean;
  messageId: number;
  /** The publishing client's local port: its socket in the trace is TCP:[...->127.0.0.1:port]. */
  port?: number;
}

const run = `${process.pid}-${Date.now()}`;
const CASES: Case[] = [
  { name: 'QoS 1', topic: `dur/plain/${run}`, qos: 1, retain: false, stateJson: false, messageId: 11 },
  { name: 'QoS 2', topic: `dur/qos2/${run}`, qos: 2, retain: false, stateJson: true, messageId: 12 },
  { name: 'retained QoS 1', topic: `dur/retained/${run}`, qos: 1, retain: true, stateJson: true, messageId: 13 },
  { name: 'QoS 1 to an offline session', topic: `dur/offline/${run}`, qos: 1, retain: false, stateJson: true, messageId: 14 },
];
const OFFLINE = CASES[3] as Case;

const payloadOf = (topic: string): Buffer => Buffer.from(`payload of ${topic}`);
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

let checks: AckCheck[] = [];
let broker: RunningBroker;

before(async () => {
  const traceFile = path.join(tmpDir('tributary-strace-'), 'serve.trace');
  broker = await startServe({ command: straceArgs(traceFile), readyTimeoutMs: 30_000 });

  // The offline session: CleanSession 0, a QoS 1 subscription, then gone.
  const { client: sub } = await RawClient.connect(broker.mqttPort, { clientId: `offline-${run}`, clean: false });
  sub.send({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: OFFLINE.topic, qos: 1 }] } as Packet);
  await sub.next('suback');
  sub.send({ cmd: 'disconnect' } as Packet);
  await sub.closed;

  for (const c of CASES) {
    const { client } = await RawClient.connect(broker.mqttPort, { clientId: `pub-${c.messageId}-${run}` });
    c.port = client.socket.localPort as number;
    client.send({ cmd: 'publish', topic: c.topic, payload: payloadOf(c.topic), qos: c.qos, retain: c.retain, messageId: c.messageId, dup: false } as Packet);
    if (c.qos === 1) {
      await client.next('puback');
    } else {
      await client.next('pubrec');
      client.send({ cmd: 'pubrel', messageId: c.messageId } as Packet);
      await client.next('pubcomp');
    }
    // Let whatever the broker writes after the ack reach the trace too (it makes a failure's story complete).
    await sleep(200);
    client.destroy();
  }
  assert.equal(await broker.stop(), 0);
  const calls = parseStrace(fs.readFileSync(traceFile, 'latin1'));
  const dataFile = path.join(broker.dataDir, 'log', 'data.mdb');
  assert.ok(calls.some((c) => c.name === 'fdatasync' && c.target === dataFile), `the trace shows no fdatasync of ${dataFile}`);
  checks = checkAcks(calls, {
    isDataFile: (p) => p === dataFile,
    isClient: (t) => CASES.some((c) => t.endsWith(`:${c.port}]`)),
    needles: (p: Publish) => {
      const c = CASES.find((k) => k.topic === p.topic);
      return c?.stateJson ? [p.payload, Buffer.from(`"topic":${JSON.stringify(p.topic)}`)] : [p.payload];
    },
  });
});

after(async () => {
  await broker?.stop();
});

for (const c of CASES) {
  test(`${c.name}: the ${c.qos === 1 ? 'PUBACK' : 'PUBREC'} follows a completed sync of what it acknowledges`, () => {
    const mine = checks.filter((k) => k.target.endsWith(`:${c.port}]`));
    assert.deepEqual(mine.map((k) => [k.cmd, k.messageId]), [[c.qos === 1 ? 'puback' : 'pubrec', c.messageId]], 'exactly one ack of the publish in the trace');
    assert.equal(mine[0]?.problem, null);
  });
}
