/**
 * Proves the sd_notify client against a real unix datagram socket standing in for systemd, with the
 * notifier in a CHILD process so NOTIFY_SOCKET / WATCHDOG_USEC are real environment variables and a busy
 * loop is a real blocked event loop: READY=1 arrives first, then STATUS=, then WATCHDOG=1 at about
 * WATCHDOG_USEC/2; while the child's event loop is blocked nothing arrives (the gap spans the block);
 * while `isHealthy()` is false the loop runs but no WATCHDOG=1 is sent; pings resume when healthy; the
 * last message is STOPPING=1; and the child exits on its own (no timer or socket keeps it alive).
 * In-process it proves: no NOTIFY_SOCKET means a silent no-op; WATCHDOG_USEC missing or WATCHDOG_PID
 * naming another process means no watchdog; a socket nobody listens on (path or abstract `@name`) never
 * throws and is logged once; status lines are flattened to one line.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { test } from 'node:test';
import { createLogger } from '../../src/ops/logger.js';
import { createSystemdNotifier, notifySocketAddress, watchdogIntervalMs } from '../../src/ops/systemd-notify.js';

interface DatagramServer {
  on(event: 'message', listener: (buf: Buffer) => void): void;
  on(event: 'error', listener: (err: Error) => void): void;
  bind(path: string): void;
  close(): void;
}

const unixDgram = createRequire(import.meta.url)('unix-dgram') as { createSocket(type: 'unix_dgram'): DatagramServer };
const NOTIFIER_MODULE = new URL('../../src/ops/systemd-notify.js', import.meta.url).href;
const LOGGER_MODULE = new URL('../../src/ops/logger.js', import.meta.url).href;
const WATCHDOG_USEC = 200_000; // pings every 100 ms
const BLOCK_MS = 800;

/** The child: each phase is announced with a STATUS line on the same socket, so the order is exact. */
const CHILD_SCRIPT = `
const { createSystemdNotifier } = await import(${JSON.stringify(NOTIFIER_MODULE)});
const { createLogger } = await import(${JSON.stringify(LOGGER_MODULE)});
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
const notifier = createSystemdNotifier({ logger: createLogger({ level: 'warn' }) });
let healthy = true;
notifier.ready();
notifier.status('phase=running');
const watchdog = notifier.startWatchdog({ isHealthy: () => healthy });
if (watchdog === null || watchdog.intervalMs !== 100) throw new Error('watchdog not started at 100 ms');
await sleep(600);
notifier.status('phase=blocked');
const end = Date.now() + ${BLOCK_MS};
while (Date.now() < end) {}
notifier.status('phase=unblocked');
await sleep(400);
healthy = false;
notifier.status('phase=unhealthy');
await sleep(700);
healthy = true;
notifier.status('phase=healthy');
await sleep(400);
notifier.stopping();
// No close(): the unref'd watchdog timer must not keep this process alive.
`;

interface Received {
  atMs: number;
  text: string;
}

test('READY, STATUS, WATCHDOG and STOPPING reach a real socket; WATCHDOG stops while blocked or unhealthy', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'tributary-notify-'));
  const socketPath = join(dir, 'notify.sock');
  const received: Received[] = [];
  const server = unixDgram.createSocket('unix_dgram');
  server.on('error', (err) => assert.fail(err));
  server.on('message', (buf) => received.push({ atMs: performance.now(), text: buf.toString('utf8') }));
  server.bind(socketPath);
  try {
    const exit = await runChild({ NOTIFY_SOCKET: socketPath, WATCHDOG_USEC: String(WATCHDOG_USEC) });
    assert.equal(exit.code, 0, exit.stderr);
    await new Promise((resolve) => setTimeout(resolve, 50)); // let the last datagrams be read
    checkSequence(received);
  } finally {
    server.close();
    await rm(dir, { recursive: true, force: true });
  }
});

function checkSequence(received: Received[]): void {
  const texts = received.map((r) => r.text);
  assert.equal(texts[0], 'READY=1');
  assert.equal(texts[1], 'STATUS=phase=running');
  // Pings go on while a shutdown drains (stopping the watchdog there would let systemd kill a slow
  // drain), so a ping due at the same moment may follow STOPPING=1; nothing else may.
  assert.equal(texts.filter((t) => t !== 'WATCHDOG=1').at(-1), 'STOPPING=1');
  const phase = (name: string): number => {
    const index = texts.indexOf(`STATUS=phase=${name}`);
    assert.ok(index > 0, `no phase ${name} in ${texts.join(' ')}`);
    return index;
  };
  const pingsBetween = (from: number, to: number) => texts.slice(from + 1, to).filter((t) => t === 'WATCHDOG=1').length;
  const [running, blocked, unblocked, unhealthy, healthy] = ['running', 'blocked', 'unblocked', 'unhealthy', 'healthy'].map(phase);
  assert.ok(running !== undefined && blocked !== undefined && unblocked !== undefined && unhealthy !== undefined && healthy !== undefined);
  // 600 ms at one ping per 100 ms (plus one at start); generous for a loaded CI machine.
  assert.ok(pingsBetween(running, blocked) >= 3, `pings while running: ${pingsBetween(running, blocked)}`);
  assert.equal(pingsBetween(blocked, unblocked), 0);
  const blockedGapMs = (received[unblocked]?.atMs ?? 0) - (received[blocked]?.atMs ?? 0);
  assert.ok(blockedGapMs >= BLOCK_MS - 100, `nothing arrived for ${blockedGapMs} ms during the block`);
  assert.ok(pingsBetween(unblocked, unhealthy) >= 1, 'pings resume after the block');
  assert.equal(pingsBetween(unhealthy, healthy), 0, 'a ping was sent while unhealthy');
  assert.ok(pingsBetween(healthy, texts.indexOf('STOPPING=1')) >= 1, 'pings resume when healthy again');
  assert.ok(texts.every((t) => /^(READY=1|STOPPING=1|WATCHDOG=1|STATUS=phase=\w+)$/.test(t)), texts.join(' '));
}

