/**
 * Test helpers around the real Apache Kafka that scripts/kafka-dev.sh runs on loopback.
 *
 * `ensureKafka()` starts it (idempotent) and throws when it cannot: a test that needs Kafka fails, it never
 * skips (with CI=true or without). Tests may import the Kafka client here directly; `src/` may not (there,
 * only src/forward/kafka-sink.ts does).
 *
 * `ensureSecureKafka()` does the same for the secure cluster (`kafka-dev.sh start --secure`, SASL_SSL on
 * 19792) and returns what `secure-info` tells; `consoleConsume()` reads a topic with Kafka's own console
 * consumer over SASL_SSL: an implementation independent of the client tributary uses.
 */
import { execFile } from 'node:child_process';
import fs from 'node:fs';
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

/** The secure cluster's bootstrap address, CA, users and password files (`kafka-dev.sh secure-info`). */
export interface SecureKafka {
  bootstrap: string;
  ca: string;
  otherCa: string;
  clientCert: string;
  clientKey: string;
  users: Record<'scram-sha-256' | 'scram-sha-512' | 'plain', { username: string; passwordFile: string; password: string; clientProperties: string }>;
}

/** Starts the secure cluster unless it runs already. Throws when it cannot start: tests fail, never skip. */
export async function ensureSecureKafka(): Promise<SecureKafka> {
  await kafkaDev(['start', '--secure'], {}, kafkaStartTimeoutMs);
  const info = new Map(
    (await kafkaDev(['secure-info']))
      .trim()
      .split('\n')
      .map((line) => [line.slice(0, line.indexOf('=')), line.slice(line.indexOf('=') + 1)] as const),
  );
  const get = (key: string): string => {
    const value = info.get(key);
    if (value === undefined || value === '') throw new Error(`kafka-dev.sh secure-info gave no ${key}`);
    return value;
  };
  const user = (prefix: string) => ({
    username: get(`${prefix}_user`),
    passwordFile: get(`${prefix}_password_file`),
    password: fs.readFileSync(get(`${prefix}_password_file`), 'utf8'),
    clientProperties: get(`client_properties_${prefix}`),
  });
  return {
    bootstrap: get('bootstrap'),
    ca: get('ca'),
    otherCa: get('other_ca'),
    clientCert: get('client_cert'),
    clientKey: get('client_key'),
    users: { 'scram-sha-256': user('scram_sha_256'), 'scram-sha-512': user('scram_sha_512'), plain: user('plain') },
  };
}

/**
 * Creates topics on the secure cluster (as the SCRAM-SHA-512 user, over TLS), each with `partitions`: a
 * fresh cluster may take longer to auto-create several at once than a producer waits.
 */
export async function createSecureTopics(secure: SecureKafka, names: string[], partitions: number): Promise<void> {
  const user = secure.users['scram-sha-512'];
  const admin = new Admin({
    clientId: 'tributary-test-admin',
    bootstrapBrokers: [secure.bootstrap],
    tls: { ca: fs.readFileSync(secure.ca) },
    sasl: { mechanism: 'SCRAM-SHA-512', username: user.username, password: user.password },
  });
  try {
    await admin.createTopics({ topics: names, partitions, replicas: 1 });
  } finally {
    await admin.close();
  }
}

export interface ConsoleRecord {
  partition: number;
  offset: number;
  headers: Map<string, string>;
  value: string;
}

/**
 * Reads `topic` from the beginning with Kafka's console consumer (a fresh group), logging in as `user` over
 * SASL_SSL, until `expectedCount` records or `timeoutMs` without one; returns them by partition and offset.
 * Header values and payloads must not contain tabs, commas or newlines (the tool prints them as text).
 */
export async function consoleConsume(secure: SecureKafka, user: keyof SecureKafka['users'], topic: string, expectedCount: number, timeoutMs: number): Promise<ConsoleRecord[]> {
  const classpath = (await kafkaDev(['classpath'])).trim();
  const args = [
    '-Xmx256m',
    '-Dlog4j.configuration=file:/dev/null',
    '-cp',
    classpath,
    'org.apache.kafka.tools.consumer.ConsoleConsumer',
    '--bootstrap-server',
    secure.bootstrap,
    '--consumer.config',
    secure.users[user].clientProperties,
    '--topic',
    topic,
    '--from-beginning',
    '--max-messages',
    String(expectedCount),
    '--timeout-ms',
    String(timeoutMs),
    ...['print.partition', 'print.offset', 'print.headers'].flatMap((p) => ['--property', `${p}=true`]),
  ];
  let stdout: string;
  try {
    ({ stdout } = await execFileAsync('java', args, { timeout: timeoutMs + 60_000, maxBuffer: 64 * 1024 * 1024 }));
  } catch (err) {
    // Exits non-zero when --timeout-ms passes before --max-messages: what it printed still counts.
    stdout = typeof err === 'object' && err !== null && 'stdout' in err ? String(err.stdout) : '';
  }
  const records = stdout
    .split('\n')
    .filter((line) => line.startsWith('Partition:'))
    .map((line) => {
      const [partition = '', offset = '', headers = '', value = ''] = line.split('\t');
      const headerMap = new Map<string, string>();
      if (headers !== 'NO_HEADERS') {
        for (const h of headers.split(',')) headerMap.set(h.slice(0, h.indexOf(':')), h.slice(h.indexOf(':') + 1));
      }
      return { partition: Number(partition.slice('Partition:'.length)), offset: Number(offset.slice('Offset:'.length)), headers: headerMap, value };
    });
  return records.sort((a, b) => a.partition - b.partition || a.offset - b.offset);
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
 * Reads `topic` from the beginning (a fresh consumer group each call) until `expectedCount` records (or,
 * with `count: 'distinct'`, distinct log records) arrived or `timeoutMs` passed, and returns what it read, sorted by partition then offset. Never throws on timeout:
 * the caller's assertion on the count says what is missing.
 */
export async function consumeAll(brokers: string[], topic: string, expectedCount: number, timeoutMs: number, count: 'records' | 'distinct' = 'records'): Promise<ConsumedRecord[]> {
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
      // 'distinct': duplicates (a retried batch, which the delivery contract allows) do not count toward
      // `expectedCount`; a record is named by its tributary.stream, .partition and .offset headers.
      const distinct = new Set<string>();
      stream.on('data', (message: Message) => {
        const record = toConsumed(message);
        records.push(record);
        if (count === 'distinct') distinct.add(['tributary.stream', 'tributary.partition', 'tributary.offset'].map((h) => record.headers.get(h)?.toString()).join('/'));
        if ((count === 'distinct' ? distinct.size : records.length) >= expectedCount) {
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
