/**
 * Proves the retry timing primitives: backoff delays stay within [min, min × 2^(attempt-1)] and never
 * exceed the cap (full jitter spans the whole range); the shared Link lets exactly one probe through per
 * backoff period while down, counts failures of sends already in flight as one, and comes up on success
 * or on any answer from Kafka; the scheduler grants by priority and never exceeds its in-flight limit.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { backoffDelayMs } from '../../src/forward/backoff.js';
import { Link } from '../../src/forward/link.js';
import { SendScheduler } from '../../src/forward/scheduler.js';
import { notLeader, unreachable } from './harness.js';

test('backoff: full jitter between min and the exponential ceiling, capped', () => {
  const limits = { minMs: 100, maxMs: 30_000 };
  assert.equal(backoffDelayMs(1, limits, () => 0.999999), 100);
  assert.equal(backoffDelayMs(3, limits, () => 0), 100);
  assert.equal(backoffDelayMs(3, limits, () => 1), 400);
  assert.equal(backoffDelayMs(50, limits, () => 1), 30_000);
  assert.equal(backoffDelayMs(10_000, limits, () => 1), 30_000);
  for (let attempt = 1; attempt < 20; attempt++) {
    const d = backoffDelayMs(attempt, limits);
    assert.ok(d >= 100 && d <= Math.min(30_000, 100 * 2 ** (attempt - 1)), `attempt ${attempt}: ${d}`);
  }
});

test('link: one probe per backoff period while down; stale failures count once; up on success or any answer', async () => {
  let now = 1000;
  const link = new Link({ minMs: 100, maxMs: 1000 }, () => now, () => 1);
  const signal = new AbortController().signal;
  assert.equal(await link.permit(signal), true);
  link.failed(unreachable(), 999);
  link.failed(unreachable(), 999); // a second send that was already out
  assert.equal(link.down, true);
  assert.equal(link.retryInMs, 100, 'first retry after min: the in-flight failure did not double it');
  now += 100;
  assert.equal(await link.permit(signal), true, 'the probe');
  let second = false;
  const waiting = link.permit(signal).then((ok) => (second = ok));
  await new Promise((r) => setTimeout(r, 20));
  assert.equal(second, false, 'others wait for the probe');
  link.failed(unreachable(), now);
  assert.equal(link.retryInMs, 200, 'the failed probe doubles the ceiling');
  now += 200;
  link.failed(notLeader(), now);
  assert.equal(link.down, false, 'a broker answer proves the link is up');
  await waiting;
  assert.equal(second, true);
  link.failed(unreachable(), now);
  link.succeeded();
  assert.equal(link.down, false);
  assert.match(link.lastError ?? '', /UPSTREAM_UNREACHABLE/);
});

test('scheduler: priority first, FIFO within a priority, never over the in-flight limit', async () => {
  const scheduler = new SendScheduler({ sendsInFlightMax: 1, rateLimitBytesPerSec: 0 });
  const signal = new AbortController().signal;
  assert.equal(await scheduler.acquire(0, 1, signal), true);
  const order: string[] = [];
  const waits = [
    scheduler.acquire(1, 1, signal).then(() => order.push('low-1')),
    scheduler.acquire(5, 1, signal).then(() => order.push('high-1')),
    scheduler.acquire(1, 1, signal).then(() => order.push('low-2')),
    scheduler.acquire(5, 1, signal).then(() => order.push('high-2')),
  ];
  for (let i = 0; i < 4; i++) {
    assert.equal(scheduler.inFlight, 1);
    scheduler.release();
    await new Promise((r) => setImmediate(r));
  }
  await Promise.all(waits);
  assert.deepEqual(order, ['high-1', 'high-2', 'low-1', 'low-2']);
  const aborted = new AbortController();
  const gaveUp = scheduler.acquire(9, 1, aborted.signal);
  aborted.abort();
  assert.equal(await gaveUp, false);
});
