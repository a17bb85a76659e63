/**
 * The serial framings by name: `slip` (slip.ts) or `cobs` (cobs.ts), each carrying one MQTT-SN message
 * and its CRC-16/CCITT-FALSE, big-endian (frame-body.ts). The README section "Firmware bridge: serial
 * framing" is the same grammar written for firmware authors.
 *
 * Both are pure: no I/O, no timers. A decoder is fed the bytes of one serial line in order and calls its
 * sink once for each frame: a message or a drop with its reason.
 */
import { crcBytes } from './crc16.js';
import { CobsDecoder, cobsFrameEncode } from './cobs.js';
import { SerialConfigError } from './errors.js';
import type { FrameSink } from './frame-body.js';
import { SlipDecoder, slipEncode } from './slip.js';

export { type FrameDropReason, type FrameSink, frameDropReasons } from './frame-body.js';

export type FramingName = 'slip' | 'cobs';
export const framingNames: readonly FramingName[] = ['slip', 'cobs'];

/** The default bound on a frame's body (message + CRC, before escaping). */
export const frameBytesMaxDefault = 1024;
/** The smallest MQTT-SN message (PINGREQ without a client id, `02 16`) must fit. */
export const frameBytesMaxMin = 2 + crcBytes;
/** The largest MQTT-SN message (3-byte length field) and its CRC. */
export const frameBytesMaxMax = 0xffff + crcBytes;

export interface FrameDecoder {
  push(chunk: Uint8Array): void;
}

export interface Framing {
  readonly name: FramingName;
  readonly frameBytesMax: number;
  /** The longest message a frame carries: `frameBytesMax` less the CRC. */
  readonly messageBytesMax: number;
  /** One whole frame for `message`, delimiters included. Throws FrameTooLargeError past the bound. */
  encode(message: Uint8Array): Buffer;
  createDecoder(sink: FrameSink): FrameDecoder;
}

export function createFraming(name: FramingName, frameBytesMax: number = frameBytesMaxDefault): Framing {
  if (!framingNames.includes(name)) throw new SerialConfigError(`framing must be one of ${framingNames.join(', ')}, not ${String(name)}`, 'framing');
  if (!Number.isInteger(frameBytesMax) || frameBytesMax < frameBytesMaxMin || frameBytesMax > frameBytesMaxMax) {
    throw new SerialConfigError(`frameBytesMax must be a whole number from ${frameBytesMaxMin} to ${frameBytesMaxMax}, not ${frameBytesMax}`, 'frameBytesMax');
  }
  const messageBytesMax = frameBytesMax - crcBytes;
  return name === 'slip'
    ? { name, frameBytesMax, messageBytesMax, encode: (m) => slipEncode(m, frameBytesMax), createDecoder: (sink) => new SlipDecoder(frameBytesMax, sink) }
    : { name, frameBytesMax, messageBytesMax, encode: (m) => cobsFrameEncode(m, frameBytesMax), createDecoder: (sink) => new CobsDecoder(frameBytesMax, sink) };
}
