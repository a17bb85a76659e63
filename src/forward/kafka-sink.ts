/**
 * The upstream Kafka sink: the only file in tributary that imports the Kafka client
 * (`@platformatic/kafka` 1.x: pure TypeScript, no native addon, runs on Node 20).
 *
 * Contract of `send(records)`:
 * - it resolves only after Kafka acknowledged every record with `acks=all` through an idempotent producer;
 * - records of one call that land in one Kafka partition keep their order (one produce request per leader,
 *   one in-flight request per connection);
 * - it never hangs, whatever the network does: each produce request settles within `sendTimeoutMs`, and a
 *   call makes one request per `requestBytesMax` of records;
 * - it rejects only with `UpstreamError`: `retriable` is true when trying again later can succeed (network,
 *   DNS, timeouts, leader changes, not enough replicas, producer sequence state) and false when it cannot
 *   without an operator (authorization, invalid topic, record too large, topic missing and not auto-created).
 *
 * Kafka partitions are chosen like Kafka's Java producer (`murmur2(key) & 0x7fffffff % partitions`, the
 * client's `compatibilityPartitioner`): the client's default partitioner differs from Java's for partition
 * counts that are not a power of two, and other producers of the same keys must agree with us. Records with
 * no key all go to one partition per call, so a keyless batch also stays in order.
 *
 * Concurrency: `send` may be called concurrently (one forward loop per log partition); the calls share one
 * producer, and calls that touch the same Kafka topic run one after another. Why: the client takes a
 * partition's idempotent sequence number when it builds a request but advances it only when the answer
 * arrives, so two requests in flight for one Kafka partition carry the same base sequence and the broker
 * rejects the second (OUT_OF_ORDER_SEQUENCE_NUMBER). Different topics never share a sequence. After an error that leaves the producer's sequence numbers in doubt, or a call that hit its
 * deadline, that producer is closed and the next call starts a fresh one (a new producer id): the retried
 * records may then be duplicated in Kafka, never lost or reordered; the headers let consumers drop them.
 */
import zlib from 'node:zlib';
import {
  compatibilityPartitioner,
  GenericError,
  NetworkError,
  Producer,
  TimeoutError,
  UnsupportedCompressionError,
  type MessageToProduce,
} from '@platformatic/kafka';
import { ConfigError, UpstreamError, errorMessage } from '../errors.js';
import { KeyedLocks } from './keyed-locks.js';
import { Utf8Cache } from './utf8-cache.js';

export interface SinkRecord {
  topic: string;
  key: Buffer | null;
  value: Buffer;
  headers: Array<[string, Buffer]>;
  /** Milliseconds since the epoch; becomes the Kafka record's CreateTime. */
  timestamp: number;
}

export interface Sink {
  /** Resolves once Kafka acknowledged every record of the batch (acks=all, idempotent producer). Rejects with UpstreamError (retriable flag set correctly). */
  send(records: SinkRecord[]): Promise<void>;
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
}

/** Attempts the client itself makes after the first for a retriable error, before `send` rejects. */
const clientRetriesMax = 2;
const clientRetryDelayMs = 100;
const closeTimeoutMs = 5_000;
const requestBytesMaxDefault = 1_000_000;
/** Record framing in a v2 batch (length, attributes, deltas, varints), counted generously. */
const recordOverheadBytes = 24;

/** Kafka errors after which the producer's id or sequence numbers no longer match the broker's. */
const producerStateErrors = new Set([
  'OUT_OF_ORDER_SEQUENCE_NUMBER',
  'UNKNOWN_PRODUCER_ID',
  'INVALID_PRODUCER_EPOCH',
  'INVALID_PRODUCER_ID_MAPPING',
  'PRODUCER_FENCED',
]);

/** The compressions this Node.js can produce with the client. */
export function supportedCompressions(): KafkaCompression[] {
  const all: KafkaCompression[] = ['none', 'gzip', 'snappy', 'lz4'];
  return 'zstdCompressSync' in zlib ? [...all, 'zstd'] : all;
}

export function createKafkaSink(options: KafkaSinkOptions): Sink {
  validateOptions(options);
  return new KafkaSink(options);
}

class KafkaSink implements Sink {
  #producer: Producer | undefined;
  #closed = false;
  /** Producers being closed in the background after they were discarded; `close()` waits for them. */
  readonly #retiring = new Set<Promise<void>>();
  readonly #topicLocks = new KeyedLocks();
  /** Keyless records of one call share a partition; successive calls rotate through the partitions. */
  #keylessPartition = 0;
  readonly #sendTimeoutMs: number;
  readonly #requestBytesMax: number;

