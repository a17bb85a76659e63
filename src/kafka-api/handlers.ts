/**
 * The answers that need no group state: ApiVersions, Metadata, FindCoordinator and ListOffsets.
 * Pure functions of the request, the topic catalog and the log's partition ends; the server
 * (server.ts) decodes, calls and encodes. Fetch is fetch.ts's, groups and offsets group-coordinator.ts's.
 */
import type { LogRecord, PartitionInfo, ReadLimits } from '../log/index.js';
import { ErrorCode } from './error-codes.js';
import { BROKER_NODE_ID, LEADER_EPOCH, type TopicCatalog, type TopicEntry } from './topics.js';

/** Kafka's API keys for what this server answers. */
export const ApiKey = {
  Fetch: 1,
  ListOffsets: 2,
  Metadata: 3,
  OffsetCommit: 8,
  OffsetFetch: 9,
  FindCoordinator: 10,
  JoinGroup: 11,
  Heartbeat: 12,
  LeaveGroup: 13,
  SyncGroup: 14,
  DescribeGroups: 15,
  ListGroups: 16,
  SaslHandshake: 17,
  ApiVersions: 18,
  DeleteGroups: 42,
  SaslAuthenticate: 36,
} as const;

export type ApiName = keyof typeof ApiKey;
export const API_NAMES = new Map<number, ApiName>(Object.entries(ApiKey).map(([name, key]) => [key, name as ApiName]));

/**
 * What is advertised. Every version in a range works (the tests drive both ends of each): the classic
 * encodings kafkajs and librdkafka use and the flexible ones of the Java client and @platformatic/kafka.
 * Not advertised on purpose: Produce (sensors write over MQTT) and OffsetForLeaderEpoch (without it the
 * Java client skips epoch validation, which a single, never-failing-over leader does not need).
 */
export const SUPPORTED: ReadonlyArray<{ api: ApiName; min: number; max: number; sasl?: true }> = [
  { api: 'Fetch', min: 4, max: 13 },
  { api: 'ListOffsets', min: 1, max: 9 },
  { api: 'Metadata', min: 4, max: 12 },
  { api: 'OffsetCommit', min: 2, max: 9 },
  { api: 'OffsetFetch', min: 1, max: 9 },
  { api: 'FindCoordinator', min: 2, max: 6 },
  { api: 'JoinGroup', min: 2, max: 9 },
  { api: 'Heartbeat', min: 3, max: 4 },
  { api: 'LeaveGroup', min: 1, max: 5 },
  { api: 'SyncGroup', min: 3, max: 5 },
  { api: 'DescribeGroups', min: 0, max: 5 },
  { api: 'ListGroups', min: 0, max: 5 },
  { api: 'SaslHandshake', min: 1, max: 1, sasl: true },
  { api: 'ApiVersions', min: 0, max: 4 },
  { api: 'SaslAuthenticate', min: 0, max: 2, sasl: true },
  { api: 'DeleteGroups', min: 0, max: 2 },
];

export function supportedRange(apiKey: number, sasl: boolean): { min: number; max: number } | null {
  const name = API_NAMES.get(apiKey);
  const entry = name === undefined ? undefined : SUPPORTED.find((s) => s.api === name);
  if (entry === undefined || (entry.sasl === true && !sasl)) return null;
  return entry;
}

export function apiVersions(sasl: boolean, errorCode: number = ErrorCode.NONE): object {
  return {
    errorCode,
    apiKeys: SUPPORTED.filter((s) => sasl || s.sasl !== true).map((s) => ({ apiKey: ApiKey[s.api], minVersion: s.min, maxVersion: s.max })),
    throttleTimeMs: 0,
  };
}

/** Where clients reach this broker: the address and port the client connected to (see server.ts). */
export interface Advertised {
  host: string;
  port: number;
}

export interface MetadataRequest {
  topics?: Array<{ topicId?: Buffer; name?: string | null }> | null;
}

export function metadata(body: MetadataRequest, version: number, topics: TopicCatalog, self: Advertised, clusterId: string): object {
  // v0 took an empty list for "all"; from v1, null is all and empty is none.
  const all = body.topics === null || body.topics === undefined || (version === 0 && body.topics.length === 0);
  const wanted: Array<{ entry: TopicEntry | undefined; name: string | null; id: Buffer | undefined }> = all
    ? topics.all().map((entry) => ({ entry, name: entry.name, id: entry.id }))
    : (body.topics ?? []).map((t) => {
        const entry = t.name !== null && t.name !== undefined ? topics.byName(t.name) : t.topicId !== undefined ? topics.byId(t.topicId) : undefined;
        return { entry, name: t.name ?? null, id: t.topicId };
      });
  return {
    throttleTimeMs: 0,
    brokers: [{ nodeId: BROKER_NODE_ID, host: self.host, port: self.port, rack: null }],
    clusterId,
    controllerId: BROKER_NODE_ID,
    topics: wanted.map(({ entry, name, id }) =>
      entry === undefined
        ? { errorCode: name === null ? ErrorCode.UNKNOWN_TOPIC_ID : ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, name, topicId: id ?? Buffer.alloc(16), isInternal: false, partitions: [], topicAuthorizedOperations: -2147483648 }
        : {
            errorCode: ErrorCode.NONE,
            name: entry.name,
            topicId: entry.id,
            isInternal: false,
            partitions: Array.from({ length: entry.partitions }, (_, i) => ({
              errorCode: ErrorCode.NONE,
              partitionIndex: i,
              leaderId: BROKER_NODE_ID,
              leaderEpoch: LEADER_EPOCH,
              replicaNodes: [BROKER_NODE_ID],
              isrNodes: [BROKER_NODE_ID],
              offlineReplicas: [],
            })),
            topicAuthorizedOperations: -2147483648,
          },
    ),
    clusterAuthorizedOperations: -2147483648,
  };
}

