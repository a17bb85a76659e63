/**
 * Append before ack: every publish aedes accepts (QoS 0, 1, 2 and wills) is first appended to the log.
 *
 * Why in `authorizePublish` and not in the `published` hook: aedes (lib/handlers/publish.js) writes
 * the QoS 1 PUBACK *before* it calls `broker.publish`, which runs `published` last. Only
 * `authorizePublish` runs before any ack, and aedes waits for its callback; we call it back only once
 * the group commit holding the record is written and synced. So the PUBACK (QoS 2: the PUBREC, written
 * after the inbound packet is stored) means "on disk" [delivery contract 1]. While the append waits,
 * the client's connection is held (connection.ts): no further packets are read from it [contract 2].
 *
 * Refusals (no negative ack exists in MQTT 3.1.1, so the connection is closed [MQTT-3.3.5-2]):
 * oversized payload, invalid topic (wildcards [MQTT-3.3.2-2], U+0000 [MQTT-4.7.3-2], empty
 * [MQTT-4.7.3-1]), a client publishing to `$SYS` (reserved for the broker; never logged).
 */
import { PublishRejectedError, errorMessage } from '../errors.js';
import type { QoS, RecordInput, Route } from '../log/index.js';
import { GatedConnection } from './connection.js';

export interface Appender {
  /** Calls `settle` once the record is durably committed, or with the error. */
  appendThen(stream: string, partition: number, input: RecordInput, settle: (err: Error | null, offset: number) => void): void;
  /** Commit what is pending without waiting out the commit interval. */
  commitSoon(): void;
}

export interface PublishLike {
  cmd?: string;
  topic: string;
  payload: Buffer | string;
  qos: number;
  retain?: boolean;
  messageId?: number;
  clientId?: string;
}

export interface ClientLike {
  readonly id: string;
  readonly conn: unknown;
}

export interface AppendDeps {
  log: Appender;
  route(topic: string, clientId: string): Route;
  /** Whether an inbound QoS 2 packet with this id is already stored (a retransmission). */
  isDuplicateQoS2(clientId: string, messageId: number): boolean;
  maxPayloadBytes: number;
  onIngest(stream: string, payloadBytes: number): void;
  onReject(clientId: string, err: PublishRejectedError): void;
  /**
   * For a QoS 1 PUBLISH from a client, run after its record is durable and before aedes acks it: the
   * broker's own publish (retained store, offline queues), done once that is durable (publish-first.ts).
   */
  beforeAck?(packet: PublishLike, client: ClientLike, done: (err?: Error | null) => void): void;
  /** Whether the ACL lets this client publish to the topic (absent: no ACL). */
  mayPublish?(client: ClientLike, topic: string): boolean;
  /** A publish the ACL denied: acked (MQTT 3.1.1 has no negative PUBACK), never appended nor delivered. */
  onDenied?(client: ClientLike, packet: PublishLike): void;
}

const SYS_PREFIX = '$SYS';

/** Tracks appends in flight so shutdown can wait for them to be acked. */
export class InFlight {
  private count = 0;
  private waiters: Array<() => void> = [];

  begin(): void {
    this.count++;
  }

  end(): void {
    this.count--;
    if (this.count === 0) for (const wake of this.waiters.splice(0)) wake();
  }

  get size(): number {
    return this.count;
  }

  idle(): Promise<void> {
    return this.count === 0 ? Promise.resolve() : new Promise((resolve) => this.waiters.push(resolve));
  }
}

/** Why aedes must refuse this PUBLISH (the connection is closed), or null. */
export function publishProblem(topic: string, payload: Buffer, maxPayloadBytes: number): PublishRejectedError | null {
  if (topic.length === 0) return new PublishRejectedError('empty topic', 'invalid-topic');
  if (topic.includes('+') || topic.includes('#')) return new PublishRejectedError(`wildcard in topic "${topic}"`, 'invalid-topic');
  if (topic.includes('\u0000')) return new PublishRejectedError('U+0000 in topic', 'invalid-topic');
  if (topic === SYS_PREFIX || topic.startsWith(`${SYS_PREFIX}/`)) return new PublishRejectedError(`"${topic}": $SYS is reserved for the broker`, 'reserved-topic');
  if (payload.length > maxPayloadBytes) return new PublishRejectedError(`payload of ${payload.length} bytes; the limit is ${maxPayloadBytes}`, 'oversized');
  return null;
}

/** Builds aedes' `authorizePublish`. `client` is null for wills aedes publishes after a restart. */
export function createAuthorizePublish(deps: AppendDeps, inFlight: InFlight) {
  return function authorizePublish(client: ClientLike | null, packet: PublishLike, done: (err?: Error | null) => void): void {
    const clientId = client?.id ?? packet.clientId ?? '';
    // The bytes the log stores: the limit, the record and the ingest counter all measure these.
    const payload = typeof packet.payload === 'string' ? Buffer.from(packet.payload, 'utf8') : packet.payload;
    const problem = publishProblem(packet.topic, payload, deps.maxPayloadBytes);
    if (problem) {
      deps.onReject(clientId, problem);
      return done(problem);
    }
    if (client !== null && deps.mayPublish && !deps.mayPublish(client, packet.topic)) {
      deps.onDenied?.(client, packet);
      return done(null);
    }
    // [MQTT-4.3.3-2]: a retransmitted QoS 2 PUBLISH (id still stored) was logged the first time.
    if (packet.qos === 2 && packet.messageId !== undefined && deps.isDuplicateQoS2(clientId, packet.messageId)) return done(null);
    const gate = client !== null && client.conn instanceof GatedConnection ? client.conn : null;
    let route: Route;
    try {
      route = deps.route(packet.topic, clientId);
    } catch (err) {
      return done(new Error(`routing ${packet.topic}: ${errorMessage(err)}`, { cause: err }));
    }
    const input: RecordInput = { timestamp: Date.now(), topic: packet.topic, qos: packet.qos as QoS, retain: packet.retain === true, clientId, payload };
    const finish = (err: Error | null = null): void => {
      gate?.release();
      inFlight.end();
      done(err);
    };
    gate?.hold();
    inFlight.begin();
    deps.log.appendThen(route.stream, route.partition, input, (err) => {
      if (err !== null) return finish(err);
      deps.onIngest(route.stream, payload.length);
      if (client !== null && packet.cmd === 'publish' && packet.qos === 1 && deps.beforeAck) deps.beforeAck(packet, client, finish);
      else finish();
    });
    // A client at its window sends nothing more until this commit: waiting out the interval gains nothing.
    if (gate?.windowFull() === true) deps.log.commitSoon();
  };
}
