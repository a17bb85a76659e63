/**
 * What SLIP and COBS frames carry, and the part of decoding they share.
 *
 * A frame's *body* is one MQTT-SN message followed by the CRC-16/CCITT-FALSE of that message, high byte
 * first (big-endian):
 *
 *     body = message (1 .. frameBytesMax-2 bytes) ‖ crc16(message) >> 8 ‖ crc16(message) & 0xFF
 *
 * The framing (slip.ts, cobs.ts) turns a body into bytes with no delimiter inside and puts a delimiter
 * before and after it. `frameBytesMax` bounds the body (message and CRC, before escaping or COBS
 * overhead), so the decoder's memory is `frameBytesMax` bytes however long the line noise runs.
 *
 * Invariants of `FrameAssembler` (asserted):
 *  - it never holds more than `frameBytesMax` bytes; a body that would grow past it is dropped as
 *    `overlong`, and nothing more is kept until the next delimiter;
 *  - each delimiter ends exactly one frame: the frame is delivered, or counted as exactly one drop, or was
 *    empty (two delimiters in a row: idle fill, which SLIP and COBS both allow, and not a drop);
 *  - after any drop the next byte after the delimiter starts a new frame (resync at the delimiter).
 * One assembler belongs to one decoder; it is not for concurrent use (nothing in Node is).
 */
import assert from 'node:assert/strict';
import { crc16, crcBytes } from './crc16.js';
import { FrameTooLargeError } from './errors.js';

/** Why a received frame was dropped: the `reason` label of `tributary_bridge_dropped_total`. */
export type FrameDropReason =
  /** The CRC over the message does not match the two bytes after it. */
  | 'bad-crc'
  /** The body grew past `frameBytesMax` before a delimiter came. */
  | 'overlong'
  /** SLIP: ESC followed by something other than ESC_END or ESC_ESC. */
  | 'bad-escape'
  /** COBS: a code byte promised more bytes than came before the delimiter. */
  | 'bad-cobs'
  /** A body too short to hold a CRC and a message byte (1 to 2 bytes between delimiters). */
  | 'short';

export const frameDropReasons: readonly FrameDropReason[] = ['bad-crc', 'overlong', 'bad-escape', 'bad-cobs', 'short'];

/** Where a decoder puts what it found: whole messages (CRC checked and removed), or one drop per bad frame. */
export interface FrameSink {
  message(message: Buffer): void;
  drop(reason: FrameDropReason): void;
}

/** The smallest body that carries a message: one message byte and the CRC. */
export const bodyBytesMin = crcBytes + 1;

/** `message ‖ crc16(message)` big-endian. Throws FrameTooLargeError past `frameBytesMax`. */
export function frameBody(message: Uint8Array, frameBytesMax: number): Buffer {
  assert.ok(message.length > 0, 'a frame carries a message of at least one byte');
  if (message.length + crcBytes > frameBytesMax) throw new FrameTooLargeError(message.length, frameBytesMax - crcBytes);
  const body = Buffer.allocUnsafe(message.length + crcBytes);
  body.set(message, 0);
  body.writeUInt16BE(crc16(message), message.length);
  assert.equal(body.length, message.length + crcBytes);
  return body;
}

/** Collects one body's bytes between delimiters and judges it when the delimiter comes. */
export class FrameAssembler {
  private readonly buffer: Buffer;
  private length = 0;
  private began = false;
  private failed: FrameDropReason | null = null;

  constructor(
    readonly frameBytesMax: number,
    private readonly sink: FrameSink,
  ) {
    assert.ok(Number.isInteger(frameBytesMax) && frameBytesMax >= bodyBytesMin, 'frameBytesMax holds a CRC and a byte');
    this.buffer = Buffer.alloc(frameBytesMax);
  }

  /** A byte of the frame that is not body data (an escape or COBS code byte): the frame is not empty. */
  begin(): void {
    this.began = true;
  }

  /** One decoded body byte. */
  append(byte: number): void {
    this.began = true;
    if (this.failed !== null) return;
    if (this.length === this.frameBytesMax) {
      this.failed = 'overlong';
      return;
    }
    this.buffer[this.length++] = byte;
    assert.ok(this.length <= this.frameBytesMax);
  }

  /** The frame is bad; the first reason found is the one counted. Nothing more is kept until the delimiter. */
  fail(reason: FrameDropReason): void {
    this.began = true;
    if (this.failed === null) this.failed = reason;
  }

  /** The delimiter: deliver or drop what was collected, and start afresh. */
  end(): void {
    const { length, began, failed } = this;
    this.length = 0;
    this.began = false;
    this.failed = null;
    if (!began) return;
    if (failed !== null) return this.sink.drop(failed);
    if (length < bodyBytesMin) return this.sink.drop('short');
    const messageEnd = length - crcBytes;
    if (crc16(this.buffer, 0, messageEnd) !== this.buffer.readUInt16BE(messageEnd)) return this.sink.drop('bad-crc');
    // A copy: the buffer is reused for the next frame while the gateway may keep the message.
    this.sink.message(Buffer.from(this.buffer.subarray(0, messageEnd)));
  }
}
