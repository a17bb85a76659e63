/**
 * How MQTT broker state is laid out in the log's `state` table (see persistence.ts).
 *
 * Keys (all under the namespace `mqtt:` so other users of the table cannot collide):
 *
 *   retained  := "mqtt:r" topic                          → packet
 *   sub       := "mqtt:s" client topic                   → JSON { qos, rh?, rap?, nl?, subscriptionIdentifier? }
 *   outgoing  := "mqtt:o" client seq                     → packet   (seq: u64 big-endian, queue order)
 *   incoming  := "mqtt:i" client messageId               → packet   (messageId: u16 big-endian)
 *   will      := "mqtt:w" client                         → packet
 *   client    := u16 length, UTF-8 bytes                 (length-prefixed, so "abc" never prefixes "abcd")
 *   topic     := UTF-8 bytes to the end of the key
 *
 * Values:
 *
 *   packet    := version u8 (= 1), kind u8, jsonLength u32, json, payload
 *   kind      := 0 no payload | 1 Buffer payload | 2 string payload (UTF-8)
 *   json      := every own field of the packet except `payload`, as JSON (undefined fields are dropped)
 *   payload   := the remaining bytes
 *
 * The payload is kept out of the JSON so binary payloads cost no base64 and round-trip byte for byte;
 * its kind is kept because aedes' persistence contract returns string payloads as strings.
 */
import { LogCorruptError } from '../errors.js';

export const STATE_NAMESPACE = Buffer.from('mqtt:', 'utf8');

export type StateKind = 'r' | 's' | 'o' | 'i' | 'w';

/** A stored packet: whatever fields aedes put on it. `payload` is a Buffer or a string. */
export interface StoredPacket {
  [field: string]: unknown;
  cmd?: string;
  topic?: string;
  payload?: Buffer | string;
  messageId?: number | undefined;
  brokerId?: string;
  brokerCounter?: number;
  clientId?: string;
}

const PACKET_VERSION = 1;
const PACKET_HEADER_BYTES = 6;
const U16_MAX = 0xffff;

export function kindPrefix(kind: StateKind): Buffer {
  return Buffer.concat([STATE_NAMESPACE, Buffer.from(kind, 'utf8')]);
}

function clientPart(clientId: string): Buffer {
  const id = Buffer.from(clientId, 'utf8');
  if (id.length > U16_MAX) throw new RangeError(`client id of ${id.length} bytes is over ${U16_MAX}`);
  const len = Buffer.alloc(2);
  len.writeUInt16BE(id.length);
  return Buffer.concat([len, id]);
}

export function retainedKey(topic: string): Buffer {
  return Buffer.concat([kindPrefix('r'), Buffer.from(topic, 'utf8')]);
}

export function clientPrefix(kind: StateKind, clientId: string): Buffer {
  return Buffer.concat([kindPrefix(kind), clientPart(clientId)]);
}

export function subKey(clientId: string, topic: string): Buffer {
  return Buffer.concat([clientPrefix('s', clientId), Buffer.from(topic, 'utf8')]);
}

export function outgoingKey(clientId: string, seq: number): Buffer {
  const s = Buffer.alloc(8);
  s.writeBigUInt64BE(BigInt(seq));
  return Buffer.concat([clientPrefix('o', clientId), s]);
}

export function incomingKey(clientId: string, messageId: number): Buffer {
  const m = Buffer.alloc(2);
  m.writeUInt16BE(messageId);
  return Buffer.concat([clientPrefix('i', clientId), m]);
}

export function willKey(clientId: string): Buffer {
  return clientPrefix('w', clientId);
}

/** Splits a client-scoped key into the client id and what follows it. */
export function parseClientKey(key: Buffer): { clientId: string; rest: Buffer } {
  const start = STATE_NAMESPACE.length + 1;
  if (key.length < start + 2) throw new LogCorruptError(`state key ${key.toString('hex')} is too short`);
  const len = key.readUInt16BE(start);
  const end = start + 2 + len;
  if (key.length < end) throw new LogCorruptError(`state key ${key.toString('hex')} has a truncated client id`);
  return { clientId: key.toString('utf8', start + 2, end), rest: key.subarray(end) };
}

export function encodePacket(packet: StoredPacket): Buffer {
  const { payload, ...fields } = packet;
  const json = Buffer.from(JSON.stringify(fields), 'utf8');
  const body = payload === undefined ? Buffer.alloc(0) : typeof payload === 'string' ? Buffer.from(payload, 'utf8') : payload;
  const header = Buffer.alloc(PACKET_HEADER_BYTES);
  header.writeUInt8(PACKET_VERSION, 0);
  header.writeUInt8(payload === undefined ? 0 : typeof payload === 'string' ? 2 : 1, 1);
  header.writeUInt32BE(json.length, 2);
  return Buffer.concat([header, json, body]);
}

export function decodePacket(value: Buffer): StoredPacket {
  if (value.length < PACKET_HEADER_BYTES || value.readUInt8(0) !== PACKET_VERSION) {
    throw new LogCorruptError(`stored MQTT packet has an unknown version or is truncated (${value.length} bytes)`);
  }
  const kind = value.readUInt8(1);
  const jsonEnd = PACKET_HEADER_BYTES + value.readUInt32BE(2);
  if (jsonEnd > value.length) throw new LogCorruptError('stored MQTT packet is truncated');
  const packet = JSON.parse(value.toString('utf8', PACKET_HEADER_BYTES, jsonEnd)) as StoredPacket;
  // Copy: the value may point into LMDB's map, which is only valid inside its read transaction.
  const bytes = Buffer.from(value.subarray(jsonEnd));
  if (kind === 1) packet.payload = bytes;
  else if (kind === 2) packet.payload = bytes.toString('utf8');
  return packet;
}
