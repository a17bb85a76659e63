/**
 * The serial MessageTransport (firmware-bridge/src/serial/serial-transport.ts) on a real serial line: a
 * socat pty pair, with the transport (through the `serialport` package) on one end and a simulated
 * device on the other — a separate Python process with its own SLIP, COBS and CRC code
 * (test/bridge/serial_sim.py). It proves, for both framings:
 *  - good frames arrive in order, as whole MQTT-SN messages from the peer `serial:<path>`, including a
 *    frame written one byte at a time, with noise, a corrupted CRC, an overlong frame and a bad escape or
 *    COBS code between them; each bad one is counted under its reason (stats and onDrop);
 *  - frames the transport sends are decoded by the device, CRC and all, in order; broadcast goes to it;
 *  - a send that cannot go out is dropped and counted, not queued: too long for a frame, more than
 *    writeBytesPendingMax waiting, or the port not open;
 *  - a port that is missing at start, or vanishes (socat killed, as a USB adapter unplugged), never
 *    crashes the process: it is logged (through a real pino logger) and reopened with backoff, and
 *    frames flow both ways again afterwards; a frame cut off by the unplug is counted as a drop, and
 *    close() stops the retries;
 *  - a device path that goes away while serialport itself notices nothing (on Linux a read from an
 *    unplugged tty can return end-of-file, which serialport retries forever) is noticed by the presence
 *    check, and the port is reopened when the path is back.
 */
import test from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { type SerialDropReason, SerialTransport, serialDropReasons, type SerialTransportOptions } from '../../firmware-bridge/src/serial/serial-transport.js';
import type { Peer } from '../../firmware-bridge/src/transport.js';
import { tmpDir } from '../helpers/tmp.js';
import { until } from '../helpers/until.js';
import { type PtyPair, SimDevice, startPtyPair } from './serial-sim.js';

interface Line {
  transport: SerialTransport;
  received: Array<{ hex: string; from: Peer }>;
  drops: SerialDropReason[];
  logs: Array<{ level: number; msg: string }>;
}

function openTransport(ptyPath: string, framing: 'slip' | 'cobs', options: SerialTransportOptions = {}): Line {
  const logs: Line['logs'] = [];
  const destination = new Writable({
    write(chunk: Buffer, _encoding, done) {
      for (const l of chunk.toString().split('\n')) if (l !== '') logs.push(JSON.parse(l) as { level: number; msg: string });
      done();
    },
  });
  const drops: SerialDropReason[] = [];
  const transport = new SerialTransport(
    { path: ptyPath, baudRate: 115_200, framing, frameBytesMax: 256 },
    { log: pino({ level: 'info' }, destination), onDrop: (r) => drops.push(r), reopenDelayMinMs: 20, reopenDelayMaxMs: 200, presenceCheckIntervalMs: 100, ...options },
  );
  const received: Line['received'] = [];
  transport.onMessage((m, from) => received.push({ hex: m.toString('hex'), from }));
  return { transport, received, drops, logs };
}

async function pair(): Promise<PtyPair> {
  const dir = tmpDir('tributary-serial-');
  return startPtyPair(path.join(dir, 'ttyTransport'), path.join(dir, 'ttyDevice'));
}

const goodMessages = ['0216', '0c0c000001000148656c6c6f', '0316c0db00', 'ff'.repeat(200)];

