/**
 * The upstream Kafka sink: the only file in tributary that imports the Kafka client
 * (`@platformatic/kafka` 1.x: pure TypeScript, no native addon, runs on Node 20).
 *
 * Contract of `send(records)`:
 * - it resolves only after Kafka acknowledged every record with `acks=all` through an idempotent producer;
 * - records of one call that land in one Kafka partition keep their order (one produce request per leader,
 *   sequence numbers taken in record order, requests written to the leader's one connection in that order);
 * - it never hangs, whatever the network does: each produce request settles within `sendTimeoutMs`, and a
 *   call makes one request per `requestBytesMax` of records;
 * - it rejects only with `UpstreamError`: `retriable` is true when trying again later can succeed (network,
 *   DNS, timeouts, leader changes, not enough replicas, producer sequence state) and false when it cannot
 *   without an operator (authorization, invalid topic, record too large, topic missing and not auto-created).
 *   A broker's answer is classified by its Kafka error code (`kafkaErrorRetriable`), the client's own
 *   failures by their class, a failure this sink caused by retiring a producer by the sink's state: never
 *   by message text. A connection refused at TLS or SASL is `UPSTREAM_TLS` or `UPSTREAM_AUTH`, non-retriable,
 *   with a message that names the files, mechanism, user and brokers to check (kafka-security.ts).
 *
 * Kafka partitions are chosen like Kafka's Java producer (`murmur2(key) & 0x7fffffff % partitions`, the
 * client's `compatibilityPartitioner`): the client's default partitioner differs from Java's for partition
 * counts that are not a power of two, and other producers of the same keys must agree with us. Records with
 * no key all go to one partition per call, so a keyless batch also stays in order.
 *
 * What the client does and what this file does: the client (its Producer) connects, authenticates, finds
 * leaders (metadata), obtains the idempotent producer id and frames, matches and parses requests. This file
 * builds the produce requests itself (../kafka-records/record-batch.ts) and owns the sequence numbers: the client's own
 * send path cost several small buffers, two Maps and a string per record, which made a backlog drain
 * CPU-bound in the client.
 *
 * Concurrency: `send` may be called concurrently (one forward loop per log partition); the calls share one
 * producer and its connections, and requests for one Kafka partition may be in flight together, as in
 * Java's idempotent producer. Each batch takes its partition's next sequence numbers when it is built, and
 * nothing awaits between that and handing the request to the connection, so the broker sees them in
 * sequence order. Any failed request leaves a gap in some partition's sequence, after which the broker
 * would refuse every later batch of that producer (OUT_OF_ORDER_SEQUENCE_NUMBER): so after any failure the
 * producer is closed and the next attempt starts a fresh one (a new producer id, sequences from 0). Records
 * Kafka did write before the failure may then arrive twice, never out of order or lost; the headers let
 * consumers drop duplicates. Requests of other calls in flight on the closed producer fail and are retried.
 * `renew(security)` (SIGHUP) retires the producer the same way, so the next attempt connects with the new
 * TLS files and credentials.
 */
import zlib from 'node:zlib';
import {
  compatibilityPartitioner,
  compressionsAlgorithms,
  crc32c,
  createAPI,
  NetworkError,
  Producer,
  produceV9,
  ProtocolError,
  protocolErrors,
  TimeoutError,
  UnsupportedCompressionError,
  UserError,
  Writer,
  type ClusterMetadata,
  type ProducerInfo,
} from '@platformatic/kafka';
import type { UpstreamSecurity } from '../config/upstream-secrets.js';
import { ConfigError, UpstreamError, errorMessage } from '../errors.js';
import { sleep } from './backoff.js';
import { clientSecurityOptions, securityFailure, securityFailureMessage } from './kafka-security.js';
import { encodeRecordBatch, nextSequence, type BatchCodec, type BatchProducer, type BatchRecord } from '../kafka-records/record-batch.js';

export interface SinkRecord {
  topic: string;
  key: Buffer | null;
  value: Buffer;
  /**
   * Header names as UTF-8 bytes, then values: names repeat on every record, so callers encode each once
   * and share the Buffers, which are never written to.
   */
  headers: ReadonlyArray<readonly [Buffer, Buffer]>;
  /** Milliseconds since the epoch; becomes the Kafka record's CreateTime. */
  timestamp: number;
}

