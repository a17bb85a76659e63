/** An in-memory OffsetStore and TopicCatalog, and request builders, for the group coordinator's tests. */
import type * as M from '../../src/kafka-api/group-messages.js';
import type { OffsetEntry, OffsetStore, TopicCatalog } from '../../src/kafka-api/offsets.js';

export class MemoryOffsetStore implements OffsetStore {
  readonly offsets = new Map<string, Map<string, number>>();
  /** When set, commits wait for it (a disk sync the test controls). */
  gate: Promise<void> | null = null;
  /** When set, commits fail with it. */
  failWith: Error | null = null;
  commits = 0;

  committed(group: string, stream: string, partition: number): number | null {
    return this.offsets.get(group)?.get(`${stream}/${partition}`) ?? null;
  }

  async commit(group: string, entries: OffsetEntry[]): Promise<void> {
    if (this.gate) await this.gate;
    if (this.failWith) throw this.failWith;
    this.commits += 1;
    const mine = this.offsets.get(group) ?? new Map<string, number>();
    for (const e of entries) mine.set(`${e.stream}/${e.partition}`, e.offset);
    this.offsets.set(group, mine);
  }

  groups(): string[] {
    return [...this.offsets.keys()].filter((g) => (this.offsets.get(g)?.size ?? 0) > 0);
  }

  offsetsOf(group: string): OffsetEntry[] {
    return [...(this.offsets.get(group) ?? new Map<string, number>())].map(([key, offset]) => {
      const [stream, partition] = key.split('/');
      return { stream: stream as string, partition: Number(partition), offset };
    });
  }

  async delete(group: string): Promise<void> {
    this.offsets.delete(group);
  }
}

/** Streams `s` (4 partitions) and `t` (1), every partition ending at offset 100. */
export const CATALOG: TopicCatalog = {
  partitions: (stream) => ({ s: 4, t: 1 })[stream] ?? null,
  streams: () => ['s', 't'],
  endOffset: () => 100,
};

export const CLIENT = { clientId: 'app', clientHost: '/127.0.0.1' };

export interface JoinOptions {
  memberId?: string;
  instance?: string | null;
  sessionTimeoutMs?: number;
  rebalanceTimeoutMs?: number;
  protocols?: M.JoinGroupProtocol[];
  protocolType?: string;
}

export const RANGE = (metadata: string): M.JoinGroupProtocol[] => [{ name: 'range', metadata: Buffer.from(metadata) }];

export function joinBody(groupId: string, o: JoinOptions = {}): M.JoinGroupRequest {
  return {
    groupId,
    sessionTimeoutMs: o.sessionTimeoutMs ?? 10_000,
    rebalanceTimeoutMs: o.rebalanceTimeoutMs ?? 10_000,
    memberId: o.memberId ?? '',
    groupInstanceId: o.instance ?? null,
    protocolType: o.protocolType ?? 'consumer',
    protocols: o.protocols ?? RANGE('meta'),
  };
}

export function commitBody(groupId: string, entries: Array<[string, number, number]>, member: { generation?: number; memberId?: string; instance?: string | null } = {}): M.OffsetCommitRequest {
  const topics = new Map<string, M.OffsetCommitRequestPartition[]>();
  for (const [name, partitionIndex, offset] of entries) {
    const list = topics.get(name) ?? [];
    list.push({ partitionIndex, committedOffset: BigInt(offset), committedMetadata: `m${offset}` });
    topics.set(name, list);
  }
  return {
    groupId,
    generationIdOrMemberEpoch: member.generation ?? -1,
    memberId: member.memberId ?? '',
    groupInstanceId: member.instance ?? null,
    topics: [...topics].map(([name, partitions]) => ({ name, partitions })),
  };
}

/** Each partition's error code, as "topic/partition=code". */
export function commitErrors(r: M.OffsetCommitResponse): string[] {
  return r.topics.flatMap((t) => t.partitions.map((p) => `${t.name}/${p.partitionIndex}=${p.errorCode}`));
}

export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** Whether `p` has settled by the time pending callbacks have run. */
export async function settled(p: Promise<unknown>): Promise<boolean> {
  let done = false;
  void p.then(() => (done = true), () => (done = true));
  await sleep(5);
  return done;
}
