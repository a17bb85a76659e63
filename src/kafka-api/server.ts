/**
 * The local Kafka API's connections: Kafka's framing (a 4-byte size, then the request) over TCP or TLS,
 * one request at a time per connection, answered in order (Kafka's own broker mutes a connection while
 * a request is in flight, and clients count on the order).
 *
 * Bad input is bounded and counted (`observer.badInput(reason)`), never a crash:
 *   - a frame larger than `maxFrameBytes` (or a negative size): the connection is closed (`oversized`);
 *   - a request that does not decode (protocol/codec.ts throws ProtocolError): closed (`malformed`);
 *   - an API key this server does not serve, or a version outside what it advertises: closed
 *     (`unsupported`), as Kafka does, except ApiVersions, which gets UNSUPPORTED_VERSION (35) in the v0
 *     layout with the supported ranges, so the client can pick a version (KIP-511);
 *   - before SASL authentication on a listener that needs it, anything but ApiVersions, SaslHandshake and
 *     SaslAuthenticate: closed (`unauthenticated`);
 *   - a client that does not read its responses: reading stops while a response waits to drain, and
 *     after `writeStallMs` the connection is closed (`slow-reader`); memory per connection stays bounded
 *     by one response plus what the socket buffers;
 *   - a connection idle (no request, none in flight) for `idleMs`: closed (`idle`).
 * Every request answered is counted by API and error code (`observer.request`).
 *
 * Invariant: a handler's failure (a bug, a closed log) closes that connection only, logged; the server
 * and every other connection keep going.
 */
import net from 'node:net';
import tls from 'node:tls';
import { AUTH_FAILURE_DELAY_MS } from '../auth/authenticator.js';
import type { PasswordEntry } from '../auth/password-file.js';
import { ErrorCode } from './error-codes.js';
import { API_NAMES, ApiKey, apiVersions, supportedRange, type Advertised } from './handlers.js';
import { decodeRequest, encodeResponse, ProtocolError, type RequestHeader } from './protocol/codec.js';
import { checkPlain, SASL_MECHANISM } from './sasl.js';

export type BadInputReason = 'oversized' | 'malformed' | 'unsupported' | 'unauthenticated' | 'slow-reader' | 'idle' | 'sasl-failed';

export interface KafkaApiObserver {
  request?(api: string, errorCode: number): void;
  badInput?(reason: BadInputReason): void;
  connections?(delta: 1 | -1): void;
}

export interface ServerLogger {
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
  error(obj: object, msg: string): void;
  debug(obj: object, msg: string): void;
}

export interface RequestContext {
  header: RequestHeader;
  /** The address and port this connection reached: what Metadata and FindCoordinator advertise. */
  self: Advertised;
  clientHost: string;
  /** Aborted when the connection closes: long-polls stop waiting. */
  signal: AbortSignal;
  user: string | null;
}

/** Answers one decoded request (never ApiVersions or SASL, which the connection answers itself). */
export type Dispatch = (apiKey: number, body: Record<string, unknown>, ctx: RequestContext) => Promise<object> | object;

export interface ListenerSpec {
  host: string;
  port: number;
  /** SASL PLAIN required before any other request. */
  sasl: boolean;
  tls?: tls.SecureContextOptions & { requestCert?: boolean };
}

export interface ServerOptions {
  dispatch: Dispatch;
  /** The password file's entries, read at each authentication (so a reload applies to the next one). */
  passwords: () => ReadonlyMap<string, PasswordEntry> | null;
  logger: ServerLogger;
  observer?: KafkaApiObserver;
  maxFrameBytes: number;
  writeStallMs: number;
  idleMs: number;
}

export interface BoundKafkaListener {
  host: string;
  port: number;
  sasl: boolean;
  tls: boolean;
}

type SaslState = 'open' | 'handshake' | 'authenticate' | 'done';

export class KafkaApiServer {
  readonly #servers: net.Server[] = [];
  readonly #sockets = new Set<net.Socket>();

