/**
 * OffsetCommit and OffsetFetch, following Kafka's `GroupCoordinator.handleCommitOffsets` /
 * `handleFetchOffsets`. Offsets go to the OffsetStore (the log's cursors table): a commit answers only
 * after its one synced write is durable, and a partition whose offset was not written never answers NONE.
 *
 * Who may commit (Kafka's validateOffsetCommit): a member of the group's current generation (its
 * instance id, when it sends one, must be its own: FENCED_INSTANCE_ID), while the group is Stable or
 * PreparingRebalance (CompletingRebalance: REBALANCE_IN_PROGRESS); or anyone outside group management
 * — generation -1, empty member id, no instance id — while the group has no members (what
 * `kafka-consumer-groups --reset-offsets --execute` does). A committed offset may move backwards (a
 * reset); it lies in 0..the partition's end offset (OFFSET_OUT_OF_RANGE otherwise).
 *
 * Commit metadata strings are kept in memory only, never in the log: after a restart OffsetFetch
 * answers '' for them. Consumers put nothing there that they need back (the Java client writes '').
 */
import { GroupInvariantError, type TributaryError } from '../errors.js';
import { UPSTREAM_GROUP } from '../log/index.js';
import { ErrorCode } from './error-codes.js';
import type { Group, Member } from './group.js';
import type * as M from './group-messages.js';
import type { OffsetEntry, OffsetStore, TopicCatalog } from './offsets.js';

/** Kafka's offset.metadata.max.bytes default. */
export const COMMIT_METADATA_BYTES_MAX = 4096;
/**
 * Longest group id: a cursor key (group, stream, partition) must fit LMDB's 511-byte keys with room for
 * the stream name. Longer ids are INVALID_GROUP_ID.
 */
export const GROUP_ID_BYTES_MAX = 255;
/** Offsets are JavaScript numbers in the log (keys.ts). */
const OFFSET_LIMIT = 2n ** 53n;

/** pino's Logger fits this. */
export interface CoordinatorLogger {
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
  debug(obj: object, msg: string): void;
}

/** What the offset and admin handlers share with the coordinator. */
export interface GroupContext {
  offsets: OffsetStore;
  topics: TopicCatalog;
  logger: CoordinatorLogger;
  /** The groups with members, by id; read-only here. */
  groups: ReadonlyMap<string, Group>;
  isClosed(): boolean;
}

/** '' and `upstream` (the forwarder's cursor group) are no local group's id, nor is one that cannot be a cursor key. */
export function groupIdValid(groupId: string | null | undefined): groupId is string {
  return typeof groupId === 'string' && groupId !== '' && groupId !== UPSTREAM_GROUP && !groupId.includes('\u0000') && Buffer.byteLength(groupId, 'utf8') <= GROUP_ID_BYTES_MAX;
}

/** Commit metadata by group, then "stream\0partition". Memory only (see the file comment). */
export class CommitMetadata {
  private readonly byGroup = new Map<string, Map<string, string>>();

  get(group: string, stream: string, partition: number): string {
    return this.byGroup.get(group)?.get(`${stream}\u0000${partition}`) ?? '';
  }

  set(group: string, stream: string, partition: number, metadata: string): void {
    let entries = this.byGroup.get(group);
    if (metadata === '') {
      entries?.delete(`${stream}\u0000${partition}`);
      if (entries?.size === 0) this.byGroup.delete(group);
      return;
    }
    if (!entries) this.byGroup.set(group, (entries = new Map()));
    entries.set(`${stream}\u0000${partition}`, metadata);
  }

  forget(group: string): void {
    this.byGroup.delete(group);
  }
}

export class OffsetHandlers {
  readonly metadata = new CommitMetadata();

  constructor(private readonly ctx: GroupContext & { touch(member: Member): void }) {}

