/**
 * One device's topic names and ids [MQTT-SN 1.2 §6.5, §6.7]: the three ways a PUBLISH names a topic.
 *
 * - normal ids: given out here (1..65534; 0x0000 and 0xFFFF are reserved), by REGISTER from the device,
 *   by SUBSCRIBE to a name without wildcards (the id goes back in SUBACK), or by the gateway's own
 *   REGISTER before it delivers on a topic the device has no id for (a wildcard subscription's SUBACK
 *   carries id 0, so the device learns ids only that way);
 * - predefined ids: from config, the same for every device, never registered;
 * - short names: exactly two characters, in the id field itself.
 *
 * Invariants: `byId` and `byName` are exact inverses; an id in `known` is in `byId`. `known` holds the
 * ids the device has been told in its current connection: a reconnect forgets them (the device may have
 * rebooted), so the gateway REGISTERs again before it publishes on them, with the same id, while the
 * device's own publishes on a kept id still resolve. A clean session forgets everything.
 */
import type { TopicRef } from './codec.js';
import { assert } from './errors.js';

export type PublishTopic = { kind: 'normal' | 'predefined'; id: number } | { kind: 'short'; name: string };

/** Topic ids 0x0000 and 0xFFFF are reserved [5.3.11]. */
const TOPIC_ID_MAX = 0xfffe;

export class TopicRegistry {
  private readonly byId = new Map<number, string>();
  private readonly byName = new Map<string, number>();
  private readonly known = new Set<number>();
  private nextId = 1;

  constructor(
    private readonly predefined: ReadonlyMap<number, string>,
    private readonly predefinedIds: ReadonlyMap<string, number>,
    private readonly topicsMax: number,
  ) {}

  get size(): number {
    return this.byId.size;
  }

  /** The id for `name`, given out now if need be; null when the device holds `topicsMax` topics already. */
  idFor(name: string): number | null {
    const existing = this.byName.get(name);
    if (existing !== undefined) return existing;
    if (this.byId.size >= this.topicsMax) return null;
    while (this.byId.has(this.nextId)) this.nextId = (this.nextId % TOPIC_ID_MAX) + 1;
    const id = this.nextId;
    this.nextId = (this.nextId % TOPIC_ID_MAX) + 1;
    this.byId.set(id, name);
    this.byName.set(name, id);
    assert(this.byId.size === this.byName.size, 'topic ids and names out of step');
    return id;
  }

  /** The topic name a PUBLISH/SUBSCRIBE refers to, or null for an id the device never registered. */
  resolve(ref: TopicRef): string | null {
    switch (ref.kind) {
      case 'normal': return this.byId.get(ref.id) ?? null;
      case 'predefined': return this.predefined.get(ref.id) ?? null;
      case 'short': case 'name': return ref.name;
    }
  }

  /** How a delivery on `name` is addressed to the device, and whether it must be REGISTERed first. */
  forDelivery(name: string): { topic: PublishTopic; register: boolean } | null {
    const predefinedId = this.predefinedIds.get(name);
    if (predefinedId !== undefined) return { topic: { kind: 'predefined', id: predefinedId }, register: false };
    if (name.length === 2 && Buffer.byteLength(name) === 2) return { topic: { kind: 'short', name }, register: false };
    const id = this.idFor(name);
    if (id === null) return null;
    return { topic: { kind: 'normal', id }, register: !this.known.has(id) };
  }

  /** The device now knows `id` (its REGISTER, our REGACKed REGISTER, or a SUBACK). */
  markKnown(id: number): void {
    assert(this.byId.has(id), `topic id ${id} was never given out`);
    this.known.add(id);
  }

  /** A new connection: the device may have forgotten every id the gateway told it. */
  forgetKnown(): void {
    this.known.clear();
  }

  clear(): void {
    this.byId.clear();
    this.byName.clear();
    this.known.clear();
    this.nextId = 1;
  }
}
