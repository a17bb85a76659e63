/**
 * Proves the forwarder's logic against a real LMDB log and an in-memory Sink (no Kafka): every record is
 * sent once, in offset order per partition, with the Kafka topic, key and headers DESIGN.md promises, and
 * the `upstream` cursor is committed only after the sink acknowledged; batches respect maxRecords and the
 * linger; streams with `upstream.enabled: false` are not sent; a cursor behind the log start skips to it.
 * On failures: a link-wide outage makes the state `offline` with the last error and one shared backoff
 * (a bounded number of attempts, not one per partition), then everything arrives in order; a partition's
 * own retriable error makes the state `degraded` while other streams flow; a refused topic stops only that
 * stream, logs it once, keeps its records in the log and retries later. A cluster that refuses the connection
 * (SASL authentication, TLS verification) holds every stream back with one probe per longest backoff, logs
 * it once, says so for health, drops nothing; `renewUpstream` (SIGHUP) hands the sink the new material and
 * probes at once, after which everything arrives in order. Before any record is sent, the state is
 * `connecting` until the sink's first connect answers, then `offline` (with the refusal, if Kafka refused
 * the login) or `online`; while down with nothing to send the connect is the probe. Higher-priority streams drain first
 * when sends are scarce, and `close()` lets the in-flight batch finish and commit, within its timeout.
 */
import assert from 'node:assert/strict';
import { afterEach, describe, test } from 'node:test';
import { createForwarder, type ForwardLog, type Forwarder, type ForwardTuning, type SinkRecord } from '../../src/forward/index.js';
import type { Config } from '../../src/config/load.js';
import { UPSTREAM_GROUP, type Log } from '../../src/log/index.js';
import { UpstreamError } from '../../src/errors.js';
import { MemorySink, captureLogger, forwardConfig, header, notLeader, openLog, publish, refused, unreachable, waitFor } from './harness.js';

const open: Array<{ forwarder: Forwarder; log: Log }> = [];
afterEach(async () => {
  for (const { forwarder, log } of open.splice(0)) {
    await forwarder.close();
    await log.close();
  }
});

async function setup(config: Config, sink: MemorySink, tuning: Partial<ForwardTuning> = {}) {
  const log = await openLog(config);
  const { logger, lines } = captureLogger();
  const forwarder = createForwarder({ log, sink, config, gatewayId: config.gateway.id, logger, tuning: { idlePollMs: 2, ...tuning } });
  open.push({ forwarder, log });
  return { log, forwarder, lines };
}

function offsetsInOrder(records: SinkRecord[]): Map<string, number[]> {
  const byPartition = new Map<string, number[]>();
  for (const r of records) {
    const id = `${header(r, 'tributary.stream')}/${header(r, 'tributary.partition')}`;
    const list = byPartition.get(id) ?? [];
    list.push(Number(header(r, 'tributary.offset')));
    byPartition.set(id, list);
  }
  return byPartition;
}

function assertContiguous(records: SinkRecord[], log: Log): void {
  for (const [id, offsets] of offsetsInOrder(records)) {
    const [stream, partition] = id.split('/') as [string, string];
    const info = log.partitionInfo(stream, Number(partition));
    assert.deepEqual(offsets, Array.from({ length: info.endOffset }, (_, i) => i), `${id}: every offset once, in order`);
  }
}

