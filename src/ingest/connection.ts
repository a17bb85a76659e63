/**
 * The stream aedes sees for one client: a thin Duplex over the real socket (TCP, TLS or WebSocket) that
 * enforces three limits aedes cannot, and lets the common PUBLISH go around aedes:
 *
 * 1. **No reading while the client's appends are pending.** Up to `appendsInFlightMax` publishes of one
 *    client may wait for their group commit at once (so a client with a window of QoS 1 messages in
 *    flight fills a commit instead of sending one record per commit); at that bound nothing more is
 *    read from it until one is committed. aedes reads a whole chunk, dispatches every packet in it
 *    at once, and reads again when a counter of unfinished packets reaches 0 (lib/client.js `nextBatch`).
 *    But that counter is also decremented by every `readable` event, and a socket emits one for each
 *    chunk that arrives while packets are pending, so with one publish in flight the next chunk is read
 *    at once and backpressure leaks (test/e2e/ingest-backpressure.test.ts shows it). Here the socket's
 *    bytes are cut into whole packets (frames.ts) and handed on one packet at a time; while
 *    `appendsInFlightMax` `hold()`s are outstanding nothing more is handed on nor pulled from the
 *    socket, its buffer fills, and TCP flow control pushes back on the client.
 * 2. **Frame size.** mqtt-packet buffers a packet until it is complete and aedes gives it no size limit,
 *    so a client announcing a 200 MB PUBLISH would make us buffer 200 MB. The fixed header of every
 *    packet is read first; one announcing more than `frameBytesMax` is refused before its body is
 *    buffered, and so is a malformed fixed header.
 * 3. **Write buffer.** Writes are handed to the socket at once and reported done, so one slow subscriber
 *    never stalls aedes' delivery to everyone else; instead, a client that lets more than
 *    `writeBufferMaxBytes` pile up unread in its socket is disconnected.
 * 4. **The fast path** (fast-publish.ts, issue 13). Once the client is connected, a PUBLISH is offered to
 *    `fast` before aedes: taken, it is appended and acked (`ack`) without aedes parsing it or building
 *    its per-packet state; declined (anything unusual), it goes to aedes as before. Order is kept both
 *    ways: a PUBLISH is taken only when aedes has nothing of this client's ahead of it (no bytes unread
 *    by aedes, no packet it has not finished handling, no append it started still in flight), and a
 *    packet for aedes (or the end of the stream) is handed on only once every PUBLISH taken before it
 *    is settled.
 * 5. **aedes gets packets together only while they are PUBLISHes of one kind.** aedes handles every
 *    packet of a read at once, each through its own chain of callbacks, and the chain depends on the
 *    PUBLISH's QoS and retain flag: a QoS 2 or retained PUBLISH takes longer than a plain one (QoS 0 or
 *    1, not retained), so its ack would be written after those of plain ones sent after it
 *    [MQTT-4.6.0-2, -3]. Its DISCONNECT handler destroys the connection at once, so a DISCONNECT read
 *    with PUBLISHes would close the connection while their appends wait for the commit, and their
 *    PUBACKs would never be written. So a PUBLISH is handed to aedes while the packets it is handling
 *    are PUBLISHes with the same QoS and retain flag (whose chains run first in, first out: the same
 *    steps, the same FIFO commit queue); any other packet (SUBSCRIBE, PINGREQ, DISCONNECT, a PUBACK,
 *    the end of the stream) and a PUBLISH of another kind only once aedes has finished every packet
 *    before it (a PUBLISH's handling ends with its ack written). aedes' finishing is counted through
 *    `countHandled`, which ingest.ts wires to aedes before the first packet.
 *
 * Violations call `onViolation(reason, detail)` once and destroy the connection.
 */
import { Duplex } from 'node:stream';
import { FrameSplitter, type Violation, type ViolationReason } from './frames.js';

export type { ViolationReason } from './frames.js';

