/**
 * The MQTT-SN gateway over any number of `MessageTransport`s: unwraps forwarder encapsulation,
 * decodes, routes each message to its device (by route, or by client id for CONNECT and a sleeping
 * device's PINGREQ), and answers what needs no device: SEARCHGW, QoS −1 PUBLISH, messages from peers
 * with no session.
 *
 * Invariants:
 * - `byRoute` and `byClientId` hold exactly the devices not 'gone', each under its current route key
 *   and client id; at most `devicesMax` of them;
 * - nothing a datagram holds can throw out of `receive`: a CodecError is a counted drop, and any other
 *   error is a bug in one device's handling, counted as `malformed`, that never reaches other devices;
 * - QoS −1 publishes go out on one shared link of the gateway at QoS 1, so they are durable in the log
 *   like any other QoS 1 message (the device cannot be told: QoS −1 has no ack).
 */
import { decode, encode, ReturnCode, type Message } from './codec.js';
import { type BridgeCounters } from './counters.js';
import { ACCEPTED_IN, Device, type DeviceContext, type Route, type Will } from './device.js';
import { unwrap, wrap } from './encapsulation.js';
import { assert, CodecError } from './errors.js';
import { MqttLink, type LinkHandlers } from './mqtt-link.js';
import { TopicRegistry } from './topics.js';
import type { MessageTransport, Peer } from './transport.js';

export interface GatewayOptions {
  broker: { host: string; port: number; username?: string | undefined; password?: Buffer | undefined };
  clientIdPrefix: string;
  gatewayId: number;
  predefinedTopics: ReadonlyMap<number, string>;
  advertiseIntervalS: number;
  devicesMax: number;
  topicsPerDeviceMax: number;
  queueMessagesMax: number;
  publishesInFlightMax: number;
  retryIntervalMs: number;
  retriesMax: number;
  connectTimeoutMs: number;
  allowClientIds: ReadonlySet<string> | null;
  logger: BridgeLogger;
}

/** The part of pino the bridge uses (so it needs no logger of its own). */
export interface BridgeLogger {
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
  debug(obj: object, msg: string): void;
}

/** The broker may leave this much of a device link's output unread before the link is given up. */
const LINK_WRITE_BUFFER_MAX_BYTES = 1024 * 1024;
/** The shared link's client id suffix; a device may not take this id. */
const QOS_MINUS_ONE_SUFFIX = '$qos-1';

export class Gateway {
  private readonly byRoute = new Map<string, Device>();
  private readonly byClientId = new Map<string, Device>();
  private readonly predefinedIds: ReadonlyMap<string, number>;
  private readonly ctx: DeviceContext;
  private qosMinusOneLink: Promise<MqttLink> | null = null;
  private advertiseTimer: NodeJS.Timeout | null = null;
  private accepting = true;

  constructor(private readonly transports: readonly MessageTransport[], private readonly options: GatewayOptions, private readonly counters: BridgeCounters) {
    assert(options.devicesMax >= 1 && options.queueMessagesMax >= 1 && options.publishesInFlightMax >= 1, 'bridge limits are at least 1');
    this.predefinedIds = new Map([...options.predefinedTopics].map(([id, name]) => [name, id]));
    assert(this.predefinedIds.size === options.predefinedTopics.size, 'a predefined topic name has two ids');
    this.ctx = {
      limits: { ...options, handshakeTimeoutMs: options.retryIntervalMs * (options.retriesMax + 1) },
      send: (route, m) => this.send(route, m),
      openLink: (clientId, clean, will, handlers) => this.openLink(`${options.clientIdPrefix}${clientId}`, clean, will, handlers),
      dropped: (reason) => this.counters.drop(reason),
      count: (what) => this.counters.count(what),
      removed: (device, why) => this.removed(device, why),
    };
    for (const t of transports) t.onMessage((datagram, from) => this.receive(t, datagram, from));
  }

  start(): void {
    if (this.options.advertiseIntervalS > 0) {
      const advertise = (): void => {
        const m = encode({ type: 'ADVERTISE', gwId: this.options.gatewayId, duration: this.options.advertiseIntervalS });
        for (const t of this.transports) t.broadcast?.(m);
      };
      advertise();
      this.advertiseTimer = setInterval(advertise, this.options.advertiseIntervalS * 1000).unref();
    }
  }

