/**
 * Fetch over the log: Kafka's long-poll, answered from durable records only.
 *
 *   - A partition's records come back as one record batch (magic 2) whose base offset is the first
 *     record's log offset, so a Kafka offset is the log offset; keys, values, timestamps and headers are
 *     what the forwarder sends upstream (src/kafka-records/from-log.ts).
 *   - `highWatermark` = `lastStableOffset` = the partition's durable end (`Log.read` in the writer stops at
 *     what it knows is synced, and `partitionInfo` shows only committed state); `logStartOffset` is its start.
 *   - A fetch offset below the start (retention trimmed past it) or past the end is OFFSET_OUT_OF_RANGE,
 *     with the start and end, so the client resets by its `auto.offset.reset`.
 *   - Byte limits: each partition gets at most `partitionMaxBytes`, the response at most `maxBytes`, except
 *     that the first partition with data returns at least one record however large (KIP-74), so a client
 *     never stalls on one big record.
 *   - Long-poll: when fewer than `minBytes` are ready and no partition has an error, the request waits
 *     until the log tells (`Log.onAppended`) that one of its partitions grew, or until `maxWaitMs`
 *     (capped by `maxWaitMsMax`), or until the connection goes away. Nothing polls.
 *   - There are no fetch sessions (KIP-227): every response says session 0, which clients take as "send
 *     full fetch requests", as they do with a broker whose session cache is full.
 */
import { encodeRecordBatch } from '../kafka-records/record-batch.js';
import { KafkaRecordMapper } from '../kafka-records/from-log.js';
import { crc32c } from '../kafka-records/crc32c.js';
import type { AppendListener, LogRecord, PartitionInfo, ReadLimits } from '../log/index.js';
import { ErrorCode } from './error-codes.js';
import { LEADER_EPOCH, type TopicCatalog, type TopicEntry } from './topics.js';

export interface FetchLog {
  read(stream: string, partition: number, fromOffset: number, limits: ReadLimits): LogRecord[];
  partitionInfo(stream: string, partition: number): PartitionInfo;
  onAppended(listener: AppendListener): () => void;
}

export interface FetchOptions {
  gatewayId: string;
  /** Each stream's partition key spec (`topic`, `client-id`, `topic-level:N`), as the forwarder uses it. */
  keySpecs: ReadonlyMap<string, string>;
  /** The longest a fetch may wait, whatever the client asks (a client asking for minutes holds a socket). */
  maxWaitMsMax: number;
  /** Records one partition returns per fetch at most, beside the byte limits. */
  recordsPerPartitionMax: number;
}

interface FetchPartitionRequest {
  partition: number;
  currentLeaderEpoch?: number;
  fetchOffset: bigint;
  partitionMaxBytes: number;
}

export interface FetchRequest {
  maxWaitMs: number;
  minBytes: number;
  maxBytes?: number;
  topics: Array<{ topic?: string; topicId?: Buffer; partitions: FetchPartitionRequest[] }>;
}

export interface FetchPartitionResponse {
  partitionIndex: number;
  errorCode: number;
  highWatermark: bigint;
  lastStableOffset: bigint;
  logStartOffset: bigint;
  abortedTransactions: null;
  preferredReadReplica: number;
  records: Buffer | null;
}

export interface FetchResponse {
  throttleTimeMs: number;
  errorCode: number;
  sessionId: number;
  responses: Array<{ topic: string; topicId: Buffer; partitions: FetchPartitionResponse[] }>;
}

const NULL_UUID = Buffer.alloc(16);
const EMPTY = Buffer.alloc(0);
const PRODUCER_NONE = { producerId: -1n, producerEpoch: -1, baseSequence: -1 };

interface Waiter {
  keys: Set<string>;
  wake: () => void;
}

export class FetchService {
  readonly #mappers = new Map<string, KafkaRecordMapper>();
  readonly #waiters = new Set<Waiter>();
  readonly #unsubscribe: () => void;

