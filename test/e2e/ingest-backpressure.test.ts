/**
 * Delivery contract 2: while a client's publishes wait for their group commit (here: its window of
 * `mqtt.clientAppendsInFlightMax` = 1 is full), nothing more is read from that client, and other
 * clients are not held up.
 *
 * Every commit is made slow — the fault shim delays each fdatasync of data.mdb by COMMIT_MS — so a
 * commit is running whenever the next publish could be read. Client A writes five 200 KiB QoS 1
 * PUBLISHes at once (each larger than one socket read, so no read can hold a whole second one). A
 * commit holds what was appended while the previous one ran. If the broker read A's later publishes
 * while the first was pending (which aedes on its own does: see src/ingest/connection.ts), they would
 * all be appended during the first commit and acked together by the second. Here each is read only
 * once the one before was committed, so each gets a commit of its own: A's PUBACKs come at least a
 * commit apart. Client B, publishing once while A waits, is acked after the commit that was running
 * and its own — it does not queue behind A's backlog.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import type { Packet } from 'mqtt-packet';
import { RawClient, startServe, type RunningBroker } from '../helpers/broker.js';
import { shimEnv } from '../helpers/fault-shim.js';

const COMMIT_MS = 300;
const A_PUBLISHES = 5;
/** Over the 64 KiB a socket read returns (plus the 16 KiB a stream buffers): one read never holds a whole second PUBLISH. */
const A_PAYLOAD_BYTES = 200 * 1024;

let broker: RunningBroker;

before(async () => {
  broker = await startServe({ configYaml: 'mqtt: { clientAppendsInFlightMax: 1 }\n', env: shimEnv({ syncDelayMs: COMMIT_MS }), readyTimeoutMs: 20_000 });
});

after(async () => {
  assert.equal(await broker.stop(), 0);
});

const publish = (messageId: number, topic: string, payload: Buffer) => ({ cmd: 'publish', topic, payload, qos: 1, messageId, retain: false, dup: false }) as Packet;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

test('a client with a publish pending is not read from; other clients are', async () => {
  const a = (await RawClient.connect(broker.mqttPort, { clientId: 'a' })).client;
  const b = (await RawClient.connect(broker.mqttPort, { clientId: 'b' })).client;
  await sleep(COMMIT_MS * 2); // let any commit of the connects pass
  const t0 = Date.now();
  const acksA: number[] = [];
  const allA = (async () => {
    for (let i = 0; i < A_PUBLISHES; i++) {
      await a.next('puback', 10 * COMMIT_MS * A_PUBLISHES);
      acksA.push(Date.now() - t0);
    }
  })();
  for (let id = 1; id <= A_PUBLISHES; id++) a.send(publish(id, 'bp/a', Buffer.alloc(A_PAYLOAD_BYTES, id)));
  await sleep(COMMIT_MS / 3);
  const sentB = Date.now() - t0;
  b.send(publish(1, 'bp/b', Buffer.from('b')));
  const ackB = await b.next('puback', 10 * COMMIT_MS).then(() => Date.now() - t0);
  await allA;
  process.stdout.write(`# PUBACKs: A ${acksA.join(', ')} ms; B sent ${sentB} ms, acked ${ackB} ms\n`);

  const gaps = acksA.slice(1).map((t, i) => t - (acksA[i] as number));
  assert.ok(
    gaps.every((g) => g >= COMMIT_MS * 0.7),
    `A's PUBACKs came ${gaps.join(', ')} ms apart: each publish must be read only after the one before was committed, so each waits for a commit of its own (${COMMIT_MS} ms)`,
  );
  // The commit running when B arrived, then B's own, with two commits' worth of slack: the shim's delay
  // comes on top of the real fsync, which on a loaded shared disk has taken 300-400 ms by itself.
  assert.ok(ackB - sentB <= 4 * COMMIT_MS, `B waited ${ackB - sentB} ms: no longer than the commit running when it arrived and its own`);
  assert.ok(ackB < (acksA[A_PUBLISHES - 1] as number), "B was acked before A's backlog was through: A's wait did not hold B up");
  a.destroy();
  b.destroy();
});
