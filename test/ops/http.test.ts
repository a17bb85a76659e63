/**
 * Proves the ops HTTP server on a real socket (port 0): `/metrics` is Prometheus text exposition format
 * 0.0.4 with its content type, checked by a strict parser written here (names, label syntax and
 * escaping, one TYPE per family before its samples, contiguous families, no duplicate series, cumulative
 * histogram buckets ending in +Inf = _count), and holds every metric issue 5 requires with the right
 * TYPE, plus process metrics; `/healthz` is 200 while healthy and 503 listing the failing checks when the
 * log cannot commit or the disk is under its floor; `/api/v1/status` is the status object as JSON;
 * unknown paths are 404, methods other than GET/HEAD 405 with `Allow`; a throwing handler is a 500 that
 * leaves the server up; and `close()` lets a request in flight finish, does not wait for idle keep-alive
 * connections, and frees the port.
 */
import assert from 'node:assert/strict';
import { request } from 'node:http';
import { after, before, test } from 'node:test';
import { evaluateHealth, type HealthInputs } from '../../src/ops/health.js';
import { startHttpServer, type HttpServerHandle } from '../../src/ops/http.js';
import { createLogger } from '../../src/ops/logger.js';
import { REQUIRED_METRIC_NAMES, createMetrics } from '../../src/ops/metrics.js';

const DISK_FLOOR_BYTES = 512 * 1024 * 1024;
const logger = createLogger({ level: 'silent' });
const metrics = createMetrics();
const inputs: HealthInputs = {
  nowMs: Date.now(),
  eventLoopLagMs: 1,
  commit: { failing: false, lastError: null, oldestPendingSinceMs: null },
  diskFreeBytes: 4 * 1024 ** 3,
};
const status = { streams: [{ stream: 'telemetry', partitions: [{ partition: 0, endOffset: 3 }] }], upstream: { state: 'online' } };
let statusFails = false;
let server: HttpServerHandle;
let base: string;

before(async () => {
  metrics.recordIngest('telemetry', 3, 120);
  metrics.recordRejected('topic-invalid');
  metrics.recordDropped('debug', 'disk-pressure', 2);
  metrics.recordCommit(0.002, 3);
  metrics.attach({
    log: {
      partitions: () => [{ stream: 'telemetry', partition: 0, startOffset: 0, endOffset: 3, records: 3, bytes: 120 }],
      diskWrittenBytes: () => 8192,
      writeAmplification: () => 2.5,
    },
    forward: {
      lag: () => [{ stream: 'telemetry', partition: 0, lagRecords: 1, lagSeconds: 0.5 }],
      upstreamUp: () => true,
      state: () => ({ state: 'online', lastError: null, refusal: null }),
      forwardedRecords: () => 0,
    },
    host: {
      latest: () => ({
        diskFreeBytes: 1e9,
        diskTotalBytes: 3e10,
        memAvailableBytes: 5e8,
        memTotalBytes: 1e9,
        cpuLoadPercent: 12,
        cpuTemperatureCelsius: 51.2,
        sampledAt: Date.now(),
      }),
    },
  });
  server = await startHttpServer({
    host: '127.0.0.1',
    port: 0,
    metrics,
    logger,
    health: () => evaluateHealth(inputs, { diskFreeMinBytes: DISK_FLOOR_BYTES, eventLoopLagMaxMs: 1000, commitStallMs: 5000, forwardStallMs: 60_000 }),
    status: async () => {
      if (statusFails) throw new Error('status exploded');
      return status;
    },
  });
  base = `http://127.0.0.1:${server.port}`;
});

after(() => server.close());

test('listens on the port it was given (0 = any) and reports it', () => {
  assert.ok(server.port > 0);
});

