/**
 * Proves the Kafka sink against a real Apache Kafka (KRaft on loopback, from scripts/kafka-dev.sh): batches
 * arrive with their keys, headers and timestamps, in order within each Kafka partition, with every
 * compression this Node.js supports; keys land on the partition Kafka's Java producer would pick; a wrong
 * port, an unknown host or a broker that never answers give a retriable UpstreamError within the send
 * timeout; an invalid topic and an oversized record give a non-retriable one, and only to their own call:
 * the calls sharing the producer it discards (even to topics Kafka is still auto-creating) are acknowledged
 * all the same; while Kafka is down a send
 * fails, and the same sink sends again once Kafka is back, with nothing lost. No case crashes the process
 * or leaves an unhandled rejection. Kafka must be startable: these tests fail, never skip, without it.
 */
import assert from 'node:assert/strict';
import net from 'node:net';
import { after, before, describe, test } from 'node:test';
import { UpstreamError } from '../../src/errors.js';
import { createKafkaSink, supportedCompressions, type Sink, type SinkRecord } from '../../src/forward/kafka-sink.js';
import { consumeAll, createTopic, ensureKafka, kafkaDev } from '../helpers/kafka.js';
import { freePort } from '../helpers/ports.js';

const runId = `${process.pid}-${Date.now()}`;
/** The outage test stops its Kafka, so it gets its own cluster rather than the shared one on 19092. */
const outagePort = 19192;
const requestTimeoutMs = 2_000;
const connectTimeoutMs = 1_000;
const sendTimeoutMs = 4_000;
const consumeTimeoutMs = 20_000;

const unhandled: unknown[] = [];
process.on('unhandledRejection', (reason) => unhandled.push(reason));
process.on('uncaughtException', (err) => unhandled.push(err));

function sinkFor(brokers: string[], compression: 'none' | 'gzip' | 'snappy' | 'lz4' = 'lz4', patient = false): Sink {
  // `patient`: timeouts no loaded machine reaches, so a request is never retried (a retry may duplicate
  // what Kafka already wrote, which the contract allows) and "exactly once" can be asserted, and a slow
  // answer to a 2 MiB request on a loaded machine is never taken for the refusal a test waits for.
  const timeouts = patient ? { requestTimeoutMs: 30_000, connectTimeoutMs: 10_000, sendTimeoutMs: 120_000 } : { requestTimeoutMs, connectTimeoutMs, sendTimeoutMs };
  return createKafkaSink({ brokers, clientId: 'tributary-test', compression, ...timeouts });
}

function record(topic: string, key: string | null, seq: number, extra: Array<[string, Buffer]> = []): SinkRecord {
  return {
    topic,
    key: key === null ? null : Buffer.from(key),
    value: Buffer.from(`value-${seq}-${'x'.repeat(seq % 50)}`),
    headers: [['tributary.offset', Buffer.from(String(seq))] as [string, Buffer], ['mqtt.topic', Buffer.from(`sensors/${key ?? 'none'}/t`)] as [string, Buffer], ...extra].map(
      ([name, value]) => [Buffer.from(name), value] as const,
    ),
    timestamp: 1_700_000_000_000 + seq,
  };
}

/** Rejects unless `promise` rejects with an UpstreamError; returns it and how long it took. */
async function expectUpstreamError(promise: Promise<void>): Promise<{ error: UpstreamError; elapsedMs: number }> {
  const startedAt = Date.now();
  try {
    await promise;
  } catch (error) {
    assert.ok(error instanceof UpstreamError, `expected UpstreamError, got ${String(error)}`);
    return { error, elapsedMs: Date.now() - startedAt };
  }
  assert.fail('send resolved but should have failed');
}

