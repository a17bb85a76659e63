/**
 * MQTT-SN v1.2 (IBM, 14 Nov 2013) codec: every message type of the spec, both directions.
 *
 * Wire grammar (all integers big-endian; clause numbers are the spec's):
 *
 *   message   = header body
 *   header    = Length(1) MsgType(1)                   when the whole message is 2..255 bytes   [5.2.1]
 *             | 0x01 Length(2) MsgType(1)              when it is 256..65535 bytes
 *               Length counts the whole message, header included. Both forms are accepted on input
 *               (the long form even for short messages); the short form is written whenever it fits.
 *   Flags(1)  = DUP(b7) QoS(b6..5: 00=0 01=1 10=2 11=-1) Retain(b4) Will(b3) CleanSession(b2)
 *               TopicIdType(b1..0: 00 normal, 01 predefined, 10 short name, 11 reserved)      [5.3.4]
 *
 *   0x00 ADVERTISE     GwId(1) Duration(2)                    0x01 SEARCHGW      Radius(1)
 *   0x02 GWINFO        GwId(1) GwAdd(n)                       0x04 CONNECT       Flags ProtocolId(1)=0x01 Duration(2) ClientId(1..23)
 *   0x05 CONNACK       ReturnCode(1)                          0x06 WILLTOPICREQ  -
 *   0x07 WILLTOPIC     [Flags WillTopic(n)] (empty: no will)  0x08 WILLMSGREQ    -
 *   0x09 WILLMSG       WillMsg(n)                             0x0A REGISTER      TopicId(2) MsgId(2) TopicName(n)
 *   0x0B REGACK        TopicId(2) MsgId(2) ReturnCode(1)      0x0C PUBLISH       Flags TopicId(2) MsgId(2) Data(n)
 *   0x0D PUBACK        TopicId(2) MsgId(2) ReturnCode(1)      0x0E PUBCOMP, 0x0F PUBREC, 0x10 PUBREL: MsgId(2)
 *   0x12 SUBSCRIBE     Flags MsgId(2) (TopicName(n) | TopicId(2) | ShortName(2))
 *   0x13 SUBACK        Flags TopicId(2) MsgId(2) ReturnCode(1)
 *   0x14 UNSUBSCRIBE   Flags MsgId(2) (TopicName(n) | TopicId(2) | ShortName(2))
 *   0x15 UNSUBACK      MsgId(2)                               0x16 PINGREQ       [ClientId(n)]
 *   0x17 PINGRESP      -                                      0x18 DISCONNECT    [Duration(2)]
 *   0x1A WILLTOPICUPD  [Flags WillTopic(n)] (empty: delete)   0x1B WILLTOPICRESP ReturnCode(1)
 *   0x1C WILLMSGUPD    WillMsg(n)                             0x1D WILLMSGRESP   ReturnCode(1)
 *   (0xFE forwarder encapsulation: encapsulation.ts)
 *
 * Strings (client ids, topic names) must be valid UTF-8; data and will messages are bytes. Anything
 * else is a CodecError whose `reason` is the drop counter's label: the codec never throws anything
 * else on bad input, so one datagram can only ever cost itself.
 */
import { CodecError } from './errors.js';

export const MsgType = {
  ADVERTISE: 0x00, SEARCHGW: 0x01, GWINFO: 0x02, CONNECT: 0x04, CONNACK: 0x05, WILLTOPICREQ: 0x06,
  WILLTOPIC: 0x07, WILLMSGREQ: 0x08, WILLMSG: 0x09, REGISTER: 0x0a, REGACK: 0x0b, PUBLISH: 0x0c,
  PUBACK: 0x0d, PUBCOMP: 0x0e, PUBREC: 0x0f, PUBREL: 0x10, SUBSCRIBE: 0x12, SUBACK: 0x13,
  UNSUBSCRIBE: 0x14, UNSUBACK: 0x15, PINGREQ: 0x16, PINGRESP: 0x17, DISCONNECT: 0x18,
  WILLTOPICUPD: 0x1a, WILLTOPICRESP: 0x1b, WILLMSGUPD: 0x1c, WILLMSGRESP: 0x1d, ENCAPSULATED: 0xfe,
} as const;

