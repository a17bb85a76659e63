/**
 * Delivery contract 6, "when the disk fails a sync, nothing in that commit is acked and health says
 * so", against a real `tributary serve` with the fault shim preloaded (test/helpers/fault-shim.ts).
 * Three MQTT clients publish QoS 1 continuously with distinct payloads; then the disk starts failing
 * every commit — fdatasync of data.mdb returns EIO in one case, the page writes return ENOSPC in the
 * other — and never recovers. The policy proven: no PUBACK arrives while commits fail (a commit synced
 * just before the failure may still be acked within a short grace, so the rule is "no ack from then on
 * until exit", a window of well over a second); `/healthz` answers 503 naming the `commit` check; every
 * failure is logged ("log commit failed") and counted in `tributary_log_commit_failures_total{reason}`
 * (`io`, `no-space`), more than once because the broker retries the same group in a fresh transaction;
 * and once no commit has succeeded for `durability.commitFailureExitMs`, serve logs that it is exiting
 * and exits with code 1, neither much before nor much after. Restarted on the same data dir without the
 * shim, the log holds every acked payload, each once, at offsets 0..end-1 of its partition with no gap.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { connectAsync, type MqttClient } from 'mqtt';
import { metricValue, startServe, type RunningBroker } from '../helpers/broker.js';
import { jsonLines, runCli } from '../helpers/cli.js';
import { shimEnv, type ShimKnobs } from '../helpers/fault-shim.js';
import { tmpDir } from '../helpers/tmp.js';
import { until } from '../helpers/until.js';

const EXIT_MS = 2_000;
const CLIENTS = 3;
/** QoS 1 publishes each client keeps in flight. */
const WINDOW = 10;
const HEALTHY_MS = 600;
/** How long after the failure starts an ack may still arrive: the commit synced just before it. */
const GRACE_MS = 300;
/** How much later than `commitFailureExitMs` after the failure the exit may come (backoff steps, shutdown). */
const EXIT_SLACK_MS = 3_000;

const FAILURE_LOG = 'log commit failed';
const EXIT_LOG = 'log commits failing: exiting so the service manager restarts it';

interface Ack {
  payload: string;
  sentAt: number;
  ackedAt: number;
}

interface Publishers {
  acks: Ack[];
  sent: Set<string>;
  close(): void;
}

/** `CLIENTS` clients, each publishing QoS 1 with `WINDOW` in flight until closed or cut off. */
async function startPublishers(url: string, tag: string): Promise<Publishers> {
  const acks: Ack[] = [];
  const sent = new Set<string>();
  const clients: MqttClient[] = [];
  let closed = false;
  for (let c = 0; c < CLIENTS; c++) {
    const client = await connectAsync(url, { clientId: `${tag}-${c}`, reconnectPeriod: 0 });
    client.on('error', () => undefined);
    clients.push(client);
    let seq = 0;
    let inFlight = 0;
    const pump = (): void => {
      // `closed`: a client that is ending calls publish back synchronously, which would recurse here.
      while (!closed && client.connected && inFlight < WINDOW) {
        const payload = `${tag}-c${c}-${seq}`;
        const topic = `disk/${tag}/c${c}/${seq % 4}`;
        const sentAt = Date.now();
        seq++;
        inFlight++;
        sent.add(payload);
        client.publish(topic, payload, { qos: 1 }, (err) => {
          inFlight--;
          if (!err) acks.push({ payload, sentAt, ackedAt: Date.now() });
          pump();
        });
      }
    };
    pump();
  }
  return {
    acks,
    sent,
    close: () => {
      closed = true;
      for (const client of clients) client.end(true);
    },
  };
}

interface Observed {
  health503: { name: string; ok: boolean; message: string }[] | null;
  failures: number;
  otherFailures: number;
}

