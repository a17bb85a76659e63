/**
 * serve as deployed (the bundle) gates its dependencies' `debug` loggers (src/cli/debug-gate.cts). The
 * first test shows the gate costs no diagnostics: DEBUG=mqtt-packet:* still traces the packets aedes
 * parses and writes on stderr (the CONNECT here, the CONNACK; a QoS 1 PUBLISH takes the fast path below
 * aedes, src/ingest/fast-publish.ts, and is not parsed by mqtt-packet), and without DEBUG nothing is traced (it would pass with no gate too; that the bundle's debug
 * goes through the gate is checked by scripts/bundle.ts, which refuses to build otherwise). The second
 * checks the gate itself: without DEBUG its loggers are disabled ones of debug's shape and print nothing,
 * and it is not the real debug module; with DEBUG it is.
 */
import test from 'node:test';
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import path from 'node:path';
import { RawClient, startServe } from '../helpers/broker.js';
import { runProgram } from '../helpers/cli.js';
import { until } from '../helpers/until.js';

const GATE = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../src/cli/debug-gate.cjs');

async function publishOnce(port: number): Promise<void> {
  const { client } = await RawClient.connect(port, { clientId: 'gate-1' });
  client.send({ cmd: 'publish', topic: 'gate/t', payload: Buffer.from('x'), qos: 1, messageId: 7, retain: false, dup: false });
  await client.next('puback');
  client.socket.destroy();
}

test('DEBUG=mqtt-packet:* traces the packets aedes parses and writes; without DEBUG nothing is traced and the publish is acked the same', async () => {
  const traced = await startServe({ env: { DEBUG: 'mqtt-packet:*' } });
  try {
    await publishOnce(traced.mqttPort);
    await until('parser traces', () => /mqtt-packet:parser _parseConnect: packet.clientId: gate-1/.test(traced.stderr()), 5_000);
    assert.match(traced.stderr(), /mqtt-packet:writeToStream generate/);
  } finally {
    await traced.stop();
  }
  const quiet = await startServe({ env: { DEBUG: '' } });
  try {
    await publishOnce(quiet.mqttPort);
  } finally {
    await quiet.stop();
  }
  assert.doesNotMatch(quiet.stderr(), /mqtt-packet/);
});

test('the gate without DEBUG: disabled loggers of debug\'s shape that print nothing; with DEBUG: the real debug', async () => {
  const probe = `
    const gate = require(${JSON.stringify(GATE)});
    const log = gate('a:b');
    const sub = log.extend('c');
    log('hello %s', 'world');
    console.log(JSON.stringify({ real: gate === require(require.resolve('debug', { paths: [${JSON.stringify(path.dirname(GATE))}] })),
      enabled: log.enabled, namespace: log.namespace, sub: sub.namespace, subEnabled: sub.enabled }));`;
  const off = await runProgram(process.execPath, ['-e', probe], { DEBUG: '' });
  assert.equal(off.code, 0, off.stderr);
  assert.deepEqual(JSON.parse(off.stdout), { real: false, enabled: false, namespace: 'a:b', sub: 'a:b:c', subEnabled: false });
  assert.equal(off.stderr, '');
  const on = await runProgram(process.execPath, ['-e', probe], { DEBUG: 'a:*' });
  assert.equal(on.code, 0, on.stderr);
  assert.deepEqual(JSON.parse(on.stdout), { real: true, enabled: true, namespace: 'a:b', sub: 'a:b:c', subEnabled: true });
  assert.match(on.stderr, /a:b hello world/);
});