  devices(): { active: number; asleep: number; connecting: number } {
    const n = { active: 0, asleep: 0, connecting: 0 };
    for (const d of this.byClientId.values()) n[d.state === 'active' || d.state === 'awake' ? 'active' : d.state === 'asleep' ? 'asleep' : 'connecting']++;
    return n;
  }

  /**
   * Shutdown: stop taking datagrams, give publishes in flight `drainMs` to be acked by the broker (their
   * PUBACKs still go out), then drop every device's link abruptly: the devices cannot reach the broker
   * while the bridge is down, which is what their wills are for.
   */
  async close(drainMs: number): Promise<void> {
    this.accepting = false;
    if (this.advertiseTimer !== null) clearInterval(this.advertiseTimer);
    const deadline = Date.now() + drainMs;
    while (Date.now() < deadline && [...this.byClientId.values()].some((d) => d.publishesInFlight > 0)) await new Promise((r) => setTimeout(r, 10));
    for (const d of [...this.byClientId.values()]) d.remove('abrupt', 'bridge shutting down');
    const shared = this.qosMinusOneLink;
    this.qosMinusOneLink = null;
    if (shared !== null) await shared.then((l) => l.disconnect(), () => undefined);
  }

  private receive(transport: MessageTransport, datagram: Buffer, from: Peer): void {
    if (!this.accepting) return;
    let route: Route | null = null;
    try {
      const { nodeId, message } = unwrap(datagram);
      route = { key: nodeId === null ? from.key : `${from.key}/node:${nodeId.toString('hex')}`, transport, peer: from, nodeId };
      this.dispatch(route, decode(message));
    } catch (err) {
      if (err instanceof CodecError) return this.counters.drop(err.reason);
      // A bug in one device's handling: count it, keep serving everyone else.
      this.counters.drop('malformed');
      this.options.logger.warn({ err, peer: route?.key ?? from.key }, 'MQTT-SN message handling failed');
    }
  }

  private dispatch(route: Route, m: Message): void {
    this.counters.count('received');
    switch (m.type) {
      case 'SEARCHGW': return this.send(route, { type: 'GWINFO', gwId: this.options.gatewayId, gwAdd: Buffer.alloc(0) }); // [6.1] a gateway answers with its id only
      case 'ADVERTISE': case 'GWINFO': return this.counters.drop('unsupported'); // another gateway, or a client answering for one
      case 'CONNECT': return this.connect(route, m);
      case 'PUBLISH': if (m.qos === -1) return this.publishWithoutConnection(m); break;
      case 'PINGREQ': if (m.clientId !== null) return this.wake(route, m.clientId, m); break;
      default: break;
    }
    const device = this.byRoute.get(route.key);
    if (device === undefined) {
      this.counters.drop('not-connected');
      // [6.13-ish] a client we hold no session for is told to connect again; never answer an answer.
      if (CLIENT_MESSAGES.has(m.type)) this.send(route, { type: 'DISCONNECT', duration: null });
      return;
    }
    if (!(ACCEPTED_IN[m.type] ?? []).includes(device.state)) return this.counters.drop('wrong-state');
    device.handle(m);
  }

  /** [6.3] CONNECT from a new device, a known one (reconnect, wake), or a known client id from a new address. */
  private connect(route: Route, m: Extract<Message, { type: 'CONNECT' }>): void {
    const allow = this.options.allowClientIds;
    if ((allow !== null && !allow.has(m.clientId)) || m.clientId === QOS_MINUS_ONE_SUFFIX) {
      this.counters.drop('not-allowed');
      return this.send(route, { type: 'CONNACK', returnCode: ReturnCode.NOT_SUPPORTED });
    }
    let device = this.byClientId.get(m.clientId);
    const atRoute = this.byRoute.get(route.key);
    if (atRoute !== undefined && atRoute !== device) atRoute.remove('graceful', `address taken by client ${m.clientId}`);
    if (device === undefined) {
      if (this.byClientId.size >= this.options.devicesMax) {
        this.counters.drop('devices-max');
        return this.send(route, { type: 'CONNACK', returnCode: ReturnCode.CONGESTION });
      }
      device = new Device(m.clientId, route, new TopicRegistry(this.options.predefinedTopics, this.predefinedIds, this.options.topicsPerDeviceMax), this.ctx);
      this.byClientId.set(m.clientId, device);
    } else this.move(device, route);
    this.byRoute.set(route.key, device);
    device.handle(m);
  }

