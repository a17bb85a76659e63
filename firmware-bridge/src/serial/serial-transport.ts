/**
 * A serial line as a MessageTransport: one framed MQTT-SN message per frame (framing.ts), through the
 * `serialport` package. The line has one peer, the device or radio coordinator at the other end, with key
 * `serial:<path>`; a coordinator that carries many radio nodes puts each message in MQTT-SN forwarder
 * encapsulation, which the gateway unwraps, so to this transport every frame is just bytes.
 *
 * States:
 *
 *     opening ──open ok──▶ open ──port closed (unplugged, EIO)──▶ waiting ──backoff elapsed──▶ opening
 *        └──open failed (no such device, busy)──▶ waiting                 any state ──close()──▶ closed
 *
 * Invariants (asserted):
 *  - at most one SerialPort object is live; events from an earlier one are ignored;
 *  - while not `closed`, exactly one of: an open in flight, an open port, a reopen timer;
 *  - a port that disappears never crashes the process: it is logged and reopened with exponential
 *    backoff (full jitter, `reopenDelayMinMs` up to `reopenDelayMaxMs`), forever, until `close()`;
 *  - while `open`, the device path is checked every `presenceCheckIntervalMs`: on Linux a read from an
 *    unplugged tty can return end-of-file instead of an error, which serialport retries without ever
 *    emitting `close` (serialport/node-serialport#2043), so a path that is gone or names another device
 *    than the one opened counts as an unplug too;
 *  - a message is sent only while `open`, and never queues more than `writeBytesPendingMax` bytes in
 *    the port's stream; what cannot be sent is dropped and counted, not buffered without bound;
 *  - every frame received is delivered once or counted once under its drop reason, a frame cut off by
 *    an unplug included.
 * Message handlers are called synchronously from the port's `data` event and must not throw.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { SerialPort } from 'serialport';
import type { MessageTransport, Peer } from '../transport.js';
import { SerialConfigError, SerialPortError } from './errors.js';
import { type FrameDecoder, type FrameDropReason, type Framing, type FramingName, createFraming, frameBytesMaxDefault, frameDropReasons } from './framing.js';

/** The options a config names for one serial port (`firmwareBridge.serial[i]`). */
export interface SerialPortConfig {
  /** The device, e.g. `/dev/ttyUSB0` or a stable `/dev/serial/by-id/...` link. */
  path: string;
  baudRate: number;
  framing: FramingName;
  /** Bound on a frame's body (message + 2 CRC bytes, before escaping). */
  frameBytesMax: number;
}

export const serialPortConfigDefaults: Omit<SerialPortConfig, 'path'> = Object.freeze({
  baudRate: 115_200,
  framing: 'slip',
  frameBytesMax: frameBytesMaxDefault,
});

/** pino's Logger fits this; the bridge imports no logger of its own. */
export interface SerialLog {
  info(fields: object, message: string): void;
  warn(fields: object, message: string): void;
}

/** Receive-side frame drops, and sends that could not go out. */
export type SerialDropReason = FrameDropReason | 'send-port-closed' | 'send-overlong' | 'send-backlog';
export const serialDropReasons: readonly SerialDropReason[] = [...frameDropReasons, 'send-port-closed', 'send-overlong', 'send-backlog'];

export interface SerialTransportOptions {
  log?: SerialLog;
  /** Called once per drop, e.g. to count `tributary_bridge_dropped_total{reason}`. */
  onDrop?: (reason: SerialDropReason) => void;
  reopenDelayMinMs?: number;
  reopenDelayMaxMs?: number;
  /** How often an open port's device path is checked for being the device that was opened. */
  presenceCheckIntervalMs?: number;
  /** Bytes that may wait in the port's write queue; a send past it is dropped (`send-backlog`). */
  writeBytesPendingMax?: number;
}

export const serialTransportDefaults = Object.freeze({ reopenDelayMinMs: 250, reopenDelayMaxMs: 10_000, presenceCheckIntervalMs: 1000, writeBytesPendingMax: 64 * 1024 });

export type SerialTransportState = 'opening' | 'open' | 'waiting' | 'closed';

export interface SerialTransportStats {
  state: SerialTransportState;
  framesReceived: number;
  framesSent: number;
  /** Times the port was opened successfully (1 after the first open). */
  opens: number;
  dropped: Record<SerialDropReason, number>;
}

const silentLog: SerialLog = { info: () => {}, warn: () => {} };

/** Delay before reopen attempt `attempt` (1 = first): uniform in [min, min(max, min × 2^(attempt-1))]. */
export function reopenDelayMs(attempt: number, minMs: number, maxMs: number, random: () => number = Math.random): number {
  assert.ok(attempt >= 1 && minMs > 0 && maxMs >= minMs);
  const ceilingMs = Math.min(maxMs, minMs * 2 ** Math.min(attempt - 1, 30));
  const delayMs = Math.round(minMs + random() * (ceilingMs - minMs));
  assert.ok(delayMs >= minMs && delayMs <= maxMs);
  return delayMs;
}