/** Polls /healthz and /metrics until the process exits; keeps the first 503's checks and the highest counts. */
function observe(broker: RunningBroker, reason: string, otherReason: string): { observed: Observed; stop(): void } {
  const observed: Observed = { health503: null, failures: 0, otherFailures: 0 };
  let stopped = false;
  const base = `http://127.0.0.1:${broker.httpPort}`;
  void (async () => {
    while (!stopped) {
      try {
        const res = await fetch(`${base}/healthz`, { signal: AbortSignal.timeout(500) });
        const body = (await res.json()) as { checks: Array<{ name: string; ok: boolean; message: string }> };
        if (res.status === 503 && observed.health503 === null) observed.health503 = body.checks.filter((c) => !c.ok);
        const text = await (await fetch(`${base}/metrics`, { signal: AbortSignal.timeout(500) })).text();
        observed.failures = Math.max(observed.failures, metricValue(text, `tributary_log_commit_failures_total{reason="${reason}"}`));
        observed.otherFailures = Math.max(observed.otherFailures, metricValue(text, `tributary_log_commit_failures_total{reason="${otherReason}"}`));
      } catch {
        // the process is going or gone
      }
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  })();
  return { observed, stop: () => (stopped = true) };
}

interface LoggedRecord {
  partition: number;
  offset: number;
  payload: string;
}

async function assertLogHoldsAcked(dataDir: string, acks: Ack[]): Promise<void> {
  const restarted = await startServe({ dataDir });
  assert.equal(await restarted.stop(), 0, 'serve restarts on the data dir without the shim and stops cleanly');
  const [read, streams] = await Promise.all([
    runCli(['log', 'read', 'default', '--data-dir', dataDir, '--json']),
    runCli(['log', 'streams', '--data-dir', dataDir, '--json']),
  ]);
  assert.equal(read.code, 0, read.stderr);
  const records = jsonLines<LoggedRecord>(read.stdout);
  const payloads = records.map((r) => r.payload);
  const logged = new Set(payloads);
  assert.equal(logged.size, payloads.length, 'no payload is in the log twice: a retried group is written once');
  const missing = acks.filter((a) => !logged.has(a.payload)).map((a) => a.payload);
  assert.deepEqual(missing, [], `${missing.length} of ${acks.length} acked payloads are not in the log`);
  assert.equal(streams.code, 0, streams.stderr);
  const [stream] = JSON.parse(streams.stdout) as Array<{ stream: string; partitions: Array<{ partition: number; startOffset: number; endOffset: number }> }>;
  assert.ok(stream !== undefined && stream.stream === 'default', streams.stdout);
  for (const p of stream.partitions) {
    const offsets = records.filter((r) => r.partition === p.partition).map((r) => r.offset);
    assert.equal(p.startOffset, 0);
    assert.deepEqual(offsets, [...Array(p.endOffset).keys()], `partition ${p.partition}: offsets 0..${p.endOffset - 1}, contiguous`);
  }
}

const VARIANTS: Array<{ name: string; reason: string; otherReason: string; knobs(flag: string): ShimKnobs }> = [
  { name: 'fdatasync of data.mdb fails with EIO', reason: 'io', otherReason: 'no-space', knobs: (flag) => ({ syncFailFile: flag }) },
  { name: 'page writes to data.mdb fail with ENOSPC', reason: 'no-space', otherReason: 'io', knobs: (flag) => ({ writeEnospcFile: flag }) },
];

for (const variant of VARIANTS) {
  test(`${variant.name}: nothing more is acked, health is 503 on commit, failures are counted, serve exits 1 after ${EXIT_MS} ms; every ack survives`, async () => {
    const flag = path.join(tmpDir('tributary-disk-fault-'), 'failing');
    const broker = await startServe({ configYaml: `durability: { commitFailureExitMs: ${EXIT_MS} }\n`, env: shimEnv(variant.knobs(flag)) });
    const tag = variant.reason;
    const publishers = await startPublishers(broker.mqttUrl, tag);
    let exitedAt = Number.POSITIVE_INFINITY;
    void broker.exited.then(() => (exitedAt = Date.now()));
    try {
      await until('acks while the disk is healthy', () => publishers.acks.length >= 50);
      await new Promise((resolve) => setTimeout(resolve, HEALTHY_MS));
      assert.equal((await fetch(`http://127.0.0.1:${broker.httpPort}/healthz`)).status, 200, 'healthy before the fault');

      const failFrom = Date.now();
      fs.writeFileSync(flag, '');
      const watch = observe(broker, variant.reason, variant.otherReason);
      const code = await Promise.race([broker.exited, new Promise<'running'>((resolve) => setTimeout(() => resolve('running'), EXIT_MS + EXIT_SLACK_MS + 1_000))]);
      watch.stop();
      if (code === 'running') await broker.kill();
      const { observed } = watch;

      const late = publishers.acks.filter((a) => a.ackedAt > failFrom + GRACE_MS);
      assert.deepEqual(late.map((a) => a.payload), [], 'no PUBACK arrives once commits fail');
      assert.ok(publishers.sent.size > publishers.acks.length, 'publishes were waiting for an ack while commits failed');
      assert.ok(observed.health503 !== null, '/healthz answered 503 while commits failed');
      assert.ok(observed.health503.some((c) => c.name === 'commit'), `the failing checks name "commit": ${JSON.stringify(observed.health503)}`);
      assert.ok(observed.failures >= 2, `tributary_log_commit_failures_total{reason="${variant.reason}"} counted the failure and a retry (saw ${observed.failures})`);
      assert.equal(observed.otherFailures, 0, `no failure was counted as reason "${variant.otherReason}"`);
      assert.ok(broker.lines.some((l) => l.msg === FAILURE_LOG), `serve logged "${FAILURE_LOG}"`);
      assert.equal(code, 1, 'serve exits with code 1 when commits keep failing');
      assert.ok(broker.lines.some((l) => l.msg === EXIT_LOG), `serve logged "${EXIT_LOG}"`);
      const exitAfterMs = exitedAt - failFrom;
      assert.ok(exitAfterMs >= EXIT_MS - 200 && exitAfterMs <= EXIT_MS + EXIT_SLACK_MS, `serve exited ${exitAfterMs} ms after commits began to fail (commitFailureExitMs ${EXIT_MS})`);
      assert.ok(exitAfterMs - GRACE_MS > 1_000, 'the window without acks lasted over a second');
    } finally {
      publishers.close();
      await broker.kill();
    }
    await assertLogHoldsAcked(broker.dataDir, publishers.acks);
  });
}

test('a disk that recovers within commitFailureExitMs: the failed group is retried and acked, health turns green, nothing is lost', async () => {
  const flag = path.join(tmpDir('tributary-disk-fault-'), 'failing');
  const broker = await startServe({ configYaml: 'durability: { commitFailureExitMs: 20000 }\n', env: shimEnv({ syncFailFile: flag }) });
  const publishers = await startPublishers(broker.mqttUrl, 'recover');
  const base = `http://127.0.0.1:${broker.httpPort}`;
  try {
    await until('acks while the disk is healthy', () => publishers.acks.length >= 50);
    const failFrom = Date.now();
    fs.writeFileSync(flag, '');
    await until('a 503 naming commit', async () => {
      const res = await fetch(`${base}/healthz`);
      const body = (await res.json()) as { checks: Array<{ name: string; ok: boolean }> };
      return res.status === 503 && body.checks.some((c) => c.name === 'commit' && !c.ok);
    });
    await until('two failed attempts counted', async () => metricValue(await broker.metrics(), 'tributary_log_commit_failures_total{reason="io"}') >= 2);
    const recoverAt = Date.now();
    assert.deepEqual(publishers.acks.filter((a) => a.ackedAt > failFrom + GRACE_MS).map((a) => a.payload), [], 'no PUBACK while commits fail');
    fs.rmSync(flag);
    const before = publishers.acks.length;
    await until('acks again', () => publishers.acks.length >= before + 100);
    // The publishes that waited through the failure were in the retried group: acked once it committed.
    assert.ok(publishers.acks.some((a) => a.sentAt < recoverAt && a.ackedAt >= recoverAt), 'a publish sent before the recovery is acked after it');
    await until('health back to 200', async () => (await fetch(`${base}/healthz`)).status === 200);
  } finally {
    publishers.close();
  }
  assert.equal(await broker.stop(), 0);
  await assertLogHoldsAcked(broker.dataDir, publishers.acks);
});