  async commit(body: M.OffsetCommitRequest, version: number): Promise<M.OffsetCommitResponse> {
    const refusal = this.commitRefusal(body, version);
    if (refusal !== ErrorCode.NONE) return commitAnswer(body, () => refusal);
    const errors = new Map<string, number>();
    const accepted = new Map<string, OffsetEntry & { metadata: string }>();
    for (const topic of body.topics) {
      const partitions = this.ctx.topics.partitions(topic.name);
      for (const p of topic.partitions) {
        const key = `${topic.name}\u0000${p.partitionIndex}`;
        const error = this.partitionProblem(topic.name, partitions, p);
        errors.set(key, error);
        // Kafka keeps the last of a partition named twice.
        if (error === ErrorCode.NONE) accepted.set(key, { stream: topic.name, partition: p.partitionIndex, offset: Number(p.committedOffset), metadata: p.committedMetadata ?? '' });
        else accepted.delete(key);
      }
    }
    const entries = [...accepted.values()];
    if (entries.length > 0) {
      try {
        await this.ctx.offsets.commit(body.groupId, entries.map(({ stream, partition, offset }) => ({ stream, partition, offset })));
        for (const e of entries) this.metadata.set(body.groupId, e.stream, e.partition, e.metadata);
      } catch (err) {
        if (err instanceof GroupInvariantError) throw err;
        const code = (err as Partial<TributaryError>).retriable === true ? ErrorCode.COORDINATOR_NOT_AVAILABLE : ErrorCode.UNKNOWN_SERVER_ERROR;
        this.ctx.logger.warn({ group: body.groupId, err }, 'offset commit failed');
        for (const key of accepted.keys()) errors.set(key, code);
      }
    }
    return commitAnswer(body, (topic, partition) => errors.get(`${topic}\u0000${partition}`) ?? ErrorCode.UNKNOWN_SERVER_ERROR);
  }

  /** The error for the whole commit (Kafka's validateOffsetCommit and group state), or NONE. */
  private commitRefusal(body: M.OffsetCommitRequest, version: number): number {
    if (this.ctx.isClosed()) return ErrorCode.COORDINATOR_NOT_AVAILABLE;
    if (!groupIdValid(body.groupId)) return ErrorCode.INVALID_GROUP_ID;
    const generation = version >= 1 ? (body.generationIdOrMemberEpoch ?? -1) : -1;
    const memberId = version >= 1 ? (body.memberId ?? '') : '';
    const instanceId = version >= 7 ? (body.groupInstanceId ?? null) : null;
    const group = this.ctx.groups.get(body.groupId);
    const asMember = generation >= 0 || memberId !== '' || instanceId !== null;
    if (!group) {
      // No members: a commit from outside group management is fine; a member's is from a generation long gone.
      if (generation >= 0) return ErrorCode.ILLEGAL_GENERATION;
      return asMember ? ErrorCode.UNKNOWN_MEMBER_ID : ErrorCode.NONE;
    }
    if (!asMember) return group.state === 'Empty' ? ErrorCode.NONE : ErrorCode.UNKNOWN_MEMBER_ID;
    if (instanceId !== null) {
      const current = group.staticMembers.get(instanceId);
      if (current === undefined) return ErrorCode.UNKNOWN_MEMBER_ID;
      if (current !== memberId) return ErrorCode.FENCED_INSTANCE_ID;
    }
    const member = group.members.get(memberId);
    if (!member) return ErrorCode.UNKNOWN_MEMBER_ID;
    if (generation !== group.generationId) return ErrorCode.ILLEGAL_GENERATION;
    if (group.state === 'CompletingRebalance') return ErrorCode.REBALANCE_IN_PROGRESS;
    // Stable or PreparingRebalance: the member learns of a rebalance from its heartbeat; a commit keeps it alive.
    this.ctx.touch(member);
    return ErrorCode.NONE;
  }

