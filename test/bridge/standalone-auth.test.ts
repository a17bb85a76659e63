/**
 * The two ways the bridge runs, with MQTT authentication on:
 *  - inside `serve` with `allowAnonymous: false`: the bridge logs in with its own credentials
 *    (`firmwareBridge.broker.username` and `passwordFile`), so devices connect and publish; a bridge
 *    with a wrong password gets its devices CONNACK rc 3 (refused), never a crash;
 *  - standalone, `tributary bridge --broker mqtt://HOST:PORT --udp-port 0` beside a running serve: a
 *    device's QoS 1 publish is acked and lands in `tributary log read`; SIGTERM stops it with exit 0
 *    and a final `bridge stats` line; a bad `--broker` is exit 2.
 */
import test from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import readline from 'node:readline';
import { startServe } from '../helpers/broker.js';
import { CLI, jsonLines, runCli } from '../helpers/cli.js';
import { tmpDir } from '../helpers/tmp.js';
import { startBridgeServe } from './serve-bridge.js';
import { SnClient } from './sn-client.js';

test('inside serve with allowAnonymous false: the bridge logs in with its own credentials; a wrong password refuses devices with rc 3', async () => {
  const dir = tmpDir();
  const passwd = path.join(dir, 'passwd');
  assert.equal((await runCli(['passwd', '-c', '-b', passwd, 'bridge', 'b-secret'])).code, 0);
  fs.writeFileSync(path.join(dir, 'bridge.pw'), 'b-secret\n');
  fs.writeFileSync(path.join(dir, 'wrong.pw'), 'guessed\n');
  const auth = `mqtt: { auth: { passwordFile: ${passwd}, allowAnonymous: false } }\n`;
  for (const [file, expected] of [['bridge.pw', 0], ['wrong.pw', 3]] as const) {
    const broker = await startBridgeServe('', { extraYaml: `  broker: { username: bridge, passwordFile: ${path.join(dir, file)} }\n${auth}` });
    const sn = SnClient.start();
    try {
      await sn.open('a', broker.udpPort);
      await sn.send('a', { type: 'CONNECT', client_id: 'dev-auth', duration: 30, cleansess: 1 });
      assert.equal((await sn.expect('a', 'CONNACK')).return_code, expected, file);
      if (expected === 0) {
        await sn.send('a', { type: 'PUBLISH', qos: 1, tid_type: 2, tid: 0x6161, mid: 1, data: 'authenticated' });
        assert.equal((await sn.expect('a', 'PUBACK')).return_code, 0);
      }
      assert.ok(!JSON.stringify(broker.lines).includes('b-secret'), 'a password reached the log');
    } finally {
      await sn.close();
      assert.equal(await broker.stop(), 0);
    }
  }
});

test('standalone: tributary bridge --broker --udp-port 0 beside serve; the publish is in log read; SIGTERM exits 0 with its stats', async () => {
  const serve = await startServe();
  const child = spawn(process.execPath, [CLI, 'bridge', '--broker', `mqtt://127.0.0.1:${serve.mqttPort}`, '--udp-port', '0'], { stdio: ['ignore', 'pipe', 'pipe'] });
  const lines: Array<Record<string, unknown>> = [];
  const exited = new Promise<number | null>((resolve) => child.once('close', resolve));
  const sn = SnClient.start();
  try {
    const listening = await new Promise<Record<string, unknown>>((resolve, reject) => {
      child.once('exit', (code) => reject(new Error(`bridge exited ${code}`)));
      readline.createInterface({ input: child.stdout }).on('line', (l) => {
        const parsed = JSON.parse(l) as Record<string, unknown>;
        lines.push(parsed);
        if (parsed.msg === 'listening') resolve(parsed);
      });
    });
    const port = (listening.bridge as Array<{ port: number }>)[0]?.port as number;
    await sn.open('s', port);
    await sn.connect('s', 'dev-standalone');
    await sn.send('s', { type: 'REGISTER', tid: 0, mid: 1, topic_name: 'standalone/t' });
    const { tid } = await sn.expect('s', 'REGACK');
    await sn.send('s', { type: 'PUBLISH', qos: 1, tid, mid: 2, data: 'via the standalone bridge' });
    assert.equal((await sn.expect('s', 'PUBACK')).return_code, 0);
    const read = await runCli(['log', 'read', 'default', '--data-dir', serve.dataDir, '--json']);
    assert.deepEqual(jsonLines<{ topic: string; payload: string }>(read.stdout).map((r) => [r.topic, r.payload]), [['standalone/t', 'via the standalone bridge']]);
    child.kill('SIGTERM');
    assert.equal(await exited, 0);
    const stats = lines.filter((l) => l.msg === 'bridge stats').at(-1) as { published?: number } | undefined;
    assert.equal(stats?.published, 1);
  } finally {
    child.kill('SIGKILL');
    await sn.close();
    assert.equal(await serve.stop(), 0);
  }
  const bad = await runCli(['bridge', '--broker', 'http://x', '--udp-port', '0']);
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /--broker/);
});
