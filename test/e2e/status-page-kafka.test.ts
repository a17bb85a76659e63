/**
 * The status page's "Kafka consumers" section, in a real browser (Debian's Chromium, headless) against a
 * real `tributary serve` with the local Kafka API, and a stock kafkajs consumer in group `alerting`:
 * - 1,200 records published over MQTT to a stream of two partitions; the consumer reads 100 of each
 *   partition, commits each, and is held there: the page shows the group stable with one member, each
 *   partition's committed offset (100) and lag, and the group's total lag (1,000), numbers formatted
 *   with the browser's thousands separators; `/api/v1/status` and `tributary status` say the same;
 * - released, the consumer reads the rest: the lag goes to 0 on the same page, without a reload;
 * - the consumer leaves: the group shows no members (Empty), its committed offsets kept;
 * - on a phone's width in the dark scheme the section fits the screen, lag column included;
 * - no JavaScript error and no request off the gateway; screenshots are saved (paths printed;
 *   TRIBUTARY_PAGE_SCREENSHOT_DIR keeps them).
 * Without a Kafka API the section is hidden (status-page.test.ts); the report's part is unit-tested in
 * test/ops/status.test.ts and the coordinator's summaries in test/kafka-api/coordinator.test.ts.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { Kafka, logLevel } from 'kafkajs';
import { connectAsync } from 'mqtt';
import type { Browser, Page } from 'puppeteer-core';
import { httpGet } from '../../src/cli/http-get.js';
import { partitionFor } from '../../src/log/index.js';
import type { StatusReport } from '../../src/ops/status.js';
import { launchBrowser, openPage } from '../helpers/browser.js';
import { runCli } from '../helpers/cli.js';
import { tmpDir } from '../helpers/tmp.js';
import { until } from '../helpers/until.js';
import { serveYaml, startKafkaApi, topicsCoveringPartitions, type KafkaApiServe } from '../kafka-api/harness.js';

const STREAM = 'telemetry';
const GROUP = 'alerting';
const PARTITIONS = 2;
const RECORDS = 1200;
/** Records the consumer reads (and commits) of each partition before it is held. */
const HELD_AFTER = 100;

let browser: Browser;
let serve: KafkaApiServe;
before(async () => {
  browser = await launchBrowser();
  serve = await startKafkaApi(serveYaml('gw-ka', [{ name: STREAM, partitions: PARTITIONS }]));
});
after(async () => {
  await browser?.close();
  assert.equal(await serve?.broker.stop(), 0, 'serve exits cleanly');
});

const attr = (page: Page, selector: string, name: string): Promise<string | null> => page.$eval(selector, (e, n) => e.getAttribute(n), name);
const textOf = (page: Page, selector: string): Promise<string> => page.$eval(selector, (e) => e.textContent ?? '');
const cellsOf = (page: Page, selector: string): Promise<string[]> => page.$$eval(`${selector} td`, (tds) => tds.map((td) => td.textContent ?? ''));
/** A full-page screenshot, its path printed; copied into TRIBUTARY_PAGE_SCREENSHOT_DIR when set (the temp dir goes at exit). */
async function screenshot(page: Page, name: string): Promise<void> {
  const shot = path.join(tmpDir('tributary-page-kafka-'), name);
  await page.screenshot({ path: shot, fullPage: true });
  console.log(`# status page screenshot: ${shot}`);
  const dir = process.env.TRIBUTARY_PAGE_SCREENSHOT_DIR;
  if (dir) fs.copyFileSync(shot, path.join(dir, name));
}

/** `n` as the page's own Intl.NumberFormat writes it, in the browser's locale. */
const inBrowser = (page: Page, n: number): Promise<string> => page.evaluate((v) => new Intl.NumberFormat(undefined, { maximumFractionDigits: 0 }).format(v), n);

