/**
 * Bad input never brings serve's Kafka API down. 100,000 frames go to a running serve over thousands
 * of connections, to a plain and to a `sasl: true` listener: real request frames recorded from
 * kafkajs, @platformatic/kafka, kcat and the Java console consumer through a proxy (fuzz-corpus.ts),
 * then mutated (bit flips, byte stomps, int16/int32 length fields set to extremes, truncations,
 * garbage appended, api key and version replaced), plus random frames, huge and negative sizes, sizes
 * that lie, raw random bytes; and one client that pipelines requests and never reads. Each connection
 * gets a burst of frames and is dropped when serve closes it or goes quiet.
 *
 * Then: serve's process is alive, a stock consumer (kafkajs) still reads every record, serve's RSS
 * stayed bounded, and `tributary_kafka_api_bad_input_total` counted at least every connection that
 * opened with an oversized frame. The seed (FUZZ_SEED to replay) and the counts are printed.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { Kafka, logLevel } from 'kafkajs';
import { runCli } from '../helpers/cli.js';
import { tmpDir } from '../helpers/tmp.js';
import { until } from '../helpers/until.js';
import { MqttFeed, serveYaml, startKafkaApi, type KafkaApiServe } from './harness.js';
import { byApi, recordCorpus } from './fuzz-corpus.js';
import { prng } from './helpers/fuzz.js';

const framesTotal = 100_000;
const concurrency = 48;
const burstMax = 40;
/** A connection serve neither closes nor answers for this long is dropped. */
const quietMs = 60;
const connectionMsMax = 400;
const rssBytesMax = 600 * 1024 * 1024;
const seed = Number(process.env.FUZZ_SEED ?? Date.now() % 2 ** 31);
const stream = 'fuzzed';

let serve: KafkaApiServe;
let saslPort = 0;

before(async () => {
  const passwordFile = path.join(tmpDir('ka-fuzz-'), 'passwd');
  assert.equal((await runCli(['passwd', '-c', '-b', passwordFile, 'u', 'p'])).code, 0);
  const yaml = serveYaml('gw-fuzz', [{ name: stream, partitions: 2 }], { extra: `mqtt: { auth: { passwordFile: ${JSON.stringify(passwordFile)} } }` }).replace(
    /listeners: \[\{ ([^}]*) \}\]/,
    'listeners: [{ $1 }, { $1, sasl: true }]',
  );
  serve = await startKafkaApi(yaml);
  assert.equal(serve.listeners.length, 2, `two listeners: ${JSON.stringify(serve.listeners)}`);
  saslPort = (serve.listeners.find((l) => l.sasl) as { port: number }).port;
});

after(async () => {
  await serve?.broker.stop();
});

// A seeded PRNG (mulberry32, helpers/fuzz.ts), so that a failing run can be replayed with FUZZ_SEED.
const random = prng(seed);
const int = (n: number): number => Math.floor(random() * n);
const pick = <T>(xs: readonly T[]): T => xs[int(xs.length)] as T;
const randomBytes = (n: number): Buffer => Buffer.from(Array.from({ length: n }, () => int(256)));

function withSize(body: Buffer): Buffer {
  const size = Buffer.alloc(4);
  size.writeInt32BE(body.length, 0);
  return Buffer.concat([size, body]);
}

const EXTREMES_32 = [0, -1, -2, 1, 0x7fffffff, -0x80000000, 0x10000, 0xffff];
const EXTREMES_16 = [0, -1, 1, 0x7fff, -0x8000, 0xff];

