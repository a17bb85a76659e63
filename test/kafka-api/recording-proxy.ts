/**
 * A TCP proxy in front of one Kafka broker that records every request frame clients send through it,
 * so that a fuzz test mutates what real clients really send (every API, every version they chose).
 *
 * Kafka clients connect to the broker address Metadata and FindCoordinator name, not to the bootstrap
 * address; so in each response frame the proxy rewrites the broker's `host` string followed by its
 * int32 port (the layout of Metadata's brokers and FindCoordinator's coordinators, classic and compact
 * alike) to its own port. The lengths do not change, so nothing else needs re-encoding.
 *
 * Frames: int32 size, then `size` bytes (Kafka protocol framing). A frame whose size is out of range
 * is passed through unframed: real clients and brokers never send one.
 */
import net from 'node:net';

const FRAME_BYTES_MAX = 64 * 1024 * 1024;

export class RecordingProxy {
  /** Request frames, size prefix included, in the order they arrived (across connections). */
  readonly frames: Buffer[] = [];
  private readonly server: net.Server;
  private readonly sockets = new Set<net.Socket>();
  private port = 0;

  private constructor(private readonly target: { host: string; port: number }) {
    this.server = net.createServer((client) => this.accept(client));
  }

  static async start(target: { host: string; port: number }): Promise<RecordingProxy> {
    const proxy = new RecordingProxy(target);
    await new Promise<void>((resolve) => proxy.server.listen(0, '127.0.0.1', resolve));
    proxy.port = (proxy.server.address() as net.AddressInfo).port;
    return proxy;
  }

  get bootstrap(): string {
    return `127.0.0.1:${this.port}`;
  }

  async close(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private accept(client: net.Socket): void {
    const upstream = net.connect(this.target.port, this.target.host);
    for (const s of [client, upstream]) {
      this.sockets.add(s);
      s.on('error', () => undefined);
      s.on('close', () => {
        this.sockets.delete(s);
        client.destroy();
        upstream.destroy();
      });
    }
    const from = addressBytes(this.target.host, this.target.port);
    const to = addressBytes(this.target.host, this.port);
    framed(client, (frame) => {
      this.frames.push(frame);
      upstream.write(frame);
    });
    framed(upstream, (frame) => client.write(replaceAll(frame, from, to)));
  }
}

/** The bytes of `host` followed by `port` as an int32: how both encodings lay out a broker address. */
function addressBytes(host: string, port: number): Buffer {
  const b = Buffer.alloc(host.length + 4);
  b.write(host, 0, 'latin1');
  b.writeInt32BE(port, host.length);
  return b;
}

function replaceAll(frame: Buffer, from: Buffer, to: Buffer): Buffer {
  let at = frame.indexOf(from, 4);
  if (at < 0) return frame;
  const out = Buffer.from(frame);
  while (at >= 0) {
    to.copy(out, at);
    at = out.indexOf(from, at + from.length);
  }
  return out;
}

/** Calls `onFrame` with each whole frame read from `socket`. */
function framed(socket: net.Socket, onFrame: (frame: Buffer) => void): void {
  let buffered: Buffer = Buffer.alloc(0);
  socket.on('data', (d: Buffer) => {
    buffered = buffered.length === 0 ? d : Buffer.concat([buffered, d]);
    while (buffered.length >= 4) {
      const size = buffered.readInt32BE(0);
      if (size < 0 || size > FRAME_BYTES_MAX) {
        onFrame(buffered);
        buffered = Buffer.alloc(0);
        return;
      }
      if (buffered.length < 4 + size) return;
      onFrame(buffered.subarray(0, 4 + size));
      buffered = buffered.subarray(4 + size);
    }
  });
}