/** Publishes `count` QoS 1 records over topics spread on every partition, 100 in flight; returns each partition's end offset. */
async function publish(url: string, count: number): Promise<number[]> {
  const client = await connectAsync(url, { clientId: 'ka-page-feed', reconnectPeriod: 0 });
  const topics = topicsCoveringPartitions(STREAM, PARTITIONS, 3);
  const ends = new Array<number>(PARTITIONS).fill(0);
  try {
    for (let i = 0; i < count; i += 100) {
      const batch = Array.from({ length: Math.min(100, count - i) }, (_, j) => topics[(i + j) % topics.length] as string);
      await Promise.all(batch.map((topic, j) => client.publishAsync(topic, `{"i":${i + j}}`, { qos: 1 })));
      for (const topic of batch) ends[partitionFor(topic, PARTITIONS)] = (ends[partitionFor(topic, PARTITIONS)] ?? 0) + 1;
    }
  } finally {
    await client.endAsync();
  }
  return ends;
}

/** A kafkajs consumer in GROUP that commits each record and, per partition, waits after HELD_AFTER until released. */
function heldConsumer(bootstrap: string): { start(): Promise<void>; release(): void; read: number[]; stop(): Promise<void> } {
  const kafka = new Kafka({ clientId: 'ka-page', brokers: [bootstrap], logLevel: logLevel.NOTHING, retry: { retries: 3, initialRetryTime: 100 } });
  const consumer = kafka.consumer({ groupId: GROUP, sessionTimeout: 10_000, heartbeatInterval: 500, rebalanceTimeout: 10_000, maxWaitTimeInMs: 500, maxBytesPerPartition: 16 * 1024 });
  const read = new Array<number>(PARTITIONS).fill(0);
  let released = false;
  return {
    read,
    release: () => (released = true),
    async start() {
      await consumer.connect();
      await consumer.subscribe({ topic: STREAM, fromBeginning: true });
      await consumer.run({
        autoCommit: false,
        partitionsConsumedConcurrently: PARTITIONS,
        eachMessage: async ({ partition, message, heartbeat }) => {
          while (!released && (read[partition] ?? 0) >= HELD_AFTER) {
            await heartbeat();
            await new Promise((r) => setTimeout(r, 200));
          }
          await consumer.commitOffsets([{ topic: STREAM, partition, offset: String(Number(message.offset) + 1) }]);
          read[partition] = (read[partition] ?? 0) + 1;
        },
      });
    },
    stop: () => consumer.disconnect(),
  };
}

