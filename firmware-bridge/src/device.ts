/**
 * One MQTT-SN client's session in the gateway: its state (the table in index.ts), its MQTT link to the
 * broker, its topics, its publishes in flight towards the broker, and its deliveries (delivery.ts).
 *
 * Invariants:
 * - `link` is the only live link of this device; a link from an older generation is never used again
 *   (its events are ignored), and a new link is opened only once the old one is closed, so the broker
 *   never sees two connections with one client id (a takeover could publish the old will);
 * - every publish from the device is in `inbound` from its first PUBLISH until the device is told the
 *   outcome, so a retransmitted PUBLISH (same MsgId) is never published twice; `inbound` holds at most
 *   `publishesInFlightMax` entries;
 * - once `state` is 'gone' nothing more is sent to the device and the gateway no longer routes to it.
 */
import { ReturnCode, type Message, type TopicRef } from './codec.js';
import { Delivery, type DeliveryLimits } from './delivery.js';
import { assert, type DropReason } from './errors.js';
import type { IncomingPublish, LinkHandlers, MqttLink } from './mqtt-link.js';
import type { TopicRegistry } from './topics.js';
import type { MessageTransport, Peer } from './transport.js';

export type DeviceState = 'will-topic' | 'will-message' | 'connecting' | 'active' | 'asleep' | 'awake' | 'gone';

/** Which device states each message from a device is taken in; anything else is dropped as `wrong-state`. */
export const ACCEPTED_IN: Partial<Record<Message['type'], readonly DeviceState[]>> = {
  WILLTOPIC: ['will-topic'],
  WILLMSG: ['will-message'],
  REGISTER: ['active', 'awake'],
  REGACK: ['active', 'awake'],
  PUBLISH: ['active'],
  PUBACK: ['active', 'awake'],
  PUBREC: ['active', 'awake'],
  PUBREL: ['active', 'awake'],
  PUBCOMP: ['active', 'awake'],
  SUBSCRIBE: ['active'],
  UNSUBSCRIBE: ['active'],
  PINGREQ: ['active', 'asleep', 'awake'],
  DISCONNECT: ['active', 'asleep', 'awake'],
  WILLTOPICUPD: ['active'],
  WILLMSGUPD: ['active'],
};

/** A device is lost when silent for this many keepalive (or sleep) durations [like MQTT-3.1.2-24]. */
export const KEEPALIVE_GRACE = 1.5;

export interface Route { readonly key: string; readonly transport: MessageTransport; readonly peer: Peer; readonly nodeId: Buffer | null }
export interface Will { topic: string; qos: 0 | 1 | 2; retain: boolean; message: Buffer }

export interface DeviceContext {
  readonly limits: DeliveryLimits & { publishesInFlightMax: number; handshakeTimeoutMs: number };
  send(route: Route, m: Message): void;
  openLink(clientId: string, clean: boolean, will: Will | null, handlers: LinkHandlers): Promise<{ link: MqttLink; returnCode: number }>;
  dropped(reason: DropReason): void;
  count(what: 'published' | 'delivered' | 'lost'): void;
  /** The device is gone: forget its routes. */
  removed(device: Device, why: string): void;
}

type Inbound = { phase: 'publishing' | 'received' | 'releasing'; brokerMsgId: number };

export class Device {
  state: DeviceState = 'connecting';
  private link: MqttLink | null = null;
  private linkHasWill = false;
  private generation = 0;
  private will: Will | null = null;
  private pendingWill: Omit<Will, 'message'> | null = null;
  private clean = true;
  private keepaliveMs = 0;
  private sleepMs = 0;
  private msgId = 0;
  private subscribing = 0;
  private readonly subscriptions = new Map<string, 0 | 1 | 2>();
  private readonly inbound = new Map<number, Inbound>();
  private readonly delivery: Delivery;
  /** The supervision deadline of the current state; refreshed by every message from the device. */
  private timer: NodeJS.Timeout | null = null;