/** Return codes [5.3.10]. */
export const ReturnCode = { ACCEPTED: 0, CONGESTION: 1, INVALID_TOPIC_ID: 2, NOT_SUPPORTED: 3 } as const;

export type QoS = -1 | 0 | 1 | 2;
export type TopicIdType = 'normal' | 'predefined' | 'short';

/** A topic as PUBLISH/SUBSCRIBE carry it: an id (normal or predefined), a 2-character name, or a full name (SUBSCRIBE only). */
export type TopicRef = { kind: 'normal' | 'predefined'; id: number } | { kind: 'short'; name: string } | { kind: 'name'; name: string };

export interface Flags { dup: boolean; qos: QoS; retain: boolean; will: boolean; cleanSession: boolean; topicIdType: TopicIdType }

export type Message =
  | { type: 'ADVERTISE'; gwId: number; duration: number }
  | { type: 'SEARCHGW'; radius: number }
  | { type: 'GWINFO'; gwId: number; gwAdd: Buffer }
  | { type: 'CONNECT'; will: boolean; cleanSession: boolean; duration: number; clientId: string }
  | { type: 'CONNACK'; returnCode: number }
  | { type: 'WILLTOPICREQ' }
  | { type: 'WILLTOPIC'; will: { qos: 0 | 1 | 2; retain: boolean; topic: string } | null }
  | { type: 'WILLMSGREQ' }
  | { type: 'WILLMSG'; message: Buffer }
  | { type: 'REGISTER'; topicId: number; msgId: number; topicName: string }
  | { type: 'REGACK'; topicId: number; msgId: number; returnCode: number }
  | { type: 'PUBLISH'; dup: boolean; qos: QoS; retain: boolean; topic: TopicRef & { kind: 'normal' | 'predefined' | 'short' }; msgId: number; data: Buffer }
  | { type: 'PUBACK'; topicId: number; msgId: number; returnCode: number }
  | { type: 'PUBCOMP' | 'PUBREC' | 'PUBREL' | 'UNSUBACK'; msgId: number }
  | { type: 'SUBSCRIBE'; dup: boolean; qos: 0 | 1 | 2; msgId: number; topic: TopicRef }
  | { type: 'UNSUBSCRIBE'; dup: boolean; qos: 0 | 1 | 2; msgId: number; topic: TopicRef }
  | { type: 'SUBACK'; qos: 0 | 1 | 2; topicId: number; msgId: number; returnCode: number }
  | { type: 'PINGREQ'; clientId: string | null }
  | { type: 'PINGRESP' }
  | { type: 'DISCONNECT'; duration: number | null }
  | { type: 'WILLTOPICUPD'; will: { qos: 0 | 1 | 2; retain: boolean; topic: string } | null }
  | { type: 'WILLTOPICRESP' | 'WILLMSGRESP'; returnCode: number }
  | { type: 'WILLMSGUPD'; message: Buffer };

export type MessageTypeName = Message['type'];

/** The longest message the 3-byte length form can state. */
export const MESSAGE_BYTES_MAX = 0xffff;
/** [5.3.1] ClientId is 1..23 characters; longer ids are accepted (many devices send MAC-derived ids) up to this. */
export const CLIENT_ID_BYTES_MAX = 64;

const NAMES = new Map<number, MessageTypeName>(Object.entries(MsgType).filter(([n]) => n !== 'ENCAPSULATED').map(([n, v]) => [v, n as MessageTypeName]));
const QOS_BITS: readonly QoS[] = [0, 1, 2, -1];
const ID_TYPES: ReadonlyArray<TopicIdType | null> = ['normal', 'predefined', 'short', null];
const utf8 = new TextDecoder('utf-8', { fatal: true });

