/**
 * The MQTT side of the broker: one aedes 1.x instance, the listeners from config, the log-backed
 * persistence, append-before-ack (append.ts) and the per-connection limits (connection.ts).
 *
 * Bad input never takes the process down: aedes turns a client's protocol error into that client's
 * disconnect, and every such disconnect is logged with a reason and counted
 * (`tributary_rejected_publishes_total{reason}`). Reasons: `oversized`, `invalid-topic`,
 * `reserved-topic`, `malformed`, `slow-client`, `clients-max`.
 *
 * Shutdown (`close`) is ordered: stop accepting, stop reading from every client, wait (bounded) until
 * the appends already taken are committed and acked, then close the clients and aedes. The log itself
 * is closed by the broker afterwards.
 */
import type { EventEmitter } from 'node:events';
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { Aedes, AuthErrorCode, type AuthenticateError, type Client, type ConnectPacket, type AedesPublishPacket, type Subscription } from 'aedes';
import type { Acl, AclIdentity } from '../auth/acl-file.js';
import { AUTH_FAILURE_DELAY_MS, Authenticator } from '../auth/authenticator.js';
import { isLoopback } from '../auth/address.js';
import { readAuthFiles } from '../auth/files.js';
import type { Config } from '../config/load.js';
import { PublishRejectedError, TributaryError, errorMessage } from '../errors.js';
import { Router, type Log } from '../log/index.js';
import type { Logger } from '../ops/logger.js';
import type { Metrics } from '../ops/metrics.js';
import { createAuthorizePublish, InFlight } from './append.js';
import { GatedConnection, type ClientSocket, type ViolationReason } from './connection.js';
import { countHandled, deliverBeforeAck, FastPublish, type FastPublishDeps } from './fast-publish.js';
import { PublishFrame } from './frames.js';
import { startListener, type BoundListener } from './listeners.js';
import { LogPersistence } from './persistence.js';
import { PublishFirst } from './publish-first.js';

export interface IngestOptions {
  config: Config;
  log: Log;
  metrics: Pick<Metrics, 'recordIngest' | 'recordRejected' | 'recordAuthFailure'>;
  logger: Logger;
}

export interface BoundPort {
  type: string;
  host: string;
  port: number;
}

export interface Ingest {
  start(): Promise<BoundPort[]>;
  /** Connected MQTT clients. */
  clientCount(): number;
  /**
   * Re-reads the password and ACL files (SIGHUP). Connected clients stay; the new rules apply from the
   * next CONNECT, PUBLISH, SUBSCRIBE and delivery. A bad file keeps the old rules and is thrown.
   */
  reloadAuth(): void;
  close(): Promise<void>;
}

/** A CONNECT may carry a will (≤ 64 KiB), user name, password and client id besides the payload limit. */
const FRAME_OVERHEAD_BYTES = 5 * 65_540;
/** How long shutdown waits for appends in flight to be committed and acked. */
const DRAIN_TIMEOUT_MS = 5_000;

/** aedes' own error messages for topics it refuses before `authorizePublish` (lib/handlers/publish.js). */
const INVALID_TOPIC_ERRORS = /not allowed in PUBLISH|empty topic|too many levels/;
/** Errors that are the network or the client going away, not bad input. */
const ORDINARY_ERRORS = /keep alive timeout|connect did not arrive in time|connection closed|write after end|socket hang up/;