export interface ConnectionLimits {
  /** Largest MQTT packet (remaining length) accepted from the client. */
  frameBytesMax: number;
  /** Bytes written to the client but not yet taken by its socket before it is disconnected. */
  writeBufferMaxBytes: number;
  /** Appends of this client that may wait for a commit before its socket is no longer read. */
  appendsInFlightMax: number;
}

export interface ClientSocket extends Duplex {
  readonly writableLength: number;
}

/** What takes PUBLISH frames around aedes for one connected client (fast-publish.ts). */
export interface FastPath {
  /** Whether the client is connected and aedes holds none of its packets in its own queue. */
  ready(): boolean;
  /**
   * Takes a whole PUBLISH frame and returns true, calling `settled` once it is acked or has failed
   * (possibly before returning); or declines it (false), and aedes gets it.
   */
  offer(frame: Buffer, settled: () => void): boolean;
}

/** How long a closed connection may take to flush its last acks before the socket is cut. */
const END_GRACE_MS = 2_000;
/** MQTT packet type of PUBLISH. */
const PUBLISH = 3;

type WriteCallback = (err?: Error | null) => void;

/** `kindOf` of a packet that is not a PUBLISH. */
const NOT_A_PUBLISH = -1;

/** From a packet's first byte: for a PUBLISH, its type, QoS and retain flag (the DUP flag cleared) [MQTT-2.2]; else NOT_A_PUBLISH. */
function kindOf(first: number): number {
  return first >> 4 === PUBLISH ? first & ~0x08 : NOT_A_PUBLISH;
}

export class GatedConnection extends Duplex {
  private holds = 0;
  /** PUBLISHes taken by `fast` and not yet settled (each also holds one of `holds` while appending). */
  private fastInFlight = 0;
  /** Packets handed to aedes that it has not finished handling; counted once `countHandled` was called. */
  private aedesPending = 0;
  private countsHandled = false;
  /**
   * The kind of the packets aedes is handling (5): a PUBLISH's first byte without its DUP flag, or
   * NOT_A_PUBLISH, which no packet joins.
   */
  private aedesKind = NOT_A_PUBLISH;
  private handedOnAny = false;
  private readonly handled = (): void => {
    // Each report matches a packet counted when it was handed on; an extra one would let a later packet
    // overtake one aedes is still handling. This connection's order can no longer be kept: it is cut
    // (the client reconnects and resends what was not acked), the other clients go on.
    if (this.aedesPending === 0) return void this.destroy(new Error('GatedConnection: aedes reported a packet handled that was never handed to it'));
    if (--this.aedesPending === 0) this.aedesKind = NOT_A_PUBLISH;
    this.pump();
  };
  private wanted = false;
  private violated = false;
  private stopped = false;
  private socketEnded = false;
  private eofHandedOn = false;
  private pumping = false;
  /** A frame cut from the stream and not yet handed on: it waits for the order rules of (4). */
  private waiting: Buffer | null = null;
  private readonly splitter: FrameSplitter;
  /**
   * Packet ids of the PUBACKs written this tick (the first `ackCount`); they leave in one socket write
   * on the next. The array is kept and reused: a fresh one per tick was the largest allocation that
   * outlived young-generation GCs at a steady load (issue 13).
   */
  private readonly acks: number[] = [];
  private ackCount = 0;
  /** Set once the client is connected (ingest.ts); until then every packet goes to aedes. */
  fast: FastPath | null = null;
  private readonly settleFast = (): void => {
    this.fastInFlight--;
    this.pump();
  };
  private readonly pumpSoon = (): void => this.pump();
  private readonly flushAcks = (): void => this.writeAcks();