describe('kafka sink against a running Kafka', () => {
  let brokers: string[] = [];
  before(async () => {
    ({ brokers } = await ensureKafka());
  });

  test('batches arrive with keys, headers, timestamps and per-partition order, for every codec', async () => {
    const topic = `sink-roundtrip-${runId}`;
    await createTopic(brokers, topic, 4, 1);
    const keys = ['gw-a', 'gw-b', 'gw-c', 'gw-d', 'gw-e', null];
    const codecs = supportedCompressions().filter((c) => c !== 'zstd') as Array<'none' | 'gzip' | 'snappy' | 'lz4'>;
    assert.deepEqual(codecs, ['none', 'gzip', 'snappy', 'lz4']);
    let seq = 0;
    for (const codec of codecs) {
      const sink = sinkFor(brokers, codec, true);
      for (let batch = 0; batch < 3; batch++) {
        const records = Array.from({ length: 60 }, () => {
          const n = seq++;
          return record(topic, keys[n % keys.length] ?? null, n, [['codec', Buffer.from(codec)]]);
        });
        await sink.send(records);
      }
      await sink.close();
    }

    // A retried call may write a batch twice (the delivery contract allows duplicates, never loss or
    // reordering): every record must arrive, and first arrivals must keep each partition's order.
    const seqOf = (r: { headers: Map<string, Buffer> }): number => Number(r.headers.get('tributary.offset')?.toString());
    let consumed = await consumeAll(brokers, topic, seq, consumeTimeoutMs);
    const distinct = (): number => new Set(consumed.map(seqOf)).size;
    if (distinct() < seq) consumed = await consumeAll(brokers, topic, consumed.length + seq - distinct(), consumeTimeoutMs);
    assert.equal(distinct(), seq, 'every record arrives');
    const duplicates = consumed.length - seq;
    if (duplicates > 0) console.log(`${duplicates} duplicate(s) from a retried call`);
    const lastSeqByPartition = new Map<number, number>();
    const partitionsByKey = new Map<string, Set<number>>();
    const seen = new Set<number>();
    for (const r of consumed) {
      const n = seqOf(r);
      if (seen.has(n)) continue;
      seen.add(n);
      assert.ok(n > (lastSeqByPartition.get(r.partition) ?? -1), `order kept in partition ${r.partition}`);
      lastSeqByPartition.set(r.partition, n);
      const expected = record(topic, keys[n % keys.length] ?? null, n);
      assert.deepEqual(r.key, expected.key);
      assert.deepEqual(r.value, expected.value);
      assert.equal(r.timestamp, BigInt(expected.timestamp));
      assert.equal(r.headers.get('mqtt.topic')?.toString(), `sensors/${keys[n % keys.length] ?? 'none'}/t`);
      assert.ok(codecs.includes(r.headers.get('codec')?.toString() as 'none'));
      const keyName = r.key?.toString() ?? 'null';
      partitionsByKey.set(keyName, (partitionsByKey.get(keyName) ?? new Set()).add(r.partition));
    }
    for (const [key, partitions] of partitionsByKey) {
      if (key !== 'null') assert.equal(partitions.size, 1, `key ${key} always lands on one partition`);
    }
  });

  test("keys land on the partition Kafka's Java producer picks", async () => {
    const topic = `sink-partitioner-${runId}`;
    // Three partitions: where murmur2 is negative, Java's `& 0x7fffffff` and `>>> 0` disagree modulo 3.
    await createTopic(brokers, topic, 3, 1);
    // Computed with org.apache.kafka.common.utils.Utils.toPositive(Utils.murmur2(key)) % 3 (Kafka 3.9).
    const javaPartitions = [1, 0, 2, 2, 0, 2, 2, 1];
    const sink = sinkFor(brokers);
    await sink.send(javaPartitions.map((_, i) => record(topic, `key-${i}`, i)));
    await sink.close();
    const consumed = await consumeAll(brokers, topic, javaPartitions.length, consumeTimeoutMs);
    const actual = new Map(consumed.map((r) => [r.key?.toString(), r.partition]));
    assert.deepEqual(
      javaPartitions.map((_, i) => actual.get(`key-${i}`)),
      javaPartitions,
    );
  });

  test('a batch larger than Kafka takes in one request arrives whole and in order', async () => {
    const topic = `sink-large-${runId}`;
    await createTopic(brokers, topic, 1, 1);
    // 3 MB uncompressed: three times what Kafka accepts in one record batch by default.
    const records = Array.from({ length: 300 }, (_, n) => ({ ...record(topic, 'k', n), value: Buffer.alloc(10_000, n % 256) }));
    const sink = sinkFor(brokers, 'none');
    await sink.send(records);
    await sink.close();
    const consumed = await consumeAll(brokers, topic, records.length, consumeTimeoutMs);
    assert.equal(consumed.length, records.length);
    consumed.forEach((r, n) => {
      assert.equal(r.headers.get('tributary.offset')?.toString(), String(n));
      assert.deepEqual(r.value, records[n]?.value);
    });
  });

  test('an invalid topic name gives a non-retriable error at once', async () => {
    const sink = sinkFor(brokers);
    const { error, elapsedMs } = await expectUpstreamError(sink.send([record('bad topic!', 'k', 1)]));
    assert.equal(error.retriable, false);
    assert.equal(error.code, 'UPSTREAM_INVALID_TOPIC_EXCEPTION');
    assert.match(error.message, /bad topic!/);
    assert.ok(elapsedMs < sendTimeoutMs, `took ${elapsedMs} ms`);
    // The sink stays usable for good records afterwards.
    await sink.send([record(`sink-after-bad-${runId}`, 'k', 2)]);
    await sink.close();
  });

  test('a record larger than the broker accepts gives a non-retriable error', async () => {
    const sink = sinkFor(brokers, 'none', true);
    const big: SinkRecord = { ...record(`sink-big-${runId}`, 'k', 1), value: Buffer.alloc(2 * 1024 * 1024, 7) };
    const { error } = await expectUpstreamError(sink.send([big]));
    assert.equal(error.retriable, false);
    assert.equal(error.code, 'UPSTREAM_MESSAGE_TOO_LARGE');
    await sink.close();
  });

  test('a refused record fails only its own call, not the calls sharing the producer it discards', async () => {
    const sink = sinkFor(brokers, 'none', true);
    const existing = `sink-shared-${runId}`;
    await sink.send([record(existing, 'k', 0)]);
    // Topics Kafka auto-creates on first use: the client is still waiting for their metadata when the refusal
    // below retires the producer, which ends that wait with an "unknown topic" of the client's own.
    const created = [0, 1, 2].map((i) => `sink-shared-${runId}-new-${i}`);
    const big: SinkRecord = { ...record(existing, 'k', 1), value: Buffer.alloc(2 * 1024 * 1024, 7) };
    const refused = expectUpstreamError(sink.send([big]));
    const others = Array.from({ length: 30 }, (_, n) => sink.send([record(created[n % created.length] as string, `k${n}`, n)]).then(() => 'acknowledged', (err: unknown) => String(err)));
    const { error } = await refused;
    assert.equal(error.code, 'UPSTREAM_MESSAGE_TOO_LARGE');
    assert.deepEqual(await Promise.all(others), others.map(() => 'acknowledged'));
    await sink.close();
  });
});