/** The header of `buf`: where the body starts and the declared length; throws on a bad length. */
export function readHeader(buf: Buffer): { length: number; headerBytes: number; type: number } {
  if (buf.length < 2) throw new CodecError(`${buf.length} bytes: shorter than any header`, 'truncated');
  const long = buf[0] === 0x01;
  const headerBytes = long ? 4 : 2;
  if (buf.length < headerBytes) throw new CodecError('3-byte length field cut short', 'truncated');
  const length = long ? buf.readUInt16BE(1) : (buf[0] as number);
  if (length < headerBytes) throw new CodecError(`length ${length} is less than its own header`, 'bad-length');
  return { length, headerBytes, type: buf[headerBytes - 1] as number };
}

/** Decodes one whole datagram. The declared length must equal the datagram's: MQTT-SN has one message per datagram. */
export function decode(buf: Buffer): Message {
  const { length, headerBytes, type } = readHeader(buf);
  if (length !== buf.length) throw new CodecError(`length field says ${length}, datagram has ${buf.length} bytes`, length > buf.length ? 'truncated' : 'bad-length');
  const name = NAMES.get(type);
  if (name === undefined) throw new CodecError(`message type 0x${type.toString(16)} is not in MQTT-SN 1.2`, 'unknown-type');
  return decodeBody(name, new Body(buf.subarray(headerBytes)));
}

function decodeBody(type: MessageTypeName, b: Body): Message {
  switch (type) {
    case 'ADVERTISE': return b.end({ type, gwId: b.u8(), duration: b.u16() });
    case 'SEARCHGW': return b.end({ type, radius: b.u8() });
    case 'GWINFO': return { type, gwId: b.u8(), gwAdd: b.rest() };
    case 'CONNECT': {
      const f = b.flags();
      if (b.u8() !== 0x01) throw new CodecError('CONNECT protocol id is not 0x01', 'malformed'); // [5.4.4]
      const duration = b.u16();
      const clientId = b.text();
      if (clientId.length === 0 || Buffer.byteLength(clientId) > CLIENT_ID_BYTES_MAX) throw new CodecError(`client id of ${Buffer.byteLength(clientId)} bytes`, 'malformed');
      return { type, will: f.will, cleanSession: f.cleanSession, duration, clientId };
    }
    case 'CONNACK': case 'WILLTOPICRESP': case 'WILLMSGRESP': return b.end({ type, returnCode: b.u8() });
    case 'WILLTOPICREQ': case 'WILLMSGREQ': case 'PINGRESP': return b.end({ type });
    case 'WILLTOPIC': case 'WILLTOPICUPD': {
      // [5.4.7] an empty WILLTOPIC (no Flags, no WillTopic) means no will; Flags with an empty topic is read the same way.
      if (b.left() === 0) return { type, will: null };
      const f = b.flags();
      if (f.qos === -1) throw new CodecError(`${type} with QoS -1`, 'malformed');
      const topic = b.text();
      return { type, will: topic === '' ? null : { qos: f.qos, retain: f.retain, topic } };
    }
    case 'WILLMSG': case 'WILLMSGUPD': return { type, message: b.rest() };
    case 'REGISTER': return { type, topicId: b.u16(), msgId: b.u16(), topicName: nonEmpty(b.text(), 'topic name') };
    case 'REGACK': case 'PUBACK': return b.end({ type, topicId: b.u16(), msgId: b.u16(), returnCode: b.u8() });
    case 'PUBLISH': {
      const f = b.flags();
      const raw = b.u16();
      const topic = f.topicIdType === 'short' ? { kind: 'short' as const, name: shortName(raw) } : { kind: f.topicIdType, id: raw };
      return { type, dup: f.dup, qos: f.qos, retain: f.retain, topic, msgId: b.u16(), data: b.rest() };
    }
    case 'PUBCOMP': case 'PUBREC': case 'PUBREL': case 'UNSUBACK': return b.end({ type, msgId: b.u16() });
    case 'SUBSCRIBE': case 'UNSUBSCRIBE': {
      const f = b.flags();
      if (f.qos === -1 && type === 'SUBSCRIBE') throw new CodecError('SUBSCRIBE with QoS -1', 'malformed');
      const msgId = b.u16();
      const topic: TopicRef =
        f.topicIdType === 'normal' ? { kind: 'name', name: nonEmpty(b.text(), 'topic filter') }
        : f.topicIdType === 'short' ? { kind: 'short', name: shortName(b.u16()) }
        : { kind: 'predefined', id: b.u16() };
      return b.end({ type, dup: f.dup, qos: f.qos === -1 ? 0 : f.qos, msgId, topic } as Message);
    }
    case 'SUBACK': {
      const f = b.flags();
      if (f.qos === -1) throw new CodecError('SUBACK with QoS -1', 'malformed');
      return b.end({ type, qos: f.qos, topicId: b.u16(), msgId: b.u16(), returnCode: b.u8() });
    }
    case 'PINGREQ': return { type, clientId: b.left() === 0 ? null : b.text() };
    case 'DISCONNECT': return b.end({ type, duration: b.left() === 0 ? null : b.u16() });
  }
}

