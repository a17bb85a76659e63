/**
 * Proves the metrics registry: each broker's registry is its own (two in one process do not see each
 * other's counts, and neither touches prom-client's global registry); the record* methods count with the
 * right labels; probe-fed gauges show the probes' current values at each scrape, drop partitions that went
 * away, export no sample at all for unknowns (no upstream, no temperature sensor, no write amplification
 * yet) rather than a false 0; the per-stream lag is the worst partition's; and a probe that throws empties
 * only its own metric, is logged once, and does not fail the scrape. Also that the logger writes JSON
 * lines with a readable level and the component of a child logger.
 */
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { test } from 'node:test';
import { register as globalRegistry } from 'prom-client';
import { componentLogger, createLogger } from '../../src/ops/logger.js';
import { createMetrics } from '../../src/ops/metrics.js';
import type { ForwardProbe, HostSample, LogProbe, PartitionStats } from '../../src/ops/probes.js';

async function sampleValue(text: Promise<string>, name: string, labels: Record<string, string> = {}): Promise<number | undefined> {
  const wanted = Object.entries(labels).map(([k, v]) => `${k}="${v}"`).join(',');
  const prefix = wanted === '' ? `${name} ` : `${name}{${wanted}} `;
  const line = (await text).split('\n').find((l) => l.startsWith(prefix));
  return line === undefined ? undefined : Number(line.slice(prefix.length));
}

async function samplesOf(text: Promise<string>, name: string): Promise<string[]> {
  return (await text).split('\n').filter((l) => l.startsWith(`${name}{`) || l.startsWith(`${name} `));
}

function logProbe(partitions: PartitionStats[], amplification: number | null = 1.5): LogProbe {
  return { partitions: () => partitions, diskWrittenBytes: () => 123_456, writeAmplification: () => amplification };
}

test('two brokers in one process keep separate counts, off the global registry', async () => {
  const a = createMetrics({ defaultMetrics: false });
  const b = createMetrics({ defaultMetrics: false });
  a.recordIngest('telemetry', 3, 300);
  b.recordIngest('telemetry', 5, 500);
  assert.equal(await sampleValue(a.render(), 'tributary_ingest_records_total', { stream: 'telemetry' }), 3);
  assert.equal(await sampleValue(b.render(), 'tributary_ingest_records_total', { stream: 'telemetry' }), 5);
  assert.equal(globalRegistry.getSingleMetric('tributary_ingest_records_total'), undefined);
  // Default metrics on two registries must not collide either.
  createMetrics();
  createMetrics();
});

test('record methods count with their labels', async () => {
  const m = createMetrics({ defaultMetrics: false });
  m.recordIngest('telemetry', 2, 40);
  m.recordIngest('telemetry', 1, 10);
  m.recordRejected('payload-too-large');
  m.recordRejected('payload-too-large');
  m.recordDropped('debug', 'disk-pressure', 7);
  m.recordCommit(0.0007, 1);
  m.recordCommit(0.03, 800);
  assert.equal(await sampleValue(m.render(), 'tributary_ingest_bytes_total', { stream: 'telemetry' }), 50);
  assert.equal(await sampleValue(m.render(), 'tributary_rejected_publishes_total', { reason: 'payload-too-large' }), 2);
  assert.equal(await sampleValue(m.render(), 'tributary_dropped_records_total', { stream: 'debug', reason: 'disk-pressure' }), 7);
  assert.equal(await sampleValue(m.render(), 'tributary_commit_duration_seconds_count'), 2);
  assert.equal(await sampleValue(m.render(), 'tributary_commit_duration_seconds_bucket', { le: '0.001' }), 1);
  assert.equal(await sampleValue(m.render(), 'tributary_commit_records_bucket', { le: '1' }), 1);
  assert.equal(await sampleValue(m.render(), 'tributary_commit_records_bucket', { le: '1000' }), 2);
  assert.equal(await sampleValue(m.render(), 'tributary_commit_records_sum'), 801);
});

test('probe gauges follow the probes at each scrape and drop what went away', async () => {
  const m = createMetrics({ defaultMetrics: false });
  assert.deepEqual(await samplesOf(m.render(), 'tributary_log_end_offset'), []);
  let partitions: PartitionStats[] = [
    { stream: 'telemetry', partition: 0, startOffset: 0, endOffset: 10, records: 10, bytes: 1000 },
    { stream: 'telemetry', partition: 1, startOffset: 4, endOffset: 12, records: 8, bytes: 800 },
  ];
  m.attach({ log: { ...logProbe([]), partitions: () => partitions } });
  assert.equal(await sampleValue(m.render(), 'tributary_log_end_offset', { stream: 'telemetry', partition: '1' }), 12);
  assert.equal(await sampleValue(m.render(), 'tributary_log_start_offset', { stream: 'telemetry', partition: '1' }), 4);
  assert.equal(await sampleValue(m.render(), 'tributary_disk_written_bytes_total'), 123_456);
  assert.equal(await sampleValue(m.render(), 'tributary_write_amplification'), 1.5);
  partitions = [{ stream: 'telemetry', partition: 0, startOffset: 0, endOffset: 11, records: 11, bytes: 1100 }];
  assert.deepEqual(await samplesOf(m.render(), 'tributary_log_end_offset'), [
    'tributary_log_end_offset{stream="telemetry",partition="0"} 11',
  ]);
});

