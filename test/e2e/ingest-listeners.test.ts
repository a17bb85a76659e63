/**
 * The tls and ws listeners work end to end: a real mqtt.js client publishes QoS 1 over MQTT-over-TLS
 * (a self-signed certificate made with openssl for the test) and over MQTT-over-WebSocket, gets its
 * PUBACKs, and the records are in the log.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { connectAsync } from 'mqtt';
import { startServe } from '../helpers/broker.js';
import { jsonLines, runCli } from '../helpers/cli.js';
import { tmpDir } from '../helpers/tmp.js';

test('MQTT over TLS and over WebSocket reach the log', async () => {
  const dir = tmpDir();
  const cert = path.join(dir, 'cert.pem');
  const key = path.join(dir, 'key.pem');
  execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', key, '-out', cert, '-days', '1', '-subj', '/CN=127.0.0.1'], { stdio: 'ignore' });
  const broker = await startServe({
    configYaml: `
mqtt:
  listeners:
    - { type: tcp, host: 127.0.0.1, port: 0 }
    - { type: tls, host: 127.0.0.1, port: 0, cert: ${cert}, key: ${key} }
    - { type: ws, host: 127.0.0.1, port: 0, path: /mqtt }
`,
  });
  try {
    const ready = broker.lines.find((l) => l.msg === 'listening') as { mqtt: Array<{ type: string; port: number }> };
    const port = (type: string) => ready.mqtt.find((l) => l.type === type)?.port;
    assert.ok(port('tls') && port('ws'), JSON.stringify(ready.mqtt));

    const overTls = await connectAsync(`mqtts://127.0.0.1:${port('tls')}`, { clientId: 'tls-client', rejectUnauthorized: false });
    await overTls.publishAsync('listeners/tls', 'secure', { qos: 1 });
    await overTls.endAsync();
    const overWs = await connectAsync(`ws://127.0.0.1:${port('ws')}/mqtt`, { clientId: 'ws-client' });
    await overWs.publishAsync('listeners/ws', 'websocket', { qos: 1 });
    await overWs.endAsync();

    const read = await runCli(['log', 'read', 'default', '--data-dir', broker.dataDir, '--json']);
    const payloads = jsonLines<{ topic: string; payload: string }>(read.stdout).map((r) => `${r.topic}=${r.payload}`).sort();
    assert.deepEqual(payloads, ['listeners/tls=secure', 'listeners/ws=websocket']);
  } finally {
    assert.equal(await broker.stop(), 0);
  }
  fs.rmSync(dir, { recursive: true, force: true });
});
