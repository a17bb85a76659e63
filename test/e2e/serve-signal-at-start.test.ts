/**
 * Proves a stop signal during start-up drains instead of killing: serve is sent SIGTERM (then, in
 * another run, SIGINT) the moment its MQTT port first accepts a connection — before it has finished
 * starting and printed "listening" — and it still exits 0 through its drain ("shutting down", "stopped"),
 * as systemd's stop of a service that is still starting expects. Before the signals were taken at the
 * start of serve, Node's default action killed it there (exit by signal, no drain).
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import net from 'node:net';
import { test } from 'node:test';
import { CLI } from '../helpers/cli.js';
import { freePort } from '../helpers/ports.js';
import { tmpDir } from '../helpers/tmp.js';
import { until } from '../helpers/until.js';

function accepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect(port, '127.0.0.1');
    socket.once('connect', () => (socket.destroy(), resolve(true)));
    socket.once('error', () => resolve(false));
  });
}

for (const signal of ['SIGTERM', 'SIGINT'] as const) {
  test(`${signal} the moment the MQTT port accepts: serve drains and exits 0`, async () => {
    const port = await freePort();
    const child = spawn(process.execPath, [CLI, 'serve', '--data-dir', tmpDir(), '--mqtt-port', String(port), '--http-port', '0'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.once('exit', (code, sig) => resolve({ code, signal: sig })));
    await until('the MQTT port accepting', () => accepts(port), 30_000, 2);
    const listeningBefore = stdout.includes('"msg":"listening"');
    child.kill(signal);
    const { code, signal: killedBy } = await exited;
    assert.deepEqual({ code, killedBy }, { code: 0, killedBy: null }, `exit (listening printed before the signal: ${listeningBefore})\n${stdout}`);
    assert.match(stdout, /"msg":"shutting down"/);
    assert.match(stdout, /"msg":"stopped"/);
  });
}
