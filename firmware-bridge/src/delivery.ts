/**
 * Messages from the broker to one device: a bounded queue and one message in flight at a time, as
 * MQTT-SN 1.2 has it (§6.8: a client need not handle more than one outstanding message per direction).
 *
 * For each message, in order: REGISTER first when the device has no id for the topic (after a wildcard
 * subscription, or after a reconnect), then PUBLISH at the device's QoS; QoS 1 waits for PUBACK, QoS 2
 * for PUBREC, PUBREL, PUBCOMP. Only when the device acknowledged is the broker's copy acknowledged
 * (`IncomingPublish.ack`): a bridge restart before that makes the broker deliver it again.
 *
 * Retries: every step is sent again after `retryIntervalMs` (PUBLISH with DUP), `retriesMax` times;
 * then the device is lost (§6.13: "the gateway assumes that it's disconnected"). The queue holds at most
 * `queueMessagesMax` messages, awake or asleep; beyond that the new message is dropped, counted
 * (`sleep-buffer-full` while the device sleeps, `queue-full` otherwise) and acked to the broker, so
 * that memory per device stays bounded whatever the broker sends.
 *
 * Invariant: `inflight` is null or the message at the head of its own phase; nothing is sent while the
 * host says it cannot send (connecting, asleep).
 */
import { ReturnCode, type Message } from './codec.js';
import { assert, type DropReason } from './errors.js';
import type { IncomingPublish } from './mqtt-link.js';
import type { PublishTopic, TopicRegistry } from './topics.js';

export interface DeliveryHost {
  readonly topics: TopicRegistry;
  /** True while the device is active or awake. */
  canSend(): boolean;
  asleep(): boolean;
  send(m: Message): void;
  nextMsgId(): number;
  dropped(reason: DropReason): void;
  delivered(): void;
  /** The queue ran empty (an awake device gets its PINGRESP now). */
  drained(): void;
  /** A step went unanswered `retriesMax` times. */
  unanswered(): void;
}

export interface DeliveryLimits {
  queueMessagesMax: number;
  retryIntervalMs: number;
  retriesMax: number;
}

type Phase = 'register' | 'publish' | 'release';
interface InFlight { item: IncomingPublish; topic: PublishTopic; phase: Phase; msgId: number; tries: number; timer: NodeJS.Timeout }

export class Delivery {
  private readonly queue: IncomingPublish[] = [];
  private inflight: InFlight | null = null;

  constructor(private readonly host: DeliveryHost, private readonly limits: DeliveryLimits) {}

  get queued(): number {
    return this.queue.length + (this.inflight === null ? 0 : 1);
  }

  push(p: IncomingPublish): void {
    if (this.queued >= this.limits.queueMessagesMax) {
      this.host.dropped(this.host.asleep() ? 'sleep-buffer-full' : 'queue-full');
      p.ack();
      return;
    }
    this.queue.push(p);
    this.pump();
  }

  /** Sends the next message if nothing is in flight and the device can receive. */
  pump(): void {
    while (this.inflight === null && this.host.canSend()) {
      const item = this.queue.shift();
      if (item === undefined) {
        this.host.drained();
        return;
      }
      const route = this.host.topics.forDelivery(item.topic);
      if (route === null) {
        this.host.dropped('delivery-failed'); // the device holds topicsPerDeviceMax topics already
        item.ack();
        continue;
      }
      if (item.qos === 0 && !route.register) {
        this.host.send(this.publish(item, route.topic, 0, false));
        this.host.delivered();
        continue;
      }
      const phase: Phase = route.register ? 'register' : 'publish';
      this.inflight = { item, topic: route.topic, phase, msgId: this.host.nextMsgId(), tries: 0, timer: setTimeout(() => this.retry(), this.limits.retryIntervalMs) };
      this.sendStep(false);
    }
  }

  onRegack(m: Extract<Message, { type: 'REGACK' }>): boolean {
    const f = this.inflight;
    if (f === null || f.phase !== 'register' || f.msgId !== m.msgId) return false;
    assert(f.topic.kind === 'normal', 'only normal topic ids are registered');
    if (m.returnCode !== ReturnCode.ACCEPTED) return this.finish('delivery-failed');
    this.host.topics.markKnown(f.topic.id);
    if (f.item.qos === 0) {
      this.host.send(this.publish(f.item, f.topic, 0, false));
      return this.finish(null);
    }
    this.advance(f, 'publish');
    return true;
  }

  onPuback(m: Extract<Message, { type: 'PUBACK' }>): boolean {
    const f = this.inflight;
    if (f === null || f.phase !== 'publish' || f.msgId !== m.msgId) return false;
    if (m.returnCode === ReturnCode.INVALID_TOPIC_ID && f.topic.kind === 'normal') {
      // The device lost the id (rebooted without reconnecting): register it again, same message.
      this.host.topics.forgetKnown();
      this.advance(f, 'register');
      return true;
    }
    return this.finish(m.returnCode === ReturnCode.ACCEPTED ? null : 'delivery-failed');
  }

  onPubrec(m: { msgId: number }): boolean {
    const f = this.inflight;
    if (f === null || f.msgId !== m.msgId || (f.phase !== 'publish' && f.phase !== 'release')) return false;
    if (f.phase === 'publish') {
      f.item.ack(); // PUBREC to the broker: the device has the message
      this.advance(f, 'release');
    } else this.sendStep(true);
    return true;
  }

  onPubcomp(m: { msgId: number }): boolean {
    const f = this.inflight;
    if (f === null || f.phase !== 'release' || f.msgId !== m.msgId) return false;
    return this.finish(null);
  }

  /** Forgets everything without acking the broker: the session's next link gets it again (clean session: never). */
  clear(): void {
    if (this.inflight !== null) clearTimeout(this.inflight.timer);
    this.inflight = null;
    this.queue.length = 0;
  }

  private advance(f: InFlight, phase: Phase): void {
    f.phase = phase;
    f.tries = 0;
    if (phase !== 'release') f.msgId = this.host.nextMsgId();
    this.sendStep(false);
  }

  private sendStep(dup: boolean): void {
    const f = this.inflight;
    assert(f !== null, 'a step is sent only for the message in flight');
    f.timer.refresh();
    if (f.phase === 'register') {
      assert(f.topic.kind === 'normal', 'only normal topic ids are registered');
      this.host.send({ type: 'REGISTER', topicId: f.topic.id, msgId: f.msgId, topicName: f.item.topic });
    } else if (f.phase === 'publish') this.host.send(this.publish(f.item, f.topic, f.msgId, dup));
    else this.host.send({ type: 'PUBREL', msgId: f.msgId });
  }

  private retry(): void {
    const f = this.inflight;
    if (f === null) return;
    if (!this.host.canSend()) return f.timer.refresh() && undefined;
    if (++f.tries > this.limits.retriesMax) {
      this.host.unanswered();
      return;
    }
    this.sendStep(true);
  }

  private finish(reason: DropReason | null): true {
    const f = this.inflight;
    assert(f !== null, 'finish needs a message in flight');
    clearTimeout(f.timer);
    this.inflight = null;
    if (reason === null) this.host.delivered();
    else this.host.dropped(reason);
    f.item.ack();
    this.pump();
    return true;
  }

  private publish(item: IncomingPublish, topic: PublishTopic, msgId: number, dup: boolean): Message {
    return { type: 'PUBLISH', dup, qos: item.qos, retain: item.retain, topic, msgId, data: item.payload };
  }
}
