/**
 * Delivery contract 2: while a client's publishes wait for their group commit (here: its window of
 * `mqtt.clientAppendsInFlightMax` = 1 is full), nothing more is read from that client, and other
 * clients are not held up. With a 300 ms commit interval, client A sends
 * PUBLISH 1 and, 60 ms later in a separate TCP segment, PUBLISH 2. If the broker read PUBLISH 2 while 1
 * was pending (which aedes on its own does: see src/ingest/connection.ts), both would share one commit
 * and be acked together. Here PUBLISH 2 is read only after 1 is committed, so its PUBACK comes a whole
 * commit later. Client B, publishing at 100 ms while A waits, is acked no later than A's second publish.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { RawClient, startServe, type RunningBroker } from '../helpers/broker.js';

const COMMIT_INTERVAL_MS = 300;

let broker: RunningBroker;

before(async () => {
  // A window of one append per client makes "not read while pending" visible packet by packet; larger
  // windows (the default is 32) bound the same way, only later.
  broker = await startServe({ configYaml: `durability: { commitIntervalMs: ${COMMIT_INTERVAL_MS} }\nmqtt: { clientAppendsInFlightMax: 1 }\n` });
});

after(async () => {
  assert.equal(await broker.stop(), 0);
});

const publish = (messageId: number, topic: string) => ({ cmd: 'publish' as const, topic, payload: Buffer.from('x'), qos: 1 as const, messageId, retain: false, dup: false });
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

test('a client with a publish pending is not read from; other clients are', async () => {
  const a = (await RawClient.connect(broker.mqttPort, { clientId: 'a' })).client;
  const b = (await RawClient.connect(broker.mqttPort, { clientId: 'b' })).client;
  await sleep(COMMIT_INTERVAL_MS * 2); // let the connects' own commits pass
  const t0 = Date.now();
  const acked = (c: RawClient) => c.next('puback').then(() => Date.now() - t0);
  const ackA1 = acked(a);
  a.send(publish(1, 'bp/a'));
  await sleep(60);
  a.send(publish(2, 'bp/a'));
  await sleep(40);
  const ackB = acked(b);
  b.send(publish(1, 'bp/b'));
  const first = await ackA1;
  const second = await acked(a);
  const other = await ackB;
  process.stdout.write(`# PUBACKs: A1 ${first} ms, A2 ${second} ms, B ${other} ms\n`);
  assert.ok(second - first >= COMMIT_INTERVAL_MS * 0.7, `A's second PUBACK came ${second - first} ms after its first: it must wait for its own commit`);
  // B shares the commit of A's second publish at the latest (its ack may go out a moment later).
  assert.ok(other <= second + COMMIT_INTERVAL_MS / 2, `B was acked at ${other} ms, with A's second publish (${second} ms) at the latest: A's wait did not hold B up`);
  a.destroy();
  b.destroy();
});