  constructor(readonly clientId: string, public route: Route, readonly topics: TopicRegistry, private readonly ctx: DeviceContext) {
    this.delivery = new Delivery(
      {
        topics,
        canSend: () => (this.state === 'active' || this.state === 'awake') && this.subscribing === 0,
        asleep: () => this.state === 'asleep',
        send: (m) => this.send(m),
        nextMsgId: () => (this.msgId = (this.msgId % 0xffff) + 1),
        dropped: (reason) => ctx.dropped(reason),
        delivered: () => ctx.count('delivered'),
        drained: () => this.drained(),
        unanswered: () => this.lose('deliveries unanswered'),
      },
      ctx.limits,
    );
    this.arm(ctx.limits.handshakeTimeoutMs);
  }

  /** Messages in flight towards the broker, for the drain on shutdown. */
  get publishesInFlight(): number {
    return this.inbound.size;
  }

  /** Every message the device sends passes here, after the gateway checked `ACCEPTED_IN` (CONNECT always passes). */
  handle(m: Message): void {
    assert(this.state !== 'gone', 'a gone device gets no messages');
    this.timer?.refresh();
    switch (m.type) {
      case 'CONNECT': return this.connect(m);
      case 'WILLTOPIC': return this.willTopic(m.will);
      case 'WILLMSG': return this.willMessage(m.message);
      case 'REGISTER': return this.register(m);
      case 'PUBLISH': return this.publish(m);
      case 'PUBREL': return this.pubrel(m.msgId);
      case 'REGACK': return this.ackFromDevice(this.delivery.onRegack(m));
      case 'PUBACK': return this.ackFromDevice(this.delivery.onPuback(m));
      case 'PUBREC': return this.ackFromDevice(this.delivery.onPubrec(m));
      case 'PUBCOMP': return this.ackFromDevice(this.delivery.onPubcomp(m));
      case 'SUBSCRIBE': return void this.subscribe(m);
      case 'UNSUBSCRIBE': return void this.unsubscribe(m);
      case 'PINGREQ': return this.ping();
      case 'DISCONNECT': return this.disconnect(m.duration);
      case 'WILLTOPICUPD': return this.updateWill(m.will === null ? null : { ...m.will, message: this.will?.message ?? Buffer.alloc(0) }, 'WILLTOPICRESP');
      case 'WILLMSGUPD': return this.will === null ? this.send({ type: 'WILLMSGRESP', returnCode: ReturnCode.NOT_SUPPORTED }) : this.updateWill({ ...this.will, message: m.message }, 'WILLMSGRESP');
      default: return this.ctx.dropped('wrong-state');
    }
  }

  /** [6.3] CONNECT, with the will handshake first when the Will flag is set. */
  private connect(m: Extract<Message, { type: 'CONNECT' }>): void {
    if (this.state === 'connecting' && this.link === null && this.generation > 0) return; // a retransmission: CONNACK is on its way
    this.clean = m.cleanSession;
    this.keepaliveMs = m.duration * 1000;
    if (m.cleanSession) {
      this.topics.clear();
      this.subscriptions.clear();
      this.delivery.clear();
    }
    this.topics.forgetKnown();
    if (m.will) {
      this.enter('will-topic');
      this.send({ type: 'WILLTOPICREQ' });
      return;
    }
    this.will = null;
    this.openSession();
  }

  private willTopic(will: { qos: 0 | 1 | 2; retain: boolean; topic: string } | null): void {
    if (will === null) {
      this.will = null;
      return this.openSession();
    }
    this.pendingWill = will;
    this.enter('will-message');
    this.send({ type: 'WILLMSGREQ' });
  }

  private willMessage(message: Buffer): void {
    assert(this.pendingWill !== null, 'WILLMSG is taken only after a WILLTOPIC');
    this.will = { ...this.pendingWill, message };
    this.pendingWill = null;
    this.openSession();
  }

