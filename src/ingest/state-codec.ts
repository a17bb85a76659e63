/**
 * How MQTT broker state is laid out in the log's `state` table (see persistence.ts): state layout 2.
 *
 * Every name in a key is replaced by its *id*, so a key is at most 6 + 17 + 8 = 31 bytes whatever the
 * names: LMDB keys stop at 511 bytes, while MQTT topics and client ids go up to 65,535 [MQTT-1.5.3].
 * The names themselves are in the value.
 *
 *   version   := "mqtt:v"                          → u8 (= 2)
 *   retained  := "mqtt:r" id(topic)                → entry
 *   sub       := "mqtt:s" id(client, topic)        → entry, body JSON { qos, rh?, rap?, nl?, subscriptionIdentifier? }
 *   outgoing  := "mqtt:o" id(client) seq           → entry, body packet   (seq: u64 big-endian, queue order)
 *   incoming  := "mqtt:i" id(client) messageId     → entry, body packet   (messageId: u16 big-endian)
 *   will      := "mqtt:w" id(client)               → entry, body packet
 *   id(name)  := SHA-256(name)[0..16], slot u8     (17 bytes)
 *
 * The slot makes ids collision-proof: a name takes the first slot of its digest that no other live name
 * of the same kind holds (`KeySpace`), and keeps it while it has entries; at load the ids are read back
 * from the keys, with the names from the values. Two names with one digest (never seen for SHA-256, but
 * handled) just get slots 0 and 1.
 *
 *   entry     := version u8 (= 2), client (u16 length, UTF-8), topic (u16 length, UTF-8), body
 *                (retained: client empty; outgoing, incoming, will: topic empty)
 *   packet    := kind u8, jsonLength u32, json, payload
 *   kind      := 0 no payload | 1 Buffer payload | 2 string payload (UTF-8)
 *   json      := every own field of the packet except `payload`, as JSON (undefined fields are dropped)
 *   payload   := the remaining bytes
 *
 * The payload is kept out of the JSON so binary payloads cost no base64 and round-trip byte for byte;
 * its kind is kept because aedes' persistence contract returns string payloads as strings.
 *
 * Layout 1 (no version key) kept the names themselves in the keys, so a topic over ~500 bytes could
 * not be stored; state-migrate.ts reads it and persistence.ts rewrites it as layout 2 in place.
 */
import { createHash } from 'node:crypto';
import { LogCorruptError } from '../errors.js';

export const STATE_NAMESPACE = Buffer.from('mqtt:', 'utf8');
export const STATE_LAYOUT = 2;
export const VERSION_KEY = Buffer.from('mqtt:v', 'utf8');

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

/** The names an entry belongs to, as stored in its value. */
export interface EntryNames {
  client: string;
  topic: string;
}

const ENTRY_VERSION = 2;
const DIGEST_BYTES = 16;
export const ID_BYTES = DIGEST_BYTES + 1;
const SLOTS = 256;
const U16_MAX = 0xffff;
const PREFIX_BYTES = STATE_NAMESPACE.length + 1;

export function kindPrefix(kind: StateKind): Buffer {
  return Buffer.concat([STATE_NAMESPACE, Buffer.from(kind, 'utf8')]);
}

const PREFIXES: Record<StateKind, Buffer> = { r: kindPrefix('r'), s: kindPrefix('s'), o: kindPrefix('o'), i: kindPrefix('i'), w: kindPrefix('w') };

export type Digest = (name: string) => Buffer;

export const sha256Digest: Digest = (name) => createHash('sha256').update(name, 'utf8').digest().subarray(0, DIGEST_BYTES);

/**
 * The ids of one kind's names (see the layout above). Invariants: a live name has exactly one id, an
 * id belongs to at most one live name, and an id is its name's digest plus a slot. Callers `release` a
 * name when its last entry of this kind is deleted, so the maps hold live names only.
 */
export class KeySpace {
  private readonly idByName = new Map<string, Buffer>();
  private readonly nameById = new Map<string, string>();

  constructor(
    readonly kind: StateKind,
    private readonly digest: Digest = sha256Digest,
  ) {}

  /** The id of `name`: the one it holds, or the first free slot of its digest. */
  idOf(name: string): Buffer {
    const held = this.idByName.get(name);
    if (held !== undefined) return held;
    const digest = this.digest(name);
    if (digest.length !== DIGEST_BYTES) throw new RangeError(`a digest has ${digest.length} bytes, expected ${DIGEST_BYTES}`);
    const id = Buffer.alloc(ID_BYTES);
    digest.copy(id);
    for (let slot = 0; slot < SLOTS; slot++) {
      id[DIGEST_BYTES] = slot;
      const k = id.toString('latin1');
      if (this.nameById.has(k)) continue;
      this.nameById.set(k, name);
      this.idByName.set(name, id);
      return id;
    }
    throw new RangeError(`${SLOTS} names of kind ${this.kind} share one digest`);
  }

  /** At load: `name` holds `id` (from a stored key). A clash with what is known is corruption. */
  adopt(name: string, id: Buffer): void {
    const k = id.toString('latin1');
    const holder = this.nameById.get(k);
    const held = this.idByName.get(name);
    if ((holder !== undefined && holder !== name) || (held !== undefined && !held.equals(id))) {
      throw new LogCorruptError(`state id ${id.toString('hex')} of kind ${this.kind} is claimed by two names`);
    }
    if (!id.subarray(0, DIGEST_BYTES).equals(this.digest(name))) {
      throw new LogCorruptError(`state id ${id.toString('hex')} of kind ${this.kind} does not match the name stored with it`);
    }
    this.nameById.set(k, name);
    this.idByName.set(name, Buffer.from(id));
  }

