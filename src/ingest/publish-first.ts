/**
 * QoS 1: publish before the PUBACK [delivery contract 6].
 *
 * aedes (lib/handlers/publish.js) writes a QoS 1 PUBACK first and runs `broker.publish` afterwards, and
 * `broker.publish` is what stores a retained message (`storeRetained`) and queues a copy for every
 * offline persistent session (`outgoingEnqueueCombi`). A crash between the two lost acked state. (QoS
 * 2 is already in the right order: aedes awaits `broker.publish` before the PUBREC.)
 *
 * So for a QoS 1 PUBLISH, once its record is durable, `authorizePublish` runs `broker.publish` itself
 * and answers aedes only when that finished — with the persistence's writes committed and synced —
 * and the PUBLISH object is marked; aedes' own `broker.publish` call for the same object, right after
 * its PUBACK, is then answered at once without publishing twice. aedes passes the very object it gave
 * `authorizePublish` (handlePublish's runSeries), which is what the mark keys on. Live subscribers
 * thereby get the message a moment before its publisher's PUBACK instead of after it.
 */
import type { Aedes } from 'aedes';

type Done = (err?: Error | null) => void;
type PublishFn = (packet: object, client: unknown, done?: Done) => void;

export class PublishFirst {
  private readonly published = new WeakSet<object>();
  private readonly publish: PublishFn;

  constructor(broker: Aedes) {
    const host = broker as unknown as { publish: PublishFn };
    const publish = host.publish.bind(broker);
    this.publish = publish;
    host.publish = (packet, client, done) => {
      if (this.published.delete(packet)) {
        const callback = typeof client === 'function' ? (client as Done) : done;
        callback?.(null);
        return;
      }
      publish(packet, client, done);
    };
  }

  /** aedes' own publish of `packet` (after its ack) will do nothing: the ACL denied it. */
  drop(packet: object): void {
    this.published.add(packet);
  }

  /** Publishes `packet` now; `done` runs once every write it caused is durable. */
  run(packet: object, client: unknown, done: Done): void {
    this.publish(packet, client, (err) => {
      if (err) return done(err);
      this.published.add(packet);
      done(null);
    });
  }
}
