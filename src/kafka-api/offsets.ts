/**
 * Where a local consumer group's committed offsets live: the log's cursors table, the same table the
 * forwarder's `upstream` group uses (DESIGN.md, "cursors"). A committed offset is the next offset the
 * group will read, as in Kafka.
 *
 * Invariants: the upstream group is never read, written, listed or deleted through an OffsetStore (the
 * coordinator refuses its name; this asserts it again); every commit is one synced log transaction and
 * resolves only when it is durable; a local group's offsets may move back (an offset reset), which the
 * log allows only because the commit says so (`mayMoveBack`).
 */
import { UnknownStreamError, UsageError } from '../errors.js';
import { UPSTREAM_GROUP, type CursorEntry } from '../log/index.js';

export type OffsetEntry = CursorEntry;

export interface OffsetStore {
  /** The group's committed offset for the partition; null when none (or the stream is unknown). */
  committed(group: string, stream: string, partition: number): number | null;
  /** Durably commits the entries in one synced write; each partition at most once. */
  commit(group: string, entries: OffsetEntry[]): Promise<void>;
  /** The groups with any committed offset; never `upstream`. */
  groups(): string[];
  offsetsOf(group: string): OffsetEntry[];
  /** Durably deletes every committed offset of the group. */
  delete(group: string): Promise<void>;
}

/** What the coordinator needs to know of the streams it serves as topics. */
export interface TopicCatalog {
  /** The stream's partition count, or null when there is no such stream. */
  partitions(stream: string): number | null;
  streams(): string[];
  /** The next offset to be written in the partition (the high watermark). */
  endOffset(stream: string, partition: number): number;
}

/** The part of `Log` an OffsetStore over it uses (reads and cursors only, DESIGN.md). */
export interface CursorLog {
  cursor(group: string, stream: string, partition: number): number | null;
  commitCursors(group: string, entries: ReadonlyArray<CursorEntry>, options: { mayMoveBack: boolean }): Promise<void>;
  cursorGroups(): string[];
  groupCursors(group: string): CursorEntry[];
  deleteCursors(group: string): Promise<void>;
}

/** The part of `Log` a TopicCatalog over it uses. */
export interface StreamLog {
  streamNames(): string[];
  streamSpec(stream: string): { partitions: number };
  partitionInfo(stream: string, partition: number): { endOffset: number };
}

export function logOffsetStore(log: CursorLog): OffsetStore {
  return {
    committed(group, stream, partition) {
      assertLocal(group);
      try {
        return log.cursor(group, stream, partition);
      } catch (err) {
        if (err instanceof UnknownStreamError) return null;
        throw err;
      }
    },
    commit(group, entries) {
      assertLocal(group);
      return log.commitCursors(group, entries, { mayMoveBack: true });
    },
    groups: () => log.cursorGroups().filter((group) => group !== UPSTREAM_GROUP),
    offsetsOf(group) {
      assertLocal(group);
      return log.groupCursors(group);
    },
    delete(group) {
      assertLocal(group);
      return log.deleteCursors(group);
    },
  };
}

export function logTopicCatalog(log: StreamLog): TopicCatalog {
  const has = (stream: string): boolean => log.streamNames().includes(stream);
  return {
    partitions: (stream) => (has(stream) ? log.streamSpec(stream).partitions : null),
    streams: () => log.streamNames(),
    endOffset: (stream, partition) => log.partitionInfo(stream, partition).endOffset,
  };
}

function assertLocal(group: string): void {
  if (group === UPSTREAM_GROUP) throw new UsageError(`the ${UPSTREAM_GROUP} group's offsets are not a local consumer group's`);
}
