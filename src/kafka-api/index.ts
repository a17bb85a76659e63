/**
 * The local Kafka API (DESIGN.md "Local consumers"): the log served over Kafka's wire protocol to stock,
 * unmodified consumers on the gateway, with consumer groups whose offsets live in the log's cursors
 * table. Read-only: a Produce is refused (sensors write over MQTT; handlers.ts says why it is advertised).
 *
 *   server.ts             framing, connections, SASL, bad input, counting
 *   protocol/             the codec, generated from Kafka's own message definitions (scripts/kafka-api)
 *   handlers.ts           ApiVersions, Metadata, FindCoordinator, ListOffsets
 *   fetch.ts              Fetch, long-polled on the log's commits
 *   group-coordinator.ts  the classic group protocol; offsets.ts stores committed offsets in the log
 *
 * It reads records and cursors through the log's public interface (src/log/index.ts) and never imports
 * ingest or forward. Group `upstream` is the forwarder's and is refused (INVALID_GROUP_ID). Retention
 * ignores local groups, as Kafka's does: only the upstream cursor holds records back.
 */
import type { PasswordEntry } from '../auth/password-file.js';
import type { Log } from '../log/index.js';
import { FetchService, type FetchRequest } from './fetch.js';
import { GroupCoordinator, type GroupSummary } from './group-coordinator.js';
import { ApiKey, findCoordinator, listOffsets, metadata, produce, type FindCoordinatorRequest, type ListOffsetsRequest, type MetadataRequest, type ProduceRequest } from './handlers.js';
import { logOffsetStore } from './offsets.js';
import { KafkaApiServer, type BoundKafkaListener, type KafkaApiObserver, type ListenerSpec, type ServerLogger } from './server.js';
import { TopicCatalog } from './topics.js';

export type { BoundKafkaListener, KafkaApiObserver, ListenerSpec } from './server.js';
export type { GroupPartitionPosition, GroupSummary } from './group-coordinator.js';

export interface KafkaApiOptions {
  log: Log;
  gatewayId: string;
  keySpecs: ReadonlyMap<string, string>;
  listeners: ListenerSpec[];
  passwords: () => ReadonlyMap<string, PasswordEntry> | null;
  logger: ServerLogger;
  observer?: KafkaApiObserver;
  /** Longest Fetch wait, whatever a client asks. */
  fetchMaxWaitMs?: number;
  maxFrameBytes?: number;
  writeStallMs?: number;
  idleMs?: number;
  sessionTimeoutMinMs?: number;
}

export interface KafkaApi {
  start(): Promise<BoundKafkaListener[]>;
  /** Consumer lag per local group and partition, for the metrics and the status report. */
  groupLag(): Array<{ group: string; stream: string; partition: number; lagRecords: number }>;
  /** Every known local group: state, members, committed offsets and lag per partition (the status report). */
  groups(): GroupSummary[];
  /** The listeners as bound; empty before `start()`. */
  listeners(): BoundKafkaListener[];
  close(): Promise<void>;
}

export function createKafkaApi(options: KafkaApiOptions): KafkaApi {
  const { log } = options;
  const topics = new TopicCatalog(log);
  const fetch = new FetchService(log, topics, { gatewayId: options.gatewayId, keySpecs: options.keySpecs, maxWaitMsMax: options.fetchMaxWaitMs ?? 30_000, recordsPerPartitionMax: 10_000 });
  const coordinator = new GroupCoordinator({
    offsets: logOffsetStore(log),
    topics: { partitions: (s) => topics.partitions(s), streams: () => topics.streams(), endOffset: (s, p) => log.partitionInfo(s, p).endOffset },
    logger: options.logger,
    ...(options.sessionTimeoutMinMs === undefined ? {} : { minSessionTimeoutMs: options.sessionTimeoutMinMs }),
  });
  const clusterId = `tributary-${options.gatewayId}`.slice(0, 200);
  const bound: BoundKafkaListener[] = [];

  const server = new KafkaApiServer({
    logger: options.logger,
    ...(options.observer === undefined ? {} : { observer: options.observer }),
    passwords: options.passwords,
    maxFrameBytes: options.maxFrameBytes ?? 1024 * 1024,
    writeStallMs: options.writeStallMs ?? 30_000,
    idleMs: options.idleMs ?? 600_000,
    // Bodies are typed by the handlers; the codec hands them over as plain objects of the message's fields.
    dispatch: (apiKey, body, ctx) => {
      const version = ctx.header.apiVersion;
      const b = body as never;
      switch (apiKey) {
        case ApiKey.Produce:
          return produce(b as ProduceRequest);
        case ApiKey.Metadata:
          return metadata(b as MetadataRequest, version, topics, ctx.self, clusterId);
        case ApiKey.FindCoordinator:
          return findCoordinator(b as FindCoordinatorRequest, version, ctx.self);
        case ApiKey.ListOffsets:
          return listOffsets(b as ListOffsetsRequest, log, topics);
        case ApiKey.Fetch:
          return fetch.fetch(b as FetchRequest, version, ctx.signal);
        case ApiKey.JoinGroup:
          return coordinator.joinGroup(b, version, { clientId: ctx.header.clientId ?? '', clientHost: `/${ctx.clientHost.replace(/^::ffff:/, '')}` });
        case ApiKey.SyncGroup:
          return coordinator.syncGroup(b, version);
        case ApiKey.Heartbeat:
          return coordinator.heartbeat(b, version);
        case ApiKey.LeaveGroup:
          return coordinator.leaveGroup(b, version);
        case ApiKey.OffsetCommit:
          return coordinator.offsetCommit(b, version);
        case ApiKey.OffsetFetch:
          return coordinator.offsetFetch(b, version);
        case ApiKey.DescribeGroups:
          return coordinator.describeGroups(b, version);
        case ApiKey.ListGroups:
          return coordinator.listGroups(b, version);
        case ApiKey.DeleteGroups:
          return coordinator.deleteGroups(b, version);
        default:
          throw new Error(`API key ${apiKey} has no handler`);
      }
    },
  });

  return {
    start: async () => {
      for (const spec of options.listeners) bound.push(await server.listen(spec));
      return [...bound];
    },
    groupLag: () => coordinator.groupLag(),
    groups: () => coordinator.groupSummaries(),
    listeners: () => [...bound],
    close: async () => {
      coordinator.close();
      fetch.close();
      await server.close();
    },
  };
}