test('unknown values export no sample, not a false 0', async () => {
  const m = createMetrics({ defaultMetrics: false });
  const forward: ForwardProbe = { lag: () => [], upstreamUp: () => null, state: () => ({ state: 'disabled', lastError: null, refusal: null }), forwardedRecords: () => 0 };
  const sample: HostSample = {
    diskFreeBytes: 1,
    diskTotalBytes: 2,
    memAvailableBytes: 3,
    memTotalBytes: 4,
    cpuLoadPercent: 50,
    cpuTemperatureCelsius: null,
    sampledAt: Date.now(),
  };
  m.attach({ log: logProbe([], null), forward, host: { latest: () => sample } });
  const text = m.render();
  for (const name of ['tributary_upstream_up', 'tributary_cpu_temperature_celsius', 'tributary_write_amplification']) {
    assert.deepEqual(await samplesOf(text, name), [], name);
    assert.match(await text, new RegExp(`^# TYPE ${name} gauge$`, 'm'));
  }
  assert.equal(await sampleValue(text, 'tributary_memory_available_bytes'), 3);
  assert.equal(await sampleValue(text, 'tributary_cpu_load_ratio'), 0.5);
  m.attach({ forward: { ...forward, upstreamUp: () => false }, host: { latest: () => ({ ...sample, cpuTemperatureCelsius: 48.3 }) } });
  assert.equal(await sampleValue(m.render(), 'tributary_upstream_up'), 0);
  assert.equal(await sampleValue(m.render(), 'tributary_cpu_temperature_celsius'), 48.3);
});

test('lag in seconds per stream is the worst partition', async () => {
  const m = createMetrics({ defaultMetrics: false });
  m.attach({
    forward: {
      lag: () => [
        { stream: 'telemetry', partition: 0, lagRecords: 5, lagSeconds: 2 },
        { stream: 'telemetry', partition: 1, lagRecords: 50, lagSeconds: 30 },
        { stream: 'events', partition: 0, lagRecords: 0, lagSeconds: 0 },
      ],
      upstreamUp: () => true,
      state: () => ({ state: 'online', lastError: null, refusal: null }),
      forwardedRecords: () => 0,
    },
  });
  assert.equal(await sampleValue(m.render(), 'tributary_forward_lag_seconds', { stream: 'telemetry' }), 30);
  assert.equal(await sampleValue(m.render(), 'tributary_forward_lag_seconds', { stream: 'events' }), 0);
  assert.equal(await sampleValue(m.render(), 'tributary_forward_lag_records', { stream: 'telemetry', partition: '1' }), 50);
  assert.equal(await sampleValue(m.render(), 'tributary_upstream_up'), 1);
});

test('a throwing probe empties its metric, is logged once, and the scrape still succeeds', async () => {
  const lines: string[] = [];
  const logger = createLogger({ level: 'warn', destination: lineCollector(lines) });
  const m = createMetrics({ defaultMetrics: false, logger });
  m.recordIngest('s', 1, 1);
  m.attach({ log: { ...logProbe([]), partitions: () => { throw new Error('probe bug'); } } });
  for (let i = 0; i < 3; i += 1) {
    const text = m.render();
    assert.deepEqual(await samplesOf(text, 'tributary_log_end_offset'), []);
    assert.equal(await sampleValue(text, 'tributary_ingest_records_total', { stream: 's' }), 1);
  }
  const warnings = lines.map((l) => JSON.parse(l) as { metric?: string; level: string }).filter((l) => l.metric === 'tributary_log_end_offset');
  assert.equal(warnings.length, 1);
  assert.equal(warnings[0]?.level, 'warn');
});

test('the logger writes JSON lines with a word level and the child component', () => {
  const lines: string[] = [];
  const root = createLogger({ level: 'info', destination: lineCollector(lines) });
  componentLogger(root, 'ingest').info({ stream: 'telemetry' }, 'hello');
  root.debug('not at info');
  assert.equal(lines.length, 1);
  const line = JSON.parse(lines[0] ?? '') as Record<string, unknown>;
  assert.equal(line['level'], 'info');
  assert.equal(line['component'], 'ingest');
  assert.equal(line['name'], 'tributary');
  assert.equal(line['msg'], 'hello');
  assert.equal(line['stream'], 'telemetry');
});

/** pino writes synchronously to a plain Writable, one JSON object per write. */
function lineCollector(lines: string[]): Writable {
  return new Writable({
    write(chunk: Buffer, _encoding, callback) {
      lines.push(...chunk.toString('utf8').split('\n').filter((l) => l !== ''));
      callback();
    },
  });
}