/** One mutation of a real frame, or a made-up one; `kind` says which (for the printed tally). */
function mutate(seedFrames: readonly Buffer[]): { kind: string; bytes: Buffer } {
  const original = pick(seedFrames);
  const body = Buffer.from(original.subarray(4));
  switch (int(11)) {
    case 0: {
      for (let i = 1 + int(4); i > 0; i--) {
        const at = int(body.length);
        if (body.length > 0) body[at] = (body[at] as number) ^ (1 << int(8));
      }
      return { kind: 'bitflip', bytes: withSize(body) };
    }
    case 1: {
      for (let i = 1 + int(8); i > 0; i--) if (body.length > 0) body[int(body.length)] = int(256);
      return { kind: 'stomp', bytes: withSize(body) };
    }
    case 2: {
      if (body.length >= 4) body.writeInt32BE(pick(EXTREMES_32), int(body.length - 3));
      return { kind: 'int32', bytes: withSize(body) };
    }
    case 3: {
      if (body.length >= 2) body.writeInt16BE(pick(EXTREMES_16), int(body.length - 1));
      if (random() < 0.3 && body.length > 0) body[int(body.length)] = pick([0x00, 0x7f, 0x80, 0xff]);
      return { kind: 'int16/varint', bytes: withSize(body) };
    }
    case 4:
      return { kind: 'truncate', bytes: withSize(body.subarray(0, int(body.length))) };
    case 5:
      return { kind: 'append', bytes: withSize(Buffer.concat([body, randomBytes(1 + int(64))])) };
    case 6: {
      if (body.length >= 4) {
        if (random() < 0.5) body.writeInt16BE(int(0x10000) - 0x8000, 0);
        else body.writeInt16BE(random() < 0.5 ? int(0x10000) - 0x8000 : int(20), 2);
      }
      return { kind: 'key/version', bytes: withSize(body) };
    }
    case 7:
      return { kind: 'random', bytes: withSize(randomBytes(int(300))) };
    case 8: {
      // A size that lies: longer or shorter than the bytes that follow.
      const bytes = withSize(body);
      bytes.writeInt32BE(Math.max(0, body.length + pick([-3, -1, 1, 7, 1000])), 0);
      return { kind: 'lying size', bytes };
    }
    case 9:
      return { kind: 'raw bytes', bytes: randomBytes(1 + int(200)) };
    default:
      return { kind: 'real', bytes: withSize(body) };
  }
}

/** Opens with a size no frame may have: serve must refuse it without allocating it. */
function hugeFrame(): Buffer {
  const b = Buffer.alloc(4 + 64);
  b.writeInt32BE(pick([0x7fffffff, 0x40000000, 200 * 1024 * 1024, -1, -0x80000000, -100]), 0);
  randomBytes(64).copy(b, 4);
  return b;
}

interface Tally {
  frames: number;
  connections: number;
  hugeOpeners: number;
  closedByServe: number;
  kinds: Map<string, number>;
}

/** One connection: a burst of frames in one write; resolves when serve closes it or goes quiet. */
function burst(port: number, frames: Buffer[], tally: Tally): Promise<void> {
  return new Promise((resolve) => {
    const socket = net.connect(port, '127.0.0.1');
    let quiet: NodeJS.Timeout | undefined;
    const done = (): void => {
      clearTimeout(quiet);
      clearTimeout(cap);
      socket.destroy();
      resolve();
    };
    const cap = setTimeout(done, connectionMsMax);
    const idle = (): void => {
      clearTimeout(quiet);
      quiet = setTimeout(done, quietMs);
    };
    socket.on('connect', () => {
      socket.write(Buffer.concat(frames));
      idle();
    });
    socket.on('data', idle);
    socket.on('error', () => undefined);
    socket.on('end', () => tally.closedByServe++);
    socket.on('close', done);
  });
}