  /** The existing link serves when it is a kept session without a will; otherwise a new one is opened. */
  private openSession(): void {
    if (this.link !== null && !this.link.closed && !this.clean && this.will === null && !this.linkHasWill) {
      this.send({ type: 'CONNACK', returnCode: ReturnCode.ACCEPTED });
      this.enter('active');
      return this.delivery.pump();
    }
    this.enter('connecting');
    void this.reopenLink(this.clean).then((rc) => {
      if (this.state === 'gone') return;
      this.send({ type: 'CONNACK', returnCode: rc });
      if (rc !== ReturnCode.ACCEPTED) return this.remove('abrupt', `connect refused (${rc})`);
      this.enter('active');
      this.delivery.pump();
    });
  }

  /** Closes the current link cleanly (no will), opens the next; resolves with the MQTT-SN return code. */
  private async reopenLink(clean: boolean): Promise<number> {
    const generation = ++this.generation;
    const old = this.link;
    this.link = null;
    this.delivery.clear(); // the broker redelivers what was not acked, on the next link of a kept session
    if (old !== null) await old.disconnect();
    const handlers: LinkHandlers = {
      publish: (p: IncomingPublish) => (generation === this.generation ? this.delivery.push(p) : undefined),
      close: (reason) => {
        if (generation !== this.generation || this.state === 'gone' || this.link === null) return;
        // The broker dropped the device (takeover, shutdown): tell it, so it connects again.
        this.send({ type: 'DISCONNECT', duration: null });
        this.remove('abrupt', `broker link closed: ${reason}`);
      },
    };
    try {
      const { link, returnCode } = await this.ctx.openLink(this.clientId, clean, this.will, handlers);
      if (generation !== this.generation || this.state === 'gone') {
        link.destroy();
        return ReturnCode.CONGESTION;
      }
      if (returnCode !== 0) return ReturnCode.NOT_SUPPORTED; // refused by the broker (credentials, ACL)
      this.link = link;
      this.linkHasWill = this.will !== null;
      return ReturnCode.ACCEPTED;
    } catch {
      return ReturnCode.CONGESTION; // broker unreachable: the device tries again later [5.3.10]
    }
  }

  private register(m: Extract<Message, { type: 'REGISTER' }>): void {
    const bad = m.topicName.includes('+') || m.topicName.includes('#');
    const id = bad ? null : this.topics.idFor(m.topicName);
    if (id === null) return this.send({ type: 'REGACK', topicId: 0, msgId: m.msgId, returnCode: bad ? ReturnCode.NOT_SUPPORTED : ReturnCode.CONGESTION });
    this.topics.markKnown(id);
    this.send({ type: 'REGACK', topicId: id, msgId: m.msgId, returnCode: ReturnCode.ACCEPTED });
  }

  /**
   * [6.8] A device's PUBLISH. QoS 1: the MQTT-SN PUBACK goes out only after the broker's PUBACK, and
   * the broker acks only once the message is committed and synced in the log. The order is the whole
   * promise: a device discards a message when it sees PUBACK, so a PUBACK sent before the broker had
   * it durable would let a crash, a kill -9 or a power cut lose a message both sides consider delivered.
   * QoS 2 likewise relays PUBREC/PUBREL/PUBCOMP, each after the broker's.
   */
  private publish(m: Extract<Message, { type: 'PUBLISH' }>): void {
    const name = this.topics.resolve(m.topic);
    const topicId = rawTopicId(m.topic);
    if (name === null) return this.send({ type: 'PUBACK', topicId, msgId: m.msgId, returnCode: ReturnCode.INVALID_TOPIC_ID });
    const link = this.link;
    if (m.qos === 0 || m.qos === -1) {
      if (link === null) return this.ctx.dropped('not-connected');
      link.publish(name, m.data, 0, m.retain).catch(() => undefined);
      return this.ctx.count('published');
    }
    const known = this.inbound.get(m.msgId);
    if (known !== undefined) {
      if (known.phase === 'received') this.send({ type: 'PUBREC', msgId: m.msgId }); // our PUBREC was lost
      return; // a retransmission of a publish in flight: published once only
    }
    if (link === null) return; // the link is being reopened (will update): the device retries
    if (this.inbound.size >= this.ctx.limits.publishesInFlightMax) return this.send({ type: 'PUBACK', topicId, msgId: m.msgId, returnCode: ReturnCode.CONGESTION });
    const entry: Inbound = { phase: 'publishing', brokerMsgId: 0 };
    this.inbound.set(m.msgId, entry);
    link.publish(name, m.data, m.qos, m.retain).then(
      (brokerMsgId) => {
        if (this.inbound.get(m.msgId) !== entry) return;
        this.ctx.count('published');
        if (m.qos === 1) {
          this.inbound.delete(m.msgId);
          return this.send({ type: 'PUBACK', topicId, msgId: m.msgId, returnCode: ReturnCode.ACCEPTED });
        }
        entry.phase = 'received';
        entry.brokerMsgId = brokerMsgId;
        this.send({ type: 'PUBREC', msgId: m.msgId });
      },
      () => {
        if (this.inbound.get(m.msgId) === entry) this.inbound.delete(m.msgId); // link gone: no ack, the device sends it again
      },
    );
  }