test('a kafkajs group on the page: state, members, committed offsets and lag, going to 0 without a reload', async () => {
  const origin = `http://127.0.0.1:${serve.broker.httpPort}`;
  const ends = await publish(serve.broker.mqttUrl, RECORDS);
  assert.equal(ends.reduce((a, b) => a + b, 0), RECORDS);
  assert.ok(ends.every((e) => e > HELD_AFTER), `every partition has more than ${HELD_AFTER} records: ${ends}`);

  const w = await openPage(browser, origin);
  await w.page.goto(`${origin}/`, { waitUntil: 'load' });
  await until('the page is live', async () => (await attr(w.page, '#conn', 'data-state')) === 'live');
  assert.equal(await w.page.$eval('#kafka-section', (s) => (s as HTMLElement).hidden), false, 'shown: the Kafka API is configured');
  assert.equal(await textOf(w.page, '#kafka-listeners'), `listening on ${serve.bootstrap}`);
  assert.equal(await textOf(w.page, '#kafka-groups tbody'), 'no consumer group yet');
  await w.page.evaluate(() => document.body.setAttribute('data-loaded-once', 'yes'));

  const consumer = heldConsumer(serve.bootstrap);
  try {
    await consumer.start();
    const group = `#kafka-groups tr.total[data-group="${GROUP}"]`;
    const heldLag = RECORDS - PARTITIONS * HELD_AFTER;
    await until(`the page shows ${GROUP} held at ${heldLag} records of lag`, async () => (await w.page.$(group)) !== null && (await attr(w.page, group, 'data-lag-records')) === String(heldLag), 30_000, 100);
    assert.deepEqual(consumer.read, [HELD_AFTER, HELD_AFTER]);
    assert.equal(await attr(w.page, group, 'data-state'), 'Stable');
    assert.equal(await attr(w.page, group, 'data-members'), '1');
    assert.deepEqual(await cellsOf(w.page, group), [GROUP, 'stable 1 member', '', await inBrowser(w.page, heldLag)]);
    assert.equal(await attr(w.page, `${group} .badge`, 'class'), 'badge ok');
    for (let p = 0; p < PARTITIONS; p++) {
      const row = `#kafka-groups tr.part[data-group="${GROUP}"][data-partition="${p}"]`;
      assert.deepEqual(await cellsOf(w.page, row), [`  ${STREAM}/${p}`, '', await inBrowser(w.page, HELD_AFTER), await inBrowser(w.page, (ends[p] as number) - HELD_AFTER)], `partition ${p}`);
    }
    assert.match(await inBrowser(w.page, heldLag), /^1\D000$/, 'a thousands separator, whatever the locale');

    // The JSON and `tributary status` say the same.
    const body = (await httpGet(`${origin}/api/v1/status`)).body;
    console.log(`# /api/v1/status with one group of two partitions: ${body.length} bytes, of them kafkaApi ${JSON.stringify(JSON.parse(body).kafkaApi).length}`);
    const report = JSON.parse(body) as StatusReport;
    assert.deepEqual(report.kafkaApi, {
      listeners: serve.listeners,
      groups: [{ group: GROUP, state: 'Stable', members: 1, lagRecords: heldLag, partitions: ends.map((end, p) => ({ stream: STREAM, partition: p, committedOffset: HELD_AFTER, lagRecords: end - HELD_AFTER })) }],
    });
    const shown = await runCli(['status', '--url', origin]);
    assert.equal(shown.code, 0, shown.stderr);
    assert.match(shown.stdout, new RegExp(`^kafka   group ${GROUP}  Stable  1 member  lag ${heldLag} records$`, 'm'));

    // Phone width, dark scheme: the section fits the screen, the lag column included.
    const phone = await openPage(browser, origin, { width: 390, height: 844, dark: true });
    await phone.page.goto(`${origin}/`, { waitUntil: 'load' });
    await until('the phone shows the group', async () => (await phone.page.$(group)) !== null);
    assert.ok((await phone.page.evaluate(() => document.documentElement.scrollWidth)) <= 390, 'no sideways scrolling of the page');
    const box = await phone.page.$eval('#kafka-section', (s) => s.getBoundingClientRect().right);
    assert.ok(box <= 390, `the section ends at ${box} px, inside the screen`);
    const lagCell = await phone.page.$eval(`${group} td:last-child`, (td) => td.getBoundingClientRect().right);
    const widths = await phone.page.$$eval('#kafka-groups th', (ths) => ths.map((t) => `${t.textContent}:${Math.round(t.getBoundingClientRect().width)}`).join(' '));
    assert.ok(lagCell <= box, `the group's lag (ending at ${lagCell} px) is visible without scrolling the table: ${widths}`);
    assert.equal(await phone.page.$eval(`${group} .badge`, (e) => getComputedStyle(e).color), 'rgb(63, 185, 80)', 'green, in the dark scheme');
    await screenshot(phone.page, 'status-page-kafka-phone.png');
    assert.deepEqual(phone.errors, []);
    assert.deepEqual(phone.foreign, []);
    await phone.page.close();

    // Released: it reads the rest, and the lag goes to 0 on the same page.
    consumer.release();
    await until('the page shows the lag at 0', async () => (await attr(w.page, group, 'data-lag-records')) === '0', 30_000, 100);
    assert.deepEqual(consumer.read, ends);
    for (let p = 0; p < PARTITIONS; p++) {
      assert.deepEqual((await cellsOf(w.page, `#kafka-groups tr.part[data-group="${GROUP}"][data-partition="${p}"]`)).slice(2), [await inBrowser(w.page, ends[p] as number), '0']);
    }
  } finally {
    // A held eachMessage would keep disconnect() waiting for ever.
    consumer.release();
    await consumer.stop();
  }

  // Left: no members, the committed offsets kept.
  const group = `#kafka-groups tr.total[data-group="${GROUP}"]`;
  await until('the group shows no members', async () => (await attr(w.page, group, 'data-state')) === 'Empty', 15_000, 100);
  assert.deepEqual(await cellsOf(w.page, group), [GROUP, 'empty 0 members', '', '0']);
  assert.equal(await attr(w.page, `${group} .badge`, 'class'), 'badge muted');
  assert.equal(await attr(w.page, 'body', 'data-loaded-once'), 'yes', 'the same page, never reloaded');
  await screenshot(w.page, 'status-page-kafka.png');
  assert.deepEqual(w.errors, []);
  assert.deepEqual(w.foreign, []);
  await w.page.close();
});