for (const framing of ['slip', 'cobs'] as const) {
  test(`${framing}: good frames arrive in order between noise and bad frames, each bad one counted by reason`, async (t) => {
    const pty = await pair();
    t.after(() => pty.stop());
    const line = openTransport(pty.transportPath, framing);
    t.after(() => line.transport.close());
    await until('transport open', () => line.transport.state === 'open');
    const device = await SimDevice.start(framing, pty.devicePath);
    t.after(() => device.stop());
    // A frame with a bad COBS code byte (05 promises 4 bytes, 2 come), or an ESC then 'A' for SLIP.
    const badCoding = framing === 'slip' ? 'c00216db41c0' : '000511220000';
    await device.run([
      { op: 'frame', hex: goodMessages[0]! },
      { op: 'raw', hex: '05deadbeef' }, // noise: ends at the next frame's leading delimiter, fails its CRC
      { op: 'frame', hex: goodMessages[1]!, badCrc: 1 },
      { op: 'frame', hex: goodMessages[1]! },
      { op: 'frame', hex: 'aa'.repeat(300) }, // body 302 bytes > frameBytesMax 256
      { op: 'frame', hex: goodMessages[2]!, split: 1 },
      { op: 'raw', hex: badCoding },
      { op: 'frame', hex: goodMessages[3]! },
    ]);
    await until('4 good frames', () => line.received.length === 4);
    assert.deepEqual(line.received.map((r) => r.hex), goodMessages);
    for (const { from } of line.received) assert.deepEqual(from, line.transport.peer);
    assert.equal(line.transport.peer.key, `serial:${pty.transportPath}`);
    const badCodingReason = framing === 'slip' ? 'bad-escape' : 'bad-cobs';
    const stats = line.transport.stats();
    assert.equal(stats.framesReceived, 4);
    const none = Object.fromEntries(serialDropReasons.map((r) => [r, 0]));
    assert.deepEqual(stats.dropped, { ...none, 'bad-crc': 2, overlong: 1, [badCodingReason]: 1 });
    assert.deepEqual(line.drops, ['bad-crc', 'bad-crc', 'overlong', badCodingReason]);
  });

  test(`${framing}: frames the transport sends are decoded by the device; what cannot go out is dropped and counted`, async (t) => {
    const pty = await pair();
    t.after(() => pty.stop());
    const line = openTransport(pty.transportPath, framing, { writeBytesPendingMax: 2048 });
    t.after(() => line.transport.close());
    await until('transport open', () => line.transport.state === 'open');
    const device = await SimDevice.start(framing, pty.devicePath);
    t.after(() => device.stop());
    const { transport } = line;
    for (const m of goodMessages.slice(0, 3)) transport.send(Buffer.from(m, 'hex'), transport.peer);
    transport.broadcast(Buffer.from(goodMessages[3]!, 'hex'));
    await until('device got 4 frames', () => device.received().length === 4);
    assert.deepEqual(device.received(), goodMessages.map((message) => ({ message })));

    // 254 message bytes fill a 256-byte frame; 255 do not fit.
    transport.send(Buffer.alloc(255, 1), transport.peer);
    assert.equal(transport.stats().dropped['send-overlong'], 1);
    // Sent in one tick, so none has been written yet: frames are queued while the queue stays within
    // writeBytesPendingMax (2048 bytes: 7 or 8 of these ~257-byte frames), the rest are dropped.
    const burst = Array.from({ length: 20 }, (_, i) => Buffer.alloc(252, i + 1));
    let fit = 0;
    for (let queued = 0; fit < burst.length && queued + transport.framing.encode(burst[fit]!).length <= 2048; fit++) queued += transport.framing.encode(burst[fit]!).length;
    assert.ok(fit >= 7 && fit <= 8);
    for (const m of burst) transport.send(m, transport.peer);
    const sent = burst.length - transport.stats().dropped['send-backlog'];
    assert.equal(sent, fit, 'exactly the frames that fit writeBytesPendingMax are queued');
    await until('device got the queued burst', () => device.received().length === 4 + sent);
    assert.deepEqual(device.received().slice(4), burst.slice(0, sent).map((m) => ({ message: m.toString('hex') })));
    assert.equal(transport.stats().framesSent, 4 + sent);
    assert.throws(() => transport.send(Buffer.from('0216', 'hex'), { key: 'udp:[::1]:1884', description: 'other' }), /sends only to its own peer/);
  });
}