test('/metrics is valid Prometheus text holding every required metric', async () => {
  const res = await fetch(`${base}/metrics`);
  assert.equal(res.status, 200);
  assert.match(res.headers.get('content-type') ?? '', /^text\/plain; version=0\.0\.4; charset=utf-8$/);
  const families = parsePrometheusText(await res.text());
  for (const name of REQUIRED_METRIC_NAMES) {
    const family = families.get(name);
    assert.ok(family !== undefined, `missing ${name}`);
    assert.equal(family.type, expectedType(name), name);
    assert.ok(family.samples.length > 0, `${name} has no sample`);
  }
  for (const name of ['process_resident_memory_bytes', 'process_cpu_seconds_total', 'nodejs_eventloop_lag_seconds']) {
    assert.ok(families.has(name), `missing default metric ${name}`);
  }
  const endOffset = families.get('tributary_log_end_offset')?.samples[0];
  assert.deepEqual(endOffset?.labels, { stream: 'telemetry', partition: '0' });
  assert.equal(endOffset?.value, 3);
});

test('/healthz is 200 when healthy, 503 listing the failing check when commits fail or the disk is low', async () => {
  const ok = await fetch(`${base}/healthz`);
  assert.equal(ok.status, 200);
  const okBody = (await ok.json()) as { status: string; checks: Array<{ name: string; ok: boolean }> };
  assert.equal(okBody.status, 'ok');
  assert.ok(okBody.checks.length >= 3 && okBody.checks.every((c) => c.ok));

  inputs.commit = { failing: true, lastError: 'MDB_MAP_FULL', oldestPendingSinceMs: Date.now() };
  await assertUnhealthy(['commit']);
  inputs.commit = { failing: false, lastError: null, oldestPendingSinceMs: null };
  inputs.diskFreeBytes = DISK_FLOOR_BYTES - 1;
  await assertUnhealthy(['disk']);
  inputs.diskFreeBytes = DISK_FLOOR_BYTES;
  assert.equal((await fetch(`${base}/healthz`)).status, 200);
});

async function assertUnhealthy(failing: string[]): Promise<void> {
  const res = await fetch(`${base}/healthz`);
  assert.equal(res.status, 503);
  assert.match(res.headers.get('content-type') ?? '', /^application\/json/);
  const body = (await res.json()) as { status: string; checks: Array<{ name: string; ok: boolean; message: string }> };
  assert.equal(body.status, 'fail');
  assert.deepEqual(body.checks.filter((c) => !c.ok).map((c) => c.name), failing);
}

test('/api/v1/status is the status object as JSON', async () => {
  const res = await fetch(`${base}/api/v1/status?verbose=1`);
  assert.equal(res.status, 200);
  assert.match(res.headers.get('content-type') ?? '', /^application\/json/);
  assert.deepEqual(await res.json(), status);
});

test('unknown path 404, other methods 405 with Allow, HEAD like GET without a body', async () => {
  assert.equal((await fetch(`${base}/nope`)).status, 404);
  assert.equal((await fetch(`${base}/`)).status, 404);
  const post = await fetch(`${base}/metrics`, { method: 'POST', body: 'x' });
  assert.equal(post.status, 405);
  assert.equal(post.headers.get('allow'), 'GET, HEAD');
  assert.equal((await fetch(`${base}/healthz`, { method: 'DELETE' })).status, 405);
  const head = await fetch(`${base}/healthz`, { method: 'HEAD' });
  assert.equal(head.status, 200);
  assert.equal(await head.text(), '');
});

test('a throwing handler answers 500 and the server stays up', async () => {
  statusFails = true;
  try {
    assert.equal((await fetch(`${base}/api/v1/status`)).status, 500);
  } finally {
    statusFails = false;
  }
  assert.equal((await fetch(`${base}/api/v1/status`)).status, 200);
});