async function fuzz(seedFrames: readonly Buffer[]): Promise<Tally> {
  const tally: Tally = { frames: 0, connections: 0, hugeOpeners: 0, closedByServe: 0, kinds: new Map() };
  const plainPort = Number(serve.bootstrap.split(':')[1]);
  const worker = async (): Promise<void> => {
    while (tally.frames < framesTotal) {
      const frames: Buffer[] = [];
      const n = Math.min(1 + int(burstMax), framesTotal - tally.frames);
      if (random() < 0.03) {
        frames.push(hugeFrame());
        tally.hugeOpeners++;
        tally.kinds.set('huge size', (tally.kinds.get('huge size') ?? 0) + 1);
      }
      while (frames.length < n) {
        const m = mutate(seedFrames);
        frames.push(m.bytes);
        tally.kinds.set(m.kind, (tally.kinds.get(m.kind) ?? 0) + 1);
      }
      tally.frames += frames.length;
      tally.connections++;
      await burst(random() < 0.2 ? saslPort : plainPort, frames, tally);
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  return tally;
}

/** Pipelines `count` ApiVersions and Metadata requests and never reads; resolves once they are written or the socket closes. */
function neverReads(seedFrames: readonly Buffer[], count: number): Promise<{ written: number; closed: boolean }> {
  const requests = seedFrames.filter((f) => f.length >= 8 && [3, 18].includes(f.readInt16BE(4)));
  assert.ok(requests.length > 0, 'the corpus has Metadata or ApiVersions frames');
  return new Promise((resolve) => {
    const socket = net.connect(Number(serve.bootstrap.split(':')[1]), '127.0.0.1');
    socket.pause();
    let written = 0;
    let closed = false;
    const timer = setTimeout(() => {
      socket.destroy();
      resolve({ written, closed });
    }, 5000);
    socket.on('error', () => undefined);
    socket.on('close', () => {
      closed = true;
      clearTimeout(timer);
      resolve({ written, closed });
    });
    socket.on('connect', () => {
      const pump = (): void => {
        while (written < count) {
          written++;
          if (!socket.write(requests[written % requests.length] as Buffer)) return void socket.once('drain', pump);
        }
      };
      pump();
    });
  });
}

function rssBytes(pid: number): number {
  const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = /VmRSS:\s+(\d+) kB/.exec(status)?.[1];
  return Number(kb) * 1024;
}

function badInputTotal(metrics: string): { total: number; lines: string[] } {
  const lines = metrics.split('\n').filter((l) => l.startsWith('tributary_kafka_api_bad_input_total'));
  return { total: lines.reduce((s, l) => s + Number(l.slice(l.lastIndexOf(' ') + 1)), 0), lines };
}

test(`${framesTotal} random and mutated frames: serve stays up, answers a real client, counts the bad input`, async () => {
  const feed = await MqttFeed.open(serve.broker.mqttUrl, 2);
  const published = await feed.publishMany(['fuzzed/a', 'fuzzed/b', 'fuzzed/c'], 30, 'fz');
  await feed.close();
  const started = Date.now();
  const corpus = await recordCorpus({ host: '127.0.0.1', port: Number(serve.bootstrap.split(':')[1]) }, stream, published.length);
  const seedFrames = [...corpus.values()].flat();
  console.log(`fuzz seed ${seed}; corpus of ${seedFrames.length} frames in ${Date.now() - started} ms: ${[...corpus].map(([c, f]) => `${c} ${f.length}`).join(', ')}`);
  console.log(`corpus by api key v version: ${[...byApi(corpus)].sort().map(([k, n]) => `${k}×${n}`).join(' ')}`);
  for (const client of ['kafkajs', 'platformatic', 'kcat', 'java']) assert.ok((corpus.get(client)?.length ?? 0) >= 3, `${client} sent frames through the proxy`);

  const badBefore = badInputTotal(await serve.broker.metrics()).total;
  const rssBefore = rssBytes(serve.broker.pid);
  const fuzzStarted = Date.now();
  const [tally, stuck] = await Promise.all([fuzz(seedFrames), neverReads(seedFrames, 200_000)]);
  const fuzzMs = Date.now() - fuzzStarted;
  const rssAfter = rssBytes(serve.broker.pid);
  console.log(`sent ${tally.frames} frames over ${tally.connections} connections in ${fuzzMs} ms; serve closed ${tally.closedByServe}; ${tally.hugeOpeners} opened with a huge size`);
  console.log(`kinds: ${[...tally.kinds].map(([k, n]) => `${k} ${n}`).join(', ')}`);
  console.log(`never-reading client: wrote ${stuck.written} requests, closed by serve: ${stuck.closed}; serve RSS ${(rssBefore / 2 ** 20).toFixed(0)} → ${(rssAfter / 2 ** 20).toFixed(0)} MiB`);

  // Alive, and its process is the same one.
  assert.doesNotThrow(() => process.kill(serve.broker.pid, 0), 'serve is alive');
  assert.ok(rssAfter < rssBytesMax, `serve's RSS ${rssAfter} bytes after the fuzz`);

  // A stock consumer still reads everything.
  const kafka = new Kafka({ clientId: 'after-fuzz', brokers: [serve.bootstrap], logLevel: logLevel.NOTHING });
  const consumer = kafka.consumer({ groupId: 'after-fuzz', sessionTimeout: 6000, heartbeatInterval: 500, maxWaitTimeInMs: 200 });
  const seen = new Set<string>();
  await consumer.connect();
  await consumer.subscribe({ topic: stream, fromBeginning: true });
  await consumer.run({ eachMessage: async ({ partition, message }) => void seen.add(`${partition}:${message.offset}`) });
  try {
    await until('a real client reading every record after the fuzz', () => seen.size >= published.length, 20_000);
  } finally {
    await consumer.disconnect();
  }
  assert.deepEqual([...seen].sort(), published.map((p) => `${p.partition}:${p.offset}`).sort());

  const bad = badInputTotal(await serve.broker.metrics());
  const counted = bad.total - badBefore;
  console.log(`bad input counted: ${counted}\n${bad.lines.join('\n')}`);
  assert.ok(counted >= tally.hugeOpeners, `bad_input_total grew by ${counted}, less than the ${tally.hugeOpeners} connections that opened with an oversized frame`);
  assert.ok(counted >= tally.connections / 10, `bad_input_total grew by ${counted} over ${tally.connections} connections of mostly bad frames`);
  const fatal = serve.broker.lines.filter((l) => l.level === 60 || (typeof l.msg === 'string' && /uncaught|unhandled/i.test(l.msg)));
  assert.deepEqual(fatal, [], 'no fatal or uncaught errors logged');
});
