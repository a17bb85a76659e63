/**
 * The log's streams as Kafka topics: each stream is a topic of the same name, each of its partitions a
 * partition, served by one broker (this one, node 0) that leads every partition at leader epoch 0.
 *
 * Invariants: a topic's id is stable across restarts and never the null (all-zero) UUID: it is the
 * first 16 bytes of SHA-256("tributary.topic:" + stream name), with the RFC 4122 version (8, "custom")
 * and variant bits set, so every client that caches ids (Fetch v13+ names topics by id) sees the same
 * id for the same stream; two streams never share one (a collision is checked for at build time).
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';

/** What the Kafka API reads of the log, through its public interface (src/log/index.ts). */
export interface TopicSource {
  streamNames(): string[];
  streamSpec(stream: string): { partitions: number };
}

export interface TopicEntry {
  name: string;
  id: Buffer;
  partitions: number;
}

export const BROKER_NODE_ID = 0;
export const LEADER_EPOCH = 0;

export function topicId(stream: string): Buffer {
  const id = createHash('sha256').update(`tributary.topic:${stream}`).digest().subarray(0, 16);
  id[6] = ((id[6] as number) & 0x0f) | 0x80;
  id[8] = ((id[8] as number) & 0x3f) | 0x80;
  return Buffer.from(id);
}

export class TopicCatalog {
  readonly #byName = new Map<string, TopicEntry>();
  readonly #byId = new Map<string, TopicEntry>();

  constructor(source: TopicSource) {
    for (const name of source.streamNames()) {
      const entry = { name, id: topicId(name), partitions: source.streamSpec(name).partitions };
      const key = entry.id.toString('hex');
      assert.ok(!this.#byId.has(key), `topic id collision between streams ${this.#byId.get(key)?.name} and ${name}`);
      assert.ok(entry.id.some((b) => b !== 0));
      this.#byName.set(name, entry);
      this.#byId.set(key, entry);
    }
  }

  byName(name: string): TopicEntry | undefined {
    return this.#byName.get(name);
  }

  byId(id: Buffer): TopicEntry | undefined {
    return this.#byId.get(id.toString('hex'));
  }

  all(): TopicEntry[] {
    return [...this.#byName.values()];
  }

  partitions(stream: string): number | null {
    return this.#byName.get(stream)?.partitions ?? null;
  }

  streams(): string[] {
    return [...this.#byName.keys()];
  }

  has(stream: string, partition: number): boolean {
    const t = this.#byName.get(stream);
    return t !== undefined && Number.isInteger(partition) && partition >= 0 && partition < t.partitions;
  }
}
