/**
 * Proves the status report's loss and device fields (what the status page shows beside the rates):
 * publishes rejected by reason and records dropped by stream and reason, as counted by the metrics
 * (the same numbers as `tributary_rejected_publishes_total` and `tributary_dropped_records_total`,
 * stream names holding any character); the firmware bridge's devices by state plus lost; and, without
 * those inputs, empty lists and `bridge: null` rather than missing keys. And the figures the status page
 * and `tributary status` only format (`trends()`, fixed samples in, fixed figures out): ingest rates over
 * their 10 s window, drain rate (records Kafka acknowledged per second), time until the backlog is gone at
 * the current net rate (0 without backlog, null while it grows), and flash wear per day, over 60 s; none
 * before two samples, no upstream figure without an upstream or before the forwarder's first sample.
 * The local Kafka API's part: its listeners and groups, each group's lag the sum of its partitions'
 * (null, not 0, while it has committed nothing), read at each report; null without a Kafka API.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createMetrics } from '../../src/ops/metrics.js';
import { StatusReporter, trends, type StatusInputs, type TrendSample } from '../../src/ops/status.js';
import { metricValue } from '../helpers/broker.js';

function inputs(extra: Partial<StatusInputs> = {}): StatusInputs {
  return {
    gatewayId: 'gw-t',
    version: '0.0.0',
    startedAt: Date.now() - 5000,
    log: { partitions: () => [], diskWrittenBytes: () => 0, writeAmplification: () => null, logBytes: () => 0, dataFileBytes: () => 0 },
    ingest: { clients: () => 0, recordsTotal: () => 0, bytesTotal: () => 0 },
    forward: null,
    host: null,
    health: () => ({ status: 'ok', checks: [] }),
    limits: { storageMaxBytes: 1, diskFreeMinBytes: 0 },
    upstream: null,
    ...extra,
  };
}

test('rejected and dropped by reason, from the same counts as /metrics', async () => {
  const metrics = createMetrics({ defaultMetrics: false });
  metrics.recordRejected('oversized');
  metrics.recordRejected('oversized');
  metrics.recordRejected('invalid-topic');
  metrics.recordDropped('bulk', 'disk.free', 40);
  metrics.recordDropped('bulk', 'disk.free', 2);
  metrics.recordDropped('a/"b', 'retention.age', 5);
  const reporter = new StatusReporter(inputs({ losses: () => metrics.lossTotals() }));
  try {
    const report = reporter.report();
    assert.deepEqual(report.ingest.rejected, [{ reason: 'oversized', publishes: 2 }, { reason: 'invalid-topic', publishes: 1 }]);
    assert.deepEqual(report.storage.dropped, [{ stream: 'bulk', reason: 'disk.free', records: 42 }, { stream: 'a/"b', reason: 'retention.age', records: 5 }]);
    const text = await metrics.render();
    assert.equal(metricValue(text, 'tributary_rejected_publishes_total{reason="oversized"}'), 2);
    assert.equal(metricValue(text, 'tributary_dropped_records_total{stream="bulk",reason="disk.free"}'), 42);
  } finally {
    reporter.close();
  }
});

test('bridge devices by state and lost; without inputs: empty lists and bridge null', () => {
  const stats = { dropped: {}, received: 9, published: 9, delivered: 0, lost: 3, devices: { active: 2, asleep: 1, connecting: 0 } };
  const withBridge = new StatusReporter(inputs({ bridge: () => ({ stats: () => stats }) }));
  const bare = new StatusReporter(inputs());
  try {
    assert.deepEqual(withBridge.report().bridge, { active: 2, asleep: 1, connecting: 0, lost: 3 });
    const report = bare.report();
    assert.equal(report.bridge, null);
    assert.deepEqual(report.ingest.rejected, []);
    assert.deepEqual(report.storage.dropped, []);
  } finally {
    withBridge.close();
    bare.close();
  }
});

test('kafkaApi: listeners and groups with their lag summed; null without a Kafka API, and a lag nobody knows is null', () => {
  const groups = [
    { group: 'alerting', state: 'Stable', members: 2, partitions: [{ stream: 'telemetry', partition: 0, committedOffset: 1200, lagRecords: 34 }, { stream: 'telemetry', partition: 1, committedOffset: 900, lagRecords: 1_000_000 }] },
    { group: 'new', state: 'CompletingRebalance', members: 1, partitions: [] },
  ];
  let probe: { listeners(): Array<{ host: string; port: number; sasl: boolean; tls: boolean }>; groups(): typeof groups } | null = null;
  const reporter = new StatusReporter(inputs({ kafkaApi: () => probe }));
  try {
    assert.equal(reporter.report().kafkaApi, null, 'not configured (or not started yet)');
    probe = { listeners: () => [{ host: '127.0.0.1', port: 9092, sasl: false, tls: false }], groups: () => groups };
    assert.deepEqual(reporter.report().kafkaApi, {
      listeners: [{ host: '127.0.0.1', port: 9092, sasl: false, tls: false }],
      groups: [
        { group: 'alerting', state: 'Stable', members: 2, lagRecords: 1_000_034, partitions: groups[0]?.partitions },
        { group: 'new', state: 'CompletingRebalance', members: 1, lagRecords: null, partitions: [] },
      ],
    });
    groups[0]?.partitions.splice(1);
    assert.equal(reporter.report().kafkaApi?.groups[0]?.lagRecords, 34, 'read at each report, never cached');
    assert.equal(JSON.parse(JSON.stringify(reporter.report())).kafkaApi.groups[1].lagRecords, null, 'null survives JSON');
  } finally {
    reporter.close();
  }
  const bare = new StatusReporter(inputs());
  try {
    assert.equal(bare.report().kafkaApi, null);
  } finally {
    bare.close();
  }
});

const windows = { rateWindowMs: 10_000, trendWindowMs: 60_000 };
/** A sample `s` seconds in, with the upstream's counters (null: no upstream yet). */
function at(s: number, records: number, forwarded: number | null, backlog: number | null, diskWritten: number): TrendSample {
  return { at: 1_000_000 + s * 1000, records, bytes: records * 100, forwarded, backlog, diskWritten };
}

