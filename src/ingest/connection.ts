/**
 * The stream aedes sees for one client: a thin Duplex over the real socket (TCP, TLS or WebSocket) that
 * enforces three limits aedes cannot:
 *
 * 1. **No reading while the client's appends are pending.** Up to `appendsInFlightMax` publishes of one
 *    client may wait for their group commit at once (so a client with a window of QoS 1 messages in
 *    flight fills a commit instead of sending one record per commit); at that bound nothing more is
 *    read from it until one is committed. aedes reads a whole chunk, dispatches every packet in it
 *    at once, and reads again when a counter of unfinished packets reaches 0 (lib/client.js `nextBatch`).
 *    But that counter is also decremented by every `readable` event, and a socket emits one for each
 *    chunk that arrives while packets are pending, so with one publish in flight the next chunk is read
 *    at once and backpressure leaks (test/e2e/ingest-backpressure.test.ts shows it). Here, while
 *    `hold()`s are outstanding, nothing is pulled from the socket: aedes gets neither data nor a
 *    `readable` event, the socket's buffer fills, and TCP flow control pushes back on the client.
 * 2. **Frame size.** mqtt-packet buffers a packet until it is complete and aedes gives it no size limit,
 *    so a client announcing a 200 MB PUBLISH would make us buffer 200 MB. The fixed header of every
 *    packet is scanned as bytes pass through; one announcing more than `frameBytesMax` is refused before
 *    its body is buffered, and so is a malformed fixed header.
 * 3. **Write buffer.** Writes are handed to the socket at once and reported done, so one slow subscriber
 *    never stalls aedes' delivery to everyone else; instead, a client that lets more than
 *    `writeBufferMaxBytes` pile up unread in its socket is disconnected.
 *
 * Violations call `onViolation(reason, detail)` once and destroy the connection.
 */
import { Duplex } from 'node:stream';

export type ViolationReason = 'oversized' | 'malformed' | 'slow-client';

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

/** How long a closed connection may take to flush its last acks before the socket is cut. */
const END_GRACE_MS = 2_000;

type WriteCallback = (err?: Error | null) => void;

type Violation = { reason: ViolationReason; detail: string };

/** Walks MQTT fixed headers across chunk boundaries without buffering packet bodies. */
export class FrameScanner {
  /** Body bytes of the current packet still to skip. */
  private skip = 0;
  /** -1: expecting a packet type byte; otherwise the remaining-length varint being read. */
  private lengthBytes = -1;
  private length = 0;
  private multiplier = 1;

  constructor(private readonly frameBytesMax: number) {}

  /** Scans `chunk`; returns the first violation or null. */
  scan(chunk: Buffer): Violation | null {
    let i = 0;
    while (i < chunk.length) {
      if (this.skip > 0) {
        const n = Math.min(this.skip, chunk.length - i);
        this.skip -= n;
        i += n;
        continue;
      }
      const byte = chunk[i++] as number;
      if (this.lengthBytes < 0) {
        const type = byte >> 4;
        // Types 0 and 15 are reserved in MQTT 3.1.1 [MQTT-2.2.1]
        if (type === 0 || type === 15) return { reason: 'malformed', detail: `reserved packet type ${type}` };
        this.lengthBytes = 0;
        this.length = 0;
        this.multiplier = 1;
        continue;
      }
      const problem = this.lengthByte(byte);
      if (problem) return problem;
    }
    return null;
  }

  private lengthByte(byte: number): Violation | null {
    this.length += (byte & 0x7f) * this.multiplier;
    this.multiplier *= 128;
    this.lengthBytes++;
    if (byte & 0x80) {
      // The remaining length is at most four bytes [MQTT-2.2.3]
      return this.lengthBytes >= 4 ? { reason: 'malformed', detail: 'remaining length longer than 4 bytes' } : null;
    }
    if (this.length > this.frameBytesMax) {
      return { reason: 'oversized', detail: `packet of ${this.length} bytes announced; the limit is ${this.frameBytesMax}` };
    }
    this.skip = this.length;
    this.lengthBytes = -1;
    return null;
  }
}

export class GatedConnection extends Duplex {
  private holds = 0;
  private wanted = false;
  private violated = false;
  private readonly scanner: FrameScanner;

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
    this.scanner = new FrameScanner(limits.frameBytesMax);
    socket.on('readable', () => this.pump());
    socket.on('end', () => this.push(null));
    socket.on('error', (err: Error) => this.destroy(err));
    socket.on('close', () => this.destroy());
  }

  /** An append for this client started: at `appendsInFlightMax` holds, reading stops until one is released. */
  hold(): void {
    this.holds++;
  }

  release(): void {
    this.holds--;
    if (this.holds < this.limits.appendsInFlightMax) this.pump();
  }

  get held(): boolean {
    return this.holds > 0;
  }

  override _read(): void {
    this.wanted = true;
    this.pump();
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

  private pump(): void {
    while (this.wanted && this.holds < this.limits.appendsInFlightMax && !this.destroyed) {
      const chunk = this.socket.read() as Buffer | null;
      if (chunk === null) return;
      const violation = this.scanner.scan(chunk);
      if (violation) return this.violate(violation);
      this.wanted = this.push(chunk);
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
