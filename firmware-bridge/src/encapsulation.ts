/**
 * Forwarder encapsulation [5.5]: one coordinator (a radio-to-UDP forwarder, a serial coordinator)
 * carries many wireless nodes over one peer by wrapping each node's message.
 *
 *   encapsulated = Length(1) 0xFE Ctrl(1) WirelessNodeId(n) message
 *   Ctrl         = reserved(b7..2) Radius(b1..0)   (gateway → forwarder: radius 0, "broadcast radius")
 *   Length counts only Length, MsgType, Ctrl and WirelessNodeId (3 + n bytes); `message` is one whole
 *   MQTT-SN message (codec.ts) and is not itself encapsulated.
 *
 * A node behind a forwarder is its own device to the gateway: its peer key is the forwarder's key plus
 * the node id, and every reply to it is wrapped again for the same forwarder.
 */
import { MsgType, readHeader } from './codec.js';
import { CodecError } from './errors.js';

/** WirelessNodeId is at most 252 bytes: the 1-byte Length must cover 3 + n. */
export const NODE_ID_BYTES_MAX = 0xff - 3;

export interface Unwrapped {
  /** null when the datagram was not encapsulated. */
  nodeId: Buffer | null;
  radius: number;
  message: Buffer;
}

/** Splits a datagram into the forwarder header (if any) and the inner message. */
export function unwrap(datagram: Buffer): Unwrapped {
  const { length, headerBytes, type } = readHeader(datagram);
  if (type !== MsgType.ENCAPSULATED) return { nodeId: null, radius: 0, message: datagram };
  if (headerBytes !== 2) throw new CodecError('an encapsulation header has a 1-byte length', 'malformed');
  if (length < 4) throw new CodecError('encapsulation without a wireless node id', 'malformed');
  if (datagram.length < length + 2) throw new CodecError('encapsulated message missing', 'truncated');
  const message = datagram.subarray(length);
  if (message[1] === MsgType.ENCAPSULATED || (message[0] === 0x01 && message[3] === MsgType.ENCAPSULATED)) {
    throw new CodecError('nested encapsulation', 'malformed');
  }
  return { nodeId: Buffer.from(datagram.subarray(3, length)), radius: (datagram[2] as number) & 0x03, message };
}

/** Wraps `message` for the node `nodeId` behind a forwarder. */
export function wrap(nodeId: Buffer, message: Buffer): Buffer {
  if (nodeId.length === 0 || nodeId.length > NODE_ID_BYTES_MAX) throw new CodecError(`wireless node id of ${nodeId.length} bytes`, 'malformed');
  const header = Buffer.allocUnsafe(3 + nodeId.length);
  header.writeUInt8(header.length, 0);
  header.writeUInt8(MsgType.ENCAPSULATED, 1);
  header.writeUInt8(0, 2);
  nodeId.copy(header, 3);
  return Buffer.concat([header, message]);
}