  constructor(
    private readonly socket: ClientSocket,
    private readonly limits: ConnectionLimits,
    private readonly onViolation: (reason: ViolationReason, detail: string) => void,
    /** The peer's IP address, when the transport knows it (who may connect anonymously). */
    readonly remoteAddress?: string,
    /** The user its TLS client certificate names, on a `useIdentityAsUsername` listener (listeners.ts). */
    readonly certificateUser?: string | null,
  ) {
    super({ allowHalfOpen: false });
    this.splitter = new FrameSplitter(limits.frameBytesMax);
    socket.on('readable', () => this.pump());
    socket.on('end', () => {
      this.socketEnded = true;
      this.pump();
    });
    socket.on('error', (err: Error) => this.destroy(err));
    socket.on('close', () => this.destroy());
  }

  /** An append for this client started: at `appendsInFlightMax` holds, reading stops until one is released. */
  hold(): void {
    this.holds++;
  }

  /** Whether the client has as many appends waiting as it may: nothing more is read from it until one commits. */
  windowFull(): boolean {
    return this.holds >= this.limits.appendsInFlightMax;
  }

  release(): void {
    this.holds--;
    if (this.holds < this.limits.appendsInFlightMax) this.pump();
  }

  /**
   * From now on aedes reports each packet it finishes handling by calling the function returned (rule
   * 5). Called before the first packet is handed on, so each report matches a packet counted.
   */
  countHandled(): () => void {
    if (this.countsHandled || this.handedOnAny) throw new Error('countHandled: packets were handed on before counting began');
    this.countsHandled = true;
    return this.handled;
  }

  /** Shutdown: nothing more is read from the client or handed to aedes. */
  stopReading(): void {
    this.stopped = true;
  }

  /**
   * aedes wants data. This runs inside aedes' `read()`, before the bytes it reads have left this
   * stream's buffer and before aedes has parsed them, so the pump waits a tick: pumping now could take
   * a PUBLISH around packets that are ahead of it.
   */
  override _read(): void {
    this.wanted = true;
    process.nextTick(this.pumpSoon);
  }

  /**
   * The PUBACK of a PUBLISH the fast path took. The acks of one tick (one group commit's, for this
   * client) leave in one socket write on the next tick; after end or destroy they are dropped, as any
   * write is.
   */
  ack(messageId: number): void {
    if (this.ackCount === 0) process.nextTick(this.flushAcks);
    this.acks[this.ackCount++] = messageId;
  }

  /**
   * Writes bypass the Duplex's own Writable buffer: a chunk goes to the socket at once (so nothing is
   * ever queued here, and `_write` never runs), and cork/uncork cork the socket. mqtt-packet corks its
   * stream for every packet it writes and uncorks on the next tick, so the PUBACKs of a group commit still
   * leave in one writev per client; what the Writable machinery added per write (its state, a buffered
   * entry, a second writev) was ~10% of what serve allocated at a steady load (issue 13).
   */
  override write(chunk: unknown, encoding?: BufferEncoding | WriteCallback, callback?: WriteCallback): boolean {
    const done = typeof encoding === 'function' ? encoding : callback;
    if (this.destroyed || this.writableEnded) {
      // What a Writable does after end() or destroy(): the callback gets the error, the write is dropped.
      const err = Object.assign(new Error(this.destroyed ? 'write after the connection was destroyed' : 'write after end'), {
        code: this.destroyed ? 'ERR_STREAM_DESTROYED' : 'ERR_STREAM_WRITE_AFTER_END',
      });
      if (done) process.nextTick(done, err);
      return false;
    }
    this.socket.write(chunk as Buffer);
    this.checkWriteBuffer();
    if (done) process.nextTick(done, null);
    return true;
  }

  override cork(): void {
    this.socket.cork();
  }

  override uncork(): void {
    this.socket.uncork();
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, done: (err?: Error | null) => void): void {
    // Not reached (write() above does not queue); kept so the Duplex is a complete Writable.
    this.socket.write(chunk);
    done();
  }

  override _final(done: (err?: Error | null) => void): void {
    this.socket.end();
    done();
  }

