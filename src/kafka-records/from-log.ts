/**
 * A log record as a Kafka record: what the forwarder sends upstream and what the local Kafka API
 * (src/kafka-api) serves are the same records, so a consumer written against the cloud topic works at
 * the gateway unchanged. DESIGN.md's mapping:
 *
 *   key       := the stream's partition key of the record (`key` in the stream's config: topic, client id
 *                or a topic level), UTF-8
 *   value     := the MQTT payload, as published
 *   timestamp := when the gateway accepted the message (CreateTime)
 *   headers   := tributary.gateway, tributary.stream, tributary.partition, tributary.offset (decimal),
 *                mqtt.topic, in that order
 *
 * Invariant: `map` returns one Kafka record per log record, in order, and never changes the buffers it
 * is given (header names, gateway, stream and partition values are shared by every record).
 */
import { partitionKeyOf, type LogRecord } from '../log/index.js';
import { Utf8Cache } from '../utf8-cache.js';
import type { BatchRecord } from './record-batch.js';

/** A Kafka record with the topic it is for. */
export interface KafkaRecord extends BatchRecord {
  topic: string;
}

/** Where the records of one log partition go, and how their keys are derived. */
export interface MappedPartition {
  gatewayId: string;
  stream: string;
  partition: number;
  /** The stream's `key`: `topic`, `client-id` or `topic-level:N` (src/log/routing.ts). */
  keySpec: string;
  /** The Kafka topic name the records carry. */
  kafkaTopic: string;
}

/** The header names DESIGN.md lists, as the bytes sent. */
const HEADER = {
  gateway: Buffer.from('tributary.gateway'),
  stream: Buffer.from('tributary.stream'),
  partition: Buffer.from('tributary.partition'),
  offset: Buffer.from('tributary.offset'),
  mqttTopic: Buffer.from('mqtt.topic'),
} as const;

/** Offsets stop at 2^53 (src/log/keys.ts): 16 decimal digits. */
const OFFSET_DIGITS_MAX = 16;

type Header = readonly [Buffer, Buffer];

export class KafkaRecordMapper {
  /** The three headers that are the same on every record of this partition. */
  readonly #headers: readonly [Header, Header, Header];
  /** Topics and keys repeat from record to record: their bytes are encoded once. */
  readonly #utf8 = new Utf8Cache(10_000);

  constructor(readonly target: MappedPartition) {
    this.#headers = [
      [HEADER.gateway, Buffer.from(target.gatewayId)],
      [HEADER.stream, Buffer.from(target.stream)],
      [HEADER.partition, Buffer.from(String(target.partition))],
    ];
  }

  map(records: readonly LogRecord[]): KafkaRecord[] {
    // The offsets' decimal digits (a header) share one buffer: a Buffer per record cost more than the rest.
    const digits = Buffer.allocUnsafe(records.length * OFFSET_DIGITS_MAX);
    let digitsAt = 0;
    const [gateway, stream, partition] = this.#headers;
    const { kafkaTopic, keySpec } = this.target;
    const out = new Array<KafkaRecord>(records.length);
    for (let i = 0; i < records.length; i++) {
      const r = records[i] as LogRecord;
      const length = digits.write(String(r.offset), digitsAt, 'latin1');
      const offsetDigits = digits.subarray(digitsAt, (digitsAt += length));
      out[i] = {
        topic: kafkaTopic,
        key: this.#utf8.get(partitionKeyOf(keySpec, r.topic, r.clientId)),
        value: r.payload,
        timestamp: r.timestamp,
        headers: [gateway, stream, partition, [HEADER.offset, offsetDigits], [HEADER.mqttTopic, this.#utf8.get(r.topic)]],
      };
    }
    return out;
  }
}

/** Bytes of a record's key, value and headers: what byte limits on Kafka records count. */
export function kafkaRecordBytes(r: BatchRecord): number {
  let bytes = r.value.length + (r.key?.length ?? 0);
  for (const [name, value] of r.headers) bytes += name.length + value.length;
  return bytes;
}
