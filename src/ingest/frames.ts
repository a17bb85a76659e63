/**
 * MQTT framing below aedes: a client's byte stream cut into whole control packets (fixed header and
 * body), and the one packet the broker takes without aedes, a PUBLISH, read from its bytes.
 *
 * Invariants:
 * - `FrameSplitter` hands out every byte it was fed, once, in order, as whole frames: a frame within
 *   one chunk is a view of that chunk (no copy); one spanning chunks is copied once into a buffer of
 *   its exact size, allocated when its fixed header is complete (so a large packet is never copied
 *   chunk by chunk into ever larger buffers).
 * - A fixed header announcing more than `frameBytesMax` bytes is refused before any of its body is
 *   kept, and so is a malformed one (reserved packet type 0 or 15 [MQTT-2.2.1], a remaining length
 *   longer than four bytes [MQTT-2.2.3]). After a violation the splitter hands out nothing more.
 * - `parsePublish` returns only what mqtt-packet's parser would parse to the same packet for MQTT
 *   3.1/3.1.1, and null for anything it does not take (another type, QoS 3, DUP on QoS 0, a topic or
 *   packet id cut off, which mqtt-packet reads as id -1): such a frame is left to aedes, whose handling of it stays the reference.
 */

export type ViolationReason = 'oversized' | 'malformed' | 'slow-client';

export interface Violation {
  reason: ViolationReason;
  detail: string;
}

/** The longest fixed header: a type byte and a four-byte remaining length. */
const HEADER_MAX = 5;

export class FrameSplitter {
  private chunk: Buffer | null = null;
  private pos = 0;
  /** The fixed header being read, when it spans chunks (or has just been read). */
  private readonly head = Buffer.alloc(HEADER_MAX);
  private headLength = 0;
  /** A frame spanning chunks: its buffer (exact size) and how much of it is filled. */
  private frame: Buffer | null = null;
  private filled = 0;
  private violation: Violation | null = null;

  constructor(private readonly frameBytesMax: number) {}

  /** Gives the splitter the socket's next chunk; only once `next` has returned null. */
  feed(chunk: Buffer): void {
    if (this.chunk !== null) throw new Error('FrameSplitter.feed: the previous chunk is not consumed yet');
    if (chunk.length > 0) {
      this.chunk = chunk;
      this.pos = 0;
    }
  }

  /** The next whole frame, a violation (final), or null when more bytes are needed. */
  next(): Buffer | Violation | null {
    if (this.violation !== null) return this.violation;
    while (this.chunk !== null) {
      const chunk = this.chunk;
      if (this.frame !== null) {
        const n = Math.min(this.frame.length - this.filled, chunk.length - this.pos);
        chunk.copy(this.frame, this.filled, this.pos, this.pos + n);
        this.filled += n;
        this.advance(n);
        if (this.filled === this.frame.length) {
          const whole = this.frame;
          this.frame = null;
          return whole;
        }
        continue;
      }
      const start = this.pos;
      const headFromStart = this.headLength === 0;
      // Collect the fixed header byte by byte: a type byte, then the varint up to its last byte.
      while (this.pos < chunk.length) {
        const byte = chunk[this.pos++] as number;
        this.head[this.headLength++] = byte;
        if (this.headLength === 1) {
          const type = byte >> 4;
          if (type === 0 || type === 15) return this.violate('malformed', `reserved packet type ${type}`);
          continue;
        }
        if ((byte & 0x80) === 0) break;
        if (this.headLength === HEADER_MAX) return this.violate('malformed', 'remaining length longer than 4 bytes');
      }
      const complete = this.headLength >= 2 && ((this.head[this.headLength - 1] as number) & 0x80) === 0;
      if (!complete) {
        this.advance(0);
        continue;
      }
      const length = remainingLength(this.head, this.headLength);
      if (length > this.frameBytesMax) return this.violate('oversized', `packet of ${length} bytes announced; the limit is ${this.frameBytesMax}`);
      const headLength = this.headLength;
      this.headLength = 0;
      if (headFromStart && chunk.length - this.pos >= length) {
        // The whole frame is in this chunk: a view of it.
        this.pos += length;
        const whole = chunk.subarray(start, this.pos);
        this.advance(0);
        return whole;
      }
      this.frame = Buffer.allocUnsafe(headLength + length);
      this.head.copy(this.frame, 0, 0, headLength);
      this.filled = headLength;
      if (length === 0) {
        const whole = this.frame;
        this.frame = null;
        this.advance(0);
        return whole;
      }
      this.advance(0);
    }
    return null;
  }

  /** Moves past `n` bytes; drops the chunk once it is consumed. */
  private advance(n: number): void {
    this.pos += n;
    if (this.chunk !== null && this.pos >= this.chunk.length) {
      this.chunk = null;
      this.pos = 0;
    }
  }

  private violate(reason: ViolationReason, detail: string): Violation {
    this.violation = { reason, detail };
    this.chunk = null;
    this.frame = null;
    return this.violation;
  }
}

function remainingLength(head: Buffer, headLength: number): number {
  let length = 0;
  let multiplier = 1;
  for (let i = 1; i < headLength; i++) {
    length += ((head[i] as number) & 0x7f) * multiplier;
    multiplier *= 128;
  }
  return length;
}

/** The fields of a PUBLISH that aedes' handlers and its `Packet` read (mqtt-packet's names). */
export class PublishFrame {
  readonly cmd = 'publish';
  readonly retain: boolean;
  constructor(
    readonly topic: string,
    readonly payload: Buffer,
    readonly qos: 0 | 1 | 2,
    readonly dup: boolean,
    readonly messageId: number | undefined,
    retain: boolean,
  ) {
    this.retain = retain;
  }
}

/**
 * A PUBLISH of MQTT 3.1/3.1.1 read from its whole frame, or null when the frame is anything else or
 * anything mqtt-packet would refuse. The topic is decoded as mqtt-packet decodes it (`toString`, no
 * validation); the payload is a view of the frame.
 */
export function parsePublish(frame: Buffer): PublishFrame | null {
  const first = frame[0] as number;
  if (first >> 4 !== 3) return null;
  const qos = (first >> 1) & 0x03;
  const dup = (first & 0x08) !== 0;
  if (qos === 3 || (qos === 0 && dup)) return null;
  let pos = 1;
  while (pos < frame.length && ((frame[pos] as number) & 0x80) !== 0) pos++;
  pos++;
  if (pos + 2 > frame.length) return null;
  const topicLength = frame.readUInt16BE(pos);
  pos += 2;
  if (pos + topicLength > frame.length) return null;
  const topic = frame.toString('utf8', pos, pos + topicLength);
  pos += topicLength;
  let messageId: number | undefined;
  if (qos > 0) {
    if (pos + 2 > frame.length) return null;
    messageId = frame.readUInt16BE(pos);
    pos += 2;
  }
  return new PublishFrame(topic, frame.subarray(pos), qos as 0 | 1 | 2, dup, messageId, (first & 0x01) !== 0);
}
