/**
 * aedes' persistence interface (the async one of aedes 1.x / aedes-persistence 11), kept durably in the
 * log's `state` table: retained messages, subscriptions, persistent sessions' outgoing queues, inbound
 * QoS 2 packets awaiting PUBREL, and wills.
 *
 * Shape: every piece of state lives in memory, in the same structures aedes' MemoryPersistence uses
 * (so reads are as fast and behave identically), and every change is written through to LMDB. A method
 * that changes state resolves only after its LMDB write is committed and synced, so whatever aedes
 * acknowledges after awaiting it (SUBACK, PUBREC, CONNACK) survives a crash. At start, `setup` rebuilds
 * the memory from LMDB, upgrading state layout 1 in place first (one transaction). The key and value
 * layout is in state-codec.ts: keys hold ids of names, never the names, so every legal topic and
 * client id (up to 65,535 bytes) is storable.
 *
 * Concurrency: single-threaded. Memory is updated synchronously when a method is called, so a later
 * call sees an earlier one even before it is durable; writes reach LMDB in call order (the log's
 * commit queue is FIFO), so the last write to a key wins on disk as it does in memory.
 */
import { Readable } from 'node:stream';
import aedesPacket from 'aedes-packet';
import qlobber from 'qlobber';
import QlobberSub from 'qlobber/aedes/qlobber-sub.js';
import { LogCorruptError } from '../errors.js';
import { STATE_LAYOUT, VERSION_KEY, type Digest, type StoredPacket } from './state-codec.js';
import { StateEntries } from './state-entries.js';
import { readLayout1, type Layout1State } from './state-migrate.js';

/** The part of the Log this needs: its state table. */
export interface StateTable {
  stateGet(key: Buffer): Buffer | null;
  stateScan(prefix: Buffer): Array<[Buffer, Buffer]>;
  writeStates(entries: Array<[Buffer, Buffer | null]>): Promise<void>;
}

export interface SubscriptionRecord {
  qos: number;
  rh?: number | undefined;
  rap?: boolean | undefined;
  nl?: boolean | undefined;
  subscriptionIdentifier?: number | undefined;
}

export interface ClientRef {
  id: string;
}

interface BrokerRef {
  id: string;
}

interface QueuedPacket {
  seq: number;
  packet: StoredPacket;
}

/** aedes-packet's typings declare a namespace, but the module is the constructor itself. */
const Packet = aedesPacket as unknown as new (original: StoredPacket) => StoredPacket;

const MATCH_OPTIONS = { wildcard_one: '+', wildcard_some: '#', separator: '/' };

export class LogPersistence {
  private broker: BrokerRef | null = null;
  private readonly retained = new Map<string, StoredPacket>();
  private readonly subscriptions = new Map<string, Map<string, SubscriptionRecord>>();
  private readonly trie = new QlobberSub(MATCH_OPTIONS);
  private readonly outgoing = new Map<string, QueuedPacket[]>();
  private readonly incoming = new Map<string, Map<number, StoredPacket>>();
  private readonly wills = new Map<string, StoredPacket>();
  private readonly entries: StateEntries;
  private nextSeq = 0;
  private destroyed = false;

  constructor(
    private readonly table: StateTable,
    private readonly onDestroy: () => Promise<void> = async () => undefined,
    digest?: Digest,
  ) {
    this.entries = new StateEntries(digest);
  }

  // aedes checks `setup.constructor.name === 'AsyncFunction'`: keep it a real async method.
  async setup(broker: BrokerRef): Promise<void> {
    this.broker = broker;
    const version = this.table.stateGet(VERSION_KEY);
    if (version === null) return this.upgrade(readLayout1(this.table));
    if (version.length !== 1 || version.readUInt8(0) !== STATE_LAYOUT) {
      throw new LogCorruptError(`MQTT state layout ${version.length === 1 ? version.readUInt8(0) : version.toString('hex')} is not this broker's (${STATE_LAYOUT})`);
    }
    this.load();
  }

