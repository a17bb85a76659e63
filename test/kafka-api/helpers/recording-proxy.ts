/**
 * A TCP proxy between real Kafka clients and a real broker that records every request and response frame,
 * so a test can hold our codec against traffic that real clients and Kafka itself wrote.
 *
 * Each client connection gets its own connection upstream. Request frames pass unchanged; each is recorded
 * with the API key, version and correlation id read from its header (fixed offsets in every header
 * version), and that triple tells which API a response frame answers. So that clients keep talking through
 * the proxy, responses that advertise the broker's address (Metadata brokers, FindCoordinator, Fetch node
 * endpoints) are decoded with the codec, get the proxy's port, and are re-encoded; the frame recorded is
 * always the broker's original. Frames of APIs the codec does not know pass through unchanged.
 */
import net from 'node:net';
import { decodeResponse, encodeResponse, apiByKey } from '../../../src/kafka-api/protocol/codec.js';
import { FrameSplitter } from './frames.js';

export interface RecordedFrame {
  connection: number;
  direction: 'request' | 'response';
  apiKey: number;
  apiVersion: number;
  correlationId: number;
  /** The frame without its size prefix, as the sender wrote it. */
  frame: Buffer;
}

export interface RecordingProxy {
  readonly port: number;
  /** `127.0.0.1:PORT`, for a client's bootstrap list. */
  readonly bootstrap: string;
  readonly frames: RecordedFrame[];
  /** What went wrong in the proxy (a response it could not place or decode); that connection was closed. */
  readonly errors: Error[];
  close(): Promise<void>;
}

/** API keys whose responses carry broker addresses. */
const ADDRESS_APIS = new Set([3, 10, 1]);

/** Replaces `port` by `proxyPort` in every { host, port } of the broker's address, anywhere in `value`. */
function redirect(value: unknown, upstreamPort: number, proxyPort: number): boolean {
  if (Array.isArray(value)) return value.map((v) => redirect(v, upstreamPort, proxyPort)).some(Boolean);
  if (typeof value !== 'object' || value === null || Buffer.isBuffer(value)) return false;
  const obj = value as Record<string, unknown>;
  let changed = false;
  if (typeof obj.host === 'string' && obj.port === upstreamPort) {
    obj.port = proxyPort;
    changed = true;
  }
  for (const v of Object.values(obj)) if (redirect(v, upstreamPort, proxyPort)) changed = true;
  return changed;
}

export async function startRecordingProxy(upstream: { host: string; port: number }): Promise<RecordingProxy> {
  const frames: RecordedFrame[] = [];
  const errors: Error[] = [];
  const sockets = new Set<net.Socket>();
  let connections = 0;
  let proxyPort = 0;

  const server = net.createServer((client) => {
    const connection = ++connections;
    const broker = net.connect(upstream);
    sockets.add(client).add(broker);
    const asked = new Map<number, { apiKey: number; apiVersion: number }>();
    const fromClient = new FrameSplitter();
    const fromBroker = new FrameSplitter();
    const prefix = (frame: Buffer): Buffer => {
      const size = Buffer.allocUnsafe(4);
      size.writeInt32BE(frame.length, 0);
      return size;
    };
    const guarded = (handle: (chunk: Buffer) => void) => (chunk: Buffer): void => {
      try {
        handle(chunk);
      } catch (err) {
        errors.push(err instanceof Error ? err : new Error(String(err)));
        closeBoth();
      }
    };
    client.on('data', guarded((chunk) => {
      for (const frame of fromClient.push(chunk)) {
        const apiKey = frame.readInt16BE(0);
        const apiVersion = frame.readInt16BE(2);
        const correlationId = frame.readInt32BE(4);
        asked.set(correlationId, { apiKey, apiVersion });
        frames.push({ connection, direction: 'request', apiKey, apiVersion, correlationId, frame });
        broker.write(Buffer.concat([prefix(frame), frame]));
      }
    }));
    broker.on('data', guarded((chunk) => {
      for (const frame of fromBroker.push(chunk)) {
        const correlationId = frame.readInt32BE(0);
        const request = asked.get(correlationId);
        if (request === undefined) throw new Error(`response to correlation id ${correlationId}, which no request had`);
        asked.delete(correlationId);
        frames.push({ connection, direction: 'response', ...request, correlationId, frame });
        let out: Buffer = Buffer.concat([prefix(frame), frame]);
        const api = apiByKey(request.apiKey);
        if (ADDRESS_APIS.has(request.apiKey) && api !== undefined && request.apiVersion <= api.validVersions[1]) {
          const { body } = decodeResponse(request.apiKey, request.apiVersion, frame);
          if (redirect(body, upstream.port, proxyPort)) out = encodeResponse(request.apiKey, request.apiVersion, correlationId, body);
        }
        client.write(out);
      }
    }));
    const closeBoth = (): void => {
      client.destroy();
      broker.destroy();
      sockets.delete(client);
      sockets.delete(broker);
    };
    for (const s of [client, broker]) {
      s.on('error', closeBoth);
      s.on('close', closeBoth);
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  proxyPort = (server.address() as net.AddressInfo).port;
  return {
    port: proxyPort,
    bootstrap: `127.0.0.1:${proxyPort}`,
    frames,
    errors,
    close: async () => {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