  /** [6.14] A sleeping device's PINGREQ names its client id; it may come from a new address. */
  private wake(route: Route, clientId: string, m: Message): void {
    const device = this.byClientId.get(clientId);
    if (device === undefined || !(ACCEPTED_IN.PINGREQ ?? []).includes(device.state)) {
      this.counters.drop('not-connected');
      return this.send(route, { type: 'DISCONNECT', duration: null });
    }
    this.move(device, route);
    device.handle(m);
  }

  private move(device: Device, route: Route): void {
    if (device.route.key === route.key) return;
    this.byRoute.delete(device.route.key);
    device.route = route;
    this.byRoute.set(route.key, device);
  }

  /** [6.17] QoS −1: predefined ids or short names only, no session, no answer. */
  private publishWithoutConnection(m: Extract<Message, { type: 'PUBLISH' }>): void {
    const t = m.topic;
    const name = t.kind === 'short' ? t.name : t.kind === 'predefined' ? this.options.predefinedTopics.get(t.id) : undefined;
    if (name === undefined) return this.counters.drop('malformed');
    this.qosMinusOneLink ??= this.openSharedLink();
    const link = this.qosMinusOneLink;
    link.then((l) => l.publish(name, m.data, 1, m.retain)).then(
      () => this.counters.count('published'),
      () => {
        this.counters.drop('delivery-failed');
        if (this.qosMinusOneLink === link) this.qosMinusOneLink = null;
      },
    );
  }

  private async openSharedLink(): Promise<MqttLink> {
    const handlers: LinkHandlers = { publish: () => undefined, close: () => void (this.qosMinusOneLink = null) };
    const { link, returnCode } = await this.openLink(`${this.options.clientIdPrefix}${QOS_MINUS_ONE_SUFFIX}`, true, null, handlers);
    if (returnCode !== 0) throw new CodecError(`broker refused the QoS -1 link (${returnCode})`, 'delivery-failed');
    return link;
  }

  private openLink(clientId: string, clean: boolean, will: Will | null, handlers: LinkHandlers): Promise<{ link: MqttLink; returnCode: number }> {
    const b = this.options.broker;
    return MqttLink.connect(
      {
        host: b.host, port: b.port, clientId, clean, username: b.username, password: b.password,
        will: will === null ? undefined : { topic: will.topic, payload: will.message, qos: will.qos, retain: will.retain },
        connectTimeoutMs: this.options.connectTimeoutMs, writeBufferMaxBytes: LINK_WRITE_BUFFER_MAX_BYTES,
      },
      handlers,
    );
  }

  private removed(device: Device, why: string): void {
    if (this.byClientId.get(device.clientId) === device) this.byClientId.delete(device.clientId);
    if (this.byRoute.get(device.route.key) === device) this.byRoute.delete(device.route.key);
    this.options.logger.debug({ clientId: device.clientId, peer: device.route.peer.description, why }, 'MQTT-SN device gone');
  }

  private send(route: Route, m: Message): void {
    const bytes = encode(m);
    route.transport.send(route.nodeId === null ? bytes : wrap(route.nodeId, bytes), route.peer);
  }
}

/** Messages only a client sends: a peer without a session that sends one is told DISCONNECT. */
const CLIENT_MESSAGES: ReadonlySet<Message['type']> = new Set<Message['type']>(['REGISTER', 'PUBLISH', 'PUBACK', 'PUBREC', 'PUBREL', 'PUBCOMP', 'SUBSCRIBE', 'UNSUBSCRIBE', 'PINGREQ', 'DISCONNECT', 'WILLTOPIC', 'WILLMSG', 'WILLTOPICUPD', 'WILLMSGUPD']);