export function createIngest(options: IngestOptions): Ingest {
  const { config, log, metrics, logger } = options;
  const router = new Router(config.streams.map((s) => ({ name: s.name, match: s.match, partitions: s.partitions, key: s.key })));
  const persistence = new LogPersistence(log);
  const inFlight = new InFlight();
  const connections = new Set<GatedConnection>();
  const listeners: BoundListener[] = [];
  let aedes: Aedes | null = null;
  let publishFirst: PublishFirst | null = null;
  let closing: Promise<void> | null = null;

  function reject(clientId: string | null, reason: string, detail: string): void {
    metrics.recordRejected(reason);
    logger.warn({ clientId, reason, detail }, 'client refused and disconnected');
  }

  const authorizePublish = createAuthorizePublish(
    {
      log,
      route: (topic, clientId) => router.route(topic, clientId),
      isDuplicateQoS2: (clientId, messageId) => persistence.hasIncoming(clientId, messageId),
      maxPayloadBytes: config.mqtt.maxPayloadBytes,
      onIngest: (stream, bytes) => metrics.recordIngest(stream, 1, bytes),
      onReject: (clientId, err) => reject(clientId, err.reason, err.message),
      beforeAck: (packet, client, done) => {
        if (packet instanceof PublishFrame) return deliverBeforeAck(fastDeps, packet, client as Client, done);
        if (publishFirst === null) return done(null);
        publishFirst.run(packet, client, done);
      },
      mayPublish: (client, topic) => acl === null || acl.canPublish(identityOf(client as Client), topic),
      onDenied: (client, packet) => {
        publishFirst?.drop(packet);
        metrics.recordRejected('not-authorized');
        logger.warn({ clientId: client.id, topic: packet.topic }, 'publish denied by the ACL: acked and dropped');
      },
    },
    inFlight,
  );

  /** aedes' emitter's topic matcher (mqemitter 7): the live subscriptions, of every client. */
  let liveSubscriptions: { match(topic: string): unknown[] } | null = null;
  const fastDeps: FastPublishDeps = {
    authorizePublish: (client, packet, done) => authorizePublish(client, packet, done),
    mayPublish: (client, topic) => acl === null || acl.canPublish(identityOf(client), topic),
    maxPayloadBytes: config.mqtt.maxPayloadBytes,
    maxTopicLevels: 100,
    hasSubscribers: (topic) => persistence.hasSubscriptions(topic) || (liveSubscriptions !== null && liveSubscriptions.match(topic).length > 0),
    // aedes' publish takes the publishing client too (its typings omit it): the copies carry its id.
    deliver: (packet, client, done) => (aedes as unknown as { publish: (p: PublishFrame, c: Client, d: (err?: Error | null) => void) => void }).publish(packet, client, done),
  };

  function onClientError(client: Client | null, err: Error): void {
    const clientId = client?.id ?? null;
    if (err instanceof PublishRejectedError) return; // counted where it was raised
    if (err instanceof TributaryError) {
      logger.error({ clientId, err }, 'publish failed in the log; client disconnected without an ack');
      return;
    }
    if ('errorCode' in err) {
      logger.info({ clientId, error: err.message }, 'connection refused with a CONNACK return code');
      return;
    }
    if ('code' in err || ORDINARY_ERRORS.test(err.message)) {
      logger.info({ clientId, error: err.message }, 'client connection ended');
      return;
    }
    reject(clientId, INVALID_TOPIC_ERRORS.test(err.message) ? 'invalid-topic' : 'malformed', err.message);
  }

  function accept(socket: Duplex, req?: IncomingMessage, certificateUser?: string | null): void {
    if (closing || aedes === null) return void socket.destroy();
    if (connections.size >= config.mqtt.clientsMax) {
      reject(null, 'clients-max', `${connections.size} connections open; the limit is ${config.mqtt.clientsMax}`);
      return void socket.destroy();
    }
    let client: Client | null = null;
    const limits = { frameBytesMax: config.mqtt.maxPayloadBytes + FRAME_OVERHEAD_BYTES, writeBufferMaxBytes: config.mqtt.clientWriteBufferMaxBytes, appendsInFlightMax: config.mqtt.clientAppendsInFlightMax };
    const onViolation = (reason: ViolationReason, detail: string): void => reject(client?.id ?? null, reason, detail);
    const address = req?.socket.remoteAddress ?? (socket as { remoteAddress?: string }).remoteAddress;
    const conn = new GatedConnection(socket as ClientSocket, limits, onViolation, address, certificateUser);
    connections.add(conn);
    conn.once('close', () => connections.delete(conn));
    client = aedes.handle(conn, req);
    countHandled(client, conn);
  }

  // [MQTT-3.1.3-8]: a zero-length client id with CleanSession 0 gets CONNACK 0x02 (aedes would make up
  // an id, giving the client a persistent session it can never resume). preConnect sees the packet,
  // authenticate can answer with a return code.
  const emptyIdPersistent = new WeakSet<Client>();
  /** Each connected client's user name (null: anonymous), for the ACL. */
  const identities = new WeakMap<Client, string | null>();
  const willTopics = new WeakMap<Client, string>();
  const identityOf = (client: Client): AclIdentity => ({ user: identities.get(client) ?? null, clientId: client.id });
  function preConnect(client: Client, packet: ConnectPacket, done: (err: Error | null, ok: boolean) => void): void {
    if (!packet.clientId && packet.clean === false) emptyIdPersistent.add(client);
    if (packet.will?.topic !== undefined) willTopics.set(client, packet.will.topic);
    done(null, true);
  }
  let authenticator: Authenticator | null = null;
  function authenticate(client: Client, username: string | undefined, password: Buffer | undefined, done: (err: AuthenticateError | null, ok: boolean | null) => void): void {
    if (emptyIdPersistent.has(client)) {
      const err = Object.assign(new Error('zero-length client id needs CleanSession 1'), { returnCode: AuthErrorCode.IDENTIFIER_REJECTED });
      return done(err, false);
    }
    const conn = client.conn instanceof GatedConnection ? client.conn : undefined;
    const address = conn?.remoteAddress;
    (authenticator as Authenticator).check(username, password, address, conn?.certificateUser).then(
      (decision) => {
        const will = willTopics.get(client);
        // A will is checked at CONNECT, against the identity the client has just proven.
        if (decision.ok && (acl === null || will === undefined || acl.canPublish({ user: decision.user, clientId: client.id }, will))) {
          identities.set(client, decision.user);
          return done(null, true);
        }
        if (decision.ok) decision = { ok: false, returnCode: 5, reason: 'will-denied' };
        metrics.recordAuthFailure(decision.reason);
        // Never the password; the user name helps an operator find a misconfigured device.
        logger.warn({ clientId: client.id, username, address, reason: decision.reason }, 'connection refused: not authenticated');
        const err = Object.assign(new Error(`not authenticated: ${decision.reason}`), { returnCode: AuthErrorCode.NOT_AUTHORIZED });
        setTimeout(() => done(err, false), AUTH_FAILURE_DELAY_MS);
      },
      (err: unknown) => done(Object.assign(new Error(`authentication failed: ${errorMessage(err)}`), { returnCode: AuthErrorCode.SERVER_UNAVAILABLE }), false),
    );
  }

  let acl: Acl | null = null;
  function authorizeSubscribe(client: Client, sub: Subscription, done: (err: Error | null, sub: Subscription | null) => void): void {
    if (acl === null || acl.canSubscribe(identityOf(client), sub.topic)) return done(null, sub);
    logger.info({ clientId: client.id, filter: sub.topic }, 'subscription denied by the ACL: SUBACK 0x80');
    done(null, null); // aedes answers a null subscription with return code 0x80 [MQTT-3.9.3]
  }
  function authorizeForward(client: Client, packet: AedesPublishPacket): AedesPublishPacket | null {
    return acl === null || acl.canReceive(identityOf(client), packet.topic) ? packet : null;
  }

  /** Reads the password and ACL files; a bad one is thrown (naming file and line) and changes nothing. */
  function loadAuth(): Authenticator {
    const { passwordFile, aclFile, allowAnonymous } = config.mqtt.auth;
    const { passwords, acl: rules } = readAuthFiles(config.mqtt.auth);
    // Both files parsed: only now replace what is in force, so a bad one changes nothing.
    acl = rules;
    if (rules !== null) logger.info({ aclFile, rules: rules.size }, 'ACL loaded');
    if (passwords !== null) logger.info({ passwordFile, users: passwords.size }, 'password file loaded');
    return new Authenticator({ passwords, allowAnonymous });
  }

  async function start(): Promise<BoundPort[]> {
    authenticator = loadAuth();
    const open = config.mqtt.listeners.filter((l) => !isLoopback(l.host));
    if (authenticator.anonymousFromNetwork && open.length > 0) {
      logger.warn({ listeners: open.map((l) => `${l.host}:${l.port}`) }, 'mqtt.auth.allowAnonymous is true: clients without credentials are let in from the network');
    }
    aedes = await Aedes.createBroker({ persistence, authorizePublish, authorizeSubscribe, authorizeForward, preConnect, authenticate, drainTimeout: 0, connectTimeout: 10_000 });
    publishFirst = new PublishFirst(aedes);
    const internals = aedes as unknown as { maxTopicLevels: number; mq: { _matcher: { match(topic: string): unknown[] } } };
    fastDeps.maxTopicLevels = internals.maxTopicLevels;
    liveSubscriptions = internals.mq._matcher;
    // Registered and about to be acked: from its CONNACK on, the client's PUBLISHes may take the fast path.
    aedes.on('client', (client: Client) => {
      if (client.conn instanceof GatedConnection) client.conn.fast = new FastPublish(client, client.conn, fastDeps);
    });
    aedes.on('clientError', onClientError);
    aedes.on('connectionError', onClientError);
    // aedes emits 'error' when its persistence fails while queueing for offline clients; its typings omit it.
    const emitter: EventEmitter = aedes;
    emitter.on('error', (err: Error) => logger.error({ err }, 'aedes error'));
    for (const [i, listener] of config.mqtt.listeners.entries()) listeners.push(await startListener(listener, accept, `mqtt.listeners[${i}]`));
    return listeners.map(({ type, host, port }) => ({ type, host, port }));
  }

  async function shutdown(): Promise<void> {
    const stopped = Promise.all(listeners.map((l) => l.close()));
    for (const conn of connections) conn.stopReading();
    const drained = await Promise.race([inFlight.idle().then(() => true), sleep(DRAIN_TIMEOUT_MS).then(() => false)]);
    if (!drained) logger.warn({ appends: inFlight.size }, 'shutdown: appends still uncommitted after the drain timeout');
    // One turn for the acks of the last commit to reach the sockets.
    await new Promise((resolve) => setImmediate(resolve));
    if (aedes !== null) {
      const broker = aedes;
      await new Promise<void>((resolve) => broker.close(() => resolve()));
    }
    for (const conn of connections) conn.destroy();
    await Promise.race([stopped, sleep(DRAIN_TIMEOUT_MS)]);
  }

  return {
    start,
    clientCount: () => connections.size,
    reloadAuth: () => {
      authenticator = loadAuth();
    },
    close: () => (closing ??= shutdown().catch((err: unknown) => logger.error({ error: errorMessage(err) }, 'ingest shutdown failed'))),
  };
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms).unref());
}