export interface FindCoordinatorRequest {
  key?: string;
  keyType?: number;
  coordinatorKeys?: string[];
}

/** Groups only: there are no transactions here (nothing is produced), so a transaction key is refused. */
export function findCoordinator(body: FindCoordinatorRequest, version: number, self: Advertised): object {
  const answer = (key: string) => {
    const group = (body.keyType ?? 0) === 0;
    return group
      ? { key, nodeId: BROKER_NODE_ID, host: self.host, port: self.port, errorCode: ErrorCode.NONE, errorMessage: null }
      : { key, nodeId: -1, host: '', port: -1, errorCode: ErrorCode.COORDINATOR_NOT_AVAILABLE, errorMessage: 'this broker serves no transactions' };
  };
  if (version >= 4) return { throttleTimeMs: 0, coordinators: (body.coordinatorKeys ?? []).map(answer) };
  return { throttleTimeMs: 0, ...answer(body.key ?? '') };
}

export interface ListOffsetsLog {
  partitionInfo(stream: string, partition: number): PartitionInfo;
  read(stream: string, partition: number, fromOffset: number, limits: ReadLimits): LogRecord[];
}

export interface ListOffsetsRequest {
  topics: Array<{ name: string; partitions: Array<{ partitionIndex: number; currentLeaderEpoch?: number; timestamp: bigint }> }>;
}

/** Kafka's special timestamps. */
const LATEST = -1n;
const EARLIEST = -2n;
const MAX_TIMESTAMP = -3n;
const EARLIEST_LOCAL = -4n;
const LATEST_TIERED = -5n;

export function listOffsets(body: ListOffsetsRequest, log: ListOffsetsLog, topics: TopicCatalog): object {
  return {
    throttleTimeMs: 0,
    topics: body.topics.map((t) => ({
      name: t.name,
      partitions: t.partitions.map((p) => {
        const out = { partitionIndex: p.partitionIndex, errorCode: ErrorCode.NONE, oldStyleOffsets: [] as bigint[], timestamp: -1n, offset: -1n, leaderEpoch: LEADER_EPOCH };
        if (!topics.has(t.name, p.partitionIndex)) return { ...out, errorCode: ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, leaderEpoch: -1 };
        if (p.currentLeaderEpoch !== undefined && p.currentLeaderEpoch >= 0 && p.currentLeaderEpoch !== LEADER_EPOCH) {
          return { ...out, errorCode: p.currentLeaderEpoch > LEADER_EPOCH ? ErrorCode.UNKNOWN_LEADER_EPOCH : ErrorCode.FENCED_LEADER_EPOCH, leaderEpoch: -1 };
        }
        const info = log.partitionInfo(t.name, p.partitionIndex);
        const found = offsetFor(log, t.name, p.partitionIndex, info, p.timestamp);
        return { ...out, offset: BigInt(found.offset), timestamp: BigInt(found.timestamp) };
      }),
    })),
  };
}

function offsetFor(log: ListOffsetsLog, stream: string, partition: number, info: PartitionInfo, timestamp: bigint): { offset: number; timestamp: number } {
  if (timestamp === LATEST) return { offset: info.endOffset, timestamp: -1 };
  if (timestamp === EARLIEST || timestamp === EARLIEST_LOCAL) return { offset: info.startOffset, timestamp: -1 };
  if (timestamp === LATEST_TIERED) return { offset: -1, timestamp: -1 };
  const at = (offset: number): LogRecord | undefined => log.read(stream, partition, offset, { maxRecords: 1, maxBytes: 1 })[0];
  if (info.endOffset <= info.startOffset) return { offset: -1, timestamp: -1 };
  if (timestamp === MAX_TIMESTAMP) {
    // Records carry their accept time, so the latest is (nearly always) the newest: Kafka's answer there too.
    const last = at(info.endOffset - 1);
    return last === undefined ? { offset: -1, timestamp: -1 } : { offset: last.offset, timestamp: last.timestamp };
  }
  // The first record at or after `timestamp`: a binary search by accept time, which only grows (a clock
  // stepped back makes this approximate, as Kafka's own time index is).
  const target = Number(timestamp);
  let lo = info.startOffset;
  let hi = info.endOffset;
  while (lo < hi) {
    const mid = Math.floor((lo + hi) / 2);
    const r = at(mid);
    if (r !== undefined && r.timestamp >= target) hi = mid;
    else lo = mid + 1;
  }
  if (lo >= info.endOffset) return { offset: -1, timestamp: -1 };
  const r = at(lo);
  return { offset: lo, timestamp: r?.timestamp ?? -1 };
}