  // ---- retained --------------------------------------------------------------------------------

  async storeRetained(pkt: StoredPacket): Promise<void> {
    const packet = { ...pkt };
    const topic = String(packet.topic);
    // [MQTT-3.3.1-10] [MQTT-3.3.1-11]: a retained message with an empty payload clears the topic.
    if (payloadLength(packet) === 0) {
      if (!this.retained.delete(topic)) return;
      await this.table.writeStates([[this.entries.retainedDelete(topic), null]]);
    } else {
      this.retained.set(topic, packet);
      await this.table.writeStates([this.entries.retained(topic, packet)]);
    }
  }

  createRetainedStream(pattern: string): Readable {
    return this.createRetainedStreamCombi([pattern]);
  }

  createRetainedStreamCombi(patterns: string[]): Readable {
    const retained = this.retained;
    function* matching(): Generator<StoredPacket> {
      for (const pattern of patterns) {
        const matcher = new qlobber.QlobberTrue(MATCH_OPTIONS).add(pattern);
        for (const [topic, packet] of retained) if (matcher.test(topic)) yield packet;
      }
    }
    return Readable.from(matching());
  }

  // ---- subscriptions ---------------------------------------------------------------------------

  async addSubscriptions(client: ClientRef, subs: Array<SubscriptionRecord & { topic: string }>): Promise<void> {
    const stored = this.clientSubs(client.id, true);
    const writes: Array<[Buffer, Buffer | null]> = [];
    for (const sub of subs) {
      const record: SubscriptionRecord = { qos: sub.qos, rh: sub.rh, rap: sub.rap, nl: sub.nl };
      if (sub.subscriptionIdentifier !== undefined) record.subscriptionIdentifier = sub.subscriptionIdentifier;
      this.indexSub(client.id, sub.topic, record, stored.get(sub.topic));
      stored.set(sub.topic, record);
      writes.push(this.entries.sub(client.id, sub.topic, record));
    }
    await this.table.writeStates(writes);
  }

  async removeSubscriptions(client: ClientRef, topics: string[]): Promise<void> {
    const stored = this.subscriptions.get(client.id);
    if (stored === undefined) return;
    const writes: Array<[Buffer, Buffer | null]> = [];
    for (const topic of topics) {
      const sub = stored.get(topic);
      if (sub === undefined) continue;
      if (sub.qos > 0) this.trie.remove(topic, { clientId: client.id, topic });
      stored.delete(topic);
      writes.push([this.entries.subDelete(client.id, topic), null]);
    }
    if (stored.size === 0) this.subscriptions.delete(client.id);
    if (writes.length > 0) await this.table.writeStates(writes);
  }

  async subscriptionsByClient(client: ClientRef): Promise<Array<SubscriptionRecord & { topic: string }>> {
    const stored = this.subscriptions.get(client.id);
    return stored === undefined ? [] : [...stored].map(([topic, sub]) => ({ topic, ...sub }));
  }

  async countOffline(): Promise<{ subsCount: number; clientsCount: number }> {
    return { subsCount: this.trie.subscriptionsCount, clientsCount: this.subscriptions.size };
  }

  /** Whether any stored subscription (of QoS 1 or 2: what `subscriptionsByTopic` returns) matches the topic. */
  hasSubscriptions(topic: string): boolean {
    return this.trie.subscriptionsCount > 0 && this.trie.match(topic).length > 0;
  }

  /** Subscriptions with QoS > 0 whose filter matches `topic`: who gets a copy queued while offline. */
  async subscriptionsByTopic(topic: string): Promise<Array<{ clientId: string; topic: string; qos: number }>> {
    return this.trie.match(topic);
  }

