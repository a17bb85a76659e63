/**
 * Delivery contract 1, by crashing: a client publishes QoS 1 continuously (up to 100 in flight) to a
 * real `tributary serve`, which is killed with SIGKILL mid-stream. After a restart on the same data
 * dir, every message whose PUBACK the client received is in the log, readable with
 * `tributary log read --json`. Messages without a PUBACK may or may not be there.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { connectAsync } from 'mqtt';
import { startServe } from '../helpers/broker.js';
import { jsonLines, runCli } from '../helpers/cli.js';

const IN_FLIGHT_MAX = 100;
const PUBLISH_FOR_MS = 1_500;

test('every PUBACKed message survives kill -9 of serve', async () => {
  const first = await startServe();
  const client = await connectAsync(first.mqttUrl, { clientId: 'crash-pub', reconnectPeriod: 0 });
  client.on('error', () => undefined);
  const acked: number[] = [];
  let sent = 0;
  let inFlight = 0;
  let dead = false;
  client.on('close', () => (dead = true));

  await new Promise<void>((resolve) => {
    const pump = (): void => {
      while (!dead && inFlight < IN_FLIGHT_MAX) {
        const seq = sent++;
        inFlight++;
        client.publish(`crash/${seq % 8}`, `m-${seq}`, { qos: 1 }, (err) => {
          inFlight--;
          if (!err) acked.push(seq);
          if (dead && inFlight === 0) resolve();
          else pump();
        });
      }
    };
    pump();
    setTimeout(() => void first.kill().then(() => { if (inFlight === 0) resolve(); }), PUBLISH_FOR_MS);
    client.on('close', () => resolve());
  });
  client.end(true);
  assert.ok(acked.length > 100, `the client got ${acked.length} PUBACKs before the kill`);

  const second = await startServe({ dataDir: first.dataDir });
  assert.equal(await second.stop(), 0);
  const read = await runCli(['log', 'read', 'default', '--data-dir', first.dataDir, '--json']);
  assert.equal(read.code, 0, read.stderr);
  const logged = new Set(jsonLines<{ payload: string }>(read.stdout).map((r) => r.payload));
  const missing = acked.filter((seq) => !logged.has(`m-${seq}`));
  assert.deepEqual(missing, [], `${missing.length} of ${acked.length} acknowledged messages are missing`);
  assert.ok(logged.size >= acked.length);
});