  release(name: string): void {
    const id = this.idByName.get(name);
    if (id === undefined) return;
    this.idByName.delete(name);
    this.nameById.delete(id.toString('latin1'));
  }

  get size(): number {
    return this.idByName.size;
  }
}

/** The name a subscription's id is derived from: its client and its filter, unambiguously joined. */
export function subName(clientId: string, topic: string): string {
  return `${clientId.length}:${clientId}${topic}`;
}

export function retainedKey(id: Buffer): Buffer {
  return Buffer.concat([PREFIXES.r, id]);
}

export function subKey(id: Buffer): Buffer {
  return Buffer.concat([PREFIXES.s, id]);
}

export function outgoingKey(clientIdOfKey: Buffer, seq: number): Buffer {
  const key = Buffer.allocUnsafe(PREFIX_BYTES + ID_BYTES + 8);
  PREFIXES.o.copy(key);
  clientIdOfKey.copy(key, PREFIX_BYTES);
  key.writeBigUInt64BE(BigInt(seq), PREFIX_BYTES + ID_BYTES);
  return key;
}

export function incomingKey(clientIdOfKey: Buffer, messageId: number): Buffer {
  const key = Buffer.allocUnsafe(PREFIX_BYTES + ID_BYTES + 2);
  PREFIXES.i.copy(key);
  clientIdOfKey.copy(key, PREFIX_BYTES);
  key.writeUInt16BE(messageId, PREFIX_BYTES + ID_BYTES);
  return key;
}

export function willKey(id: Buffer): Buffer {
  return Buffer.concat([PREFIXES.w, id]);
}

/** Splits a layout 2 key of `kind` into its id and what follows it (seq or messageId). */
export function parseKey(kind: StateKind, key: Buffer): { id: Buffer; rest: Buffer } {
  const restBytes = kind === 'o' ? 8 : kind === 'i' ? 2 : 0;
  if (key.length !== PREFIX_BYTES + ID_BYTES + restBytes) throw new LogCorruptError(`state key ${key.toString('hex')} of kind ${kind} has ${key.length} bytes`);
  return { id: key.subarray(PREFIX_BYTES, PREFIX_BYTES + ID_BYTES), rest: key.subarray(PREFIX_BYTES + ID_BYTES) };
}

/** An entry value: the names, then `body`. */
export function encodeEntry(names: EntryNames, body: Buffer | Buffer[]): Buffer {
  const client = Buffer.from(names.client, 'utf8');
  const topic = Buffer.from(names.topic, 'utf8');
  if (client.length > U16_MAX || topic.length > U16_MAX) throw new RangeError(`a name of ${Math.max(client.length, topic.length)} bytes is over ${U16_MAX}`);
  const header = Buffer.allocUnsafe(3);
  header.writeUInt8(ENTRY_VERSION, 0);
  header.writeUInt16BE(client.length, 1);
  const topicLength = Buffer.allocUnsafe(2);
  topicLength.writeUInt16BE(topic.length, 0);
  return Buffer.concat([header, client, topicLength, topic, ...(Array.isArray(body) ? body : [body])]);
}

export function decodeEntry(value: Buffer): { names: EntryNames; body: Buffer } {
  if (value.length < 5 || value.readUInt8(0) !== ENTRY_VERSION) throw new LogCorruptError(`stored MQTT state entry has an unknown version or is truncated (${value.length} bytes)`);
  const clientEnd = 3 + value.readUInt16BE(1);
  if (clientEnd + 2 > value.length) throw new LogCorruptError('stored MQTT state entry has a truncated client id');
  const topicEnd = clientEnd + 2 + value.readUInt16BE(clientEnd);
  if (topicEnd > value.length) throw new LogCorruptError('stored MQTT state entry has a truncated topic');
  return {
    names: { client: value.toString('utf8', 3, clientEnd), topic: value.toString('utf8', clientEnd + 2, topicEnd) },
    body: value.subarray(topicEnd),
  };
}

const PACKET_HEADER_BYTES = 5;

/** The packet body of an entry (layout above). */
export function encodePacketBody(packet: StoredPacket): Buffer[] {
  const { payload, ...fields } = packet;
  const json = Buffer.from(JSON.stringify(fields), 'utf8');
  const bytes = payload === undefined ? Buffer.alloc(0) : typeof payload === 'string' ? Buffer.from(payload, 'utf8') : payload;
  const header = Buffer.allocUnsafe(PACKET_HEADER_BYTES);
  header.writeUInt8(payload === undefined ? 0 : typeof payload === 'string' ? 2 : 1, 0);
  header.writeUInt32BE(json.length, 1);
  return [header, json, bytes];
}

export function decodePacketBody(body: Buffer): StoredPacket {
  if (body.length < PACKET_HEADER_BYTES) throw new LogCorruptError(`stored MQTT packet is truncated (${body.length} bytes)`);
  const kind = body.readUInt8(0);
  const jsonEnd = PACKET_HEADER_BYTES + body.readUInt32BE(1);
  if (jsonEnd > body.length || kind > 2) throw new LogCorruptError('stored MQTT packet is truncated or of an unknown kind');
  const packet = JSON.parse(body.toString('utf8', PACKET_HEADER_BYTES, jsonEnd)) as StoredPacket;
  // Copy: the value may point into LMDB's map, which is only valid inside its read transaction.
  const bytes = Buffer.from(body.subarray(jsonEnd));
  if (kind === 1) packet.payload = bytes;
  else if (kind === 2) packet.payload = bytes.toString('utf8');
  return packet;
}

export function encodePacketEntry(names: EntryNames, packet: StoredPacket): Buffer {
  return encodeEntry(names, encodePacketBody(packet));
}