export interface Sink {
  /** Resolves once Kafka acknowledged every record of the batch (acks=all, idempotent producer). Rejects with UpstreamError (retriable flag set correctly). */
  send(records: SinkRecord[]): Promise<void>;
  /**
   * Opens a session (TCP, TLS, SASL, a producer id) without sending a record, so the link's state is
   * known before there is anything to forward. Rejects like `send`. Optional: in-memory sinks in unit tests
   * have no connection to open, and then the first send's outcome decides.
   */
  connect?(): Promise<void>;
  /** Sends from now on connect with this TLS and SASL material: the current connections are dropped. */
  renew?(security: UpstreamSecurity | undefined): void;
  close(): Promise<void>;
}

/**
 * `snappy` and `lz4` are fast and work on Node 20 (the client ships them as WebAssembly); `zstd` needs
 * `zlib.zstdCompressSync`, which Node has only from 22.15: see `supportedCompressions()`.
 */
export type KafkaCompression = 'none' | 'gzip' | 'snappy' | 'lz4' | 'zstd';

export interface KafkaSinkOptions {
  /** Bootstrap brokers as `host:port`. */
  brokers: string[];
  clientId: string;
  compression: KafkaCompression;
  /** How long Kafka may take to answer one request (a produce waits for all in-sync replicas). */
  requestTimeoutMs: number;
  /** How long opening a TCP connection to a broker may take. */
  connectTimeoutMs: number;
  /** Hard upper bound of one produce request, retries included. Default: connect + (retries + 1) × request timeout. */
  sendTimeoutMs?: number;
  /**
   * Uncompressed bytes per produce request. The client puts all records of a request for one partition in
   * one record batch, and Kafka refuses a batch over `message.max.bytes` (1,048,588 by default) even when
   * compression would have shrunk it below; so `send` cuts larger batches into requests sent one after
   * another. Default 1,000,000.
   */
  requestBytesMax?: number;
  /** TLS files and SASL credentials, as read from the config (config/upstream-secrets.ts); none: plaintext. */
  security?: UpstreamSecurity | undefined;
}

/** Attempts the client itself makes after the first for a retriable error, before `send` rejects. */
const clientRetriesMax = 2;
const clientRetryDelayMs = 100;
const closeTimeoutMs = 5_000;
const requestBytesMaxDefault = 1_000_000;
/** Record framing in a v2 batch (length, attributes, deltas, varints), counted generously. */
const recordOverheadBytes = 24;

/**
 * Kafka errors after which the producer's id or sequence numbers no longer match the broker's. Kafka's own
 * producers cannot retry them; this sink can, because it starts a fresh producer (new id, sequences from 0)
 * after any failure.
 */
const producerStateErrors: ReadonlySet<string> = new Set([
  'OUT_OF_ORDER_SEQUENCE_NUMBER',
  'UNKNOWN_PRODUCER_ID',
  'INVALID_PRODUCER_EPOCH',
  'INVALID_PRODUCER_ID_MAPPING',
  'PRODUCER_FENCED',
]);

/**
 * Kafka protocol error code → whether trying again later can succeed: the one table a broker's answer is
 * classified by. Kafka's own verdict (the client's table, generated from Kafka's error definitions:
 * `canRetry` is Kafka's RetriableException), except the producer-state errors above.
 */
const kafkaErrorRetriable: ReadonlyMap<number, boolean> = new Map(
  Object.values(protocolErrors).map(({ id, code, canRetry }) => [code, canRetry || producerStateErrors.has(id)]),
);

/** The compressions this Node.js can produce with the client. */
export function supportedCompressions(): KafkaCompression[] {
  const all: KafkaCompression[] = ['none', 'gzip', 'snappy', 'lz4'];
  return 'zstdCompressSync' in zlib ? [...all, 'zstd'] : all;
}

export function createKafkaSink(options: KafkaSinkOptions): Sink {
  validateOptions(options);
  return new KafkaSink(options);
}

