/**
 * Proves the health rules: each check fails exactly on its condition (event loop delay over its limit,
 * a failing or stalled commit, disk under `storage.diskFreeMinBytes`, a forwarder that claims to be
 * online yet makes no progress on a backlog), the report is `fail` when any check fails and names it, an
 * upstream that is merely offline is healthy, an upstream that refuses the gateway (TLS verification, SASL
 * authentication) fails the `upstream` check with the forwarder's words, and `isLive` (the watchdog's view)
 * ignores the disk and upstream checks because a restart cures neither a full disk nor a wrong password. It also proves the event loop monitor sees a real 300 ms
 * stall, both while the stall is recent and from the timer that fires right after it.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createEventLoopMonitor } from '../../src/ops/event-loop.js';
import {
  DEFAULT_HEALTH_LIMITS,
  evaluateHealth,
  failingChecks,
  isLive,
  type HealthInputs,
  type HealthLimits,
} from '../../src/ops/health.js';

const NOW_MS = 1_700_000_000_000;
const LIMITS: HealthLimits = { ...DEFAULT_HEALTH_LIMITS, diskFreeMinBytes: 512 * 1024 * 1024 };

function healthyInputs(): HealthInputs {
  return {
    nowMs: NOW_MS,
    eventLoopLagMs: 3,
    commit: { failing: false, lastError: null, oldestPendingSinceMs: null },
    diskFreeBytes: 10 * 1024 ** 3,
    forward: { state: 'online', backlogRecords: 0, lastProgressMs: NOW_MS - 1_000 },
  };
}

function failingNames(inputs: HealthInputs): string[] {
  return failingChecks(evaluateHealth(inputs, LIMITS)).map((c) => c.name);
}

test('all checks pass on a healthy broker', () => {
  const report = evaluateHealth(healthyInputs(), LIMITS);
  assert.equal(report.status, 'ok');
  assert.deepEqual(report.checks.map((c) => c.name), ['event-loop', 'commit', 'disk', 'forward', 'upstream']);
  assert.ok(report.checks.every((c) => c.ok && c.message.length > 0));
  assert.equal(isLive(report), true);
});

test('event loop delay over the limit fails, at the limit passes', () => {
  assert.deepEqual(failingNames({ ...healthyInputs(), eventLoopLagMs: LIMITS.eventLoopLagMaxMs + 1 }), ['event-loop']);
  assert.deepEqual(failingNames({ ...healthyInputs(), eventLoopLagMs: LIMITS.eventLoopLagMaxMs }), []);
});

test('a failing commit fails the commit check with its error, and is not live', () => {
  const inputs = healthyInputs();
  inputs.commit = { failing: true, lastError: 'MDB_DISK_FULL', oldestPendingSinceMs: NOW_MS - 10 };
  const report = evaluateHealth(inputs, LIMITS);
  assert.equal(report.status, 'fail');
  const commit = report.checks.find((c) => c.name === 'commit');
  assert.equal(commit?.ok, false);
  assert.match(commit?.message ?? '', /MDB_DISK_FULL/);
  assert.equal(isLive(report), false);
});

test('appends waiting longer than commitStallMs fail; a short wait and no wait pass', () => {
  const stalled = healthyInputs();
  stalled.commit.oldestPendingSinceMs = NOW_MS - LIMITS.commitStallMs - 1;
  assert.deepEqual(failingNames(stalled), ['commit']);
  const waiting = healthyInputs();
  waiting.commit.oldestPendingSinceMs = NOW_MS - 2;
  assert.deepEqual(failingNames(waiting), []);
});

test('no commit for a long time is fine when nothing waits (an idle gateway is healthy)', () => {
  const idle = healthyInputs();
  idle.commit = { failing: false, lastError: null, oldestPendingSinceMs: null };
  assert.equal(evaluateHealth(idle, LIMITS).status, 'ok');
});

test('disk under its floor fails /healthz but keeps the watchdog fed', () => {
  const report = evaluateHealth({ ...healthyInputs(), diskFreeBytes: LIMITS.diskFreeMinBytes - 1 }, LIMITS);
  assert.equal(report.status, 'fail');
  assert.deepEqual(failingChecks(report).map((c) => c.name), ['disk']);
  assert.match(failingChecks(report)[0]?.message ?? '', /floor 512.0 MiB/);
  assert.equal(isLive(report), true);
  assert.deepEqual(failingNames({ ...healthyInputs(), diskFreeBytes: LIMITS.diskFreeMinBytes }), []);
});

test('an unsampled disk is not a failure', () => {
  assert.deepEqual(failingNames({ ...healthyInputs(), diskFreeBytes: null }), []);
});

test('a forwarder online with a backlog and no progress for forwardStallMs is wedged', () => {
  const inputs = healthyInputs();
  inputs.forward = { state: 'degraded', backlogRecords: 42, lastProgressMs: NOW_MS - LIMITS.forwardStallMs - 1 };
  const report = evaluateHealth(inputs, LIMITS);
  assert.deepEqual(failingChecks(report).map((c) => c.name), ['forward']);
  assert.equal(isLive(report), false);
});

test('an offline upstream with a backlog is healthy: gateways run with the link down', () => {
  const inputs = healthyInputs();
  inputs.forward = { state: 'offline', backlogRecords: 1_000_000, lastProgressMs: NOW_MS - 86_400_000 };
  assert.equal(evaluateHealth(inputs, LIMITS).status, 'ok');
});

test('an upstream that refuses the gateway fails the upstream check, which is no liveness check', () => {
  const inputs = healthyInputs();
  const refusal = 'upstream authentication failed: UPSTREAM_AUTH: Kafka refused SASL SCRAM-SHA-512 authentication as gw';
  inputs.forward = { state: 'offline', backlogRecords: 10, lastProgressMs: NOW_MS - 1_000, refusal };
  const report = evaluateHealth(inputs, LIMITS);
  assert.equal(report.status, 'fail');
  assert.deepEqual(failingChecks(report).map((c) => [c.name, c.message]), [['upstream', refusal]]);
  assert.equal(isLive(report), true, 'a restart would read the same password: the watchdog stays fed');
  inputs.forward.refusal = null;
  assert.equal(evaluateHealth(inputs, LIMITS).status, 'ok');
});

test('no forward check without an upstream', () => {
  const { forward: _omitted, ...inputs } = healthyInputs();
  const report = evaluateHealth(inputs, LIMITS);
  assert.deepEqual(report.checks.map((c) => c.name), ['event-loop', 'commit', 'disk']);
});

test('several failures are all listed', () => {
  const inputs = healthyInputs();
  inputs.eventLoopLagMs = 5_000;
  inputs.diskFreeBytes = 0;
  inputs.commit.failing = true;
  assert.deepEqual(failingNames(inputs), ['event-loop', 'commit', 'disk']);
});

test('the event loop monitor sees a real 300 ms stall', async () => {
  const monitor = createEventLoopMonitor({ tickMs: 20, windowMs: 5_000 });
  try {
    await sleep(100);
    assert.ok(monitor.lagMs() < 100, `idle lag ${monitor.lagMs()} ms`);
    let seenRightAfter = 0;
    setTimeout(() => {
      seenRightAfter = monitor.lagMs();
    }, 5);
    blockEventLoop(300);
    await sleep(60);
    assert.ok(seenRightAfter >= 250, `lag read by the first timer after the stall: ${seenRightAfter} ms`);
    assert.ok(monitor.lagMs() >= 250, `lag after the stall: ${monitor.lagMs()} ms`);
  } finally {
    monitor.close();
  }
});

test('a stall stops counting after two windows', async () => {
  const monitor = createEventLoopMonitor({ tickMs: 10, windowMs: 100 });
  try {
    blockEventLoop(150);
    await sleep(20);
    assert.ok(monitor.lagMs() >= 100);
    await sleep(350);
    assert.ok(monitor.lagMs() < 100, `lag two windows later: ${monitor.lagMs()} ms`);
  } finally {
    monitor.close();
  }
});

function blockEventLoop(ms: number): void {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    // busy on purpose: a real stall
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