test('close() lets a request in flight finish, ignores idle keep-alive connections, frees the port', async () => {
  let release: () => void = () => undefined;
  const slow = await startHttpServer({
    host: '127.0.0.1',
    port: 0,
    metrics,
    logger,
    closeTimeoutMs: 5_000,
    health: () => evaluateHealth(inputs, { diskFreeMinBytes: 0, eventLoopLagMaxMs: 1000, commitStallMs: 5000, forwardStallMs: 60_000 }),
    status: () => new Promise<object>((resolve) => { release = () => resolve({ slow: true }); }),
  });
  const url = `http://127.0.0.1:${slow.port}`;
  assert.equal((await fetch(`${url}/healthz`)).status, 200); // leaves an idle keep-alive connection
  const inFlight = getBody(`${url}/api/v1/status`);
  await new Promise((resolve) => setTimeout(resolve, 50));
  const started = Date.now();
  const closed = slow.close();
  setTimeout(() => release(), 100);
  assert.deepEqual(JSON.parse(await inFlight), { slow: true });
  await closed;
  assert.ok(Date.now() - started < 2_000, 'close waited for an idle connection');
  await assert.rejects(fetch(`${url}/healthz`));
});

test('the parser used above rejects malformed exposition text (so passing it means something)', () => {
  const bad = [
    'x 1', // no trailing newline
    'x{a="1"} 1\n# TYPE x gauge\n', // TYPE after samples
    '# TYPE x gauge\n# TYPE x gauge\n', // TYPE twice
    '# TYPE x gauge\nx{a="\\q"} 1\n', // bad escape
    '# TYPE x gauge\nx{a="1",a="2"} 1\n', // duplicate label
    '# TYPE x gauge\nx 1\nx 2\n', // duplicate series
    '# TYPE x gauge\ny 1\n', // sample outside its family
    '# TYPE x gauge\nx one\n', // bad value
    '# TYPE h histogram\nh_bucket{le="1"} 3\nh_bucket{le="+Inf"} 2\nh_count 2\nh_sum 1\n', // not cumulative
    '# TYPE h histogram\nh_bucket{le="1"} 1\nh_count 1\nh_sum 1\n', // no +Inf bucket
  ];
  for (const text of bad) assert.throws(() => parsePrometheusText(text), assert.AssertionError, JSON.stringify(text));
  const good = '# HELP x a "gauge"\n# TYPE x gauge\nx{a="q\\"\\\\\\n"} -1.5e3\n# TYPE h histogram\nh_bucket{le="1"} 1\nh_bucket{le="+Inf"} 2\nh_sum 3\nh_count 2\n';
  assert.deepEqual(parsePrometheusText(good).get('x')?.samples[0]?.labels, { a: 'q"\\\n' });
});

function getBody(url: string): Promise<string> {
  return new Promise((resolve, reject) => {
    request(url, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (body += chunk));
      res.on('end', () => resolve(body));
    })
      .on('error', reject)
      .end();
  });
}

function expectedType(name: string): string {
  if (name.endsWith('_total')) return 'counter';
  if (name === 'tributary_commit_duration_seconds' || name === 'tributary_commit_records') return 'histogram';
  return 'gauge';
}

// ---- a strict parser for the Prometheus text exposition format 0.0.4 ----

interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

interface Family {
  name: string;
  type: string;
  samples: Sample[];
}

const METRIC_NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;
const TYPES = new Set(['counter', 'gauge', 'histogram', 'summary', 'untyped']);

