/**
 * One device's MQTT 3.1.1 connection to the broker, over TCP, spoken with mqtt-packet: the bridge is
 * a transparent gateway, so every MQTT-SN client gets its own link, with its own session, will and acks.
 *
 * Invariants:
 * - a message id is in at most one of `pending` (our publishes, subscribes, unsubscribes awaiting
 *   their ack) at a time; ids run 1..65535 and are never 0 [MQTT-2.3.1-1];
 * - once the socket closes, every pending promise is rejected with BrokerLinkError and nothing more is
 *   written; `onClose` is called exactly once;
 * - keepalive is 0: the broker does not time the link out. The bridge supervises the *device* (its
 *   MQTT-SN keepalive or sleep duration) and destroys the link when the device is lost, which is what
 *   makes the broker publish the will. A link lost with the bridge process is closed by the kernel, and
 *   the broker publishes the will then too.
 * - `destroy()` is abrupt (no DISCONNECT: the will is published); `disconnect()` is the clean goodbye
 *   (DISCONNECT first: the will is discarded [MQTT-3.1.2-10]).
 */
import net from 'node:net';
import mqttPacket, { type IConnackPacket, type IPublishPacket, type ISubackPacket, type Packet, type QoS } from 'mqtt-packet';
import { assert, BrokerLinkError } from './errors.js';

export interface LinkOptions {
  host: string;
  port: number;
  clientId: string;
  clean: boolean;
  username?: string | undefined;
  password?: Buffer | undefined;
  will?: { topic: string; payload: Buffer; qos: 0 | 1 | 2; retain: boolean } | undefined;
  connectTimeoutMs: number;
  /** Bytes the broker may leave unread before the link is given up (it is not reading: a wedged broker). */
  writeBufferMaxBytes: number;
}

export interface IncomingPublish {
  topic: string;
  payload: Buffer;
  qos: 0 | 1 | 2;
  retain: boolean;
  /**
   * QoS 1: sends PUBACK to the broker; QoS 2: sends PUBREC (the PUBREL that follows is answered with
   * PUBCOMP here). The gateway calls it when the device acknowledged, or when it gave the message up.
   */
  ack(): void;
}

export interface LinkHandlers {
  publish(p: IncomingPublish): void;
  close(reason: string): void;
}

type Waiter = { expect: Packet['cmd']; resolve(p: Packet): void; reject(err: Error): void };

export class MqttLink {
  private readonly parser = mqttPacket.parser({ protocolVersion: 4 });
  private readonly pending = new Map<number, Waiter>();
  private connackWaiter: ((p: IConnackPacket) => void) | null = null;
  private nextId = 1;
  private closedReason: string | null = null;
  private readonly socketClosed: Promise<void>;

  private constructor(private readonly socket: net.Socket, private readonly options: LinkOptions, private readonly handlers: LinkHandlers) {
    socket.setNoDelay(true);
    this.parser.on('packet', (p: Packet) => this.received(p));
    this.parser.on('error', (err: Error) => this.close(`broker sent a bad packet: ${err.message}`));
    socket.on('data', (d: Buffer) => this.parser.parse(d));
    socket.on('error', (err) => this.close(err.message));
    this.socketClosed = new Promise((resolve) => socket.once('close', () => resolve()));
    socket.on('close', () => this.close('connection closed'));
  }

  /** Opens the TCP connection and sends CONNECT; resolves with the broker's CONNACK return code (the link is closed unless it is 0). */
  static async connect(options: LinkOptions, handlers: LinkHandlers): Promise<{ link: MqttLink; returnCode: number; sessionPresent: boolean }> {
    assert(options.clientId.length > 0, 'an MQTT client id is needed: the bridge keeps one session per device');
    const socket = net.connect(options.port, options.host);
    const link = new MqttLink(socket, options, handlers);
    const connack = await new Promise<IConnackPacket>((resolve, reject) => {
      const timer = setTimeout(() => {
        link.destroy();
        reject(new BrokerLinkError(`no CONNACK from ${options.host}:${options.port} within ${options.connectTimeoutMs} ms`));
      }, options.connectTimeoutMs);
      link.connackWaiter = (p) => {
        clearTimeout(timer);
        resolve(p);
      };
      link.onClosed = (reason) => {
        clearTimeout(timer);
        reject(new BrokerLinkError(`broker ${options.host}:${options.port}: ${reason}`));
      };
      link.write({
        cmd: 'connect', protocolId: 'MQTT', protocolVersion: 4, clean: options.clean, clientId: options.clientId, keepalive: 0,
        ...(options.username === undefined ? {} : { username: options.username }),
        ...(options.password === undefined ? {} : { password: options.password }),
        ...(options.will === undefined ? {} : { will: { ...options.will } }),
      });
    });
    link.onClosed = null;
    const returnCode = connack.returnCode ?? 0;
    if (returnCode !== 0) link.destroy();
    return { link, returnCode, sessionPresent: connack.sessionPresent };
  }

  private onClosed: ((reason: string) => void) | null = null;

  get closed(): boolean {
    return this.closedReason !== null;
  }

