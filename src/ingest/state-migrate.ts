/**
 * State layout 1, read for the in-place upgrade to layout 2 (state-codec.ts). Layout 1 had no version
 * key and kept the names in the keys:
 *
 *   retained  := "mqtt:r" topic                    sub      := "mqtt:s" client topic
 *   outgoing  := "mqtt:o" client seq (u64)         incoming := "mqtt:i" client messageId (u16)
 *   will      := "mqtt:w" client
 *   client    := u16 length, UTF-8 bytes           topic    := UTF-8 bytes to the end of the key
 *   packet    := version u8 (= 1), kind u8, jsonLength u32, json, payload   (sub values: JSON)
 *
 * Layout 2's packet body is layout 1's packet without its version byte.
 */
import { LogCorruptError } from '../errors.js';
import { decodePacketBody, kindPrefix, STATE_NAMESPACE, type StateKind, type StoredPacket } from './state-codec.js';

export interface Layout1State {
  /** Every layout 1 key, to delete. */
  keys: Buffer[];
  retained: Array<{ topic: string; packet: StoredPacket }>;
  subs: Array<{ clientId: string; topic: string; record: unknown }>;
  outgoing: Array<{ clientId: string; seq: number; packet: StoredPacket }>;
  incoming: Array<{ clientId: string; messageId: number; packet: StoredPacket }>;
  wills: Array<{ clientId: string; packet: StoredPacket }>;
}

export interface StateScan {
  stateScan(prefix: Buffer): Array<[Buffer, Buffer]>;
}

export function readLayout1(table: StateScan): Layout1State {
  const state: Layout1State = { keys: [], retained: [], subs: [], outgoing: [], incoming: [], wills: [] };
  const scan = (kind: StateKind, visit: (key: Buffer, value: Buffer) => void): void => {
    for (const [key, value] of table.stateScan(kindPrefix(kind))) {
      state.keys.push(key);
      visit(key, value);
    }
  };
  const prefixBytes = kindPrefix('r').length;
  scan('r', (key, value) => state.retained.push({ topic: key.toString('utf8', prefixBytes), packet: decodePacket1(value) }));
  scan('s', (key, value) => {
    const { clientId, rest } = parseClientKey1(key);
    state.subs.push({ clientId, topic: rest.toString('utf8'), record: JSON.parse(value.toString('utf8')) });
  });
  scan('o', (key, value) => {
    const { clientId, rest } = parseClientKey1(key);
    state.outgoing.push({ clientId, seq: Number(rest.readBigUInt64BE(0)), packet: decodePacket1(value) });
  });
  scan('i', (key, value) => {
    const { clientId, rest } = parseClientKey1(key);
    state.incoming.push({ clientId, messageId: rest.readUInt16BE(0), packet: decodePacket1(value) });
  });
  scan('w', (key, value) => state.wills.push({ clientId: parseClientKey1(key).clientId, packet: decodePacket1(value) }));
  return state;
}

function parseClientKey1(key: Buffer): { clientId: string; rest: Buffer } {
  const start = STATE_NAMESPACE.length + 1;
  if (key.length < start + 2) throw new LogCorruptError(`state key ${key.toString('hex')} is too short`);
  const end = start + 2 + key.readUInt16BE(start);
  if (key.length < end) throw new LogCorruptError(`state key ${key.toString('hex')} has a truncated client id`);
  return { clientId: key.toString('utf8', start + 2, end), rest: key.subarray(end) };
}

function decodePacket1(value: Buffer): StoredPacket {
  if (value.length < 1 || value.readUInt8(0) !== 1) throw new LogCorruptError(`layout 1 MQTT packet has an unknown version or is truncated (${value.length} bytes)`);
  return decodePacketBody(value.subarray(1));
}