function parsePrometheusText(text: string): Map<string, Family> {
  assert.ok(text.endsWith('\n'), 'text must end with a newline');
  const families = new Map<string, Family>();
  const seenSeries = new Set<string>();
  const helped = new Set<string>();
  let current: Family | null = null;
  text.slice(0, -1).split('\n').forEach((line, index) => {
    const where = `line ${index + 1}: ${line}`;
    if (line === '') return;
    const meta = /^# (HELP|TYPE) (\S+) ?(.*)$/.exec(line);
    if (meta !== null) {
      const [, kind, name = '', rest = ''] = meta;
      assert.match(name, METRIC_NAME, where);
      if (kind === 'HELP') {
        assert.ok(!helped.has(name), `second HELP, ${where}`);
        helped.add(name);
        return;
      }
      assert.ok(TYPES.has(rest), `bad type, ${where}`);
      assert.ok(!families.has(name), `second TYPE or TYPE after samples, ${where}`);
      current = { name, type: rest, samples: [] };
      families.set(name, current);
      return;
    }
    if (line.startsWith('#')) return;
    const sample = parseSample(line, where);
    const family: Family | null = current;
    assert.ok(family !== null && belongsTo(sample.name, family), `sample outside its family, ${where}`);
    const series = `${sample.name}${JSON.stringify(Object.entries(sample.labels).sort())}`;
    assert.ok(!seenSeries.has(series), `duplicate series, ${where}`);
    seenSeries.add(series);
    family.samples.push(sample);
  });
  for (const family of families.values()) if (family.type === 'histogram') checkHistogram(family);
  return families;
}

function belongsTo(sampleName: string, family: Family): boolean {
  if (family.type === 'histogram') return ['_bucket', '_sum', '_count'].some((s) => sampleName === family.name + s);
  if (family.type === 'summary') return [family.name, `${family.name}_sum`, `${family.name}_count`].includes(sampleName);
  return sampleName === family.name;
}

function parseSample(line: string, where: string): Sample {
  const match = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})? (\S+)( -?\d+)?$/.exec(line);
  assert.ok(match !== null, `bad sample, ${where}`);
  const [, name = '', , labelText = '', valueText = ''] = match;
  const value = parseValue(valueText, where);
  return { name, labels: parseLabels(labelText, where), value };
}

/** As Prometheus reads values (Go's ParseFloat): NaN and Inf in any case; prom-client writes `Nan`. */
function parseValue(text: string, where: string): number {
  if (/^\+?inf$/i.test(text)) return Infinity;
  if (/^-inf$/i.test(text)) return -Infinity;
  if (/^nan$/i.test(text)) return NaN;
  assert.match(text, /^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$/, `bad value, ${where}`);
  return Number(text);
}

function parseLabels(text: string, where: string): Record<string, string> {
  const labels: Record<string, string> = {};
  const pair = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\\n]|\\[\\"n])*)"(,|$)/y;
  while (pair.lastIndex < text.length) {
    const start = pair.lastIndex;
    const match = pair.exec(text);
    assert.ok(match !== null, `bad labels at ${start}, ${where}`);
    const [, name = '', raw = ''] = match;
    assert.match(name, LABEL_NAME, where);
    assert.ok(!(name in labels), `duplicate label ${name}, ${where}`);
    labels[name] = raw.replace(/\\(["\\n])/g, (_m, c: string) => (c === 'n' ? '\n' : c));
  }
  return labels;
}

function checkHistogram(family: Family): void {
  const bySeries = new Map<string, Array<{ le: number; count: number }>>();
  const counts = new Map<string, number>();
  for (const s of family.samples) {
    const { le, ...rest } = s.labels;
    const key = JSON.stringify(Object.entries(rest).sort());
    if (s.name.endsWith('_count')) counts.set(key, s.value);
    if (!s.name.endsWith('_bucket')) continue;
    assert.ok(le !== undefined, `${family.name} bucket without le`);
    bySeries.set(key, [...(bySeries.get(key) ?? []), { le: parseValue(le, family.name), count: s.value }]);
  }
  for (const [key, buckets] of bySeries) {
    for (let i = 1; i < buckets.length; i += 1) {
      const prev = buckets[i - 1];
      const cur = buckets[i];
      assert.ok(prev !== undefined && cur !== undefined && cur.le > prev.le && cur.count >= prev.count, `${family.name} buckets not cumulative`);
    }
    const last = buckets[buckets.length - 1];
    assert.equal(last?.le, Infinity, `${family.name} lacks le="+Inf"`);
    assert.equal(last?.count, counts.get(key), `${family.name} +Inf bucket != _count`);
  }
}