  /** QoS 0 resolves once written; QoS 1 on the broker's PUBACK; QoS 2 on its PUBREC (then `release`). Resolves with the message id. */
  publish(topic: string, payload: Buffer, qos: QoS, retain: boolean): Promise<number> {
    if (qos === 0) {
      this.write({ cmd: 'publish', topic, payload, qos, retain, dup: false });
      return this.closedReason === null ? Promise.resolve(0) : Promise.reject(new BrokerLinkError(`link closed: ${this.closedReason}`));
    }
    const messageId = this.allocateId();
    const acked = this.expect(messageId, qos === 1 ? 'puback' : 'pubrec');
    this.write({ cmd: 'publish', topic, payload, qos, retain, dup: false, messageId });
    return acked.then(() => messageId);
  }

  /** The second half of a QoS 2 publish: PUBREL, resolved on PUBCOMP. */
  async release(messageId: number): Promise<void> {
    const done = this.expect(messageId, 'pubcomp');
    this.write({ cmd: 'pubrel', messageId });
    await done;
  }

  /** Resolves with the granted QoS, or 0x80 when the broker refused the filter. */
  async subscribe(filter: string, qos: QoS): Promise<number> {
    const messageId = this.allocateId();
    const acked = this.expect(messageId, 'suback');
    this.write({ cmd: 'subscribe', messageId, subscriptions: [{ topic: filter, qos }] });
    const suback = (await acked) as ISubackPacket;
    return suback.granted[0] as number;
  }

  async unsubscribe(filter: string): Promise<void> {
    const messageId = this.allocateId();
    const acked = this.expect(messageId, 'unsuback');
    this.write({ cmd: 'unsubscribe', messageId, unsubscriptions: [filter] });
    await acked;
  }

  /** The clean goodbye: DISCONNECT, so the broker discards the will. Resolves once the socket closed (at most `connectTimeoutMs`). */
  disconnect(): Promise<void> {
    if (this.closedReason === null) {
      this.write({ cmd: 'disconnect' });
      this.socket.end();
      this.close('disconnected');
    }
    const timer = setTimeout(() => this.socket.destroy(), this.options.connectTimeoutMs).unref();
    return this.socketClosed.finally(() => clearTimeout(timer));
  }

  /** Abrupt close (no DISCONNECT): the broker publishes the device's will. */
  destroy(): void {
    this.socket.destroy();
    this.close('destroyed');
  }

  private expect(messageId: number, expect: Packet['cmd']): Promise<Packet> {
    if (this.closedReason !== null) return Promise.reject(new BrokerLinkError(`link closed: ${this.closedReason}`));
    assert(!this.pending.has(messageId), `message id ${messageId} is already awaiting its ack`);
    return new Promise((resolve, reject) => this.pending.set(messageId, { expect, resolve, reject }));
  }

  private allocateId(): number {
    if (this.pending.size >= 0xffff) throw new BrokerLinkError('65,535 messages in flight on one link');
    while (this.pending.has(this.nextId)) this.nextId = (this.nextId % 0xffff) + 1;
    const id = this.nextId;
    this.nextId = (this.nextId % 0xffff) + 1;
    return id;
  }

  private write(packet: Packet): void {
    if (this.closedReason !== null) return;
    this.socket.write(mqttPacket.generate(packet));
    if (this.socket.writableLength > this.options.writeBufferMaxBytes) this.destroy();
  }

  private received(p: Packet): void {
    switch (p.cmd) {
      case 'connack':
        this.connackWaiter?.(p);
        this.connackWaiter = null;
        return;
      case 'publish':
        return this.incoming(p);
      case 'pubrel':
        // [MQTT-4.3.3-2] the QoS 2 message was already handed on at PUBREC: complete it.
        this.write({ cmd: 'pubcomp', messageId: p.messageId as number });
        return;
      case 'puback': case 'pubrec': case 'pubcomp': case 'suback': case 'unsuback': {
        const waiter = this.pending.get(p.messageId as number);
        if (waiter === undefined || waiter.expect !== p.cmd) return; // a stray ack (e.g. after a retry): harmless
        this.pending.delete(p.messageId as number);
        waiter.resolve(p);
        return;
      }
      default:
        return; // pingresp and the rest: nothing to do for a keepalive-0 client
    }
  }

  private incoming(p: IPublishPacket): void {
    const messageId = p.messageId;
    const qos = p.qos;
    let acked = false;
    this.handlers.publish({
      topic: p.topic,
      payload: Buffer.isBuffer(p.payload) ? p.payload : Buffer.from(p.payload),
      qos,
      retain: p.retain,
      ack: () => {
        if (acked || qos === 0 || messageId === undefined) return;
        acked = true;
        this.write({ cmd: qos === 1 ? 'puback' : 'pubrec', messageId });
      },
    });
  }

  private close(reason: string): void {
    if (this.closedReason !== null) return;
    this.closedReason = reason;
    if (!this.socket.destroyed && reason !== 'disconnected') this.socket.destroy();
    const err = new BrokerLinkError(`link ${this.options.clientId} closed: ${reason}`);
    for (const w of this.pending.values()) w.reject(err);
    this.pending.clear();
    this.onClosed?.(reason);
    this.handlers.close(reason);
  }
}