test('trends: draining backlog, its time to drain, flash wear per day', () => {
  // 60 s: 10 records/s in, 30/s forwarded, so the backlog shrinks by 20/s from 2,000 to 800; 1 MiB written.
  const samples = [at(0, 0, 0, 2000, 0), at(50, 500, 1500, 1000, 900_000), at(60, 600, 1800, 800, 1_048_576)];
  assert.deepEqual(trends(samples, windows), {
    recordsPerSec: 10, // the 10 s window: 50 s → 60 s
    bytesPerSec: 1000,
    drainRecordsPerSec: 30,
    backlogGrowthRecordsPerSec: -20,
    drainSeconds: 40,
    wearBytesPerDay: (1_048_576 / 60) * 86_400,
  });
});

test('trends: a growing backlog does not drain; no backlog is drained; samples past the window do not count', () => {
  const growing = trends([at(0, 0, 0, 0, 0), at(30, 300, 0, 300, 3000)], windows);
  assert.equal(growing.drainRecordsPerSec, 0);
  assert.equal(growing.backlogGrowthRecordsPerSec, 10);
  assert.equal(growing.drainSeconds, null, 'not draining');
  const caughtUp = trends([at(0, 0, 0, 0, 0), at(10, 50, 50, 0, 0)], windows);
  assert.equal(caughtUp.drainSeconds, 0);
  assert.equal(caughtUp.drainRecordsPerSec, 5);
  assert.equal(caughtUp.wearBytesPerDay, 0);
  // A sample 100 s old is outside both windows: the rates start at the next one.
  const old = trends([at(-100, 0, 0, 0, 0), at(0, 1000, 1000, 100, 0), at(20, 1200, 1300, 0, 0)], windows);
  assert.equal(old.drainRecordsPerSec, 15);
  assert.equal(old.recordsPerSec, 0, 'only the newest sample is inside the 10 s window: no rate yet');
});

test('trends: nothing before two samples; no upstream figures without an upstream or before its first sample', () => {
  assert.deepEqual(trends([], windows), { recordsPerSec: 0, bytesPerSec: 0, drainRecordsPerSec: null, backlogGrowthRecordsPerSec: null, drainSeconds: null, wearBytesPerDay: null });
  assert.deepEqual(trends([at(0, 5, 0, 0, 10)], windows).drainSeconds, null);
  const noUpstream = trends([at(0, 0, null, null, 0), at(10, 100, null, null, 8640)], windows);
  assert.equal(noUpstream.recordsPerSec, 10);
  assert.equal(noUpstream.wearBytesPerDay, 8640 * 8640);
  assert.equal(noUpstream.drainRecordsPerSec, null);
  assert.equal(noUpstream.drainSeconds, null);
  // The forwarder started after the sampler's first sample: its figures begin at its own first one.
  const late = trends([at(0, 0, null, null, 0), at(10, 100, 0, 100, 0), at(20, 200, 150, 50, 0)], windows);
  assert.equal(late.drainRecordsPerSec, 15);
  assert.equal(late.backlogGrowthRecordsPerSec, -5);
  assert.equal(late.drainSeconds, 10);
});

test('the report carries the trends: upstream backlog, drain and time to drain, storage flash wear', async () => {
  let forwarded = 0;
  let backlog = 100;
  let written = 0;
  const reporter = new StatusReporter(
    inputs({
      rateSampleMs: 20,
      log: { partitions: () => [], diskWrittenBytes: () => written, writeAmplification: () => null, logBytes: () => 0, dataFileBytes: () => 0 },
      forward: {
        lag: () => [{ stream: 'default', partition: 0, lagRecords: backlog, lagSeconds: 1 }],
        upstreamUp: () => true,
        state: () => ({ state: 'online', lastError: null, refusal: null }),
        forwardedRecords: () => forwarded,
      },
      upstream: { brokers: ['k:9092'] },
    }),
  );
  try {
    const timer = setInterval(() => {
      forwarded += 2;
      backlog = Math.max(0, backlog - 2);
      written += 4096;
    }, 10);
    await new Promise((r) => setTimeout(r, 300));
    clearInterval(timer);
    const r = reporter.report();
    assert.equal(r.upstream.backlogRecords, backlog);
    assert.ok((r.upstream.drainRecordsPerSec ?? 0) > 50, `drain ${r.upstream.drainRecordsPerSec} records/s`);
    assert.ok((r.upstream.backlogGrowthRecordsPerSec ?? 0) < 0);
    assert.ok(r.upstream.drainSeconds !== null && r.upstream.drainSeconds >= 0);
    assert.ok((r.storage.wearBytesPerDay ?? 0) > 0);
    const bare = new StatusReporter(inputs());
    const b = bare.report();
    bare.close();
    assert.deepEqual([b.upstream.state, b.upstream.backlogRecords, b.upstream.drainRecordsPerSec, b.upstream.drainSeconds, b.upstream.refusal], ['disabled', null, null, null, null]);
  } finally {
    reporter.close();
  }
});