  /**
   * An error or a violation cuts the socket at once. A plain close (DISCONNECT, shutdown) ends it, so
   * acks still in its buffer reach the client, and cuts it only if the client does not close in time.
   */
  override _destroy(err: Error | null, done: (err: Error | null) => void): void {
    if (err !== null || this.violated || this.socket.destroyed) {
      this.socket.destroy();
    } else {
      this.socket.end();
      setTimeout(() => this.socket.destroy(), END_GRACE_MS).unref();
    }
    done(err);
  }

  private writeAcks(): void {
    const ids = this.acks;
    const count = this.ackCount;
    this.ackCount = 0;
    if (this.destroyed || this.writableEnded) return;
    const bytes = Buffer.allocUnsafe(4 * count);
    for (let i = 0; i < count; i++) {
      // PUBACK: type 4, remaining length 2, the packet id big-endian [MQTT-3.4]
      bytes[4 * i] = 0x40;
      bytes[4 * i + 1] = 0x02;
      bytes.writeUInt16BE(ids[i] as number, 4 * i + 2);
    }
    this.socket.write(bytes);
    this.checkWriteBuffer();
  }

  private pump(): void {
    if (this.pumping) return; // re-entered from a settle or release inside the loop: the loop goes on
    this.pumping = true;
    try {
      this.handOn();
    } finally {
      this.pumping = false;
    }
  }

  /** Cuts frames from the socket and hands them on, one at a time, while the rules of (1) and (4) allow. */
  private handOn(): void {
    while (!this.destroyed && !this.stopped && this.holds < this.limits.appendsInFlightMax) {
      let frame = this.waiting;
      this.waiting = null;
      if (frame === null) {
        const next = this.splitter.next();
        if (next === null) {
          const chunk = this.socket.read() as Buffer | null;
          if (chunk !== null) {
            this.splitter.feed(chunk);
            continue;
          }
          // Everything read is handed on: the end of the stream may follow the packets before it.
          if (this.socketEnded && !this.eofHandedOn && this.fastInFlight === 0 && this.aedesPending === 0) {
            this.eofHandedOn = true;
            this.push(null);
          }
          return;
        }
        if (!Buffer.isBuffer(next)) return this.violate(next);
        frame = next;
      }
      const fast = this.fast;
      if (fast !== null && (frame[0] as number) >> 4 === PUBLISH && fast.ready()) {
        // Taken only when aedes has nothing of this client's before it: unread bytes, a packet it has not
        // finished (5), or an append of its own.
        if (this.readableLength > 0 || this.aedesPending > 0 || this.holds > this.fastInFlight) {
          this.waiting = frame;
          return;
        }
        this.fastInFlight++;
        if (fast.offer(frame, this.settleFast)) continue;
        this.fastInFlight--;
      }
      // For aedes: once the PUBLISHes taken before it are settled, and while aedes takes data; with the
      // packets aedes is handling only if they are PUBLISHes of its kind (5).
      const kind = kindOf(frame[0] as number);
      if (this.fastInFlight > 0 || !this.wanted || (this.aedesPending > 0 && (kind === NOT_A_PUBLISH || kind !== this.aedesKind))) {
        this.waiting = frame;
        return;
      }
      if (this.countsHandled) {
        this.aedesPending++;
        this.aedesKind = kind;
      }
      this.handedOnAny = true;
      this.wanted = this.push(frame);
    }
  }

  private checkWriteBuffer(): void {
    const pending = this.socket.writableLength;
    if (pending > this.limits.writeBufferMaxBytes) {
      this.violate({ reason: 'slow-client', detail: `${pending} bytes unread by the client; the limit is ${this.limits.writeBufferMaxBytes}` });
    }
  }

  private violate(v: Violation): void {
    if (this.violated) return;
    this.violated = true;
    this.onViolation(v.reason, v.detail);
    this.destroy();
  }
}
