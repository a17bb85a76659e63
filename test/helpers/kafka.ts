/**
 * Test helpers around the real Apache Kafka that scripts/kafka-dev.sh runs on loopback.
 *
 * `ensureKafka()` starts it (idempotent) and throws when it cannot: a test that needs Kafka fails, it never
 * skips (with CI=true or without). Tests may import the Kafka client here directly; `src/` may not (there,
 * only src/forward/kafka-sink.ts does).
 */
import { execFile } from 'node:child_process';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { Admin, Consumer, MessagesStreamModes, type Message } from '@platformatic/kafka';

const execFileAsync = promisify(execFile);

/** Tests run compiled, from dist/test/helpers/. */
const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
const kafkaDevScript = resolve(repoRoot, 'scripts', 'kafka-dev.sh');

/** Cold first start downloads Kafka from Maven Central (about a minute); a warm start takes seconds. */
const kafkaStartTimeoutMs = 300_000;
const kafkaCommandTimeoutMs = 120_000;

export interface KafkaClusterOptions {
  /** First client port; a cluster on another port is independent of the shared default one (19092). */
  port?: number;
  nodes?: 1 | 3;
}

export interface ConsumedRecord {
  topic: string;
  partition: number;
  offset: bigint;
  key: Buffer | null;
  value: Buffer;
  headers: Map<string, Buffer>;
  timestamp: bigint;
}

function kafkaEnv(port: number | undefined): NodeJS.ProcessEnv {
  return port === undefined ? { ...process.env } : { ...process.env, KAFKA_PORT: String(port) };
}

/** Runs `scripts/kafka-dev.sh ARGS` and returns its stdout; throws with the script's stderr on failure. */
export async function kafkaDev(args: string[], cluster: KafkaClusterOptions = {}, timeoutMs = kafkaCommandTimeoutMs): Promise<string> {
  try {
    const { stdout } = await execFileAsync(kafkaDevScript, args, {
      env: kafkaEnv(cluster.port),
      timeout: timeoutMs,
      maxBuffer: 16 * 1024 * 1024,
    });
    return stdout;
  } catch (err) {
    const stderr = typeof err === 'object' && err !== null && 'stderr' in err ? String(err.stderr) : '';
    throw new Error(`scripts/kafka-dev.sh ${args.join(' ')} failed:\n${stderr}`, { cause: err });
  }
}

/** Starts Kafka unless it runs already and returns its bootstrap addresses. Throws when it cannot start. */
export async function ensureKafka(cluster: KafkaClusterOptions = {}): Promise<{ brokers: string[] }> {
  const args = cluster.nodes === 3 ? ['start', '--nodes', '3'] : ['start'];
  const stdout = await kafkaDev(args, cluster, kafkaStartTimeoutMs);
  const bootstrap = stdout.trim().split('\n').at(-1) ?? '';
  const brokers = bootstrap.split(',').filter((b) => /^[\w.-]+:\d+$/.test(b));
  if (brokers.length === 0) throw new Error(`scripts/kafka-dev.sh start printed no bootstrap address: ${stdout}`);
  return { brokers };
}

export async function createTopic(brokers: string[], name: string, partitions: number, replicationFactor: number): Promise<void> {
  const admin = new Admin({ clientId: 'tributary-test-admin', bootstrapBrokers: brokers });
  try {
    await admin.createTopics({ topics: [name], partitions, replicas: replicationFactor });
  } finally {
    await admin.close();
  }
}

function toConsumed(message: Message): ConsumedRecord {
  const headers = new Map<string, Buffer>();
  for (const [name, value] of message.headers) headers.set(name.toString(), value);
  const key: Buffer | undefined | null = message.key;
  return {
    topic: message.topic,
    partition: message.partition,
    offset: message.offset,
    key: key === undefined || key === null || key.length === 0 ? null : key,
    value: message.value,
    headers,
    timestamp: message.timestamp,
  };
}

/**
 * Reads `topic` from the beginning (a fresh consumer group each call) until `expectedCount` records arrived
 * or `timeoutMs` passed, and returns what it read, sorted by partition then offset. Never throws on timeout:
 * the caller's assertion on the count says what is missing.
 */
export async function consumeAll(brokers: string[], topic: string, expectedCount: number, timeoutMs: number): Promise<ConsumedRecord[]> {
  const consumer = new Consumer({
    clientId: 'tributary-test-consumer',
    groupId: `tributary-test-${topic}-${process.pid}-${Date.now()}`,
    bootstrapBrokers: brokers,
    sessionTimeout: 10_000,
    heartbeatInterval: 500,
  });
  consumer.on('error', () => {});
  const records: ConsumedRecord[] = [];
  try {
    const stream = await consumer.consume({ topics: [topic], mode: MessagesStreamModes.EARLIEST, autocommit: false, maxWaitTime: 200 });
    stream.on('error', () => {});
    await new Promise<void>((done) => {
      const timer = setTimeout(done, timeoutMs);
      stream.on('data', (message: Message) => {
        records.push(toConsumed(message));
        if (records.length >= expectedCount) {
          clearTimeout(timer);
          done();
        }
      });
    });
    await stream.close();
  } finally {
    await consumer.close(true);
  }
  return records.sort((a, b) => a.partition - b.partition || (a.offset < b.offset ? -1 : a.offset > b.offset ? 1 : 0));
}