  private pubrel(msgId: number): void {
    const entry = this.inbound.get(msgId);
    if (entry === undefined) return this.send({ type: 'PUBCOMP', msgId }); // completed before: our PUBCOMP was lost
    if (entry.phase !== 'received' || this.link === null) return;
    entry.phase = 'releasing';
    this.link.release(entry.brokerMsgId).then(
      () => {
        this.inbound.delete(msgId);
        this.send({ type: 'PUBCOMP', msgId });
      },
      () => void this.inbound.delete(msgId),
    );
  }

  /** [6.9] SUBSCRIBE: deliveries wait until the SUBACK went out, so a retained message never overtakes it. */
  private async subscribe(m: Extract<Message, { type: 'SUBSCRIBE' }>): Promise<void> {
    const filter = this.topics.resolve(m.topic);
    const link = this.link;
    if (filter === null) return this.send({ type: 'SUBACK', qos: 0, topicId: 0, msgId: m.msgId, returnCode: ReturnCode.INVALID_TOPIC_ID });
    if (link === null) return;
    const wildcard = m.topic.kind === 'name' && (filter.includes('+') || filter.includes('#'));
    const topicId = m.topic.kind === 'predefined' ? m.topic.id : m.topic.kind === 'name' && !wildcard ? this.topics.idFor(filter) : 0;
    if (topicId === null) return this.send({ type: 'SUBACK', qos: 0, topicId: 0, msgId: m.msgId, returnCode: ReturnCode.CONGESTION });
    this.subscribing++;
    try {
      const granted = await link.subscribe(filter, m.qos);
      if (granted === 0x80) return this.send({ type: 'SUBACK', qos: 0, topicId: 0, msgId: m.msgId, returnCode: ReturnCode.NOT_SUPPORTED });
      this.subscriptions.set(filter, m.qos);
      // [5.4.16] a wildcard's SUBACK carries topic id 0: the gateway REGISTERs each topic before publishing on it.
      this.send({ type: 'SUBACK', qos: granted as 0 | 1 | 2, topicId, msgId: m.msgId, returnCode: ReturnCode.ACCEPTED });
      if (m.topic.kind === 'name' && !wildcard) this.topics.markKnown(topicId);
    } catch {
      // the link closed: the device is told by the close handler
    } finally {
      this.subscribing--;
      if (this.state !== 'gone') this.delivery.pump();
    }
  }

  private async unsubscribe(m: Extract<Message, { type: 'UNSUBSCRIBE' }>): Promise<void> {
    const filter = this.topics.resolve(m.topic);
    if (filter === null) return this.send({ type: 'UNSUBACK', msgId: m.msgId }); // nothing to remove [6.10]
    if (this.link === null) return;
    try {
      await this.link.unsubscribe(filter);
      this.subscriptions.delete(filter);
      this.send({ type: 'UNSUBACK', msgId: m.msgId });
    } catch {
      // the link closed: the device is told by the close handler
    }
  }