  async cleanSubscriptions(client: ClientRef): Promise<void> {
    const stored = this.subscriptions.get(client.id);
    if (stored === undefined) return;
    for (const [topic, sub] of stored) if (sub.qos > 0) this.trie.remove(topic, { clientId: client.id, topic });
    this.subscriptions.delete(client.id);
    await this.table.writeStates([...stored.keys()].map((topic) => [this.entries.subDelete(client.id, topic), null]));
  }

  getClientList(topic: string): Readable {
    const subscriptions = this.subscriptions;
    function* clients(): Generator<string> {
      for (const [clientId, subs] of subscriptions) if (subs.has(topic)) yield clientId;
    }
    return Readable.from(clients());
  }

  // ---- outgoing queues (persistent sessions) ----------------------------------------------------

  async outgoingEnqueue(sub: { clientId: string }, packet: StoredPacket): Promise<void> {
    await this.outgoingEnqueueCombi([sub], packet);
  }

  async outgoingEnqueueCombi(subs: Array<{ clientId: string }>, packet: StoredPacket): Promise<void> {
    // The hot path for every QoS > 0 publish: with no persistent subscriber there is nothing to write.
    if (subs.length === 0) return;
    const writes: Array<[Buffer, Buffer | null]> = [];
    for (const sub of subs) {
      const queued: QueuedPacket = { seq: this.nextSeq++, packet: new Packet(packet) };
      this.queueOf(sub.clientId).push(queued);
      writes.push(this.queuedWrite(sub.clientId, queued));
    }
    await this.table.writeStates(writes);
  }

  /** Records the messageId a queued packet was sent with, or replaces it by its PUBREL. */
  async outgoingUpdate(client: ClientRef, packet: StoredPacket): Promise<void> {
    const queue = this.queueOf(client.id);
    for (const queued of queue) {
      const stored = queued.packet;
      if (stored.brokerId === packet.brokerId) {
        if (stored.brokerCounter === packet.brokerCounter) {
          markRedelivery(stored, packet);
          stored.messageId = packet.messageId;
          return this.persistQueued(client.id, queued);
        }
        // Same broker, other counter: message ids wrap at 65535, keep looking for the counter.
      } else if (stored.messageId === packet.messageId) {
        queued.packet = packet;
        return this.persistQueued(client.id, queued);
      }
    }
    throw new Error('no such packet');
  }

  async outgoingClearMessageId(client: ClientRef, packet: StoredPacket): Promise<StoredPacket | undefined> {
    const queue = this.outgoing.get(client.id);
    if (queue === undefined) return undefined;
    const i = queue.findIndex((q) => q.packet.messageId === packet.messageId);
    const queued = queue[i];
    if (queued === undefined) return undefined;
    queue.splice(i, 1);
    if (queue.length === 0) this.outgoing.delete(client.id);
    await this.table.writeStates([[this.entries.queuedDelete(client.id, queued.seq, queue.length === 0), null]]);
    return queued.packet;
  }

  outgoingStream(client: ClientRef): Readable {
    // A snapshot: aedes changes the queue while it streams it.
    return Readable.from((this.outgoing.get(client.id) ?? []).map((q) => q.packet));
  }

  // ---- inbound QoS 2 ---------------------------------------------------------------------------

  async incomingStorePacket(client: ClientRef, packet: StoredPacket): Promise<void> {
    const stored = new Packet(packet);
    stored.messageId = packet.messageId;
    const messageId = Number(packet.messageId);
    let byId = this.incoming.get(client.id);
    if (byId === undefined) this.incoming.set(client.id, (byId = new Map()));
    byId.set(messageId, stored);
    await this.table.writeStates([this.entries.incoming(client.id, messageId, stored)]);
  }

  async incomingGetPacket(client: ClientRef, packet: { messageId?: number | undefined }): Promise<StoredPacket> {
    const stored = this.incoming.get(client.id)?.get(Number(packet.messageId));
    if (stored === undefined) throw new Error('no such packet');
    return stored;
  }