/** Encodes one message, short length form when it fits. Throws CodecError if it would exceed 65,535 bytes. */
export function encode(m: Message): Buffer {
  const body = encodeBody(m);
  const type = MsgType[m.type];
  const total = body.length + 2 <= 0xff ? body.length + 2 : body.length + 4;
  if (total > MESSAGE_BYTES_MAX) throw new CodecError(`${m.type} of ${total} bytes exceeds ${MESSAGE_BYTES_MAX}`, 'bad-length');
  const out = Buffer.allocUnsafe(total);
  if (total <= 0xff) out.writeUInt8(total, 0);
  else {
    out.writeUInt8(0x01, 0);
    out.writeUInt16BE(total, 1);
  }
  out.writeUInt8(type, total - body.length - 1);
  body.copy(out, total - body.length);
  return out;
}

function encodeBody(m: Message): Buffer {
  const w = new Writer();
  switch (m.type) {
    case 'ADVERTISE': return w.u8(m.gwId).u16(m.duration).done();
    case 'SEARCHGW': return w.u8(m.radius).done();
    case 'GWINFO': return w.u8(m.gwId).bytes(m.gwAdd).done();
    case 'CONNECT': return w.flags({ will: m.will, cleanSession: m.cleanSession }).u8(0x01).u16(m.duration).text(m.clientId).done();
    case 'CONNACK': case 'WILLTOPICRESP': case 'WILLMSGRESP': return w.u8(m.returnCode).done();
    case 'WILLTOPICREQ': case 'WILLMSGREQ': case 'PINGRESP': return w.done();
    case 'WILLTOPIC': case 'WILLTOPICUPD': return m.will === null ? w.done() : w.flags({ qos: m.will.qos, retain: m.will.retain }).text(m.will.topic).done();
    case 'WILLMSG': case 'WILLMSGUPD': return w.bytes(m.message).done();
    case 'REGISTER': return w.u16(m.topicId).u16(m.msgId).text(m.topicName).done();
    case 'REGACK': case 'PUBACK': return w.u16(m.topicId).u16(m.msgId).u8(m.returnCode).done();
    case 'PUBLISH': {
      const t = m.topic;
      const idType: TopicIdType = t.kind === 'short' ? 'short' : t.kind;
      w.flags({ dup: m.dup, qos: m.qos, retain: m.retain, topicIdType: idType });
      return (t.kind === 'short' ? w.short(t.name) : w.u16(t.id)).u16(m.msgId).bytes(m.data).done();
    }
    case 'PUBCOMP': case 'PUBREC': case 'PUBREL': case 'UNSUBACK': return w.u16(m.msgId).done();
    case 'SUBSCRIBE': case 'UNSUBSCRIBE': {
      const t = m.topic;
      w.flags({ dup: m.dup, qos: m.qos, topicIdType: t.kind === 'name' ? 'normal' : t.kind === 'short' ? 'short' : 'predefined' }).u16(m.msgId);
      return (t.kind === 'name' ? w.text(t.name) : t.kind === 'short' ? w.short(t.name) : w.u16(t.id)).done();
    }
    case 'SUBACK': return w.flags({ qos: m.qos }).u16(m.topicId).u16(m.msgId).u8(m.returnCode).done();
    case 'PINGREQ': return (m.clientId === null ? w : w.text(m.clientId)).done();
    case 'DISCONNECT': return (m.duration === null ? w : w.u16(m.duration)).done();
  }
}