function checkConfig(config: SerialPortConfig, options: SerialTransportOptions): void {
  if (typeof config.path !== 'string' || config.path === '') throw new SerialConfigError('path must name a serial device', 'path');
  if (!Number.isInteger(config.baudRate) || config.baudRate <= 0) throw new SerialConfigError(`baudRate must be a positive whole number, not ${config.baudRate}`, 'baudRate');
  for (const key of ['reopenDelayMinMs', 'reopenDelayMaxMs', 'presenceCheckIntervalMs', 'writeBytesPendingMax'] as const) {
    const value = options[key];
    if (value !== undefined && !(Number.isInteger(value) && value > 0)) throw new SerialConfigError(`${key} must be a positive whole number, not ${value}`, key);
  }
  const min = options.reopenDelayMinMs ?? serialTransportDefaults.reopenDelayMinMs;
  const max = options.reopenDelayMaxMs ?? serialTransportDefaults.reopenDelayMaxMs;
  if (max < min) throw new SerialConfigError(`reopenDelayMaxMs (${max}) is below reopenDelayMinMs (${min})`, 'reopenDelayMaxMs');
}

export class SerialTransport implements MessageTransport {
  readonly name: string;
  readonly peer: Peer;
  readonly framing: Framing;
  private readonly log: SerialLog;
  private readonly onDrop: ((reason: SerialDropReason) => void) | undefined;
  private readonly reopenDelayMinMs: number;
  private readonly reopenDelayMaxMs: number;
  private readonly presenceCheckIntervalMs: number;
  private readonly writeBytesPendingMax: number;
  private readonly handlers: Array<(message: Buffer, from: Peer) => void> = [];
  private readonly dropped: Record<SerialDropReason, number>;
  private framesReceived = 0;
  private framesSent = 0;
  private opens = 0;
  private stateNow: SerialTransportState = 'opening';
  private port: SerialPort | null = null;
  private readonly decoder: FrameDecoder;
  private reopenTimer: NodeJS.Timeout | null = null;
  private presenceTimer: NodeJS.Timeout | null = null;
  /** Failed opens since the last good one: the backoff exponent. */
  private attempt = 0;
  private closing: Promise<void> | null = null;
  /** Settles when the open in flight has called back (so close() never leaves a port open behind it). */
  private openSettled: Promise<void> = Promise.resolve();

  /** Starts opening the port at once; a missing device is retried, not an error. */
  constructor(
    readonly config: SerialPortConfig,
    options: SerialTransportOptions = {},
  ) {
    checkConfig(config, options);
    this.framing = createFraming(config.framing, config.frameBytesMax);
    this.name = `serial:${config.path}`;
    this.peer = Object.freeze({ key: this.name, description: `serial ${config.path} ${config.baudRate} baud ${config.framing}` });
    this.log = options.log ?? silentLog;
    this.onDrop = options.onDrop;
    this.reopenDelayMinMs = options.reopenDelayMinMs ?? serialTransportDefaults.reopenDelayMinMs;
    this.reopenDelayMaxMs = options.reopenDelayMaxMs ?? serialTransportDefaults.reopenDelayMaxMs;
    this.presenceCheckIntervalMs = options.presenceCheckIntervalMs ?? serialTransportDefaults.presenceCheckIntervalMs;
    this.writeBytesPendingMax = options.writeBytesPendingMax ?? serialTransportDefaults.writeBytesPendingMax;
    this.dropped = Object.fromEntries(serialDropReasons.map((r) => [r, 0])) as Record<SerialDropReason, number>;
    this.decoder = this.newDecoder();
    this.openPort();
  }

  get state(): SerialTransportState {
    return this.stateNow;
  }

  stats(): SerialTransportStats {
    return { state: this.stateNow, framesReceived: this.framesReceived, framesSent: this.framesSent, opens: this.opens, dropped: { ...this.dropped } };
  }

  onMessage(handler: (message: Buffer, from: Peer) => void): void {
    this.handlers.push(handler);
  }

  send(message: Buffer, to: Peer): void {
    assert.equal(to.key, this.peer.key, `${this.name} sends only to its own peer`);
    if (message.length > this.framing.messageBytesMax) {
      this.log.warn({ port: this.config.path, messageBytes: message.length, messageBytesMax: this.framing.messageBytesMax }, 'serial: message too long for a frame, dropped');
      return this.drop('send-overlong');
    }
    const port = this.port;
    if (this.stateNow !== 'open' || port === null) return this.drop('send-port-closed');
    const frame = this.framing.encode(message);
    if (port.writableLength + frame.length > this.writeBytesPendingMax) return this.drop('send-backlog');
    // Write errors also close the port, which the 'close' handler turns into a reopen.
    port.write(frame, (err) => {
      if (err) this.log.warn({ port: this.config.path, err: new SerialPortError('write failed', { cause: err }) }, 'serial: write failed');
    });
    this.framesSent++;
  }