  constructor(
    private readonly log: FetchLog,
    private readonly topics: TopicCatalog,
    private readonly options: FetchOptions,
  ) {
    this.#unsubscribe = log.onAppended((grown) => {
      if (this.#waiters.size === 0) return;
      for (const waiter of this.#waiters) {
        if (grown.some((g) => waiter.keys.has(partitionKey(g.stream, g.partition)))) waiter.wake();
      }
    });
  }

  /** Answers one Fetch; `version` decides whether topics are named by name (≤ 12) or by id (13+). */
  async fetch(body: FetchRequest, version: number, signal: AbortSignal): Promise<FetchResponse> {
    const byId = version >= 13;
    const wanted = body.topics.map((t) => ({ request: t, entry: byId ? this.topics.byId(t.topicId ?? NULL_UUID) : this.topics.byName(t.topic ?? '') }));
    const deadline = Date.now() + Math.max(0, Math.min(body.maxWaitMs, this.options.maxWaitMsMax));
    const keys = new Set<string>();
    for (const w of wanted) for (const p of w.request.partitions) if (w.entry !== undefined) keys.add(partitionKey(w.entry.name, p.partition));
    for (;;) {
      const { response, bytes, failed } = this.#assemble(wanted, body, byId);
      const remaining = deadline - Date.now();
      if (failed || bytes >= Math.max(1, body.minBytes) || remaining <= 0 || keys.size === 0 || signal.aborted) return response;
      await this.#waitForAppend(keys, remaining, signal);
    }
  }

  close(): void {
    this.#unsubscribe();
    for (const waiter of this.#waiters) waiter.wake();
  }

  #waitForAppend(keys: Set<string>, ms: number, signal: AbortSignal): Promise<void> {
    return new Promise((resolve) => {
      const waiter: Waiter = { keys, wake: () => done() };
      const timer = setTimeout(() => done(), ms);
      const done = (): void => {
        clearTimeout(timer);
        this.#waiters.delete(waiter);
        signal.removeEventListener('abort', done);
        resolve();
      };
      this.#waiters.add(waiter);
      signal.addEventListener('abort', done, { once: true });
    });
  }

  #assemble(wanted: Array<{ request: FetchRequest['topics'][number]; entry: TopicEntry | undefined }>, body: FetchRequest, byId: boolean): { response: FetchResponse; bytes: number; failed: boolean } {
    let budget = body.maxBytes === undefined || body.maxBytes <= 0 ? Number.MAX_SAFE_INTEGER : body.maxBytes;
    let bytes = 0;
    let failed = false;
    let anyData = false;
    const responses = wanted.map(({ request, entry }) => {
      const name = entry?.name ?? request.topic ?? '';
      const id = entry?.id ?? request.topicId ?? NULL_UUID;
      const partitions = request.partitions.map((p): FetchPartitionResponse => {
        const out = emptyPartition(p.partition);
        if (entry === undefined || p.partition < 0 || p.partition >= entry.partitions) {
          out.errorCode = byId && entry === undefined ? ErrorCode.UNKNOWN_TOPIC_ID : ErrorCode.UNKNOWN_TOPIC_OR_PARTITION;
          failed = true;
          return out;
        }
        if (p.currentLeaderEpoch !== undefined && p.currentLeaderEpoch >= 0 && p.currentLeaderEpoch !== LEADER_EPOCH) {
          out.errorCode = p.currentLeaderEpoch > LEADER_EPOCH ? ErrorCode.UNKNOWN_LEADER_EPOCH : ErrorCode.FENCED_LEADER_EPOCH;
          failed = true;
          return out;
        }
        const info = this.log.partitionInfo(entry.name, p.partition);
        out.highWatermark = out.lastStableOffset = BigInt(info.endOffset);
        out.logStartOffset = BigInt(info.startOffset);
        const offset = Number(p.fetchOffset);
        if (offset < info.startOffset || offset > info.endOffset) {
          out.errorCode = ErrorCode.OFFSET_OUT_OF_RANGE;
          failed = true;
          return out;
        }
        if (offset === info.endOffset) return out;
        // The first partition with data may exceed the limits by one record (KIP-74); the others stop at them.
        const limit = anyData ? Math.min(p.partitionMaxBytes, budget) : p.partitionMaxBytes;
        if (anyData && limit <= 0) return out;
        let records = this.log.read(entry.name, p.partition, offset, { maxRecords: this.options.recordsPerPartitionMax, maxBytes: Math.max(1, limit) });
        if (records.length === 0) return out;
        let batch = this.#batch(entry.name, p.partition, records);
        // The log's byte count is not Kafka's (headers add bytes): halve until the batch fits, down to one record.
        while (batch.length > limit && records.length > 1) {
          records = records.slice(0, Math.ceil(records.length / 2));
          batch = this.#batch(entry.name, p.partition, records);
        }
        if (anyData && batch.length > limit) return out;
        anyData = true;
        out.records = batch;
        bytes += batch.length;
        budget -= batch.length;
        return out;
      });
      return { topic: name, topicId: id, partitions };
    });
    return { response: { throttleTimeMs: 0, errorCode: ErrorCode.NONE, sessionId: 0, responses }, bytes, failed };
  }

  #batch(stream: string, partition: number, records: LogRecord[]): Buffer {
    return encodeRecordBatch(this.#mapper(stream, partition).map(records), PRODUCER_NONE, null, crc32c, (records[0] as LogRecord).offset);
  }

  #mapper(stream: string, partition: number): KafkaRecordMapper {
    const key = partitionKey(stream, partition);
    let mapper = this.#mappers.get(key);
    if (mapper === undefined) {
      mapper = new KafkaRecordMapper({ gatewayId: this.options.gatewayId, stream, partition, keySpec: this.options.keySpecs.get(stream) ?? 'topic', kafkaTopic: stream });
      this.#mappers.set(key, mapper);
    }
    return mapper;
  }
}

function emptyPartition(partitionIndex: number): FetchPartitionResponse {
  return { partitionIndex, errorCode: ErrorCode.NONE, highWatermark: -1n, lastStableOffset: -1n, logStartOffset: -1n, abortedTransactions: null, preferredReadReplica: -1, records: EMPTY };
}

function partitionKey(stream: string, partition: number): string {
  return `${stream}\u0000${partition}`;
}
