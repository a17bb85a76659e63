/**
 * The fuzz test's seed corpus: real request frames, recorded by RecordingProxy while stock clients do
 * what consumers and admin tools do against the broker behind it — kafkajs (classic encodings:
 * consumer group, commits, admin describe/list/reset/delete), @platformatic/kafka (flexible
 * encodings: consumer group, admin), kcat (librdkafka: -L, -G, -C with offsets) and the Java console
 * consumer. Each client's failures are ignored: the frames it sent are what counts.
 */
import { Kafka, logLevel } from 'kafkajs';
import { Admin, Consumer, MessagesStreamModes } from '@platformatic/kafka';
import { CONSOLE_CONSUMER, KCAT_FORMAT, runJava, runTool } from './harness.js';
import { RecordingProxy } from './recording-proxy.js';
import { until } from '../helpers/until.js';

/** Any one client call of the corpus may hang against a broken server: it is given up after this. */
const callTimeoutMs = 5000;

/** `promise`, or undefined once `ms` passed: a hung call must not hang the fuzz test. */
function within<T>(ms: number, promise: Promise<T>): Promise<T | undefined> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<undefined>((resolve) => {
    timer = setTimeout(() => resolve(undefined), ms);
  });
  return Promise.race([promise.catch(() => undefined), timeout]).finally(() => clearTimeout(timer));
}

/** Frames by client, each with its size prefix. */
export type Corpus = Map<string, Buffer[]>;

export async function recordCorpus(target: { host: string; port: number }, topic: string, records: number): Promise<Corpus> {
  const corpus: Corpus = new Map();
  const clients: Array<[string, (bootstrap: string) => Promise<unknown>]> = [
    ['kafkajs', (b) => kafkajsSession(b, topic, records)],
    ['platformatic', (b) => platformaticSession(b, topic, records)],
    ['kcat', (b) => kcatSession(b, topic)],
    ['java', (b) => runJava(CONSOLE_CONSUMER, ['--bootstrap-server', b, '--topic', topic, '--group', 'fuzz-java', '--from-beginning', '--max-messages', String(records), '--timeout-ms', '5000'], 20_000)],
  ];
  // One proxy per client, so that each client's frames are told apart.
  for (const [name, session] of clients) {
    const proxy = await RecordingProxy.start(target);
    const started = Date.now();
    try {
      const done = await within(30_000, session(proxy.bootstrap).then(() => true));
      console.log(`corpus: ${name} sent ${proxy.frames.length} frames in ${Date.now() - started} ms${done === true ? '' : ' (gave up waiting for it)'}`);
    } finally {
      await proxy.close();
    }
    corpus.set(name, proxy.frames);
  }
  return corpus;
}

/** (api key, version) → frames, over the whole corpus. */
export function byApi(corpus: Corpus): Map<string, number> {
  const counts = new Map<string, number>();
  for (const frames of corpus.values()) {
    for (const f of frames) {
      if (f.length < 8) continue;
      const id = `${f.readInt16BE(4)}v${f.readInt16BE(6)}`;
      counts.set(id, (counts.get(id) ?? 0) + 1);
    }
  }
  return counts;
}

async function kafkajsSession(bootstrap: string, topic: string, records: number): Promise<void> {
  const kafka = new Kafka({ clientId: 'fuzz-kafkajs', brokers: [bootstrap], logLevel: logLevel.NOTHING, retry: { retries: 1 } });
  const groupId = 'fuzz-kafkajs';
  const consumer = kafka.consumer({ groupId, sessionTimeout: 6000, heartbeatInterval: 500, maxWaitTimeInMs: 100 });
  let seen = 0;
  await within(callTimeoutMs, consumer.connect());
  await within(callTimeoutMs, consumer.subscribe({ topic, fromBeginning: true }));
  await within(callTimeoutMs, consumer.run({ eachMessage: async () => void seen++ }));
  await until('kafkajs reading the corpus topic', () => seen >= records, 10_000).catch(() => undefined);
  await within(callTimeoutMs, consumer.disconnect());
  const admin = kafka.admin();
  await within(callTimeoutMs, admin.connect());
  const calls: Array<() => Promise<unknown>> = [
    () => admin.fetchTopicMetadata({ topics: [topic] }),
    () => admin.listGroups(),
    () => admin.describeGroups([groupId]),
    () => admin.fetchOffsets({ groupId, topics: [topic] }),
    () => admin.fetchTopicOffsets(topic),
    () => admin.fetchTopicOffsetsByTimestamp(topic, Date.now() - 60_000),
    () => admin.resetOffsets({ groupId, topic, earliest: true }),
    () => admin.deleteGroups([groupId]),
    () => admin.describeCluster(),
  ];
  for (const call of calls) await within(callTimeoutMs, call());
  await within(callTimeoutMs, admin.disconnect());
}

async function platformaticSession(bootstrap: string, topic: string, records: number): Promise<void> {
  const groupId = 'fuzz-platformatic';
  const consumer = new Consumer({ clientId: 'fuzz-platformatic', groupId, bootstrapBrokers: [bootstrap], sessionTimeout: 6000, heartbeatInterval: 500, retries: 1 });
  consumer.on('error', () => undefined);
  try {
    const stream = await within(callTimeoutMs, consumer.consume({ topics: [topic], mode: MessagesStreamModes.EARLIEST, autocommit: 100, maxWaitTime: 100 }));
    if (stream !== undefined) {
      stream.on('error', () => undefined);
      let seen = 0;
      stream.on('data', () => void seen++);
      await until('platformatic reading the corpus topic', () => seen >= records, 10_000).catch(() => undefined);
      await new Promise((resolve) => setTimeout(resolve, 300));
      await within(callTimeoutMs, stream.close());
    }
  } finally {
    await within(callTimeoutMs, new Promise<void>((resolve) => consumer.close(true, () => resolve())));
  }
  const admin = new Admin({ clientId: 'fuzz-platformatic-admin', bootstrapBrokers: [bootstrap], retries: 1 });
  try {
    const calls: Array<() => Promise<unknown>> = [
      () => admin.listGroups(),
      () => admin.describeGroups({ groups: [groupId] }),
      () => admin.listConsumerGroupOffsets({ groups: [groupId] }),
      () => admin.listOffsets({ topics: [{ name: topic, partitions: [{ partitionIndex: 0, timestamp: -2n }] }] }),
      () => admin.deleteGroups({ groups: [groupId] }),
    ];
    for (const call of calls) await within(callTimeoutMs, call());
  } finally {
    await within(callTimeoutMs, admin.close());
  }
}

async function kcatSession(bootstrap: string, topic: string): Promise<void> {
  await runTool('kcat', ['-b', bootstrap, '-L'], callTimeoutMs);
  await runTool('kcat', ['-b', bootstrap, '-G', 'fuzz-kcat', '-X', 'auto.offset.reset=earliest', '-e', '-q', '-f', KCAT_FORMAT, topic], callTimeoutMs);
  await runTool('kcat', ['-b', bootstrap, '-C', '-t', topic, '-o', '-3', '-e', '-q'], callTimeoutMs);
  await runTool('kcat', ['-b', bootstrap, '-Q', '-t', `${topic}:0:${Date.now() - 60_000}`], callTimeoutMs);
}