  /** The line is the broadcast medium: a broadcast is a frame to the one peer (a coordinator fans it out). */
  broadcast(message: Buffer): void {
    this.send(message, this.peer);
  }

  close(): Promise<void> {
    this.closing ??= this.shutdown();
    return this.closing;
  }

  private async shutdown(): Promise<void> {
    this.stateNow = 'closed';
    if (this.reopenTimer !== null) clearTimeout(this.reopenTimer);
    this.reopenTimer = null;
    this.stopPresenceCheck();
    const port = this.port;
    this.port = null;
    await this.openSettled;
    if (port?.isOpen) await new Promise<void>((resolve) => port.close(() => resolve()));
    this.log.info({ port: this.config.path }, 'serial: closed');
  }

  private newDecoder(): FrameDecoder {
    return this.framing.createDecoder({
      message: (message) => {
        this.framesReceived++;
        for (const handler of this.handlers) handler(message, this.peer);
      },
      drop: (reason) => this.drop(reason),
    });
  }

  private drop(reason: SerialDropReason): void {
    this.dropped[reason]++;
    this.onDrop?.(reason);
  }

  private openPort(): void {
    assert.ok(this.stateNow !== 'closed' && this.port === null && this.reopenTimer === null, 'one port, one timer');
    this.stateNow = 'opening';
    const port = new SerialPort({ path: this.config.path, baudRate: this.config.baudRate, autoOpen: false });
    this.port = port;
    port.on('data', (chunk: Buffer) => {
      if (this.port === port) this.decoder.push(chunk);
    });
    // Errors after open come with a 'close' too; this keeps them from being unhandled 'error' events.
    port.on('error', (err) => this.log.warn({ port: this.config.path, err }, 'serial: port error'));
    port.on('close', () => this.portGone(port, 'serial: port closed (unplugged?), reopening'));
    this.openSettled = new Promise<void>((settled) =>
      port.open((err) => {
        settled();
        if (this.port !== port) return;
        if (err) return this.portGone(port, 'serial: cannot open port, retrying', err);
        this.stateNow = 'open';
        this.attempt = 0;
        this.opens++;
        this.startPresenceCheck(port);
        this.log.info({ port: this.config.path, baudRate: this.config.baudRate, framing: this.config.framing }, 'serial: port open');
      }),
    );
  }

  /** The device number the path had when opened; a path that stops naming it is an unplugged device. */
  private startPresenceCheck(port: SerialPort): void {
    assert.ok(this.presenceTimer === null && this.stateNow === 'open');
    const rdev = deviceNumber(this.config.path);
    this.presenceTimer = setInterval(() => {
      if (this.port !== port) return;
      const now = deviceNumber(this.config.path);
      if (rdev !== null && now === rdev) return;
      this.portGone(port, 'serial: device path gone or replaced (unplugged?), reopening');
      // The old port may be stuck reading end-of-file; closing it stops that. Its errors no longer matter.
      if (port.isOpen) port.close(() => {});
    }, this.presenceCheckIntervalMs);
    this.presenceTimer.unref();
  }

  private stopPresenceCheck(): void {
    if (this.presenceTimer !== null) clearInterval(this.presenceTimer);
    this.presenceTimer = null;
  }

  private portGone(port: SerialPort, message: string, err?: Error): void {
    if (this.port !== port || this.stateNow === 'closed') return;
    assert.ok(this.reopenTimer === null, 'a gone port has no reopen timer yet');
    this.port = null;
    this.stopPresenceCheck();
    // The decoder is kept: a frame cut off by the unplug ends at the first delimiter after the reopen
    // (every frame starts with one) and is counted as a drop like any other bad frame.
    this.attempt++;
    const delayMs = reopenDelayMs(this.attempt, this.reopenDelayMinMs, this.reopenDelayMaxMs);
    const fields = { port: this.config.path, attempt: this.attempt, delayMs, ...(err ? { err: new SerialPortError(err.message, { cause: err }) } : {}) };
    // The first failure is news; repeats while the device stays away are routine.
    if (this.attempt === 1) this.log.warn(fields, message);
    else this.log.info(fields, message);
    this.stateNow = 'waiting';
    this.reopenTimer = setTimeout(() => {
      this.reopenTimer = null;
      this.openPort();
    }, delayMs);
  }
}

/** The device number `path` names now (following links), or null when it names nothing. */
function deviceNumber(path: string): number | null {
  try {
    return fs.statSync(path).rdev;
  } catch {
    return null;
  }
}
