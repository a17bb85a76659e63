/**
 * Proves the status report's loss and device fields (what the status page shows beside the rates):
 * publishes rejected by reason and records dropped by stream and reason, as counted by the metrics
 * (the same numbers as `tributary_rejected_publishes_total` and `tributary_dropped_records_total`,
 * stream names holding any character); the firmware bridge's devices by state plus lost; and, without
 * those inputs, empty lists and `bridge: null` rather than missing keys.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createMetrics } from '../../src/ops/metrics.js';
import { StatusReporter, type StatusInputs } from '../../src/ops/status.js';
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