describe('kafka sink with no reachable Kafka', () => {
  test('a wrong port gives a retriable error within the send timeout', async () => {
    const sink = sinkFor([`127.0.0.1:${await freePort()}`]);
    const { error, elapsedMs } = await expectUpstreamError(sink.send([record('sink-nowhere', 'k', 1)]));
    assert.equal(error.retriable, true);
    assert.equal(error.code, 'UPSTREAM_UNREACHABLE');
    assert.match(error.message, /ECONNREFUSED/);
    assert.ok(elapsedMs <= sendTimeoutMs + 500, `took ${elapsedMs} ms`);
    await sink.close();
  });

  test('an unknown host gives a retriable error within the send timeout', async () => {
    const sink = sinkFor(['kafka.tributary-test.invalid:9092']);
    const { error, elapsedMs } = await expectUpstreamError(sink.send([record('sink-nowhere', 'k', 1)]));
    assert.equal(error.retriable, true);
    assert.equal(error.code, 'UPSTREAM_UNKNOWN_HOST');
    assert.ok(elapsedMs <= sendTimeoutMs + 500, `took ${elapsedMs} ms`);
    await sink.close();
  });

  test('a broker that accepts connections but never answers cannot make send hang', async () => {
    const sockets = new Set<net.Socket>();
    const silent = net.createServer((socket) => {
      sockets.add(socket);
      socket.on('error', () => {});
    });
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    const address = silent.address();
    assert.ok(address !== null && typeof address === 'object');
    const sink = sinkFor([`127.0.0.1:${address.port}`]);
    try {
      const { error, elapsedMs } = await expectUpstreamError(sink.send([record('sink-silent', 'k', 1)]));
      assert.equal(error.retriable, true);
      assert.equal(error.code, 'UPSTREAM_TIMEOUT');
      assert.ok(elapsedMs <= sendTimeoutMs + 500, `took ${elapsedMs} ms`);
    } finally {
      await sink.close();
      for (const socket of sockets) socket.destroy();
      await new Promise((resolve) => silent.close(resolve));
    }
  });
});

describe('kafka sink across a Kafka outage', () => {
  let brokers: string[] = [];
  before(async () => {
    ({ brokers } = await ensureKafka({ port: outagePort }));
  });
  after(async () => {
    await kafkaDev(['stop'], { port: outagePort });
  });

  test('send fails while Kafka is down and succeeds on the same sink once it is back', async () => {
    const topic = `sink-outage-${runId}`;
    await createTopic(brokers, topic, 2, 1);
    const sink = sinkFor(brokers);
    await sink.send([record(topic, 'k', 0), record(topic, 'k', 1)]);

    await kafkaDev(['stop-node', '1'], { port: outagePort });
    const { error, elapsedMs } = await expectUpstreamError(sink.send([record(topic, 'k', 2)]));
    assert.equal(error.retriable, true);
    assert.ok(elapsedMs <= sendTimeoutMs + 500, `took ${elapsedMs} ms`);

    await kafkaDev(['start-node', '1'], { port: outagePort });
    await sink.send([record(topic, 'k', 2), record(topic, 'k', 3)]);
    await sink.close();

    const consumed = await consumeAll(brokers, topic, 4, consumeTimeoutMs);
    assert.deepEqual(
      consumed.map((r) => r.headers.get('tributary.offset')?.toString()),
      ['0', '1', '2', '3'],
    );
  });
});

test('no case left an unhandled rejection or uncaught exception', () => {
  assert.deepEqual(unhandled, []);
});