  private partitionProblem(stream: string, partitions: number | null, p: M.OffsetCommitRequestPartition): number {
    if (partitions === null || !Number.isInteger(p.partitionIndex) || p.partitionIndex < 0 || p.partitionIndex >= partitions) return ErrorCode.UNKNOWN_TOPIC_OR_PARTITION;
    if (p.committedMetadata !== null && Buffer.byteLength(p.committedMetadata, 'utf8') > COMMIT_METADATA_BYTES_MAX) return ErrorCode.OFFSET_METADATA_TOO_LARGE;
    if (p.committedOffset < 0n || p.committedOffset >= OFFSET_LIMIT) return ErrorCode.OFFSET_OUT_OF_RANGE;
    if (Number(p.committedOffset) > this.ctx.topics.endOffset(stream, p.partitionIndex)) return ErrorCode.OFFSET_OUT_OF_RANGE;
    return ErrorCode.NONE;
  }

  fetch(body: M.OffsetFetchRequest, version: number): M.OffsetFetchResponse {
    if (version >= 8) {
      const groups = (body.groups ?? []).map((g) => this.fetchGroup(g.groupId, g.topics, version));
      return { throttleTimeMs: 0, topics: [], errorCode: ErrorCode.NONE, groups };
    }
    // Before v2 `topics` is never null; null (all partitions) arrives from v2.
    const one = this.fetchGroup(body.groupId ?? '', version >= 2 ? (body.topics ?? null) : (body.topics ?? []), version);
    return { throttleTimeMs: 0, topics: one.topics, errorCode: one.errorCode, groups: [] };
  }

  private fetchGroup(groupId: string, topics: M.OffsetFetchRequestTopic[] | null, version: number): M.OffsetFetchResponseGroup {
    const error = this.ctx.isClosed() ? ErrorCode.COORDINATOR_NOT_AVAILABLE : groupIdValid(groupId) ? ErrorCode.NONE : ErrorCode.INVALID_GROUP_ID;
    if (error !== ErrorCode.NONE) {
      // v0-1 have no group-level error: each partition asked for carries it.
      const partitions = version < 2 ? (topics ?? []) : [];
      return { groupId, errorCode: error, topics: partitions.map((t) => ({ name: t.name, partitions: t.partitionIndexes.map((i) => fetched(i, -1, '', error)) })) };
    }
    const wanted = topics ?? this.allCommitted(groupId);
    return {
      groupId,
      errorCode: ErrorCode.NONE,
      topics: wanted.map((t) => ({
        name: t.name,
        partitions: t.partitionIndexes.map((i) => {
          // Kafka answers -1 without an error for partitions it has no offset for, known or not.
          const offset = this.ctx.offsets.committed(groupId, t.name, i);
          return fetched(i, offset ?? -1, offset === null ? '' : this.metadata.get(groupId, t.name, i), ErrorCode.NONE);
        }),
      })),
    };
  }

  private allCommitted(groupId: string): M.OffsetFetchRequestTopic[] {
    const byStream = new Map<string, number[]>();
    for (const e of this.ctx.offsets.offsetsOf(groupId)) {
      const list = byStream.get(e.stream) ?? [];
      list.push(e.partition);
      byStream.set(e.stream, list);
    }
    return [...byStream].map(([name, partitionIndexes]) => ({ name, partitionIndexes }));
  }
}

function fetched(partitionIndex: number, offset: number, metadata: string, errorCode: number): M.OffsetFetchResponsePartition {
  return { partitionIndex, committedOffset: BigInt(offset), committedLeaderEpoch: -1, metadata, errorCode };
}

function commitAnswer(body: M.OffsetCommitRequest, errorOf: (topic: string, partition: number) => number): M.OffsetCommitResponse {
  return {
    throttleTimeMs: 0,
    topics: body.topics.map((t) => ({ name: t.name, partitions: t.partitions.map((p) => ({ partitionIndex: p.partitionIndex, errorCode: errorOf(t.name, p.partitionIndex) })) })),
  };
}
