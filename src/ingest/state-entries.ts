/**
 * The puts and deletes of each kind of MQTT state entry (layout 2, state-codec.ts), and reading them
 * back, with the ids of names kept consistent: a name's id is allocated by its first put and released
 * by the delete of its last entry of that kind, so a live name keeps one id and a freed slot can be
 * taken by another name. Pure bookkeeping over keys and values; persistence.ts owns the memory and
 * the writes.
 */
import {
  decodeEntry,
  decodePacketBody,
  encodeEntry,
  encodePacketEntry,
  incomingKey,
  KeySpace,
  kindPrefix,
  outgoingKey,
  parseKey,
  retainedKey,
  subKey,
  subName,
  willKey,
  type Digest,
  type EntryNames,
  type StateKind,
  type StoredPacket,
} from './state-codec.js';

export type Put = [Buffer, Buffer];

/** What `load` hands back, kind by kind, in key order. */
export interface EntryVisitor {
  retained(topic: string, packet: StoredPacket): void;
  sub(clientId: string, topic: string, record: unknown): void;
  queued(clientId: string, seq: number, packet: StoredPacket): void;
  incoming(clientId: string, messageId: number, packet: StoredPacket): void;
  will(clientId: string, packet: StoredPacket): void;
}

export class StateEntries {
  private readonly ids: Record<StateKind, KeySpace>;

  constructor(digest?: Digest) {
    const space = (kind: StateKind) => new KeySpace(kind, digest);
    this.ids = { r: space('r'), s: space('s'), o: space('o'), i: space('i'), w: space('w') };
  }

  retained(topic: string, packet: StoredPacket): Put {
    return [retainedKey(this.ids.r.idOf(topic)), encodePacketEntry({ client: '', topic }, packet)];
  }

  sub(clientId: string, topic: string, record: unknown): Put {
    return [subKey(this.ids.s.idOf(subName(clientId, topic))), encodeEntry({ client: clientId, topic }, Buffer.from(JSON.stringify(record), 'utf8'))];
  }

  queued(clientId: string, seq: number, packet: StoredPacket): Put {
    return [outgoingKey(this.ids.o.idOf(clientId), seq), encodePacketEntry({ client: clientId, topic: '' }, packet)];
  }

  incoming(clientId: string, messageId: number, packet: StoredPacket): Put {
    return [incomingKey(this.ids.i.idOf(clientId), messageId), encodePacketEntry({ client: clientId, topic: '' }, packet)];
  }

  will(clientId: string, packet: StoredPacket): Put {
    return [willKey(this.ids.w.idOf(clientId)), encodePacketEntry({ client: clientId, topic: '' }, packet)];
  }

  // Deletes: the key to delete; the name's id is released (the entry was its last of the kind).
  retainedDelete(topic: string): Buffer {
    return this.released('r', topic, retainedKey);
  }

  subDelete(clientId: string, topic: string): Buffer {
    return this.released('s', subName(clientId, topic), subKey);
  }

  willDelete(clientId: string): Buffer {
    return this.released('w', clientId, willKey);
  }

  /** `last`: the client's queue is empty after this delete. */
  queuedDelete(clientId: string, seq: number, last: boolean): Buffer {
    const key = outgoingKey(this.ids.o.idOf(clientId), seq);
    if (last) this.ids.o.release(clientId);
    return key;
  }

  /** The keys of a client's inbound QoS 2 entries, the last of them among `messageIds` when `last`. */
  incomingDelete(clientId: string, messageIds: number[], last: boolean): Buffer[] {
    const id = this.ids.i.idOf(clientId);
    if (last) this.ids.i.release(clientId);
    return messageIds.map((m) => incomingKey(id, m));
  }

  /** Reads every layout 2 entry of `table`, adopting the ids its keys carry. */
  load(table: { stateScan(prefix: Buffer): Array<[Buffer, Buffer]> }, visit: EntryVisitor): void {
    const scan = (kind: StateKind, each: (id: Buffer, names: EntryNames, body: Buffer, rest: Buffer) => void): void => {
      for (const [key, value] of table.stateScan(kindPrefix(kind))) {
        const { id, rest } = parseKey(kind, key);
        const { names, body } = decodeEntry(value);
        each(id, names, body, rest);
      }
    };
    scan('r', (id, { topic }, body) => {
      this.ids.r.adopt(topic, id);
      visit.retained(topic, decodePacketBody(body));
    });
    scan('s', (id, { client, topic }, body) => {
      this.ids.s.adopt(subName(client, topic), id);
      visit.sub(client, topic, JSON.parse(body.toString('utf8')));
    });
    scan('o', (id, { client }, body, rest) => {
      this.ids.o.adopt(client, id);
      visit.queued(client, Number(rest.readBigUInt64BE(0)), decodePacketBody(body));
    });
    scan('i', (id, { client }, body, rest) => {
      this.ids.i.adopt(client, id);
      visit.incoming(client, rest.readUInt16BE(0), decodePacketBody(body));
    });
    scan('w', (id, { client }, body) => {
      this.ids.w.adopt(client, id);
      visit.will(client, decodePacketBody(body));
    });
  }

  private released(kind: StateKind, name: string, key: (id: Buffer) => Buffer): Buffer {
    const k = key(this.ids[kind].idOf(name));
    this.ids[kind].release(name);
    return k;
  }
}
