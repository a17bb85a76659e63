/**
 * Delivery contract line 7 end to end: an MQTT-SN QoS 1 PUBACK from the bridge means "durable in the
 * log". With every sync of the log slowed to 400 ms (the LD_PRELOAD fault shim: a slow SD card), the
 * device's PUBACK comes no sooner than the sync (so it was not sent on the broker's receipt alone,
 * nor on the gateway's); the message is in
 * `tributary log read`; and serve killed with SIGKILL right after the device's last PUBACK has every
 * acknowledged message in the log after a restart on the same data dir.
 */
import test from 'node:test';
import assert from 'node:assert/strict';
import { startServe } from '../helpers/broker.js';
import { jsonLines, runCli } from '../helpers/cli.js';
import { shimEnv } from '../helpers/fault-shim.js';
import { startBridgeServe } from './serve-bridge.js';
import { SnClient } from './sn-client.js';

const SYNC_MS = 400;

type Row = { stream: string; topic: string; qos: number; payload: string };

async function logged(dataDir: string): Promise<Row[]> {
  const read = await runCli(['log', 'read', 'default', '--data-dir', dataDir, '--json']);
  assert.equal(read.code, 0, read.stderr);
  return jsonLines<Row>(read.stdout);
}

test('a QoS 1 PUBACK waits for the commit, the message is in `log read`, and kill -9 after the PUBACK loses nothing', async () => {
  const first = await startBridgeServe('', { env: shimEnv({ syncDelayMs: SYNC_MS }), readyTimeoutMs: 20_000 });
  const sn = SnClient.start();
  const acked: string[] = [];
  try {
    await sn.open('d', first.udpPort);
    await sn.connect('d', 'dev-d');
    await sn.send('d', { type: 'REGISTER', tid: 0, mid: 1, topic_name: 'durable/dev-d' });
    const { tid } = await sn.expect('d', 'REGACK');
    const t0 = Date.now();
    await sn.send('d', { type: 'PUBLISH', qos: 1, tid, mid: 2, data: 'first' });
    assert.equal((await sn.expect('d', 'PUBACK', 5)).return_code, 0);
    const ackMs = Date.now() - t0;
    assert.ok(ackMs >= SYNC_MS, `PUBACK after ${ackMs} ms: sooner than the ${SYNC_MS} ms sync`);
    acked.push('first');
    const rows = await logged(first.dataDir);
    assert.deepEqual(rows.map((r) => [r.topic, r.qos, r.payload]), [['durable/dev-d', 1, 'first']]);

    for (let i = 0; i < 5; i++) {
      await sn.send('d', { type: 'PUBLISH', qos: 1, tid, mid: 10 + i, data: `m-${i}` });
      assert.equal((await sn.expect('d', 'PUBACK', 5)).return_code, 0);
      acked.push(`m-${i}`);
    }
    await first.kill();
  } finally {
    await sn.close();
    await first.kill();
  }
  const second = await startServe({ dataDir: first.dataDir });
  assert.equal(await second.stop(), 0);
  const after = new Set((await logged(first.dataDir)).map((r) => r.payload));
  assert.deepEqual(acked.filter((p) => !after.has(p)), [], 'acknowledged messages missing after kill -9');
});
