/**
 * Kafka's framing for tests: a splitter that cuts a TCP byte stream into size-prefixed frames, and a
 * bare connection that sends request frames and hands back the response frames in order (Kafka answers
 * the requests of one connection in the order they came). No codec here: callers encode and decode.
 */
import net from 'node:net';

/** No test frame comes near this; a larger size prefix means the stream is out of step. */
export const FRAME_BYTES_MAX = 64 * 1024 * 1024;

/** Cuts a byte stream into frames (the 4-byte size prefix removed). */
export class FrameSplitter {
  private pending: Buffer[] = [];
  private pendingBytes = 0;

  /** Adds `chunk` and returns the frames it completed, each without its size prefix. */
  push(chunk: Buffer): Buffer[] {
    this.pending.push(chunk);
    this.pendingBytes += chunk.length;
    const frames: Buffer[] = [];
    let buf = this.pending.length === 1 ? chunk : Buffer.concat(this.pending, this.pendingBytes);
    while (buf.length >= 4) {
      const size = buf.readInt32BE(0);
      if (size < 0 || size > FRAME_BYTES_MAX) throw new Error(`frame size prefix ${size} out of range`);
      if (buf.length < 4 + size) break;
      frames.push(Buffer.from(buf.subarray(4, 4 + size)));
      buf = buf.subarray(4 + size);
    }
    this.pending = buf.length === 0 ? [] : [buf];
    this.pendingBytes = buf.length;
    return frames;
  }
}

/** One TCP connection to a Kafka broker: `send` a whole request (with its size prefix), get its response frame. */
export class KafkaConnection {
  private readonly waiting: Array<{ resolve: (frame: Buffer) => void; reject: (err: Error) => void }> = [];
  private readonly splitter = new FrameSplitter();
  private failure: Error | null = null;

  private constructor(private readonly socket: net.Socket) {
    socket.on('data', (chunk: Buffer) => {
      for (const frame of this.splitter.push(chunk)) this.waiting.shift()?.resolve(frame);
    });
    const fail = (err: Error): void => {
      this.failure = err;
      for (const w of this.waiting.splice(0)) w.reject(err);
    };
    socket.on('error', fail);
    socket.on('close', () => fail(new Error('connection closed')));
  }

  static async connect(host: string, port: number): Promise<KafkaConnection> {
    const socket = net.connect({ host, port });
    await new Promise<void>((resolve, reject) => {
      socket.once('connect', resolve);
      socket.once('error', reject);
    });
    return new KafkaConnection(socket);
  }

  /** Sends `request` (size prefix included) and resolves with the response frame (size prefix removed). */
  send(request: Buffer, timeoutMs = 10_000): Promise<Buffer> {
    if (this.failure !== null) return Promise.reject(this.failure);
    return new Promise<Buffer>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no response within ${timeoutMs} ms`)), timeoutMs);
      this.waiting.push({
        resolve: (frame) => { clearTimeout(timer); resolve(frame); },
        reject: (err) => { clearTimeout(timer); reject(err); },
      });
      this.socket.write(request);
    });
  }

  close(): void {
    this.socket.destroy();
  }
}
