/**
 * The status page at `GET /`, in a real browser (Debian's Chromium, headless, test/helpers/browser.ts)
 * against a real `tributary serve`:
 * - the page and its files come with a Content-Security-Policy that allows only the gateway's own
 *   scripts and styles; the page runs under it with no JavaScript error and requests nothing from any
 *   other origin;
 * - after MQTT publishes, the stream table shows each stream's record count, and the ingest rate
 *   changes without a reload (the page polls /api/v1/status); a publish to a wildcard topic shows
 *   among the rejected, by reason; without a Kafka API there is no "Kafka consumers" section
 *   (status-page-kafka.test.ts shows it with one);
 * - with the upstream pointed at a closed port, it shows the upstream down and a backlog that grows
 *   as more is published;
 * - with `storage.diskFreeMinBytes` above the free space, the disk check is red, with its message,
 *   and the records dropped under that pressure show by stream and reason;
 * - when serve goes away the page says it is stale; when the connection drops and comes back (a TCP
 *   proxy in between, cut and restored) it goes stale and then live again without a reload; a
 *   screenshot is saved (its path printed);
 * - before any record is sent, an upstream that accepts connections but never answers shows
 *   "connecting…" (not "up"), and a closed port shows "down" with its error;
 * - with `http.auth.passwordFile`, the page and its files answer 401 without credentials, like
 *   /api/v1/status, and the page works with them (the browser's own login);
 * - with `http.auth.bearerTokenFile`, the page's files load without credentials while /api/v1/status
 *   and /metrics still answer 401; the page asks for the token, says so when a wrong one is refused, goes
 *   live with the right one, keeps it across a reload (sessionStorage) and asks again in a fresh session;
 *   the only console errors are Chromium's lines for the two refused polls.
 * Drain rate, time to drain and flash wear come from the status report (test/ops/status.test.ts); a real
 * Kafka stopped and restarted, and a refused SASL login, are in status-page-upstream.test.ts.
 */
import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { connectAsync, type MqttClient } from 'mqtt';
import type { Browser, Page } from 'puppeteer-core';
import { httpGet } from '../../src/cli/http-get.js';
import { launchBrowser, openPage } from '../helpers/browser.js';
import { RawClient, startServe } from '../helpers/broker.js';
import { tmpDir } from '../helpers/tmp.js';
import { until } from '../helpers/until.js';
import { freePort } from '../helpers/ports.js';

let browser: Browser;
before(async () => {
  browser = await launchBrowser();
});
after(async () => {
  await browser?.close();
});