  constructor(private readonly options: ServerOptions) {}

  async listen(spec: ListenerSpec): Promise<BoundKafkaListener> {
    const onSocket = (socket: net.Socket): void => this.#accept(socket, spec);
    const server = spec.tls === undefined ? net.createServer(onSocket) : tls.createServer({ ...spec.tls }, onSocket);
    this.#servers.push(server);
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(spec.port, spec.host, () => {
        server.off('error', reject);
        resolve();
      });
    });
    server.on('error', (err) => this.options.logger.error({ err }, 'Kafka API listener failed'));
    const address = server.address() as net.AddressInfo;
    return { host: spec.host, port: address.port, sasl: spec.sasl, tls: spec.tls !== undefined };
  }

  async close(): Promise<void> {
    const closed = this.#servers.map((s) => new Promise<void>((resolve) => s.close(() => resolve())));
    for (const socket of this.#sockets) socket.destroy();
    await Promise.all(closed);
  }

  #accept(socket: net.Socket, spec: ListenerSpec): void {
    this.#sockets.add(socket);
    this.options.observer?.connections?.(1);
    socket.setNoDelay(true);
    const connection = new Connection(socket, spec, this.options);
    socket.on('close', () => {
      this.#sockets.delete(socket);
      this.options.observer?.connections?.(-1);
      connection.closed();
    });
    socket.on('error', () => socket.destroy());
  }
}

class Connection {
  readonly #chunks: Buffer[] = [];
  #buffered = 0;
  #busy = false;
  #sasl: SaslState;
  #user: string | null = null;
  readonly #abort = new AbortController();
  #idleTimer: NodeJS.Timeout | null = null;