describe('forwarding', () => {
  test('records go out once, in order, with topic, key, headers; cursor follows the acks', async () => {
    const config = forwardConfig({}, [
      { name: 'telemetry', match: ['sensors/+/telemetry'], partitions: 3, key: 'topic-level:1', upstream: { topic: 'edge.telemetry' } },
      { name: 'local', match: ['local/#'], partitions: 1, upstream: { enabled: false } },
    ]);
    const sink = new MemorySink();
    const { log, forwarder } = await setup(config, sink);
    forwarder.start();
    await publish(log, config, 1000, (i) => `sensors/dev-${i % 7}/telemetry`);
    await publish(log, config, 50, (i) => `local/${i}`);
    await publish(log, config, 20, (i) => `other/${i}`);
    await waitFor('all forwarded', () => sink.acked.length === 1020);
    assert.deepEqual(new Set(sink.acked.map((r) => r.topic)), new Set(['edge.telemetry', 'default']));
    const first = sink.acked.find((r) => r.topic === 'edge.telemetry') as SinkRecord;
    assert.match(first.key?.toString() ?? '', /^dev-\d$/);
    assert.equal(header(first, 'tributary.gateway'), 'gw-test');
    assert.equal(header(first, 'tributary.stream'), 'telemetry');
    assert.equal(header(first, 'mqtt.topic'), `sensors/${first.key?.toString()}/telemetry`);
    assert.ok(sink.calls.every((c) => c.records <= 100), 'batch.maxRecords holds');
    assertContiguous(sink.acked, log);
    await waitFor('cursors committed', () => [0, 1, 2].every((p) => log.cursor(UPSTREAM_GROUP, 'telemetry', p) === log.partitionInfo('telemetry', p).endOffset));
    assert.equal(log.cursor(UPSTREAM_GROUP, 'local', 0), null, 'disabled stream is not forwarded');
    await waitFor('no lag', () => forwarder.lag().every((l) => l.lagRecords === 0 && l.lagSeconds === 0));
    assert.deepEqual(forwarder.state(), { state: 'online', lastError: null, refusal: null });
    assert.ok(!forwarder.lag().some((l) => l.stream === 'local'));
  });

  test('a restarted forwarder resumes at the committed cursor; a cursor behind the log start skips to it', async () => {
    const config = forwardConfig({}, [{ name: 'default', partitions: 1, retention: { bytes: 2000 } }]);
    const log = await openLog(config);
    // Ten commits of 20: retention deletes whole commits' batches, and 2,000 bytes are about 50 records.
    for (let c = 0; c < 10; c++) await publish(log, config, 20, (i) => `t/${c * 20 + i}`);
    await log.commitCursor(UPSTREAM_GROUP, 'default', 0, 5);
    await log.runRetention();
    const start = log.partitionInfo('default', 0).startOffset;
    assert.ok(start > 5, `retention moved the start past the cursor (start ${start})`);
    const sink = new MemorySink();
    const { logger } = captureLogger();
    const forwarder = createForwarder({ log, sink, config, gatewayId: 'gw', logger, tuning: { idlePollMs: 2 } });
    open.push({ forwarder, log });
    forwarder.start();
    await waitFor('drained', () => forwarder.lag()[0]?.lagRecords === 0);
    assert.equal(Number(header(sink.acked[0] as SinkRecord, 'tributary.offset')), start);
    assert.equal(sink.acked.length, 200 - start);
  });

  test('only records the log reports durable are sent (LMDB readers can see a commit before its sync ends)', async () => {
    const config = forwardConfig({}, [{ name: 'default', partitions: 1 }]);
    const log = await openLog(config);
    await publish(log, config, 50, (i) => `d/${i}`);
    let durableEnd = 20;
    // The log as the forwarder sees it while a group commit holding offsets 20..49 is still syncing.
    const view: ForwardLog = {
      read: (stream, partition, from, limits) => log.read(stream, partition, from, limits),
      cursor: (group, stream, partition) => log.cursor(group, stream, partition),
      commitCursor: (group, stream, partition, next) => log.commitCursor(group, stream, partition, next),
      partitionInfo: (stream, partition) => ({ ...log.partitionInfo(stream, partition), endOffset: durableEnd }),
      streamNames: () => log.streamNames(),
      streamSpec: (stream) => log.streamSpec(stream),
    };
    const sink = new MemorySink();
    const { logger } = captureLogger();
    const forwarder = createForwarder({ log: view, sink, config, gatewayId: 'gw', logger, tuning: { idlePollMs: 2 } });
    open.push({ forwarder, log });
    forwarder.start();
    await waitFor('the durable part sent', () => sink.acked.length === 20);
    await new Promise((r) => setTimeout(r, 50));
    assert.equal(sink.acked.length, 20, 'nothing past the durable end');
    durableEnd = 50;
    await waitFor('the rest once durable', () => sink.acked.length === 50);
    assertContiguous(sink.acked, log);
  });

  test('linger: a lone record waits lingerMs for company, a full batch goes at once', async () => {
    const config = forwardConfig({ batch: { maxRecords: 50, maxBytes: 1024 * 1024, lingerMs: 300 } });
    const sink = new MemorySink();
    const { log, forwarder } = await setup(config, sink);
    forwarder.start();
    await new Promise((r) => setTimeout(r, 20));
    const t0 = Date.now();
    await publish(log, config, 1, () => 'a');
    await waitFor('sent', () => sink.acked.length === 1);
    assert.ok(Date.now() - t0 >= 250, `waited for linger (${Date.now() - t0} ms)`);
    const t1 = Date.now();
    await publish(log, config, 50, () => 'a');
    await waitFor('sent', () => sink.acked.length === 51);
    assert.ok(Date.now() - t1 < 250, `a full batch does not linger (${Date.now() - t1} ms)`);
  });
});

