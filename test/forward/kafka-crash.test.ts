/**
 * Proves restart safety with a real process and kill -9: a child process forwards a 40,000-record backlog
 * to the shared Kafka (19092) and is killed with SIGKILL mid-forward, twice; a third child drains the rest.
 * Every record arrives, per-key order holds, and duplicates are at most one batch per partition per kill
 * (the batch Kafka acknowledged whose cursor commit the kill cut off). The duplicate count is printed.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import path from 'node:path';
import { before, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { Log, UPSTREAM_GROUP } from '../../src/log/index.js';
import { consumeAll, createTopic, ensureKafka } from '../helpers/kafka.js';
import { tmpDir } from '../helpers/tmp.js';
import { checkDelivery, expectAll } from './delivery.js';
import { forwardConfig, openLog, publish } from './harness.js';

const CHILD = path.resolve(path.dirname(fileURLToPath(import.meta.url)), 'fixtures', 'forward-child.js');
const backlog = 40_000;
const partitions = 4;
const batchRecords = 1000;

let brokers: string[] = [];
before(async () => {
  ({ brokers } = await ensureKafka());
});

/** Runs the child; kills it with SIGKILL once it reports `killAt` forwarded records (or runs it to the end). */
function runChild(dataDir: string, configJson: string, killAt: number | null): Promise<number> {
  return new Promise((resolve, reject) => {
    const args = [CHILD, dataDir, configJson, ...(killAt === null ? ['--until-drained'] : [])];
    const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'inherit'] });
    let forwarded = 0;
    let buffer = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
      buffer += chunk;
      const lines = buffer.split('\n');
      buffer = lines.pop() ?? '';
      for (const line of lines) {
        if (line.startsWith('forwarded ')) forwarded = Number(line.slice(10));
        if (killAt !== null && forwarded >= killAt && child.exitCode === null) child.kill('SIGKILL');
      }
    });
    const timer = setTimeout(() => child.kill('SIGKILL'), 120_000);
    child.on('error', reject);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      if (killAt !== null && signal !== 'SIGKILL') reject(new Error(`child ended with ${String(code ?? signal)} before the kill`));
      else if (killAt === null && code !== 0) reject(new Error(`draining child ended with ${String(code ?? signal)}`));
      else resolve(forwarded);
    });
  });
}

test('kill -9 mid-forward, twice: nothing lost, order holds, duplicates at most one batch per partition per kill', async () => {
  const topic = `fwd-crash-${process.pid}-${Date.now()}`;
  await createTopic(brokers, topic, partitions, 1);
  const raw = {
    gateway: { id: 'gw-crash' },
    streams: [{ name: 'default', partitions, upstream: { topic } }],
    upstream: { kafka: { brokers, requestTimeoutMs: 5000, batch: { maxRecords: batchRecords, maxBytes: 1024 * 1024, lingerMs: 0 } } },
  };
  const config = forwardConfig(raw.upstream.kafka, raw.streams);
  const dataDir = tmpDir('tributary-forward-crash-');
  const log = await openLog(config, dataDir);
  await publish(log, config, backlog, (i) => `sensors/s${i % 32}/t`);
  const expected = expectAll(log.info().flatMap((s) => s.partitions.map((p) => ({ stream: s.stream, ...p }))));
  await log.close();

  const configJson = JSON.stringify(raw);
  const first = await runChild(dataDir, configJson, 8_000);
  const second = await runChild(dataDir, configJson, first + 8_000);
  const reader = Log.openReadOnly(dataDir);
  assert.ok(reader);
  const committed = Array.from({ length: partitions }, (_, p) => reader.cursor(UPSTREAM_GROUP, 'default', p) ?? 0).reduce((a, b) => a + b, 0);
  reader.close();
  assert.ok(committed < backlog, `the kills came mid-forward (${committed} of ${backlog} committed)`);
  await runChild(dataDir, configJson, null);

  const records = await consumeAll(brokers, topic, backlog, 60_000, 'distinct');
  const report = checkDelivery(records, expected);
  console.log(`kill -9: killed at ${first} and ${second} forwarded; received ${report.received}, unique ${report.unique}, duplicates ${report.duplicates}`);
  assert.deepEqual(report.missing, []);
  assert.deepEqual(report.outOfOrder, []);
  assert.equal(report.unique, backlog);
  assert.ok(report.duplicates <= 2 * partitions * batchRecords, `${report.duplicates} duplicates ≤ one batch per partition per kill`);
});