  /** Synchronous form for the ingest layer: is this QoS 2 messageId already stored (a retransmission)? */
  hasIncoming(clientId: string, messageId: number): boolean {
    return this.incoming.get(clientId)?.has(messageId) ?? false;
  }

  async incomingDelPacket(client: ClientRef, packet: { messageId?: number | undefined }): Promise<void> {
    const messageId = Number(packet.messageId);
    const byId = this.incoming.get(client.id);
    if (byId === undefined || !byId.delete(messageId)) throw new Error('no such packet');
    if (byId.size === 0) this.incoming.delete(client.id);
    await this.table.writeStates(this.entries.incomingDelete(client.id, [messageId], byId.size === 0).map((key) => [key, null]));
  }

  async cleanIncoming(client: ClientRef): Promise<void> {
    const byId = this.incoming.get(client.id);
    if (byId === undefined) return;
    this.incoming.delete(client.id);
    await this.table.writeStates(this.entries.incomingDelete(client.id, [...byId.keys()], true).map((key) => [key, null]));
  }

  // ---- wills -----------------------------------------------------------------------------------

  async putWill(client: ClientRef, packet: StoredPacket): Promise<void> {
    // Mutating the caller's packet is the contract (MemoryPersistence does it; the suite checks it).
    packet.brokerId = this.brokerId();
    packet.clientId = client.id;
    this.wills.set(client.id, packet);
    await this.table.writeStates([this.entries.will(client.id, packet)]);
  }

  async getWill(client: ClientRef): Promise<StoredPacket | undefined> {
    return this.wills.get(client.id);
  }

  async delWill(client: ClientRef): Promise<StoredPacket | undefined> {
    const will = this.wills.get(client.id);
    if (will === undefined) return undefined;
    this.wills.delete(client.id);
    await this.table.writeStates([[this.entries.willDelete(client.id), null]]);
    return will;
  }

  /** Wills of brokers not in `brokers`: after a restart, those of clients the last run lost. */
  streamWill(brokers: Record<string, number> = {}): Readable {
    const wills = [...this.wills.values()].filter((w) => brokers[String(w.brokerId)] === undefined);
    return Readable.from(wills);
  }

  async destroy(): Promise<void> {
    if (this.destroyed) throw new Error('destroyed called twice!');
    this.destroyed = true;
    await this.onDestroy();
  }

  // ---- internals -------------------------------------------------------------------------------

  private brokerId(): string {
    if (this.broker === null) throw new Error('persistence used before setup()');
    return this.broker.id;
  }

  private clientSubs(clientId: string, create: boolean): Map<string, SubscriptionRecord> {
    let stored = this.subscriptions.get(clientId);
    if (stored === undefined) {
      stored = new Map();
      if (create) this.subscriptions.set(clientId, stored);
    }
    return stored;
  }

  /** Only QoS > 0 subscriptions are matched for offline queueing; QoS 0 ones are just restored. */
  private indexSub(clientId: string, topic: string, record: SubscriptionRecord, previous: SubscriptionRecord | undefined): void {
    if (record.qos > 0) this.trie.add(topic, { clientId, topic, qos: record.qos, rh: record.rh, rap: record.rap, nl: record.nl });
    else if (previous !== undefined && previous.qos > 0) this.trie.remove(topic, { clientId, topic });
  }

  private queueOf(clientId: string): QueuedPacket[] {
    let queue = this.outgoing.get(clientId);
    if (queue === undefined) this.outgoing.set(clientId, (queue = []));
    return queue;
  }

  private async persistQueued(clientId: string, queued: QueuedPacket): Promise<void> {
    await this.table.writeStates([this.queuedWrite(clientId, queued)]);
  }

  private queuedWrite(clientId: string, queued: QueuedPacket): [Buffer, Buffer] {
    return this.entries.queued(clientId, queued.seq, queued.packet);
  }