describe('link failures', () => {
  test('outage: offline with lastError, one shared backoff, then everything arrives in order', async () => {
    const config = forwardConfig({ retryBackoffMinMs: 50, retryBackoffMaxMs: 100 }, [{ name: 'default', partitions: 8 }]);
    let down = true;
    const sink = new MemorySink(() => {
      if (down) throw unreachable();
    });
    const { log, forwarder, lines } = await setup(config, sink);
    forwarder.start();
    await publish(log, config, 400, (i) => `t/${i % 40}`);
    await waitFor('offline', () => forwarder.state().state === 'offline');
    assert.match(forwarder.state().lastError ?? '', /UPSTREAM_UNREACHABLE/);
    assert.equal(forwarder.upstreamUp(), false);
    const callsAtOffline = sink.calls.length;
    await new Promise((r) => setTimeout(r, 1000));
    const probes = sink.calls.length - callsAtOffline;
    // One probe per shared backoff period (50..100 ms): about 10-20 in a second, not 8 partitions' worth.
    assert.ok(probes <= 25, `${probes} attempts in 1 s of outage`);
    assert.ok(forwarder.lag().some((l) => l.lagSeconds >= 0.9), 'lag in seconds grows while offline');
    assert.equal(forwarder.lag().reduce((n, l) => n + l.lagRecords, 0), 400);
    assert.ok(lines.some((l) => l.level === 'warn' && /retrying/.test(String(l.msg))));
    down = false;
    await waitFor('drained', () => sink.acked.length === 400);
    assertContiguous(sink.acked, log);
    await waitFor('online', () => forwarder.state().state === 'online');
    assert.equal(forwarder.upstreamUp(), true);
  });

  test('a partition-level retriable error degrades only what it hits', async () => {
    const config = forwardConfig({}, [
      { name: 'a', match: ['a/#'], partitions: 1 },
      { name: 'b', match: ['b/#'], partitions: 1 },
    ]);
    let failB = true;
    const sink = new MemorySink((records) => {
      if (failB && records[0]?.topic === 'b') throw notLeader();
    });
    const { log, forwarder } = await setup(config, sink);
    forwarder.start();
    await publish(log, config, 10, (i) => `b/${i}`);
    await waitFor('degraded', () => forwarder.state().state === 'offline' || forwarder.state().state === 'degraded');
    await publish(log, config, 10, (i) => `a/${i}`);
    await waitFor('a flows', () => sink.acked.filter((r) => r.topic === 'a').length === 10);
    assert.equal(forwarder.state().state, 'degraded');
    assert.equal(forwarder.upstreamUp(), true);
    failB = false;
    await waitFor('b flows', () => sink.acked.filter((r) => r.topic === 'b').length === 10);
    await waitFor('online', () => forwarder.state().state === 'online');
  });

  test('a refused topic stops that stream only, logs once, drops nothing, and is retried later', async () => {
    const config = forwardConfig({}, [
      { name: 'bad', match: ['bad/#'], partitions: 2, upstream: { topic: 'no such topic' } },
      { name: 'good', match: ['good/#'], partitions: 1 },
    ]);
    let refuse = true;
    const sink = new MemorySink((records) => {
      if (refuse && records[0]?.topic === 'no such topic') throw refused();
    });
    const { log, forwarder, lines } = await setup(config, sink, { refusedRetryMs: 300 });
    forwarder.start();
    await publish(log, config, 20, (i) => `bad/${i}`);
    await publish(log, config, 20, (i) => `good/${i}`);
    await waitFor('good flows', () => sink.acked.length === 20);
    await waitFor('bad stopped', () => forwarder.status().partitions.filter((p) => p.stream === 'bad' && p.lagRecords > 0).every((p) => p.status === 'stopped'));
    const status = forwarder.status();
    assert.equal(status.state, 'degraded');
    assert.deepEqual(status.refusedStreams.map((s) => s.stream), ['bad']);
    assert.match(status.lastError ?? '', /INVALID_TOPIC/);
    const logged = lines.filter((l) => l.level === 'error' && /refuses stream bad/.test(String(l.msg)));
    assert.equal(logged.length, 1, 'one log line for the stream, not one per partition or attempt');
    const info = [0, 1].map((p) => log.partitionInfo('bad', p));
    assert.equal(info.reduce((n, i) => n + i.records, 0), 20, 'nothing dropped from the log');
    await new Promise((r) => setTimeout(r, 400));
    refuse = false;
    await waitFor('bad flows after the retry interval', () => sink.acked.length === 40, 3000);
    assert.ok(lines.some((l) => /forwarding resumed/.test(String(l.msg))));
  });

  test('a refused connection holds every stream at the longest backoff, drops nothing; renewUpstream probes at once', async () => {
    const maxMs = 500;
    const config = forwardConfig({ retryBackoffMinMs: 10, retryBackoffMaxMs: maxMs }, [
      { name: 'a', match: ['a/#'], partitions: 2 },
      { name: 'b', match: ['b/#'], partitions: 1 },
    ]);
    let accept = false;
    const sink = new MemorySink(() => {
      if (!accept) throw new UpstreamError('Kafka refused SASL SCRAM-SHA-512 authentication as gw', { code: 'UPSTREAM_AUTH', retriable: false });
    });
    const { log, forwarder, lines } = await setup(config, sink);
    await publish(log, config, 60, (i) => `a/${i}`);
    await publish(log, config, 30, (i) => `b/${i}`);
    forwarder.start();
    await waitFor('refused', () => forwarder.upstreamRefusal() !== null);
    const callsBefore = sink.calls.length;
    await new Promise((r) => setTimeout(r, 4 * maxMs));
    const probes = sink.calls.length - callsBefore;
    assert.ok(probes >= 2 && probes <= 5, `${probes} attempts in ${4 * maxMs} ms: one per ${maxMs} ms, not a loop`);
    assert.ok(sink.inFlightMax <= 3, 'the probes go one at a time');
    assert.equal(forwarder.upstreamRefusal(), 'upstream authentication failed: UPSTREAM_AUTH: Kafka refused SASL SCRAM-SHA-512 authentication as gw');
    assert.equal(forwarder.state().state, 'offline');
    assert.deepEqual(forwarder.status().refusedStreams, [], 'no stream is blocked: the link is');
    const logged = lines.filter((l) => /^upstream authentication failed/.test(String(l.msg)));
    assert.deepEqual(logged.map((l) => l.level), ['error'], 'logged once, as an error');
    assert.match(String(logged[0]?.msg), /every record stays in the log.*SIGHUP/);
    assert.equal(log.partitionInfo('b', 0).records, 30);
    assert.deepEqual([0, 1].map((p) => log.cursor(UPSTREAM_GROUP, 'a', p)), [null, null], 'no cursor moved');

    accept = true;
    const renewedAt = Date.now();
    const callsAtRenew = sink.calls.length;
    assert.equal(forwarder.renewUpstream(undefined), true, 'the link is down: a fresh session');
    assert.equal(sink.renewed.length, 1);
    await waitFor('a probe at once', () => sink.calls.length > callsAtRenew, maxMs);
    assert.ok(Date.now() - renewedAt < maxMs / 2, `probed ${Date.now() - renewedAt} ms after renewUpstream`);
    await waitFor('everything', () => sink.acked.length === 90);
    assertContiguous(sink.acked, log);
    assert.equal(forwarder.upstreamRefusal(), null);
    assert.equal(forwarder.state().state, 'online');
    assert.equal(forwarder.renewUpstream(undefined), false, 'nothing changed and the link is up: no reconnect');
    assert.equal(sink.renewed.length, 1);
  });

  test('a refused TLS handshake is worded as such', async () => {
    const config = forwardConfig({}, [{ name: 'default', partitions: 1 }]);
    const sink = new MemorySink(() => {
      throw new UpstreamError('TLS with broker(s) k:9093 failed', { code: 'UPSTREAM_TLS', retriable: false });
    });
    const { log, forwarder } = await setup(config, sink);
    await publish(log, config, 1, (i) => `x/${i}`);
    forwarder.start();
    await waitFor('refused', () => forwarder.upstreamRefusal() !== null);
    assert.equal(forwarder.upstreamRefusal(), 'upstream TLS verification failed: UPSTREAM_TLS: TLS with broker(s) k:9093 failed');
    assert.equal(forwarder.state().refusal, 'tls');
  });
});

