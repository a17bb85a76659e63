/**
 * The log's shared types: what a stream is, the options and observer of a Log, and the partition
 * references the writer, retention and readers pass around.
 */
import type { PartitionState } from './keys.js';
import type { DropReason } from './retention.js';

export interface StreamSpec {
  name: string;
  partitions: number;
  retention?: { bytes?: number; ageMs?: number };
  /** Higher is more important: storage pressure drops from the lowest priority first. */
  priority?: number;
}

export interface LogObserver {
  commit?(durationMs: number, records: number): void;
  /** A group commit failed and will be retried; `failingForMs` since the first failed attempt. */
  commitFailed?(err: Error, failingForMs?: number): void;
  /** A write was refused before it joined a commit (InvalidWriteError's reason). */
  invalidWrite?(reason: string): void;
  /** The log is broken (log.ts): it takes no more writes and acks nothing; the process should restart. */
  broken?(err: Error): void;
  /** Records deleted before the hold group had passed them: data that never left the gateway. */
  dropped?(stream: string, reason: DropReason, records: number): void;
  /** Records deleted by retention after they were forwarded (or with no upstream configured). */
  expired?(stream: string, reason: DropReason, records: number): void;
  /** The writer upgraded the data dir's log format in place (migrate.ts), at open. */
  upgraded?(fromFormat: number, toFormat: number): void;
}

export interface LogOptions {
  dataDir: string;
  commitIntervalMs: number;
  commitBytesMax: number;
  /** Appends (and other writes) waiting for a commit; past this, `append` waits. */
  appendsInFlightMax: number;
  /** First LMDB map size; defaults from storageMaxBytes. Grown on demand. */
  mapSizeBytes?: number;
  /** Sum of record bytes above which the oldest, lowest-priority records are dropped. 0 = none. */
  storageMaxBytes: number;
  /** Retention keeps what this consumer group has not yet passed, unless storage forces a drop. */
  retentionHoldGroup: string | null;
  retentionIntervalMs: number;
  /** Records one retention pass may delete per partition, so a pass never stalls appends for long. */
  retentionBatchRecords: number;
  /** 'tail' checks ends, counts and the last records of every partition; 'full' walks everything. */
  verify: 'tail' | 'full';
  /** How long a failing group commit is retried before the log breaks (acks nothing more). */
  commitFailureMaxMs: number;
  observer?: LogObserver;
}

/**
 * The forwarder's consumer group: its cursor is what was sent upstream, what retention holds to and what
 * `log streams` reports lag by. Defined here because the forwarder, the broker and the CLI all import the
 * log already (forward would make `tributary log` load the Kafka client).
 */
export const UPSTREAM_GROUP = 'upstream';

export const LOG_DEFAULTS: Omit<LogOptions, 'dataDir'> = {
  commitIntervalMs: 5,
  commitBytesMax: 1024 * 1024,
  appendsInFlightMax: 20_000,
  storageMaxBytes: 0,
  retentionHoldGroup: null,
  retentionIntervalMs: 1000,
  retentionBatchRecords: 5000,
  verify: 'tail',
  commitFailureMaxMs: 30_000,
};

export interface PartitionInfo {
  partition: number;
  startOffset: number;
  endOffset: number;
  records: number;
  bytes: number;
}

export interface StreamInfo {
  stream: string;
  partitions: PartitionInfo[];
}

/** A partition as the writer tracks it: committed state only. */
export interface PartitionRef {
  stream: string;
  streamId: number;
  index: number;
  state: PartitionState;
  /** endOffset of the partition's last durable checkpoint (keys.ts). */
  checkpointEnd: number;
}

export interface StreamRef {
  spec: StreamSpec;
  id: number;
  partitions: PartitionRef[];
}

export function toInfo(p: PartitionRef): PartitionInfo {
  const { startOffset, endOffset, bytes } = p.state;
  return { partition: p.index, startOffset, endOffset, records: endOffset - startOffset, bytes };
}