  /** Rebuilds every in-memory structure from the state table (layout 2). */
  private load(): void {
    this.entries.load(this.table, {
      retained: (topic, packet) => this.retained.set(topic, packet),
      sub: (clientId, topic, record) => this.restoreSub(clientId, topic, record as SubscriptionRecord),
      queued: (clientId, seq, packet) => this.restoreQueued(clientId, seq, packet),
      incoming: (clientId, messageId, packet) => this.restoreIncoming(clientId, messageId, packet),
      will: (clientId, packet) => this.wills.set(clientId, packet),
    });
  }

  /**
   * Rebuilds memory from layout 1 and rewrites it as layout 2 in one transaction: the old keys deleted,
   * the new ones and the version key put. A crash before it commits leaves layout 1, upgraded at the
   * next start.
   */
  private async upgrade(old: Layout1State): Promise<void> {
    const writes: Array<[Buffer, Buffer | null]> = old.keys.map((key) => [key, null]);
    for (const { topic, packet } of old.retained) {
      this.retained.set(topic, packet);
      writes.push(this.entries.retained(topic, packet));
    }
    for (const { clientId, topic, record } of old.subs) {
      this.restoreSub(clientId, topic, record as SubscriptionRecord);
      writes.push(this.entries.sub(clientId, topic, record));
    }
    for (const { clientId, seq, packet } of old.outgoing) {
      const queued = this.restoreQueued(clientId, seq, packet);
      writes.push(this.queuedWrite(clientId, queued));
    }
    for (const { clientId, messageId, packet } of old.incoming) {
      const stored = this.restoreIncoming(clientId, messageId, packet);
      writes.push(this.entries.incoming(clientId, messageId, stored));
    }
    for (const { clientId, packet } of old.wills) {
      this.wills.set(clientId, packet);
      writes.push(this.entries.will(clientId, packet));
    }
    writes.push([VERSION_KEY, Buffer.from([STATE_LAYOUT])]);
    await this.table.writeStates(writes);
  }

  private restoreSub(clientId: string, topic: string, record: SubscriptionRecord): void {
    this.indexSub(clientId, topic, record, undefined);
    this.clientSubs(clientId, true).set(topic, record);
  }

  private restoreQueued(clientId: string, seq: number, decoded: StoredPacket): QueuedPacket {
    const queued = { seq, packet: asPacket(decoded) };
    this.queueOf(clientId).push(queued);
    this.nextSeq = Math.max(this.nextSeq, seq + 1);
    return queued;
  }

  private restoreIncoming(clientId: string, messageId: number, decoded: StoredPacket): StoredPacket {
    let byId = this.incoming.get(clientId);
    if (byId === undefined) this.incoming.set(clientId, (byId = new Map()));
    const packet = asPacket(decoded);
    byId.set(messageId, packet);
    return packet;
  }
}

/** Queued and inbound packets are aedes Packets in memory; restore that shape, messageId included. */
function asPacket(decoded: StoredPacket): StoredPacket {
  if (decoded.cmd !== undefined && decoded.cmd !== 'publish') return decoded; // a PUBREL placeholder
  const packet = new Packet(decoded);
  packet.messageId = decoded.messageId;
  return packet;
}

/**
 * [MQTT-3.3.1-1]: a re-delivered PUBLISH carries DUP = 1. aedes 1.2 re-sends a persistent session's
 * queue on reconnect without setting it; the re-send is visible here, as an update of a queued packet
 * that was already sent under the same messageId. The flag goes on aedes' outgoing copy only.
 */
function markRedelivery(stored: StoredPacket, outgoing: StoredPacket): void {
  if (outgoing !== stored && outgoing.cmd === 'publish' && stored.messageId !== undefined && stored.messageId === outgoing.messageId) outgoing.dup = true;
}

function payloadLength(packet: StoredPacket): number {
  const p = packet.payload;
  return p === undefined ? 0 : typeof p === 'string' ? Buffer.byteLength(p) : p.length;
}