/** A MemorySink that opens a session on `connect`, as the Kafka sink does, with a scripted outcome. */
class ConnectingSink extends MemorySink {
  connects = 0;
  constructor(public connecting: () => Promise<void>) {
    super();
  }
  async connect(): Promise<void> {
    this.connects++;
    await this.connecting();
  }
}

describe('upstream state before anything is sent', () => {
  test('connecting until the first connect answers; offline when it fails, with no record to send; online once it connects', async () => {
    const config = forwardConfig({ retryBackoffMinMs: 20, retryBackoffMaxMs: 100 });
    let answer: () => Promise<void> = () => new Promise(() => undefined);
    const sink = new ConnectingSink(() => answer());
    const { forwarder } = await setup(config, sink);
    assert.deepEqual(forwarder.state(), { state: 'connecting', lastError: null, refusal: null }, 'before start');
    assert.equal(forwarder.upstreamUp(), false, 'not up until something said so');
    forwarder.start();
    await waitFor('the first connect', () => sink.connects === 1);
    await new Promise((r) => setTimeout(r, 50));
    assert.equal(forwarder.state().state, 'connecting', 'a connect that has not answered decides nothing');
    await forwarder.close();

    answer = async () => {
      throw unreachable();
    };
    // The jitter pinned at its ceiling: the probes come 20, 40, 80, 100, 100 ms apart (full jitter would
    // allow anything from 3 to 17 in the window below, and CI once drew 9).
    const down = await setup(config, sink, { random: () => 1 });
    down.forwarder.start();
    await waitFor('offline', () => down.forwarder.state().state === 'offline');
    assert.match(down.forwarder.state().lastError ?? '', /^UPSTREAM_UNREACHABLE: /);
    assert.equal(down.forwarder.upstreamUp(), false);
    assert.equal(sink.calls.length, 0, 'no record was sent: the connect said it');
    const connectsDown = sink.connects;
    await new Promise((r) => setTimeout(r, 350));
    // 350 ms after the first failure: at most 40 + 80 + 100 + 100 ms of waits fit, so 2–5 probes on a slow
    // machine; one every 20 ms (no backoff) would be ~17, none would mean it stopped probing.
    assert.ok(sink.connects - connectsDown >= 2 && sink.connects - connectsDown <= 5, `probes at the backoff while down (${sink.connects - connectsDown} in 350 ms)`);
    assert.equal(down.lines.filter((l) => /cannot connect to Kafka/.test(String(l.msg))).length, 1, 'logged once');

    answer = async () => undefined;
    await waitFor('online', () => down.forwarder.state().state === 'online');
    assert.equal(down.forwarder.upstreamUp(), true);
    const connectsUp = sink.connects;
    await new Promise((r) => setTimeout(r, 250));
    assert.equal(sink.connects, connectsUp, 'no connect while the link is up');
    assert.ok(down.lines.some((l) => l.msg === 'connected to Kafka again'));
  });

  test('a refused login at the first connect: offline with refusal authentication, before any record', async () => {
    const sink = new ConnectingSink(async () => {
      throw new UpstreamError('Kafka refused SASL SCRAM-SHA-512 authentication as gw', { code: 'UPSTREAM_AUTH', retriable: false });
    });
    const { forwarder, lines } = await setup(forwardConfig(), sink);
    forwarder.start();
    await waitFor('refused', () => forwarder.state().refusal !== null);
    assert.deepEqual(forwarder.state(), { state: 'offline', lastError: 'UPSTREAM_AUTH: Kafka refused SASL SCRAM-SHA-512 authentication as gw', refusal: 'authentication' });
    assert.match(forwarder.upstreamRefusal() ?? '', /^upstream authentication failed: /);
    assert.deepEqual(lines.filter((l) => /^upstream authentication failed/.test(String(l.msg))).map((l) => l.level), ['error']);
  });
});