/** A TCP relay to `port` that can be cut (connections destroyed, new ones refused) and restored. */
async function relay(port: number): Promise<{ port: number; cut(): void; restore(): void; close(): void }> {
  let open = true;
  const sockets = new Set<net.Socket>();
  const server = net.createServer((inbound) => {
    if (!open) return inbound.destroy();
    const outbound = net.connect(port, '127.0.0.1');
    for (const s of [inbound, outbound]) {
      sockets.add(s);
      s.on('close', () => sockets.delete(s));
      s.on('error', () => undefined);
    }
    inbound.pipe(outbound).pipe(inbound);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const cut = (): void => {
    open = false;
    for (const s of sockets) s.destroy();
  };
  return { port: (server.address() as net.AddressInfo).port, cut, restore: () => (open = true), close: () => { cut(); server.close(); } };
}

const attr = (page: Page, selector: string, name: string): Promise<string | null> => page.$eval(selector, (e, n) => e.getAttribute(n), name);
const textOf = (page: Page, selector: string): Promise<string> => page.$eval(selector, (e) => e.textContent ?? '');

async function publish(client: MqttClient, topic: string, n: number): Promise<void> {
  for (let i = 0; i < n; i++) await client.publishAsync(topic, `{"i":${i}}`, { qos: 1 });
}

test('stream counts, live rate, upstream down with growing lag, CSP, no errors, nothing off the gateway', async () => {
  const port = await freePort();
  const broker = await startServe({
    configYaml: `
upstream: { kafka: { brokers: ["127.0.0.1:${port}"] } }
streams:
  - { name: telemetry, match: ["t/#"], partitions: 2 }
  - { name: alarms, match: ["a/#"], partitions: 1 }
`,
  });
  const origin = `http://127.0.0.1:${broker.httpPort}`;
  const client = await connectAsync(broker.mqttUrl, { clientId: 'page' });
  try {
    const head = await httpGet(`${origin}/`);
    assert.equal(head.status, 200);
    const csp = String(head.headers['content-security-policy']);
    assert.match(csp, /default-src 'self'/);
    assert.doesNotMatch(csp, /unsafe-inline|unsafe-eval/);
    for (const file of ['/page.js', '/page.css']) assert.equal((await httpGet(`${origin}${file}`)).headers['content-security-policy'], csp, file);

    await publish(client, 't/1', 30);
    await publish(client, 'a/1', 7);
    const w = await openPage(browser, origin);
    await w.page.goto(`${origin}/`, { waitUntil: 'load' });
    const records = (stream: string): Promise<string | null> => attr(w.page, `#streams tr.total[data-stream="${stream}"]`, 'data-records');
    await until('the stream table shows 30 and 7 records', async () => (await w.page.$('#streams tr.total[data-stream="alarms"]')) !== null && (await records('telemetry')) === '30' && (await records('alarms')) === '7');
    assert.match(await textOf(w.page, '#streams tr.total[data-stream="telemetry"]'), /^telemetry230/);

    // The rate moves without a reload: publish a burst and watch the msg/s figure change.
    const rateBefore = Number(await attr(w.page, '#msg-rate', 'data-value'));
    const backlogBefore = Number(await attr(w.page, '#backlog', 'data-records'));
    await publish(client, 't/2', 200);
    await until('msg/s rises', async () => Number(await attr(w.page, '#msg-rate', 'data-value')) > rateBefore + 1, 10_000, 100);
    await until('telemetry shows 230 records', async () => (await records('telemetry')) === '230', 10_000, 100);

    // Upstream down from the start: the page says so and the backlog grows with the publishes.
    assert.equal(await attr(w.page, '#upstream-state', 'data-state'), 'offline');
    assert.equal(await textOf(w.page, '#upstream-state'), 'down');
    assert.equal(backlogBefore, 37);
    await until('backlog grows to 237', async () => Number(await attr(w.page, '#backlog', 'data-records')) === 237, 10_000, 100);
    assert.match(await textOf(w.page, '#upstream-brokers'), new RegExp(`127\\.0\\.0\\.1:${port}`));
    assert.match(await textOf(w.page, '#drain-time'), /^not draining \(backlog \+/);
    assert.equal(await textOf(w.page, '#drain-rate'), '0 records/s');
    assert.match(await textOf(w.page, '#upstream-error'), /^UPSTREAM_UNREACHABLE: /);
    assert.match(await textOf(w.page, '#wear'), /^\d[\d,.]* [KMG]?i?B\/day written at the current rate$/);
    assert.match(await textOf(w.page, '#ingest-total'), /^237 records/);
    assert.equal(await textOf(w.page, '#rejected'), 'none');
    assert.equal(await w.page.$eval('#kafka-section', (s) => (s as HTMLElement).hidden && getComputedStyle(s).display === 'none'), true, 'no Kafka API configured: no Kafka consumers section');
    const { client: raw } = await RawClient.connect(broker.mqttPort, { clientId: 'wild' });
    raw.send({ cmd: 'publish', topic: 't/+', payload: Buffer.from('x'), qos: 0, retain: false, dup: false });
    await until('the wildcard publish shows as rejected', async () => (await textOf(w.page, '#rejected')) === 'invalid-topic: 1', 10_000, 100);
    raw.destroy();

    const shot = path.join(tmpDir('tributary-page-'), 'status-page.png');
    await w.page.screenshot({ path: shot, fullPage: true });
    console.log(`# status page screenshot: ${shot}`);
    if (process.env.TRIBUTARY_PAGE_SCREENSHOT) fs.copyFileSync(shot, process.env.TRIBUTARY_PAGE_SCREENSHOT);

    assert.deepEqual(w.errors, []);
    assert.deepEqual(w.foreign, []);

    // serve gone: the page says it is stale instead of showing old numbers as live.
    await client.endAsync();
    assert.equal(await broker.stop(), 0);
    await until('the page says stale', async () => (await attr(w.page, '#conn', 'data-state')) === 'stale', 10_000, 100);
    assert.match(await textOf(w.page, '#conn'), /^stale: .*last update/);
    assert.equal(await w.page.$eval('body', (b) => b.classList.contains('stale')), true, 'the numbers are dimmed');
    await w.page.close();
  } finally {
    if (client.connected) await client.endAsync();
    await broker.stop();
  }
});

test('disk under its floor: the disk check is red with its message; a dropped connection goes stale and recovers', async () => {
  const broker = await startServe({ configYaml: 'storage: { diskFreeMinBytes: 1000TiB }\n' });
  const origin = `http://127.0.0.1:${broker.httpPort}`;
  const client = await connectAsync(broker.mqttUrl, { clientId: 'disk' });
  try {
    await publish(client, 'sensors/1', 50);
    const w = await openPage(browser, origin, { width: 390, height: 844, dark: true });
    await w.page.goto(`${origin}/`, { waitUntil: 'load' });
    await until('disk check shown', async () => (await w.page.$('#health li[data-check="disk"]')) !== null);
    assert.equal(await attr(w.page, '#health li[data-check="disk"]', 'data-ok'), 'false');
    assert.equal(await attr(w.page, '#health li[data-check="disk"]', 'class'), 'bad');
    assert.match(await textOf(w.page, '#health li[data-check="disk"]'), / free on the data filesystem \(floor \d+(\.\d)? [KMGT]?i?B\)/);
    const color = await w.page.$eval('#health li[data-check="disk"]', (e) => getComputedStyle(e).color);
    assert.equal(color, 'rgb(248, 81, 73)', 'red, in the dark scheme');
    assert.equal(await attr(w.page, '#health li[data-check="event-loop"]', 'data-ok'), 'true');
    // Free disk comes from the host monitor, whose first sample lands ~0.5 s after start.
    await until('free disk shown below its floor', async () => (await attr(w.page, '#disk-free', 'class')) === 'bad-text', 10_000, 100);
    await until('disk.free drops shown', async () => /^default disk\.free: \d+/.test(await textOf(w.page, '#dropped')), 10_000, 100);
    assert.deepEqual(w.errors, []);
    assert.deepEqual(w.foreign, []);
    await w.page.close();

    // The connection drops and comes back: stale, then live again, same page, no reload.
    const link = await relay(broker.httpPort);
    try {
      const r = await openPage(browser, `http://127.0.0.1:${link.port}`);
      await r.page.goto(`http://127.0.0.1:${link.port}/`, { waitUntil: 'load' });
      await until('live through the relay', async () => (await attr(r.page, '#conn', 'data-state')) === 'live');
      await r.page.evaluate(() => document.body.setAttribute('data-loaded-once', 'yes'));
      link.cut();
      await until('stale while cut', async () => (await attr(r.page, '#conn', 'data-state')) === 'stale', 15_000, 100);
      link.restore();
      await until('live again', async () => (await attr(r.page, '#conn', 'data-state')) === 'live', 15_000, 100);
      assert.equal(await attr(r.page, 'body', 'data-loaded-once'), 'yes', 'the same page, not a reload');
      assert.equal(await r.page.$eval('body', (b) => b.classList.contains('stale')), false);
      await r.page.close();
    } finally {
      link.close();
    }
  } finally {
    await client.endAsync();
    await broker.stop();
  }
});

test('http.auth: the page and its files need the credentials /api/v1/status needs', async () => {
  const dir = tmpDir();
  const passwd = path.join(dir, 'passwd');
  const { execFileSync } = await import('node:child_process');
  execFileSync('mosquitto_passwd', ['-c', '-b', passwd, 'tech', 'field-pass-1']);
  const broker = await startServe({ configYaml: `http: { host: 127.0.0.1, auth: { passwordFile: ${passwd} } }\n` });
  const origin = `http://127.0.0.1:${broker.httpPort}`;
  try {
    for (const route of ['/', '/page.js', '/page.css', '/api/v1/status']) assert.equal((await httpGet(`${origin}${route}`)).status, 401, route);
    const w = await openPage(browser, origin);
    await w.page.authenticate({ username: 'tech', password: 'field-pass-1' });
    await w.page.goto(`${origin}/`, { waitUntil: 'load' });
    await until('the page is live', async () => (await attr(w.page, '#conn', 'data-state')) === 'live');
    assert.equal(await textOf(w.page, '#gateway'), 'gw-01');
    assert.deepEqual(w.errors, []);
    await w.page.close();
  } finally {
    await broker.stop();
  }
});

test('before any record is sent: an upstream that never answers is "connecting", a closed port is "down"', async () => {
  // Accepts TCP and never says a word: the client waits for its first answer (requestTimeoutMs).
  const silent = net.createServer(() => undefined);
  const held = new Set<net.Socket>();
  silent.on('connection', (s) => held.add(s.on('close', () => held.delete(s))));
  await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
  const silentPort = (silent.address() as net.AddressInfo).port;
  const quiet = await startServe({ configYaml: `upstream: { kafka: { brokers: ["127.0.0.1:${silentPort}"], requestTimeoutMs: 60000 } }\n` });
  const down = await startServe({ configYaml: `upstream: { kafka: { brokers: ["127.0.0.1:${await freePort()}"] } }\n` });
  try {
    await until('serve connected to the silent upstream', () => held.size > 0);
    const q = await openPage(browser, `http://127.0.0.1:${quiet.httpPort}`);
    await q.page.goto(`http://127.0.0.1:${quiet.httpPort}/`, { waitUntil: 'load' });
    await until('the page is live', async () => (await attr(q.page, '#conn', 'data-state')) === 'live');
    assert.equal(await attr(q.page, '#upstream-state', 'data-state'), 'connecting');
    assert.equal(await textOf(q.page, '#upstream-state'), 'connecting…');
    assert.equal(await attr(q.page, '#upstream-state', 'class'), 'badge muted', 'neither green nor red: nobody knows yet');
    assert.equal(await textOf(q.page, '#backlog'), '0 records, oldest 0 s');
    const status = JSON.parse((await httpGet(`http://127.0.0.1:${quiet.httpPort}/api/v1/status`)).body) as { upstream: { state: string; lastError: string | null } };
    assert.deepEqual([status.upstream.state, status.upstream.lastError], ['connecting', null]);
    assert.match(await quiet.metrics(), /^tributary_upstream_up 0$/m);

    const d = await openPage(browser, `http://127.0.0.1:${down.httpPort}`);
    await d.page.goto(`http://127.0.0.1:${down.httpPort}/`, { waitUntil: 'load' });
    await until('down without a record sent', async () => (await attr(d.page, '#upstream-state', 'data-state')) === 'offline', 10_000, 100);
    assert.equal(await textOf(d.page, '#upstream-state'), 'down');
    assert.match(await textOf(d.page, '#upstream-error'), /^UPSTREAM_UNREACHABLE: Kafka connect to 127\.0\.0\.1:\d+ failed/);
    assert.equal(await textOf(d.page, '#backlog'), '0 records, oldest 0 s');
    for (const w of [q, d]) {
      assert.deepEqual(w.errors, []);
      assert.deepEqual(w.foreign, []);
      await w.page.close();
    }
  } finally {
    await quiet.stop();
    await down.stop();
    for (const s of held) s.destroy();
    silent.close();
  }
});

test('http.auth bearer token: the page loads without it, asks for it once, and sends it on its polls', async () => {
  const dir = tmpDir();
  const token = 'field-token-0123456789abcdef';
  const tokenFile = path.join(dir, 'token');
  fs.writeFileSync(tokenFile, `${token}\n`);
  const broker = await startServe({ configYaml: `http: { host: 127.0.0.1, auth: { bearerTokenFile: ${tokenFile} } }\n` });
  const origin = `http://127.0.0.1:${broker.httpPort}`;
  try {
    for (const route of ['/', '/page.js', '/page.css', '/favicon.svg']) assert.equal((await httpGet(`${origin}${route}`)).status, 200, `${route}: nothing secret, served open`);
    for (const route of ['/api/v1/status', '/metrics', '/no-such-path']) assert.equal((await httpGet(`${origin}${route}`)).status, 401, route);
    const page = await httpGet(`${origin}/`);
    assert.doesNotMatch(page.body, /gw-01/, 'the open page names no gateway: every figure comes from /api/v1/status');

    const w = await openPage(browser, origin);
    await w.page.goto(`${origin}/`, { waitUntil: 'load' });
    await until('the page asks for the token', async () => (await attr(w.page, '#conn', 'data-state')) === 'login');
    assert.equal(await w.page.$eval('#login', (f) => (f as HTMLFormElement).hidden), false);
    assert.equal(await textOf(w.page, '#gateway'), '…', 'no figure without the token');
    const askedAt = (await w.page.evaluate(() => performance.getEntriesByType('resource').filter((e) => e.name.endsWith('/api/v1/status')).length));
    await new Promise((r) => setTimeout(r, 2500));
    assert.equal(await w.page.evaluate(() => performance.getEntriesByType('resource').filter((e) => e.name.endsWith('/api/v1/status')).length), askedAt, 'no polling while it waits for a token');

    await w.page.type('#token', 'wrong-token-0123456789abcdef');
    await w.page.click('#login button');
    await until('the wrong token is refused', async () => (await textOf(w.page, '#login-error')) === 'the gateway refused that token', 10_000, 100);
    assert.equal(await w.page.evaluate(() => sessionStorage.getItem('tributary.bearerToken')), null, 'a refused token is forgotten');

    await w.page.type('#token', token);
    await w.page.keyboard.press('Enter');
    await until('live with the token', async () => (await attr(w.page, '#conn', 'data-state')) === 'live', 10_000, 100);
    assert.equal(await textOf(w.page, '#gateway'), 'gw-01');
    assert.equal(await w.page.$eval('#login', (f) => (f as HTMLFormElement).hidden), true);
    await w.page.reload({ waitUntil: 'load' });
    await until('live again after a reload, not asked again', async () => (await attr(w.page, '#conn', 'data-state')) === 'live', 10_000, 100);
    assert.equal(await w.page.$eval('#login', (f) => (f as HTMLFormElement).hidden), true);
    // Chromium logs each refused request as a console error: the two polls refused by design, nothing else.
    assert.deepEqual(w.errors.filter((e) => !/status of 401/.test(e)), []);
    assert.equal(w.errors.length, 2, w.errors.join('\n'));
    assert.deepEqual(w.foreign, []);

    // A fresh session (another browser context: sessionStorage is per tab) is asked again.
    const context = await browser.createBrowserContext();
    try {
      const fresh = await context.newPage();
      await fresh.goto(`${origin}/`, { waitUntil: 'load' });
      await until('a fresh session asks', async () => (await attr(fresh, '#conn', 'data-state')) === 'login');
    } finally {
      await context.close();
    }
    const log = JSON.stringify(broker.lines);
    assert.ok(!log.includes(token) && !log.includes('wrong-token'), 'no token in serve\'s log');
    await w.page.close();
  } finally {
    await broker.stop();
  }
});