  constructor(
    private readonly socket: net.Socket,
    private readonly spec: ListenerSpec,
    private readonly options: ServerOptions,
  ) {
    this.#sasl = spec.sasl ? 'handshake' : 'open';
    socket.on('data', (chunk: Buffer) => this.#onData(chunk));
    this.#armIdle();
  }

  closed(): void {
    this.#abort.abort();
    if (this.#idleTimer !== null) clearTimeout(this.#idleTimer);
  }

  #armIdle(): void {
    if (this.#idleTimer !== null) clearTimeout(this.#idleTimer);
    this.#idleTimer = setTimeout(() => this.#drop('idle'), this.options.idleMs);
    this.#idleTimer.unref();
  }

  #drop(reason: BadInputReason, detail?: string): void {
    if (this.socket.destroyed) return;
    this.options.observer?.badInput?.(reason);
    this.options.logger.debug({ reason, detail, remote: this.socket.remoteAddress }, 'Kafka API connection closed');
    this.socket.destroy();
  }

  #onData(chunk: Buffer): void {
    this.#chunks.push(chunk);
    this.#buffered += chunk.length;
    // A frame's size is checked as soon as its 4 bytes are here, before any more is buffered.
    if (this.#buffered >= 4) {
      const size = this.#peekSize();
      if (size < 0 || size > this.options.maxFrameBytes) {
        this.#drop('oversized', `a ${size}-byte frame (at most ${this.options.maxFrameBytes})`);
        return;
      }
      // One request at a time: while one is answered, the socket is not read beyond the next frame.
      if (this.#busy && this.#buffered >= size + 4) this.socket.pause();
    }
    if (!this.#busy) void this.#pump();
  }

  #peekSize(): number {
    if ((this.#chunks[0] as Buffer).length < 4) this.#coalesce();
    return (this.#chunks[0] as Buffer).readInt32BE(0);
  }

  #coalesce(): void {
    const all = Buffer.concat(this.#chunks, this.#buffered);
    this.#chunks.length = 0;
    this.#chunks.push(all);
  }

  #takeFrame(): Buffer | null {
    if (this.#buffered < 4) return null;
    const size = this.#peekSize();
    if (size < 0 || size > this.options.maxFrameBytes) {
      this.#drop('oversized', `a ${size}-byte frame (at most ${this.options.maxFrameBytes})`);
      return null;
    }
    if (this.#buffered < size + 4) return null;
    if ((this.#chunks[0] as Buffer).length < size + 4) this.#coalesce();
    const head = this.#chunks[0] as Buffer;
    const frame = head.subarray(4, size + 4);
    if (head.length === size + 4) this.#chunks.shift();
    else this.#chunks[0] = head.subarray(size + 4);
    this.#buffered -= size + 4;
    return frame;
  }

  async #pump(): Promise<void> {
    this.#busy = true;
    try {
      for (;;) {
        if (this.socket.destroyed) return;
        const frame = this.#takeFrame();
        if (frame === null) return;
        if (this.#idleTimer !== null) clearTimeout(this.#idleTimer);
        const response = await this.#handle(frame);
        if (response === null || this.socket.destroyed) return;
        if (!this.socket.write(response)) {
          if (!(await this.#drained())) {
            this.#drop('slow-reader', `a response of ${response.length} bytes not read for ${this.options.writeStallMs} ms`);
            return;
          }
        }
        this.#armIdle();
      }
    } catch (err) {
      this.options.logger.error({ err, remote: this.socket.remoteAddress }, 'Kafka API request failed; connection closed');
      this.socket.destroy();
    } finally {
      this.#busy = false;
      if (!this.socket.destroyed) this.socket.resume();
    }
  }

  #drained(): Promise<boolean> {
    return new Promise((resolve) => {
      const timer = setTimeout(() => finish(false), this.options.writeStallMs);
      const finish = (ok: boolean): void => {
        clearTimeout(timer);
        this.socket.off('drain', onDrain);
        this.socket.off('close', onClose);
        resolve(ok);
      };
      const onDrain = (): void => finish(true);
      const onClose = (): void => finish(false);
      this.socket.on('drain', onDrain);
      this.socket.on('close', onClose);
    });
  }

  /** The encoded response to one frame, or null when the connection was closed instead. */
  async #handle(frame: Buffer): Promise<Buffer | null> {
    let decoded: ReturnType<typeof decodeRequest>;
    try {
      decoded = decodeRequest(frame);
    } catch (err) {
      if (err instanceof ProtocolError) {
        this.#drop('malformed', err.message);
        return null;
      }
      throw err;
    }
    const { header, body } = decoded;
    const range = supportedRange(header.apiKey, this.spec.sasl);
    const inRange = range !== null && header.apiVersion >= range.min && header.apiVersion <= range.max;
    if (header.apiKey === ApiKey.ApiVersions) {
      // An ApiVersions we cannot read is answered in the v0 layout, which every client can (KIP-511).
      const ok = inRange && body !== null;
      const answer = apiVersions(this.spec.sasl, ok ? ErrorCode.NONE : ErrorCode.UNSUPPORTED_VERSION);
      this.#count('ApiVersions', ok ? ErrorCode.NONE : ErrorCode.UNSUPPORTED_VERSION);
      return encodeResponse(ApiKey.ApiVersions, ok ? header.apiVersion : 0, header.correlationId, answer);
    }
    if (!inRange || body === null) {
      this.#drop('unsupported', `API ${header.apiKey} v${header.apiVersion}`);
      return null;
    }
    if (header.apiKey === ApiKey.SaslHandshake || header.apiKey === ApiKey.SaslAuthenticate) return this.#saslStep(header, body);
    if (this.#sasl !== 'open' && this.#sasl !== 'done') {
      this.#drop('unauthenticated', `API ${API_NAMES.get(header.apiKey)} before SASL authentication`);
      return null;
    }
    const ctx: RequestContext = { header, self: this.#self(), clientHost: this.socket.remoteAddress ?? '', signal: this.#abort.signal, user: this.#user };
    const answer = await this.options.dispatch(header.apiKey, body, ctx);
    this.#count(API_NAMES.get(header.apiKey) ?? String(header.apiKey), firstError(answer));
    return encodeResponse(header.apiKey, header.apiVersion, header.correlationId, answer);
  }

  async #saslStep(header: RequestHeader, body: Record<string, unknown>): Promise<Buffer | null> {
    const api = API_NAMES.get(header.apiKey) ?? 'Sasl';
    const reply = (answer: object, errorCode: number): Buffer => {
      this.#count(api, errorCode);
      return encodeResponse(header.apiKey, header.apiVersion, header.correlationId, answer);
    };
    if (header.apiKey === ApiKey.SaslHandshake) {
      if (this.#sasl !== 'handshake') return reply({ errorCode: ErrorCode.ILLEGAL_SASL_STATE, mechanisms: [SASL_MECHANISM] }, ErrorCode.ILLEGAL_SASL_STATE);
      if (body.mechanism !== SASL_MECHANISM) return reply({ errorCode: ErrorCode.UNSUPPORTED_SASL_MECHANISM, mechanisms: [SASL_MECHANISM] }, ErrorCode.UNSUPPORTED_SASL_MECHANISM);
      this.#sasl = 'authenticate';
      return reply({ errorCode: ErrorCode.NONE, mechanisms: [SASL_MECHANISM] }, ErrorCode.NONE);
    }
    if (this.#sasl !== 'authenticate') {
      return reply({ errorCode: ErrorCode.ILLEGAL_SASL_STATE, errorMessage: 'SaslAuthenticate before SaslHandshake', authBytes: Buffer.alloc(0), sessionLifetimeMs: 0n }, ErrorCode.ILLEGAL_SASL_STATE);
    }
    const passwords = this.options.passwords();
    const result = passwords === null ? ({ ok: false, reason: 'unknown-user' } as const) : await checkPlain(body.authBytes as Buffer, passwords);
    if (result.ok) {
      this.#sasl = 'done';
      this.#user = result.user;
      this.options.logger.debug({ user: result.user, remote: this.socket.remoteAddress }, 'Kafka API client authenticated');
      return reply({ errorCode: ErrorCode.NONE, errorMessage: null, authBytes: Buffer.alloc(0), sessionLifetimeMs: 0n }, ErrorCode.NONE);
    }
    this.options.observer?.badInput?.('sasl-failed');
    this.options.logger.warn({ reason: result.reason, remote: this.socket.remoteAddress }, 'Kafka API authentication refused');
    await new Promise((resolve) => setTimeout(resolve, AUTH_FAILURE_DELAY_MS).unref());
    const answer = reply({ errorCode: ErrorCode.SASL_AUTHENTICATION_FAILED, errorMessage: 'Authentication failed: invalid username or password', authBytes: Buffer.alloc(0), sessionLifetimeMs: 0n }, ErrorCode.SASL_AUTHENTICATION_FAILED);
    // Kafka closes the connection after a failed authentication; the answer goes out first.
    this.socket.end(answer);
    return null;
  }

  #self(): Advertised {
    const host = (this.socket.localAddress ?? this.spec.host).replace(/^::ffff:/, '');
    return { host, port: this.socket.localPort ?? this.spec.port };
  }

  #count(api: string, errorCode: number): void {
    this.options.observer?.request?.(api, errorCode);
  }
}

/** The first non-zero `errorCode` in a response (top level, then one level of nesting down), or 0. */
function firstError(answer: object, depth = 0): number {
  const record = answer as Record<string, unknown>;
  if (typeof record.errorCode === 'number' && record.errorCode !== 0) return record.errorCode;
  if (depth >= 3) return 0;
  for (const value of Object.values(record)) {
    if (!Array.isArray(value)) continue;
    for (const item of value) {
      if (item === null || typeof item !== 'object' || Buffer.isBuffer(item)) continue;
      const code = firstError(item as object, depth + 1);
      if (code !== 0) return code;
    }
  }
  return 0;
}