  constructor(private readonly options: KafkaSinkOptions) {
    this.#sendTimeoutMs =
      options.sendTimeoutMs ?? options.connectTimeoutMs + (clientRetriesMax + 1) * options.requestTimeoutMs;
    this.#requestBytesMax = options.requestBytesMax ?? requestBytesMaxDefault;
  }

  async send(records: SinkRecord[]): Promise<void> {
    const release = await this.#topicLocks.lock([...new Set(records.map((r) => r.topic))]);
    try {
      await this.#sendLocked(records);
    } finally {
      release();
    }
  }

  async #sendLocked(records: SinkRecord[]): Promise<void> {
    const keylessPartition = this.#keylessPartition++;
    // One request after the other: a later part starts only once Kafka acknowledged the earlier one,
    // so order holds across parts; if a part fails, the caller's retry of the whole batch may duplicate
    // the parts that arrived, never skip one.
    for (const part of splitByBytes(records, this.#requestBytesMax)) {
      await this.#produce(part, keylessPartition);
    }
  }

  async #produce(records: SinkRecord[], keylessPartition: number): Promise<void> {
    // Checked per request: a close() between two parts of one batch must not start a new producer.
    if (this.#closed) {
      throw new UpstreamError('the Kafka sink is closed', { code: 'UPSTREAM_CLOSED', retriable: false });
    }
    const producer = (this.#producer ??= this.#createProducer());
    const messages = toMessages(records, keylessPartition);
    try {
      await settleWithin(producer.send({ messages }), this.#sendTimeoutMs);
    } catch (err) {
      const upstream = toUpstreamError(err, records, this.#sendTimeoutMs);
      // Leaders may have moved or brokers died: the next call asks the cluster again.
      producer.clearMetadata();
      if (err instanceof DeadlineError || hasProducerStateError(err)) this.#retire(producer);
      throw upstream;
    }
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    if (this.#producer !== undefined) this.#retire(this.#producer);
    await Promise.all([...this.#retiring]);
  }

  #createProducer(): Producer {
    const { brokers, clientId, compression, requestTimeoutMs, connectTimeoutMs } = this.options;
    const producer = new Producer({
      clientId,
      bootstrapBrokers: brokers,
      idempotent: true,
      acks: -1,
      compression,
      partitioner: cachedCompatibilityPartitioner,
      // A topic named by the config is created on first use where the cluster allows it.
      autocreateTopics: true,
      // Set explicitly: for an idempotent producer the client otherwise retries forever.
      retries: clientRetriesMax,
      retryDelay: (_client, _operation, attempt) => clientRetryDelayMs * 2 ** (attempt - 1),
      timeout: requestTimeoutMs,
      requestTimeout: requestTimeoutMs,
      connectTimeout: connectTimeoutMs,
    });
    // Every connection error also reaches the pending call's callback. This listener only makes sure a
    // second 'error' from the same socket can never become an uncaught exception that ends the process.
    producer.connections.on('connecting', ({ connection }) => {
      connection.on('error', ignoreError);
    });
    return producer;
  }

  /** Closes a producer in the background: its pending requests and retries end with "client closed". */
  #retire(producer: Producer): void {
    if (this.#producer === producer) this.#producer = undefined;
    const closed = new Promise<void>((resolve, reject) => {
      producer.close(true, (error) => (error ? reject(error) : resolve()));
    });
    const closing: Promise<void> = settleWithin(closed, closeTimeoutMs)
      .catch(ignoreError)
      .finally(() => this.#retiring.delete(closing));
    this.#retiring.add(closing);
  }
}

function recordBytes(record: SinkRecord): number {
  let bytes = recordOverheadBytes + record.value.length + (record.key?.length ?? 0);
  for (const [name, value] of record.headers) bytes += Buffer.byteLength(name) + value.length + 4;
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
 * Java's partitioner (murmur2 of the key), remembered per key Buffer: the forward loops hand the same
 * Buffer for a key that repeats (Utf8Cache), so a batch hashes each distinct key once, not every record.
 */
const partitionOfKey = new WeakMap<object, number>();
function cachedCompatibilityPartitioner(message: MessageToProduce, key?: Buffer): number {
  if (!Buffer.isBuffer(key)) return compatibilityPartitioner(message, key);
  let partition = partitionOfKey.get(key);
  if (partition === undefined) {
    partition = compatibilityPartitioner(message, key);
    partitionOfKey.set(key, partition);
  }
  return partition;
}

/** Header names are few and repeat on every record: encode each once. */
const headerNames = new Utf8Cache(1000);

function toMessages(records: SinkRecord[], keylessPartition: number): MessageToProduce[] {
  return records.map((record) => {
    const headers = new Map<Buffer, Buffer>();
    for (const [name, value] of record.headers) headers.set(headerNames.get(name), value);
    const message: MessageToProduce = {
      topic: record.topic,
      value: record.value,
      headers,
      timestamp: BigInt(record.timestamp),
    };
    // The client reduces the partition modulo the topic's partition count.
    if (record.key === null) message.partition = keylessPartition;
    else message.key = record.key;
    return message;
  });
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

function hasProducerStateError(err: unknown): boolean {
  return leafErrors(err).some((leaf) => producerStateErrors.has(kafkaErrorId(leaf) ?? ''));
}

/** Kafka's protocol error name (`NOT_LEADER_OR_FOLLOWER`, ...) when the leaf is a broker's answer. */
function kafkaErrorId(leaf: unknown): string | undefined {
  if (!(leaf instanceof GenericError)) return undefined;
  const apiId: unknown = leaf['apiId'];
  return typeof apiId === 'string' ? apiId : undefined;
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

function judgeLeaf(leaf: unknown): Verdict {
  if (leaf instanceof DeadlineError) return { code: 'UPSTREAM_TIMEOUT', retriable: true };
  const kafkaId = kafkaErrorId(leaf);
  if (kafkaId !== undefined) {
    // A fresh producer (new id, sequences from 0) fixes these, and the sink makes one after them.
    if (producerStateErrors.has(kafkaId)) return { code: `UPSTREAM_${kafkaId}`, retriable: true };
    return { code: `UPSTREAM_${kafkaId}`, retriable: leaf instanceof GenericError && leaf['canRetry'] === true };
  }
  // The client gives its TimeoutError the network code, so the class is what tells it apart.
  if (leaf instanceof TimeoutError) return { code: 'UPSTREAM_TIMEOUT', retriable: true };
  if (leaf instanceof NetworkError) {
    const code = leaf instanceof Error ? causeCode(leaf) : undefined;
    // On a gateway, a failing DNS lookup usually means the link is down: worth retrying.
    if (code === 'ENOTFOUND' || code === 'EAI_AGAIN') return { code: 'UPSTREAM_UNKNOWN_HOST', retriable: true };
    return { code: 'UPSTREAM_UNREACHABLE', retriable: true };
  }
  if (leaf instanceof UnsupportedCompressionError) return { code: 'UPSTREAM_COMPRESSION', retriable: false };
  if (leaf instanceof Error && /^Unknown topic /.test(leaf.message)) {
    // Metadata said the topic does not exist and the cluster did not create it: an operator must.
    return { code: 'UPSTREAM_UNKNOWN_TOPIC', retriable: false };
  }
  // "Client closed while retrying": this sink retired the producer; the records may simply be sent again.
  if (leaf instanceof Error && /[Cc]lient (is )?closed/.test(leaf.message)) {
    return { code: 'UPSTREAM_UNREACHABLE', retriable: true };
  }
  // A request on a producer this sink retired meanwhile (another call hit a producer-state error): the
  // next attempt uses a fresh producer.
  if (leaf instanceof Error && /[Cc]onnection (pool is )?closed/.test(leaf.message)) {
    return { code: 'UPSTREAM_CONNECTION_CLOSED', retriable: true };
  }
  return { code: 'UPSTREAM', retriable: false };
}

/** One verdict for the call: any leaf that cannot pass makes the whole call non-retriable. */
function judge(err: unknown): Verdict {
  const verdicts = leafErrors(err).map(judgeLeaf);
  return verdicts.find((v) => !v.retriable) ?? verdicts[0] ?? { code: 'UPSTREAM', retriable: false };
}

function describeLeaves(err: unknown): string {
  const parts = leafErrors(err).map((leaf) => {
    const kafkaId = kafkaErrorId(leaf);
    const text = errorMessage(leaf);
    const cause = leaf instanceof Error && leaf.cause instanceof Error ? ` (${leaf.cause.message})` : '';
    return kafkaId === undefined ? `${text}${cause}` : `${kafkaId}: ${text}`;
  });
  return [...new Set(parts)].slice(0, 3).join('; ');
}

function toUpstreamError(err: unknown, records: SinkRecord[], sendTimeoutMs: number): UpstreamError {
  const { code, retriable } = judge(err);
  const topics = [...new Set(records.map((r) => r.topic))].join(', ');
  const what = err instanceof DeadlineError ? `no acknowledgement within ${sendTimeoutMs} ms` : describeLeaves(err);
  return new UpstreamError(`Kafka send of ${records.length} record(s) to ${topics} failed: ${what}`, {
    code,
    retriable,
    cause: err,
  });
}