/** One producer incarnation: the client (connections, metadata, producer id) and our sequence numbers. */
interface Session {
  producer: Producer;
  /** Producer id and epoch, once Kafka assigned them (InitProducerId). */
  id: Promise<ProducerInfo> | undefined;
  /** Next base sequence per Kafka partition ("topic\0partition"), taken when a batch is built. */
  sequences: Map<string, number>;
}

/** Records bound for one Kafka partition within one request. */
interface PartitionBatch {
  topic: string;
  partition: number;
  records: BatchRecord[];
}

class KafkaSink implements Sink {
  #session: Session | undefined;
  #closed = false;
  /** Producers being closed in the background after they were discarded; `close()` waits for them. */
  readonly #retiring = new Set<Promise<void>>();
  /** Keyless records of one call share a partition; successive calls rotate through the partitions. */
  #keylessPartition = 0;
  readonly #sendTimeoutMs: number;
  readonly #requestBytesMax: number;
  readonly #codec: BatchCodec | null;
  /** What the next session connects with; `renew` replaces it. */
  #security: UpstreamSecurity | undefined;

  constructor(private readonly options: KafkaSinkOptions) {
    this.#security = options.security;
    this.#sendTimeoutMs =
      options.sendTimeoutMs ?? options.connectTimeoutMs + (clientRetriesMax + 1) * options.requestTimeoutMs;
    this.#requestBytesMax = options.requestBytesMax ?? requestBytesMaxDefault;
    this.#codec = codecFor(options.compression);
  }

