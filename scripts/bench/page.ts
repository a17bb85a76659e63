/**
 * bench:page — what the status page costs: bytes on first load, and serve's CPU while a page is open
 * against no page open.
 *
 * One `serve` (deployed V8 flags, temp data dir, no upstream) takes a light steady load (BENCH_PAGE_RATE
 * QoS 1 messages/s, default 20, from this process) for the whole run, so the page has numbers to
 * show. Phases of BENCH_PAGE_SECONDS (default 30) alternate: no page, then Debian's Chromium (headless)
 * with the page open, twice. serve's CPU (user + system, all threads, /proc/PID/stat) over each phase
 * is divided by its wall time; this process and the browser are not counted.
 *
 * Page weight: the bytes Chromium received (encodedDataLength, headers included) for every response
 * from navigation until the first status poll has rendered, with an empty cache. Then the bytes per
 * minute the open page keeps pulling (its poll of /api/v1/status every 2 s).
 *
 * BENCH_PAGE_SCREENSHOT=FILE saves a screenshot of the page at the end of the last open phase.
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { connectAsync } from 'mqtt';
import { launchBrowser, openPage } from '../../test/helpers/browser.js';
import { CLI, cpuSeconds, SERVE_NODE_FLAGS, sleep, stopper } from './brokers.js';

const PHASE_S = Number(process.env.BENCH_PAGE_SECONDS ?? 30);
const RATE = Number(process.env.BENCH_PAGE_RATE ?? 20);
if (!(PHASE_S >= 5) || !(RATE >= 0)) throw new Error(`BENCH_PAGE_SECONDS must be >= 5 and BENCH_PAGE_RATE >= 0 (got ${PHASE_S}, ${RATE})`);

async function startServe(): Promise<{ pid: number; mqttPort: number; httpPort: number; stop(): Promise<void>; dataDir: string }> {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'bench-page-'));
  const child = spawn(process.execPath, [...SERVE_NODE_FLAGS, CLI, 'serve', '--data-dir', dataDir, '--mqtt-port', '0', '--http-port', '0'], { stdio: ['ignore', 'pipe', 'inherit'] });
  const ready = await new Promise<{ mqtt: Array<{ port: number }>; http: number }>((resolve, reject) => {
    let buffered = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => {
      buffered += d;
      const line = buffered.split('\n').find((l) => l.includes('"msg":"listening"'));
      if (line !== undefined) resolve(JSON.parse(line) as { mqtt: Array<{ port: number }>; http: number });
    });
    child.once('exit', (code) => reject(new Error(`serve exited (${code}) before it was ready`)));
  });
  const stop = stopper(child);
  return { pid: child.pid as number, mqttPort: (ready.mqtt[0] as { port: number }).port, httpPort: ready.http, dataDir, stop: async () => { await stop(); fs.rmSync(dataDir, { recursive: true, force: true }); } };
}

async function cpuPercentOver(pid: number, seconds: number): Promise<number> {
  const cpu0 = cpuSeconds(pid);
  const t0 = performance.now();
  await sleep(seconds * 1000);
  return ((cpuSeconds(pid) - cpu0) / ((performance.now() - t0) / 1000)) * 100;
}

const kb = (n: number): string => `${(n / 1000).toFixed(1)} kB`;

async function main(): Promise<void> {
  const serve = await startServe();
  const origin = `http://127.0.0.1:${serve.httpPort}`;
  const client = await connectAsync(`mqtt://127.0.0.1:${serve.mqttPort}`, { clientId: 'bench-page' });
  let publishing = true;
  const load = (async () => {
    for (let i = 0; publishing; i++) {
      await client.publishAsync(`sensors/s${i % 8}/telemetry`, JSON.stringify({ i, t: Date.now(), v: Math.random() }), { qos: 1 });
      await sleep(1000 / Math.max(RATE, 0.001));
    }
  })();
  const browser = await launchBrowser();
  try {
    await sleep(2000);
    const idle: number[] = [];
    const open: number[] = [];
    let weight = 0;
    let perMinute = 0;
    for (let round = 0; round < 2; round++) {
      idle.push(await cpuPercentOver(serve.pid, PHASE_S));
      const w = await openPage(browser, origin);
      await w.page.goto(`${origin}/`, { waitUntil: 'load' });
      await w.page.waitForSelector('#conn[data-state="live"]');
      if (round === 0) {
        weight = [...w.bytes.values()].reduce((a, b) => a + b, 0);
        for (const [url, n] of w.bytes) console.log(`  first load  ${url.slice(origin.length).padEnd(16)} ${kb(n)}`);
      }
      const before = [...w.bytes.values()].reduce((a, b) => a + b, 0);
      const t0 = performance.now();
      open.push(await cpuPercentOver(serve.pid, PHASE_S));
      perMinute = (([...w.bytes.values()].reduce((a, b) => a + b, 0) - before) / ((performance.now() - t0) / 1000)) * 60;
      if (round === 1 && process.env.BENCH_PAGE_SCREENSHOT) {
        await w.page.setViewport({ width: 1000, height: 900 });
        await w.page.screenshot({ path: process.env.BENCH_PAGE_SCREENSHOT, fullPage: true });
        console.log(`screenshot: ${process.env.BENCH_PAGE_SCREENSHOT}`);
      }
      if (w.errors.length > 0 || w.foreign.length > 0) throw new Error(`page errors ${JSON.stringify(w.errors)}, foreign requests ${JSON.stringify(w.foreign)}`);
      await w.page.close();
    }
    const fmt = (xs: number[]): string => xs.map((x) => `${x.toFixed(2)} %`).join(', ');
    console.log(`page weight, first load: ${kb(weight)} (goal <= 100 kB); open page then pulls ${kb(perMinute)}/min`);
    console.log(`serve CPU at ${RATE} msg/s, ${PHASE_S} s phases: no page ${fmt(idle)}; page open ${fmt(open)}`);
  } finally {
    publishing = false;
    await load;
    await client.endAsync();
    await browser.close();
    await serve.stop();
  }
}

await main();