test('a missing or vanished port is logged and reopened with backoff, never crashing; frames flow again after', async (t) => {
  const dir = tmpDir('tributary-serial-');
  const transportPath = path.join(dir, 'ttyTransport');
  const devicePath = path.join(dir, 'ttyDevice');
  const line = openTransport(transportPath, 'slip');
  t.after(() => line.transport.close());
  // No device yet: the open fails, and is retried.
  await until('first open failed', () => line.transport.state === 'waiting');
  line.transport.send(Buffer.from('0216', 'hex'), line.transport.peer);
  assert.equal(line.transport.stats().dropped['send-port-closed'], 1);
  await new Promise((resolve) => setTimeout(resolve, 300));
  assert.equal(line.transport.stats().opens, 0);

  let pty = await startPtyPair(transportPath, devicePath);
  await until('transport opened once the device appeared', () => line.transport.state === 'open', 5000);
  let device = await SimDevice.start('slip', devicePath);
  await device.run([{ op: 'frame', hex: '0216' }]);
  await until('frame before unplug', () => line.received.length === 1);
  // The start of a frame, cut off by the unplug; the pause lets socat pass it on before it is killed.
  await device.run([{ op: 'raw', hex: 'c00216' }, { op: 'sleep', ms: 200 }]);

  // Unplug: socat dies, both pty ends vanish.
  await device.stop();
  await pty.stop();
  await until('transport noticed the port went away', () => line.transport.state !== 'open', 5000);
  line.transport.send(Buffer.from('0216', 'hex'), line.transport.peer);
  assert.equal(line.transport.stats().dropped['send-port-closed'], 2);
  await new Promise((resolve) => setTimeout(resolve, 300)); // several failed reopens, none fatal

  // Plug back in at the same path.
  pty = await startPtyPair(transportPath, devicePath);
  t.after(() => pty.stop());
  await until('transport reopened', () => line.transport.state === 'open', 5000);
  device = await SimDevice.start('slip', devicePath);
  t.after(() => device.stop());
  await device.run([{ op: 'frame', hex: '0316aa' }]);
  await until('frame after replug', () => line.received.length === 2);
  assert.deepEqual(line.received.map((r) => r.hex), ['0216', '0316aa']);
  line.transport.send(Buffer.from('0416c0db', 'hex'), line.transport.peer);
  await until('device got the frame sent after replug', () => device.received().length === 1);
  assert.deepEqual(device.received(), [{ message: '0416c0db' }]);
  assert.equal(line.transport.stats().opens, 2);
  assert.deepEqual(line.drops, ['send-port-closed', 'send-port-closed', 'short'], 'the cut-off frame is counted when the next frame starts');

  const messages = line.logs.map((l) => l.msg);
  assert.ok(messages.includes('serial: cannot open port, retrying'), messages.join('\n'));
  // serialport's own close, or (when its read saw end-of-file and it noticed nothing) the presence check.
  assert.ok(messages.includes('serial: port closed (unplugged?), reopening') || messages.includes('serial: device path gone or replaced (unplugged?), reopening'), messages.join('\n'));
  assert.equal(messages.filter((m) => m === 'serial: port open').length, 2);
  // The first failure of an outage is a warning (pino level 40); repeats are info (30).
  const retries = line.logs.filter((l) => l.msg === 'serial: cannot open port, retrying');
  assert.equal(retries[0]?.level, 40);
  assert.ok(retries.length >= 2 && retries.slice(1).some((l) => l.level === 30));
});

test('a device path that vanishes while the port still reads is noticed and reopened when it is back', async (t) => {
  const pty = await pair();
  t.after(() => pty.stop());
  const line = openTransport(pty.transportPath, 'cobs');
  t.after(() => line.transport.close());
  await until('transport open', () => line.transport.state === 'open');
  const device = await SimDevice.start('cobs', pty.devicePath);
  t.after(() => device.stop());
  // socat's link to its pty goes; the pty itself stays up, so serialport sees no error at all.
  const target = fs.readlinkSync(pty.transportPath);
  fs.unlinkSync(pty.transportPath);
  await until('presence check noticed', () => line.transport.state !== 'open', 3000);
  assert.ok(line.logs.some((l) => l.msg === 'serial: device path gone or replaced (unplugged?), reopening'));
  fs.symlinkSync(target, pty.transportPath);
  await until('reopened', () => line.transport.state === 'open', 3000);
  assert.equal(line.transport.stats().opens, 2);
  await device.run([{ op: 'frame', hex: '0216' }]);
  await until('frame after the path came back', () => line.received.length === 1);
  assert.deepEqual(line.received.map((r) => r.hex), ['0216']);
});

test('close() while waiting to reopen stops the retries and resolves; a second close() is the same promise', async () => {
  const line = openTransport(path.join(tmpDir('tributary-serial-'), 'absent'), 'cobs');
  await until('waiting', () => line.transport.state === 'waiting');
  const closing = line.transport.close();
  assert.equal(line.transport.close(), closing);
  await closing;
  assert.equal(line.transport.state, 'closed');
  const logged = line.logs.length;
  await new Promise((resolve) => setTimeout(resolve, 300));
  assert.equal(line.logs.length, logged, 'no reopen attempts after close');
});