/** A short topic name is exactly two characters, carried in the topic id field [3 "short topic name"]. */
function shortName(raw: number): string {
  const name = Buffer.from([raw >> 8, raw & 0xff]).toString('latin1');
  if (!/^[\x20-\x7e]{2}$/.test(name) || name.includes('+') || name.includes('#')) throw new CodecError('short topic name is not two printable characters', 'malformed');
  return name;
}

function nonEmpty(s: string, what: string): string {
  if (s.length === 0) throw new CodecError(`empty ${what}`, 'malformed');
  return s;
}

/** A cursor over a message body; every read past the end is a CodecError, never a RangeError. */
class Body {
  private at = 0;
  constructor(private readonly buf: Buffer) {}
  left(): number { return this.buf.length - this.at; }
  private need(n: number): void { if (this.left() < n) throw new CodecError(`body cut short: needs ${n} more bytes, has ${this.left()}`, 'truncated'); }
  u8(): number { this.need(1); return this.buf[this.at++] as number; }
  u16(): number { this.need(2); const v = this.buf.readUInt16BE(this.at); this.at += 2; return v; }
  rest(): Buffer { const r = Buffer.from(this.buf.subarray(this.at)); this.at = this.buf.length; return r; }
  text(): string {
    try {
      return utf8.decode(this.rest());
    } catch {
      throw new CodecError('a string field is not valid UTF-8', 'malformed');
    }
  }
  flags(): Flags {
    const v = this.u8();
    const topicIdType = ID_TYPES[v & 0x03] ?? null;
    if (topicIdType === null) throw new CodecError('topic id type 0b11 is reserved', 'malformed');
    return { dup: (v & 0x80) !== 0, qos: QOS_BITS[(v >> 5) & 0x03] as QoS, retain: (v & 0x10) !== 0, will: (v & 0x08) !== 0, cleanSession: (v & 0x04) !== 0, topicIdType };
  }
  /** Fixed-size messages must end where their fields do. */
  end<T>(m: T): T {
    if (this.left() !== 0) throw new CodecError(`${this.left()} bytes after the last field`, 'bad-length');
    return m;
  }
}

class Writer {
  private readonly parts: Buffer[] = [];
  u8(v: number): this { this.parts.push(Buffer.of(v & 0xff)); return this; }
  u16(v: number): this { const b = Buffer.allocUnsafe(2); b.writeUInt16BE(v & 0xffff); this.parts.push(b); return this; }
  bytes(b: Buffer): this { this.parts.push(b); return this; }
  text(s: string): this { this.parts.push(Buffer.from(s, 'utf8')); return this; }
  short(name: string): this { this.parts.push(Buffer.from(name.padEnd(2, '\0').slice(0, 2), 'latin1')); return this; }
  flags(f: Partial<Flags>): this {
    const qos = QOS_BITS.indexOf(f.qos ?? 0);
    const idType = ID_TYPES.indexOf(f.topicIdType ?? 'normal');
    return this.u8((f.dup ? 0x80 : 0) | (qos << 5) | (f.retain ? 0x10 : 0) | (f.will ? 0x08 : 0) | (f.cleanSession ? 0x04 : 0) | idType);
  }
  done(): Buffer { return Buffer.concat(this.parts); }
}