  /** [6.14] A PINGREQ wakes a sleeping device: every buffered message first, then PINGRESP (drained()). */
  private ping(): void {
    if (this.state === 'active') return this.send({ type: 'PINGRESP' });
    if (this.state === 'asleep') this.enter('awake');
    this.delivery.pump();
  }

  private drained(): void {
    if (this.state !== 'awake') return;
    this.send({ type: 'PINGRESP' });
    this.enter('asleep');
  }

  /** [6.12] Without a duration: goodbye (will discarded). With one: asleep for that many seconds [6.14]. */
  private disconnect(duration: number | null): void {
    this.send({ type: 'DISCONNECT', duration: null });
    if (duration === null || duration === 0) return this.remove('graceful', 'DISCONNECT');
    this.sleepMs = duration * 1000;
    this.enter('asleep');
  }

  /** [6.4] WILLTOPICUPD / WILLMSGUPD: MQTT cannot change a will in place, so the link is reopened with the new one. */
  private updateWill(will: Will | null, answer: 'WILLTOPICRESP' | 'WILLMSGRESP'): void {
    this.will = will;
    void this.reopenLink(this.clean).then(async (rc) => {
      if (this.state === 'gone') return;
      if (rc !== ReturnCode.ACCEPTED) {
        this.send({ type: 'DISCONNECT', duration: null });
        return this.remove('abrupt', 'will update refused by the broker');
      }
      // A clean session lost its subscriptions with the old link: make them again.
      if (this.clean) for (const [filter, qos] of this.subscriptions) await this.link?.subscribe(filter, qos).catch(() => 0x80);
      this.send({ type: answer, returnCode: ReturnCode.ACCEPTED });
      this.delivery.pump();
    });
  }

  private ackFromDevice(matched: boolean): void {
    if (!matched) this.ctx.dropped('wrong-state'); // an ack for nothing in flight (late duplicate)
  }

  private enter(state: DeviceState): void {
    assert(this.state !== 'gone', `a gone device cannot become ${state}`);
    this.state = state;
    this.arm(state === 'active' ? this.keepaliveMs * KEEPALIVE_GRACE : state === 'asleep' || state === 'awake' ? this.sleepMs * KEEPALIVE_GRACE : this.ctx.limits.handshakeTimeoutMs);
  }

  /** 0: no deadline (keepalive duration 0 [5.4.4]). */
  private arm(ms: number): void {
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = ms > 0 ? setTimeout(() => this.lose(`silent in state ${this.state}`), ms).unref() : null;
  }

  /** Lost: silent past its keepalive or sleep, or deliveries unanswered. The link is destroyed, not closed, so the broker publishes the will. */
  lose(why: string): void {
    if (this.state === 'gone') return;
    this.ctx.count('lost');
    this.remove('abrupt', why);
  }

  /**
   * Forgets the device. 'graceful' closes its link with DISCONNECT (the will is discarded); 'abrupt'
   * destroys it (the broker publishes the will).
   */
  remove(how: 'graceful' | 'abrupt', why: string): void {
    if (this.state === 'gone') return;
    this.state = 'gone';
    this.generation++;
    this.arm(0);
    this.delivery.clear();
    const link = this.link;
    this.link = null;
    if (how === 'graceful') void link?.disconnect();
    else link?.destroy();
    this.ctx.removed(this, why);
  }

  send(m: Message): void {
    if (this.state !== 'gone') this.ctx.send(this.route, m);
  }
}

/** The 2 bytes of a PUBLISH's topic field, echoed in PUBACK. */
function rawTopicId(t: TopicRef): number {
  if (t.kind === 'short') return (t.name.charCodeAt(0) << 8) | t.name.charCodeAt(1);
  return t.kind === 'name' ? 0 : t.id;
}