  async send(records: SinkRecord[]): Promise<void> {
    const keylessPartition = this.#keylessPartition++;
    // One request after the other: a later part starts only once Kafka acknowledged the earlier one,
    // so order holds across parts; if a part fails, the caller's retry of the whole batch may duplicate
    // the parts that arrived, never skip one.
    for (const part of splitByBytes(records, this.#requestBytesMax)) {
      await this.#produce(part, keylessPartition);
    }
  }

  async #produce(records: SinkRecord[], keylessPartition: number): Promise<void> {
    const deadline = Date.now() + this.#sendTimeoutMs;
    let lastError: unknown = new DeadlineError(`no attempt within ${this.#sendTimeoutMs} ms`);
    let verdict = judge(lastError, false);
    for (let attempt = 0; attempt <= clientRetriesMax; attempt++) {
      // Checked per request: a close() between two parts of one batch must not start a new producer.
      if (this.#closed) {
        throw new UpstreamError('the Kafka sink is closed', { code: 'UPSTREAM_CLOSED', retriable: false });
      }
      const delayMs = attempt === 0 ? 0 : clientRetryDelayMs * 2 ** (attempt - 1);
      if (Date.now() + delayMs >= deadline) break;
      if (delayMs > 0) await sleep(delayMs);
      const session = (this.#session ??= this.#createSession());
      try {
        await settleWithin(this.#produceOnce(session, records, keylessPartition), deadline - Date.now());
        return;
      } catch (err) {
        lastError = err;
        // Judged before this call retires the session: whether another call (or close) already had.
        verdict = judge(err, this.#session !== session);
        // Sequence numbers were taken for this request: whatever part of it Kafka did not write leaves a
        // gap every later batch of this producer would be refused for. A fresh producer (new id, sequences
        // from 0) starts clean; records Kafka did write may then arrive twice, never out of order or lost.
        // Leaders may also have moved or brokers died: the fresh producer asks the cluster again.
        this.#retire(session);
        if (err instanceof DeadlineError || !verdict.retriable) break;
      }
    }
    throw toUpstreamError(lastError, verdict, records, { sendTimeoutMs: this.#sendTimeoutMs, security: this.#security, brokers: this.options.brokers });
  }

  async connect(): Promise<void> {
    if (this.#closed) throw new UpstreamError('the Kafka sink is closed', { code: 'UPSTREAM_CLOSED', retriable: false });
    const session = (this.#session ??= this.#createSession());
    try {
      await settleWithin((session.id ??= session.producer.initIdempotentProducer({})), this.#sendTimeoutMs);
    } catch (err) {
      const verdict = judge(err, this.#session !== session);
      // A session whose producer id never came is of no use to the next call: it starts afresh.
      this.#retire(session);
      throw toUpstreamError(err, verdict, [], { sendTimeoutMs: this.#sendTimeoutMs, security: this.#security, brokers: this.options.brokers });
    }
  }

  /** One produce request per partition leader, all in flight together. */
  async #produceOnce(session: Session, records: SinkRecord[], keylessPartition: number): Promise<void> {
    const { producerId, producerEpoch } = await (session.id ??= session.producer.initIdempotentProducer({}));
    const topics = [...new Set(records.map((r) => r.topic))];
    const metadata = await session.producer.metadata({ topics, autocreateTopics: true }).catch((err: unknown) => {
      // The client turns a cluster's UNKNOWN_TOPIC_OR_PARTITION (missing, and not auto-created) into a
      // UserError of its own that keeps neither the code nor the answer (clients/base/base.js); the only
      // other UserError metadata() gives is for invalid options, and these are fixed. It does so too when
      // this sink retired the producer while the client was still waiting for an auto-created topic: that
      // is no verdict on the topic, and judgeLeaf makes it retriable.
      throw err instanceof UserError && this.#session === session ? unknownTopicError(topics.join(', '), err) : err;
    });
    const byLeader = groupByLeader(records, metadata, keylessPartition);
    await Promise.all(
      [...byLeader].map(async ([leader, batches]) => {
        const broker = metadata.brokers.get(leader);
        if (broker === undefined) throw new NetworkError(`Kafka named broker ${leader} as a leader but not its address`);
        const connection = await session.producer.connections.get(broker);
        // From taking the sequence numbers to handing the request to the connection nothing awaits, so
        // requests for one partition go out in the order of their sequence numbers.
        const topicData = encodeBatches(batches, (topic, partition, count) => {
          const key = `${topic}\0${partition}`;
          const base = session.sequences.get(key) ?? 0;
          session.sequences.set(key, nextSequence(base, count));
          return { producerId, producerEpoch, baseSequence: base };
        }, this.#codec);
        await produceApi.async(connection, -1, this.options.requestTimeoutMs, topicData);
      }),
    );
  }

  renew(security: UpstreamSecurity | undefined): void {
    this.#security = security;
    if (this.#session !== undefined) this.#retire(this.#session);
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    if (this.#session !== undefined) this.#retire(this.#session);
    await Promise.all([...this.#retiring]);
  }

  #createSession(): Session {
    const { brokers, clientId, requestTimeoutMs, connectTimeoutMs } = this.options;
    const producer = new Producer({
      clientId,
      bootstrapBrokers: brokers,
      // Idempotence is this sink's: it takes the producer id from the client (InitProducerId) and numbers
      // the batches itself. The client's own idempotent mode would allow one request in flight per
      // connection and retry forever.
      idempotent: false,
      maxInflights: 5,
      // A topic named by the config is created on first use where the cluster allows it.
      autocreateTopics: true,
      // The client's retries cover metadata (a topic being auto-created is "unknown" for a moment) and the
      // producer id; produce requests are retried by `#produce`, which knows when sequences are in doubt.
      retries: clientRetriesMax,
      retryDelay: (_client, _operation, attempt) => clientRetryDelayMs * 2 ** (attempt - 1),
      timeout: requestTimeoutMs,
      requestTimeout: requestTimeoutMs,
      connectTimeout: connectTimeoutMs,
      ...clientSecurityOptions(this.#security),
    });
    // Every connection error also reaches the pending call's callback. This listener only makes sure a
    // second 'error' from the same socket can never become an uncaught exception that ends the process.
    producer.connections.on('connecting', ({ connection }) => {
      connection.on('error', ignoreError);
    });
    return { producer, id: undefined, sequences: new Map() };
  }

  /** Closes a session's producer in the background: its pending requests end with "client closed". */
  #retire(session: Session): void {
    if (this.#session !== session) return;
    this.#session = undefined;
    session.id?.catch(ignoreError);
    const closed = new Promise<void>((resolve, reject) => {
      session.producer.close(true, (error) => (error ? reject(error) : resolve()));
    });
    const closing: Promise<void> = settleWithin(closed, closeTimeoutMs)
      .catch(ignoreError)
      .finally(() => this.#retiring.delete(closing));
    this.#retiring.add(closing);
  }
}

function recordBytes(record: SinkRecord): number {
  let bytes = recordOverheadBytes + record.value.length + (record.key?.length ?? 0);
  for (const [name, value] of record.headers) bytes += name.length + value.length + 4;
  return bytes;
}

/** Consecutive runs of records of at most `bytesMax` each; a record larger than that is a run alone. */
function splitByBytes(records: SinkRecord[], bytesMax: number): SinkRecord[][] {
  const parts: SinkRecord[][] = [];
  let part: SinkRecord[] = [];
  let partBytes = 0;
  for (const record of records) {
    const bytes = recordBytes(record);
    if (part.length > 0 && partBytes + bytes > bytesMax) {
      parts.push(part);
      part = [];
      partBytes = 0;
    }
    part.push(record);
    partBytes += bytes;
  }
  if (part.length > 0) parts.push(part);
  return parts;
}

/**
 * Java's partitioner (murmur2 of the key, positive), remembered per key Buffer: the forward loops hand
 * the same Buffer for a key that repeats (Utf8Cache), so a batch hashes each distinct key once.
 */
const hashOfKey = new WeakMap<Buffer, number>();
function keyHash(key: Buffer): number {
  let hash = hashOfKey.get(key);
  if (hash === undefined) {
    hash = compatibilityPartitioner(undefined as never, key);
    hashOfKey.set(key, hash);
  }
  return hash;
}

/** A topic the cluster does not have and did not create: an operator must. */
function unknownTopicError(topics: string, cause?: unknown): UpstreamError {
  return new UpstreamError(`Kafka has no topic ${topics} and did not create it`, { code: 'UPSTREAM_UNKNOWN_TOPIC', retriable: false, cause });
}

/** Records grouped by the broker leading their Kafka partition, then by partition, order kept. */
function groupByLeader(records: SinkRecord[], metadata: ClusterMetadata, keylessPartition: number): Map<number, PartitionBatch[]> {
  // Per topic, its partitions' batches by partition number: no key string built per record.
  const byTopic = new Map<string, Array<PartitionBatch | undefined>>();
  const byLeader = new Map<number, PartitionBatch[]>();
  for (const record of records) {
    const topic = metadata.topics.get(record.topic);
    if (topic === undefined) throw unknownTopicError(record.topic);
    const partition = (record.key === null ? keylessPartition : keyHash(record.key)) % topic.partitionsCount;
    let batches = byTopic.get(record.topic);
    if (batches === undefined) byTopic.set(record.topic, (batches = []));
    let batch = batches[partition];
    if (batch === undefined) {
      const leader = topic.partitions[partition]?.leader ?? -1;
      if (leader < 0) throw new NetworkError(`Kafka partition ${record.topic}/${partition} has no leader`);
      batch = { topic: record.topic, partition, records: [] };
      batches[partition] = batch;
      const forLeader = byLeader.get(leader);
      if (forLeader === undefined) byLeader.set(leader, [batch]);
      else forLeader.push(batch);
    }
    batch.records.push(record);
  }
  return byLeader;
}

// ------------------------------------------------------------------------------------ produce request

interface TopicData {
  topic: string;
  partitions: Array<{ partition: number; batch: Buffer }>;
}

/** Encodes each partition's batch, taking its producer fields from `producerFor`, grouped by topic. */
function encodeBatches(
  batches: PartitionBatch[],
  producerFor: (topic: string, partition: number, count: number) => BatchProducer,
  codec: BatchCodec | null,
): TopicData[] {
  const byTopic = new Map<string, TopicData>();
  for (const { topic, partition, records } of batches) {
    const batch = encodeRecordBatch(records, producerFor(topic, partition, records.length), codec, crc32c);
    let data = byTopic.get(topic);
    if (data === undefined) byTopic.set(topic, (data = { topic, partitions: [] }));
    data.partitions.push({ partition, batch });
  }
  return [...byTopic.values()];
}

/*
 * Produce request v9 (Kafka 2.4 and later), with record batches encoded by ../kafka-records/record-batch.ts:
 *   transactional_id COMPACT_NULLABLE_STRING (null) | acks INT16 | timeout_ms INT32
 *   | [topic_data: name COMPACT_STRING | [partition_data: index INT32 | records COMPACT_RECORDS | tags] | tags]
 *   | tags
 * The client frames it, matches the answer and parses it (errors per partition become its ResponseError).
 */
function createProduceRequest(acks: number, timeoutMs: number, topicData: TopicData[]): Writer {
  return Writer.create()
    .appendString(null)
    .appendInt16(acks)
    .appendInt32(timeoutMs)
    .appendArray(topicData, (w, t) => {
      w.appendString(t.topic).appendArray(t.partitions, (w, p) => {
        w.appendInt32(p.partition).appendUnsignedVarInt(p.batch.length + 1).append(p.batch);
      });
    })
    .appendTaggedFields();
}

const produceApi = createAPI<[acks: number, timeoutMs: number, topicData: TopicData[]], produceV9.ProduceResponse>(
  0,
  9,
  createProduceRequest,
  produceV9.parseResponse,
);

/** The batch codec for a compression name; null for none. */
function codecFor(compression: KafkaCompression): BatchCodec | null {
  if (compression === 'none') return null;
  const algorithm = compressionsAlgorithms[compression];
  return { id: algorithm.bitmask, compress: (records) => algorithm.compressSync(records) };
}

function validateOptions(options: KafkaSinkOptions): void {
  if (options.brokers.length === 0) throw new ConfigError('no Kafka broker given', 'upstream.kafka.brokers');
  for (const broker of options.brokers) {
    if (!/^[^\s:]+:\d{1,5}$/.test(broker) && !/^\[[0-9a-fA-F:.]+\]:\d{1,5}$/.test(broker)) {
      throw new ConfigError(`Kafka broker "${broker}" is not host:port`, 'upstream.kafka.brokers');
    }
  }
  if (!supportedCompressions().includes(options.compression)) {
    throw new ConfigError(
      `compression "${options.compression}" is not available on Node.js ${process.versions.node}; ` +
        `use one of ${supportedCompressions().join(', ')}`,
      'upstream.kafka.compression',
    );
  }
  for (const name of ['requestTimeoutMs', 'connectTimeoutMs', 'sendTimeoutMs', 'requestBytesMax'] as const) {
    const value = options[name];
    if (value !== undefined && !(Number.isInteger(value) && value > 0)) {
      throw new ConfigError(`${name} must be a positive integer, not ${value}`, name);
    }
  }
}

// ------------------------------------------------------------------------------------------- deadline

class DeadlineError extends Error {}

/** Settles like `promise`, or rejects with DeadlineError after `timeoutMs`; a late rejection is swallowed. */
function settleWithin<T>(promise: Promise<T>, timeoutMs: number): Promise<T> {
  promise.catch(ignoreError);
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(() => reject(new DeadlineError(`no answer within ${timeoutMs} ms`)), timeoutMs);
  });
  return Promise.race([promise, deadline]).finally(() => clearTimeout(timer));
}

function ignoreError(): void {}

// ------------------------------------------------------------------------------------ error mapping

interface Verdict {
  code: string;
  retriable: boolean;
}

/** The client's errors form a tree (MultipleErrors of MultipleErrors of ...); its leaves say what happened. */
function leafErrors(err: unknown, depth = 0): unknown[] {
  if (depth > 8) return [err];
  if (err instanceof AggregateError && err.errors.length > 0) {
    return err.errors.flatMap((inner: unknown) => leafErrors(inner, depth + 1));
  }
  return [err];
}

/** A broker's answer: Kafka's error code and its name (`NOT_LEADER_OR_FOLLOWER`, ...). */
function kafkaError(leaf: ProtocolError): { code: number; name: string } {
  const code: unknown = leaf['apiCode'];
  const name: unknown = leaf['apiId'];
  return { code: typeof code === 'number' ? code : Number.NaN, name: String(name) };
}

function causeCode(err: Error): string | undefined {
  let cause: unknown = err.cause;
  for (let depth = 0; depth < 4 && cause instanceof Error; depth++) {
    const code: unknown = (cause as NodeJS.ErrnoException).code;
    if (typeof code === 'string' && !code.startsWith('PLT_KFK_')) return code;
    cause = cause.cause;
  }
  return undefined;
}

/** `retired`: the producer the call used had been retired (another call's failure, or close) when it failed. */
function judgeLeaf(leaf: unknown, retired: boolean): Verdict {
  if (leaf instanceof DeadlineError) return { code: 'UPSTREAM_TIMEOUT', retriable: true };
  if (leaf instanceof UpstreamError) return { code: leaf.code, retriable: leaf.retriable };
  // Before the network: the client reports a refused TLS handshake or SASL exchange as a NetworkError.
  const refused = securityFailure(leaf);
  if (refused !== null) return { code: refused.code, retriable: false };
  if (leaf instanceof ProtocolError) {
    const { code, name } = kafkaError(leaf);
    return { code: `UPSTREAM_${name}`, retriable: kafkaErrorRetriable.get(code) === true };
  }
  // The client gives its TimeoutError the network code, so the class is what tells it apart.
  if (leaf instanceof TimeoutError) return { code: 'UPSTREAM_TIMEOUT', retriable: true };
  if (leaf instanceof NetworkError) {
    const code = causeCode(leaf);
    // On a gateway, a failing DNS lookup usually means the link is down: worth retrying.
    if (code === 'ENOTFOUND' || code === 'EAI_AGAIN') return { code: 'UPSTREAM_UNKNOWN_HOST', retriable: true };
    return { code: 'UPSTREAM_UNREACHABLE', retriable: true };
  }
  if (leaf instanceof UnsupportedCompressionError) return { code: 'UPSTREAM_COMPRESSION', retriable: false };
  // What else a retired producer's requests end with ("Client closed while retrying", "Connection pool is
  // closed") is this sink's doing, not Kafka's answer: the next attempt uses a fresh producer.
  if (retired) return { code: 'UPSTREAM_CONNECTION_CLOSED', retriable: true };
  return { code: 'UPSTREAM', retriable: false };
}

/** One verdict for the call: any leaf that cannot pass makes the whole call non-retriable. */
function judge(err: unknown, retired: boolean): Verdict {
  const verdicts = leafErrors(err).map((leaf) => judgeLeaf(leaf, retired));
  return verdicts.find((v) => !v.retriable) ?? verdicts[0] ?? { code: 'UPSTREAM', retriable: false };
}

function describeLeaves(err: unknown): string {
  const parts = leafErrors(err).map((leaf) => {
    const text = errorMessage(leaf);
    if (leaf instanceof ProtocolError) return `${kafkaError(leaf).name}: ${text}`;
    const cause = leaf instanceof Error && leaf.cause instanceof Error ? ` (${leaf.cause.message})` : '';
    return `${text}${cause}`;
  });
  return [...new Set(parts)].slice(0, 3).join('; ');
}

interface SendContext {
  sendTimeoutMs: number;
  security: UpstreamSecurity | undefined;
  brokers: readonly string[];
}

function toUpstreamError(err: unknown, { code, retriable }: Verdict, records: SinkRecord[], { sendTimeoutMs, security, brokers }: SendContext): UpstreamError {
  // A refused connection concerns no record: the message says what to check instead.
  for (const leaf of leafErrors(err)) {
    const refused = securityFailure(leaf);
    if (refused !== null && refused.code === code) {
      return new UpstreamError(securityFailureMessage(refused, errorMessage(leaf), security, brokers), { code, retriable, cause: err });
    }
  }
  const topics = [...new Set(records.map((r) => r.topic))].join(', ');
  const what = err instanceof DeadlineError ? `no acknowledgement within ${sendTimeoutMs} ms` : describeLeaves(err);
  const attempt = records.length === 0 ? `Kafka connect to ${brokers.join(',')}` : `Kafka send of ${records.length} record(s) to ${topics}`;
  return new UpstreamError(`${attempt} failed: ${what}`, {
    code,
    retriable,
    cause: err,
  });
}
