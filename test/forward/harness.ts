/**
 * Shared pieces of the forward tests: a config, an open log in a temp dir, an in-memory Sink whose
 * behaviour a test scripts, a logger whose lines a test can read, and waiting for a condition.
 */
import { Writable } from 'node:stream';
import { parseConfig, type Config } from '../../src/config/load.js';
import { UpstreamError } from '../../src/errors.js';
import type { Sink, SinkRecord } from '../../src/forward/index.js';
import { Log, Router } from '../../src/log/index.js';
import { createLogger, type Logger } from '../../src/ops/logger.js';
import { tmpDir } from '../helpers/tmp.js';

export function forwardConfig(kafka: Record<string, unknown> = {}, streams: unknown[] = []): Config {
  return parseConfig({
    gateway: { id: 'gw-test' },
    streams,
    upstream: {
      kafka: {
        brokers: ['127.0.0.1:9'],
        batch: { maxRecords: 100, maxBytes: 1024 * 1024, lingerMs: 0 },
        retryBackoffMinMs: 20,
        retryBackoffMaxMs: 200,
        requestTimeoutMs: 2000,
        ...kafka,
      },
    },
  });
}

export async function openLog(config: Config, dataDir = tmpDir('tributary-forward-')): Promise<Log> {
  return Log.open(
    { dataDir, commitIntervalMs: 1 },
    config.streams.map((s) => ({ name: s.name, partitions: s.partitions, priority: s.priority, retention: { bytes: s.retention.bytes, ageMs: s.retention.age } })),
  );
}

/** Appends `count` messages on `topicOf(i)` through routing, as ingest would; returns them in order. */
export async function publish(log: Log, config: Config, count: number, topicOf: (i: number) => string, clientId = 'sensor-1'): Promise<void> {
  const router = new Router(config.streams);
  const pending: Promise<number>[] = [];
  for (let i = 0; i < count; i++) {
    const topic = topicOf(i);
    const route = router.route(topic, clientId);
    pending.push(log.append(route.stream, route.partition, { timestamp: Date.now(), topic, qos: 1, retain: false, clientId, payload: Buffer.from(`m-${i}`) }));
  }
  await Promise.all(pending);
}

export type SendBehaviour = (records: SinkRecord[], call: number) => Promise<void> | void;

/** A Sink in memory: records what was acknowledged; `behaviour` may delay or throw to simulate Kafka. */
export class MemorySink implements Sink {
  readonly acked: SinkRecord[] = [];
  readonly calls: Array<{ at: number; topic: string; records: number; ok: boolean }> = [];
  inFlight = 0;
  inFlightMax = 0;
  closed = false;
  /** What each `renew` call was given. */
  readonly renewed: unknown[] = [];

  constructor(public behaviour: SendBehaviour = () => undefined) {}

  async send(records: SinkRecord[]): Promise<void> {
    const call = this.calls.length;
    const entry = { at: Date.now(), topic: records[0]?.topic ?? '', records: records.length, ok: false };
    this.calls.push(entry);
    this.inFlight++;
    this.inFlightMax = Math.max(this.inFlightMax, this.inFlight);
    try {
      await this.behaviour(records, call);
      entry.ok = true;
      this.acked.push(...records);
    } finally {
      this.inFlight--;
    }
  }

  renew(security: unknown): void {
    this.renewed.push(security);
  }

  async close(): Promise<void> {
    this.closed = true;
  }
}

export function unreachable(): UpstreamError {
  return new UpstreamError('connect ECONNREFUSED 127.0.0.1:9', { code: 'UPSTREAM_UNREACHABLE', retriable: true });
}

export function refused(): UpstreamError {
  return new UpstreamError('INVALID_TOPIC_EXCEPTION: topic refused', { code: 'UPSTREAM_INVALID_TOPIC_EXCEPTION', retriable: false });
}

export function notLeader(): UpstreamError {
  return new UpstreamError('NOT_LEADER_OR_FOLLOWER', { code: 'UPSTREAM_NOT_LEADER_OR_FOLLOWER', retriable: true });
}

export function header(record: SinkRecord, name: string): string | undefined {
  return record.headers.find(([n]) => n.toString() === name)?.[1].toString();
}

/** A logger whose JSON lines are kept in `lines`. */
export function captureLogger(): { logger: Logger; lines: Array<Record<string, unknown>> } {
  const lines: Array<Record<string, unknown>> = [];
  const destination = new Writable({
    write(chunk: Buffer, _encoding, done) {
      for (const line of chunk.toString().split('\n')) if (line.trim() !== '') lines.push(JSON.parse(line) as Record<string, unknown>);
      done();
    },
  });
  return { logger: createLogger({ level: 'debug', destination }), lines };
}

export async function waitFor(what: string, condition: () => boolean, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}