describe('scheduling and shutdown', () => {
  test('higher-priority streams drain first when sends are scarce', async () => {
    const config = forwardConfig({ batch: { maxRecords: 10, maxBytes: 1024 * 1024, lingerMs: 0 } }, [
      { name: 'bulk', match: ['bulk/#'], partitions: 2, priority: 1 },
      { name: 'alarm', match: ['alarm/#'], partitions: 2, priority: 9 },
    ]);
    const sink = new MemorySink(() => new Promise((r) => setTimeout(r, 2)));
    const log = await openLog(config);
    await publish(log, config, 200, (i) => `bulk/${i}`);
    await publish(log, config, 200, (i) => `alarm/${i}`);
    const { logger } = captureLogger();
    const forwarder = createForwarder({ log, sink, config, gatewayId: 'gw', logger, tuning: { sendsInFlightMax: 1, idlePollMs: 2 } });
    open.push({ forwarder, log });
    forwarder.start();
    await waitFor('drained', () => sink.acked.length === 400);
    const order = sink.calls.map((c) => c.topic);
    const lastAlarm = order.lastIndexOf('alarm');
    const bulkBefore = order.slice(0, lastAlarm).filter((t) => t === 'bulk').length;
    assert.ok(bulkBefore <= 2, `at most the first bulk batches went before the alarm backlog was done (${bulkBefore})`);
    assert.equal(sink.inFlightMax, 1);
  });

  test('rateLimitBytesPerSec holds the drain to the configured rate', async () => {
    const config = forwardConfig({ rateLimitBytesPerSec: 20_000, batch: { maxRecords: 20, maxBytes: 1024 * 1024, lingerMs: 0 } });
    const sink = new MemorySink();
    const log = await openLog(config);
    await publish(log, config, 400, (i) => `r/${i % 4}`);
    const { logger } = captureLogger();
    const forwarder = createForwarder({ log, sink, config, gatewayId: 'gw', logger, tuning: { idlePollMs: 2 } });
    open.push({ forwarder, log });
    const t0 = Date.now();
    forwarder.start();
    await waitFor('drained', () => sink.acked.length === 400, 20_000);
    const elapsedS = (Date.now() - t0) / 1000;
    const bytes = sink.acked.reduce((n, r) => n + r.value.length + (r.key?.length ?? 0) + r.headers.reduce((m, [k, v]) => m + k.length + v.length, 0), 0);
    // The first second's burst is free; after that the rate holds.
    const expectedS = (bytes - 20_000) / 20_000;
    assert.ok(elapsedS >= expectedS * 0.8 && elapsedS <= expectedS + 2, `${bytes} bytes took ${elapsedS.toFixed(2)} s, expected about ${expectedS.toFixed(2)} s`);
  });

  test('close() lets the in-flight batch finish and commit; a hung send is cut off by closeTimeoutMs', async () => {
    const config = forwardConfig({ batch: { maxRecords: 10, maxBytes: 1024 * 1024, lingerMs: 0 } }, [{ name: 'default', partitions: 1 }]);
    let release: () => void = () => undefined;
    const sink = new MemorySink(() => new Promise<void>((r) => (release = r)));
    const log = await openLog(config);
    await publish(log, config, 30, (i) => `c/${i}`);
    const { logger } = captureLogger();
    const forwarder = createForwarder({ log, sink, config, gatewayId: 'gw', logger, tuning: { idlePollMs: 2, closeTimeoutMs: 2000 } });
    forwarder.start();
    await waitFor('in flight', () => sink.inFlight === 1);
    const closing = forwarder.close();
    setTimeout(() => release(), 100);
    await closing;
    assert.equal(sink.acked.length, 10, 'the in-flight batch finished, no new one started');
    assert.equal(log.cursor(UPSTREAM_GROUP, 'default', 0), 10, 'and its cursor was committed');

    const hung = new MemorySink(() => new Promise<void>(() => undefined));
    const second = createForwarder({ log, sink: hung, config, gatewayId: 'gw', logger, tuning: { idlePollMs: 2, closeTimeoutMs: 200 } });
    second.start();
    await waitFor('in flight', () => hung.inFlight === 1);
    const t0 = Date.now();
    await second.close();
    assert.ok(Date.now() - t0 < 1000, 'close is bounded');
    assert.equal(log.cursor(UPSTREAM_GROUP, 'default', 0), 10, 'an unacknowledged batch does not move the cursor');
    await log.close();
  });

  test('no upstream configured: disabled, no lag, upstreamUp null', async () => {
    const config = forwardConfig();
    const { kafka: _kafka, ...upstream } = config.upstream;
    const log = await openLog(config);
    const { logger } = captureLogger();
    const forwarder = createForwarder({ log, config: { streams: config.streams, upstream }, gatewayId: 'gw', logger });
    forwarder.start();
    assert.deepEqual(forwarder.state(), { state: 'disabled', lastError: null, refusal: null });
    assert.equal(forwarder.upstreamUp(), null);
    assert.deepEqual(forwarder.lag(), []);
    await forwarder.close();
    await log.close();
  });
});
