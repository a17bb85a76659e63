/**
 * A stock Kafka consumer in its own process, so that a test can SIGKILL it (a crash: no LeaveGroup, no
 * last commit) or SIGTERM it (it leaves its group). Run as
 * `node consumer-child.js '{"client":"kafkajs"|"platformatic","bootstrap":...,"groupId":...,"topic":...}'`
 * (ConsumerChildOptions in harness.ts). It consumes in the group from the committed offsets (earliest
 * when there is none), commits each record's next offset after printing it, and prints one JSON
 * line per event on stdout: `assigned`, `record`, `committed`, `error`.
 *
 * Since a record is printed before its commit is sent, and `committed` only after the commit was
 * answered, a test knows: every committed offset ≤ last printed record + 1, and every printed commit
 * is durable.
 */
import { Kafka, logLevel, type KafkaMessage } from 'kafkajs';
import { Consumer, MessagesStreamFallbackModes, MessagesStreamModes, type Message } from '@platformatic/kafka';
import type { ConsumerChildOptions } from './harness.js';

const options = JSON.parse(process.argv[2] ?? '{}') as ConsumerChildOptions;
const commitEach = options.commit ?? true;

function print(event: Record<string, unknown>): void {
  process.stdout.write(`${JSON.stringify(event)}\n`);
}

function errorEvent(ev: 'error' | 'crashed', err: unknown): Record<string, unknown> {
  const e = err as { message?: string; name?: string; type?: string };
  return { ev, message: String(e?.message ?? err), name: e?.name, type: e?.type };
}

function text(b: Buffer | null | undefined): string | null {
  return b === null || b === undefined ? null : b.toString('utf8');
}

async function runKafkajs(): Promise<() => Promise<void>> {
  const kafka = new Kafka({
    clientId: options.clientId ?? 'ka-e2e-kafkajs',
    brokers: [options.bootstrap],
    logLevel: logLevel.NOTHING,
    retry: { retries: 3, initialRetryTime: 100 },
    ...(options.sasl && { sasl: { mechanism: 'plain' as const, ...options.sasl } }),
  });
  const consumer = kafka.consumer({
    groupId: options.groupId,
    sessionTimeout: options.sessionTimeoutMs ?? 3000,
    heartbeatInterval: options.heartbeatMs ?? 300,
    rebalanceTimeout: options.sessionTimeoutMs ?? 3000,
    maxWaitTimeInMs: options.maxWaitMs ?? 1000,
    ...(options.maxBytesPerPartition !== undefined && { maxBytesPerPartition: options.maxBytesPerPartition }),
    ...(options.maxBytes !== undefined && { maxBytes: options.maxBytes }),
    retry: { retries: 5 },
  });
  consumer.on(consumer.events.GROUP_JOIN, (e) => {
    const partitions = (e.payload.memberAssignment[options.topic] ?? []) as number[];
    print({ ev: 'assigned', partitions, at: Date.now() });
  });
  consumer.on(consumer.events.CRASH, (e) => print(errorEvent('crashed', e.payload.error)));
  await consumer.connect();
  await consumer.subscribe({ topic: options.topic, fromBeginning: true });
  await consumer.run({
    autoCommit: false,
    eachMessage: async ({ partition, message }: { partition: number; message: KafkaMessage }) => {
      const headers: Record<string, string> = {};
      for (const [k, v] of Object.entries(message.headers ?? {})) headers[k] = Buffer.isBuffer(v) ? v.toString('utf8') : String(v);
      const offset = Number(message.offset);
      print({ ev: 'record', at: Date.now(), partition, offset, key: text(message.key), value: text(message.value) ?? '', headers });
      if (!commitEach) return;
      await consumer.commitOffsets([{ topic: options.topic, partition, offset: String(offset + 1) }]);
      print({ ev: 'committed', partition, offset: offset + 1 });
    },
  });
  return async () => consumer.disconnect();
}

async function runPlatformatic(): Promise<() => Promise<void>> {
  const consumer = new Consumer({
    clientId: options.clientId ?? 'ka-e2e-platformatic',
    groupId: options.groupId,
    bootstrapBrokers: [options.bootstrap],
    sessionTimeout: options.sessionTimeoutMs ?? 3000,
    rebalanceTimeout: options.sessionTimeoutMs ?? 3000,
    heartbeatInterval: options.heartbeatMs ?? 300,
    retries: 5,
    retryDelay: 200,
    ...(options.sasl && { sasl: { mechanism: 'PLAIN' as const, ...options.sasl } }),
  });
  consumer.on('error', (err: unknown) => print(errorEvent('error', err)));
  consumer.on('consumer:group:join', (payload: { assignments?: Array<{ topic: string; partitions: number[] }> }) => {
    const partitions = (payload.assignments ?? []).filter((a) => a.topic === options.topic).flatMap((a) => a.partitions);
    print({ ev: 'assigned', partitions, at: Date.now() });
  });
  const stream = await consumer.consume({
    topics: [options.topic],
    mode: MessagesStreamModes.COMMITTED,
    fallbackMode: MessagesStreamFallbackModes.EARLIEST,
    autocommit: false,
    maxWaitTime: options.maxWaitMs ?? 1000,
    ...(options.maxBytesPerPartition !== undefined && { maxBytesPerPartition: options.maxBytesPerPartition }),
    ...(options.maxBytes !== undefined && { maxBytes: options.maxBytes }),
  });
  stream.on('error', (err: unknown) => print(errorEvent('error', err)));
  void (async () => {
    for await (const m of stream as AsyncIterable<Message>) {
      const headers: Record<string, string> = {};
      for (const [k, v] of m.headers) headers[k.toString()] = v.toString();
      const offset = Number(m.offset);
      print({ ev: 'record', at: Date.now(), partition: m.partition, offset, key: text(m.key), value: text(m.value) ?? '', headers });
      if (!commitEach) continue;
      await m.commit();
      print({ ev: 'committed', partition: m.partition, offset: offset + 1 });
    }
  })().catch((err: unknown) => print(errorEvent('error', err)));
  return async () => {
    await stream.close();
    await consumer.close(true);
  };
}

const stop = await (options.client === 'kafkajs' ? runKafkajs() : runPlatformatic()).catch((err: unknown) => {
  print(errorEvent('crashed', err));
  process.exit(3);
});
print({ ev: 'ready' });
process.once('SIGTERM', () => {
  stop()
    .catch((err: unknown) => print(errorEvent('error', err)))
    .finally(() => process.exit(0));
});
