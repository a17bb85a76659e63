/**
 * The framed serial port end to end inside `serve` (`firmwareBridge.serial`, no UDP listener): a
 * socat pty pair, the Python device simulator (its own SLIP and CRC code) on one end and serve's bridge
 * on the other. Byte vectors are written from the MQTT-SN 1.2 spec, not by the bridge's codec:
 *  - SEARCHGW (03 01 00) is answered over the same port with GWINFO (03 02 gwId);
 *  - a QoS −1 PUBLISH on a predefined topic id (09 0C 61 00 01 00 00 "hi") lands in the durable log
 *    under the configured topic name;
 *  - a frame with a corrupted CRC is dropped and counted as
 *    tributary_bridge_dropped_total{reason="serial-bad-crc"}, and the frame after it still arrives.
 */
import test from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { metricValue, startServe } from '../helpers/broker.js';
import { jsonLines, runCli } from '../helpers/cli.js';
import { tmpDir } from '../helpers/tmp.js';
import { until } from '../helpers/until.js';
import { SimDevice, startPtyPair } from './serial-sim.js';

test('serve bridges a SLIP serial port: discovery answered, a QoS -1 publish logged, a bad CRC counted', async () => {
  const dir = tmpDir();
  const pty = await startPtyPair(path.join(dir, 'gateway-tty'), path.join(dir, 'device-tty'));
  const broker = await startServe({
    configYaml: `firmwareBridge:
  mqttsn:
    udp: []
    gatewayId: 7
    predefinedTopics: { "1": radio/node-1 }
  serial: [{ path: ${pty.transportPath}, framing: slip }]
`,
  });
  const device = await SimDevice.start('slip', pty.devicePath);
  try {
    // The bridge opens the port asynchronously after start: ask until it answers.
    await until('GWINFO over the serial port', async () => {
      await device.run([{ op: 'frame', hex: '030100' }]);
      return device.received().some((e) => 'message' in e && e.message === '030207');
    }, 10_000, 200);
    await device.run([
      { op: 'frame', hex: '090c6100010000' + Buffer.from('no').toString('hex'), badCrc: 1 },
      { op: 'frame', hex: '090c6100010000' + Buffer.from('hi').toString('hex') },
    ]);
    const read = async () => jsonLines<{ topic: string; payload: string }>((await runCli(['log', 'read', 'default', '--data-dir', broker.dataDir, '--json'])).stdout);
    await until('the QoS -1 publish in the log', async () => (await read()).length > 0, 10_000, 200);
    assert.deepEqual((await read()).map((r) => `${r.topic}=${r.payload}`), ['radio/node-1=hi']);
    const metrics = await broker.metrics();
    assert.equal(metricValue(metrics, 'tributary_bridge_dropped_total{reason="serial-bad-crc"}'), 1);
  } finally {
    await device.stop();
    assert.equal(await broker.stop(), 0);
    await pty.stop();
  }
  fs.rmSync(dir, { recursive: true, force: true });
});