function runChild(env: Record<string, string>): Promise<{ code: number | null; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--input-type=module', '-e', CHILD_SCRIPT], {
      env: { ...process.env, ...env },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString('utf8')));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`child did not exit by itself: ${stderr}`));
    }, 15_000);
    child.on('error', reject);
    child.on('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, stderr });
    });
  });
}

test('without NOTIFY_SOCKET every call is a silent no-op', () => {
  const lines: string[] = [];
  const notifier = createSystemdNotifier({ env: {}, logger: createLogger({ level: 'trace', destination: collector(lines) }) });
  assert.equal(notifier.enabled, false);
  notifier.ready();
  notifier.status('x');
  notifier.watchdog();
  notifier.stopping();
  assert.equal(notifier.startWatchdog({ isHealthy: () => true }), null);
  notifier.close();
  assert.deepEqual(lines, []);
});

test('the watchdog interval is half of WATCHDOG_USEC, and only for the process WATCHDOG_PID names', () => {
  assert.equal(watchdogIntervalMs({ WATCHDOG_USEC: '30000000' }, 42), 15_000);
  assert.equal(watchdogIntervalMs({ WATCHDOG_USEC: '30000000', WATCHDOG_PID: '42' }, 42), 15_000);
  assert.equal(watchdogIntervalMs({ WATCHDOG_USEC: '30000000', WATCHDOG_PID: '43' }, 42), null);
  assert.equal(watchdogIntervalMs({}, 42), null);
  assert.equal(watchdogIntervalMs({ WATCHDOG_USEC: '0' }, 42), null);
  assert.equal(watchdogIntervalMs({ WATCHDOG_USEC: 'soon' }, 42), null);
  const notifier = createSystemdNotifier({
    env: { NOTIFY_SOCKET: '/nonexistent/notify', WATCHDOG_USEC: '200000', WATCHDOG_PID: String(process.pid + 1) },
    logger: createLogger({ level: 'silent' }),
  });
  assert.equal(notifier.startWatchdog({ isHealthy: () => true }), null);
});

test('abstract socket names map @name to a leading NUL', () => {
  assert.equal(notifySocketAddress('@/org/freedesktop/systemd1/notify'), '\0/org/freedesktop/systemd1/notify');
  assert.equal(notifySocketAddress('/run/systemd/notify'), '/run/systemd/notify');
});

for (const socket of ['/nonexistent/tributary/notify.sock', '@tributary-test-nobody-listens']) {
  test(`a socket nobody listens on (${socket}) never throws and is logged once`, () => {
    const lines: string[] = [];
    const notifier = createSystemdNotifier({
      env: { NOTIFY_SOCKET: socket },
      logger: createLogger({ level: 'info', destination: collector(lines) }),
    });
    assert.equal(notifier.enabled, true);
    for (let i = 0; i < 5; i += 1) {
      notifier.ready();
      notifier.status('still trying');
    }
    notifier.close();
    assert.equal(lines.length, 1, lines.join('\n'));
    const line = JSON.parse(lines[0] ?? '{}') as { level?: string; msg?: string; notifySocket?: string };
    assert.equal(line.level, 'warn');
    assert.equal(line.notifySocket, socket);
    if (socket.startsWith('@')) assert.match(line.msg ?? '', /abstract/);
  });
}

test('status lines are flattened to one line', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'tributary-notify-'));
  const socketPath = join(dir, 'notify.sock');
  const received: string[] = [];
  const server = unixDgram.createSocket('unix_dgram');
  server.on('message', (buf) => received.push(buf.toString('utf8')));
  server.bind(socketPath);
  try {
    const notifier = createSystemdNotifier({ env: { NOTIFY_SOCKET: socketPath }, logger: createLogger({ level: 'silent' }) });
    notifier.status('12 msg/s\nbacklog 3\r\nupstream online');
    notifier.close();
    notifier.ready(); // after close: nothing
    await new Promise((resolve) => setTimeout(resolve, 50));
    assert.deepEqual(received, ['STATUS=12 msg/s backlog 3 upstream online']);
  } finally {
    server.close();
    await rm(dir, { recursive: true, force: true });
  }
});

function collector(lines: string[]): Writable {
  return new Writable({
    write(chunk: Buffer, _encoding, callback) {
      lines.push(...chunk.toString('utf8').split('\n').filter((l) => l !== ''));
      callback();
    },
  });
}
