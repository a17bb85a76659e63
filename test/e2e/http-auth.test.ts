/**
 * HTTP authentication end to end, against a real `tributary serve` (port 0, on 127.0.0.1):
 * - with `http.auth.bearerTokenFile`, `/metrics`, `/api/v1/status` and any other path (unknown ones
 *   too: nothing is routed before the check; only the status page's own files are served without
 *   credentials, test/e2e/status-page.test.ts) answer 401 with `WWW-Authenticate: Bearer realm=...` and a
 *   JSON error without the token or with a wrong one, and 200 with the right one; `/healthz` stays open;
 *   a refusal leaves at least 1 s later while a good request is served at once; refusals are counted in
 *   `tributary_http_auth_failures_total{reason}` and logged, and no token ever reaches serve's log;
 * - with `http.auth.passwordFile` made by the real `mosquitto_passwd` ($7$ and $6$) as well, Basic
 *   works for its users and a wrong password or unknown user is 401, both challenges are offered, the
 *   token still passes, and `tributary status --user` works with TRIBUTARY_HTTP_PASSWORD;
 * - SIGHUP swaps the token without a restart (old refused, new accepted); a damaged token file keeps
 *   the token in force and is logged with file and line; a damaged MQTT password file in the same
 *   reload does not stop the HTTP files from reloading;
 * - a token file, certificate or key that cannot be read or used stops serve with exit code 2, naming
 *   the key and the file.
 */
import test from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { httpGet, type HttpGetResult } from '../../src/cli/http-get.js';
import { metricValue, startServe, type RunningBroker } from '../helpers/broker.js';
import { runCli } from '../helpers/cli.js';
import { tmpDir } from '../helpers/tmp.js';
import { until } from '../helpers/until.js';

const TOKEN = 'tok-0123456789abcdef0123456789abcdef';
const WRONG = 'tok-wrong-wrong-wrong-wrong-wrong';

function get(broker: RunningBroker, route: string, authorization?: string): Promise<HttpGetResult & { ms: number }> {
  const t0 = Date.now();
  const headers: Record<string, string> = authorization === undefined ? {} : { authorization };
  return httpGet(`http://127.0.0.1:${broker.httpPort}${route}`, { headers }).then((r) => ({ ...r, ms: Date.now() - t0 }));
}

const basic = (user: string, password: string): string => `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;
const logged = (broker: RunningBroker, msg: string): Array<Record<string, unknown>> => broker.lines.filter((l) => l.msg === msg);

test('bearer token: /healthz open, every other path 401 with a Bearer challenge until the right token, delayed, counted, never logged', async () => {
  const dir = tmpDir();
  const tokenFile = path.join(dir, 'token');
  fs.writeFileSync(tokenFile, `# the scraper's token\n${TOKEN}\n`);
  const broker = await startServe({ configYaml: `http: { host: 127.0.0.1, auth: { bearerTokenFile: ${tokenFile} } }\n` });
  try {
    assert.equal((await get(broker, '/healthz')).status, 200);
    for (const route of ['/metrics', '/api/v1/status', '/no-such-path']) {
      const res = await get(broker, route);
      assert.equal(res.status, 401, route);
      assert.equal(res.headers['www-authenticate'], 'Bearer realm="tributary"');
      assert.match(String(res.headers['content-type']), /^application\/json/);
      assert.deepEqual(JSON.parse(res.body), { error: 'not authenticated' });
    }
    const wrong = get(broker, '/api/v1/status', `Bearer ${WRONG}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
    const meanwhile = await get(broker, '/api/v1/status', `Bearer ${TOKEN}`);
    assert.equal(meanwhile.status, 200);
    assert.ok(meanwhile.ms < 900, `a good request waited ${meanwhile.ms} ms behind a refused one`);
    assert.equal(JSON.parse(meanwhile.body).gateway, 'gw-01');
    const refused = await wrong;
    assert.equal(refused.status, 401);
    assert.ok(refused.ms >= 1_000, `refused after ${refused.ms} ms`);
    assert.equal((await get(broker, '/metrics', 'Basic YWxpY2U6YQ==')).status, 401, 'Basic is not configured');
    assert.equal((await get(broker, '/no-such-path', `Bearer ${TOKEN}`)).status, 404);

    const metrics = await get(broker, '/metrics', `bearer ${TOKEN}`);
    assert.equal(metrics.status, 200);
    assert.equal(metricValue(metrics.body, 'tributary_http_auth_failures_total{reason="missing"}'), 3);
    assert.equal(metricValue(metrics.body, 'tributary_http_auth_failures_total{reason="bad-token"}'), 1);
    assert.equal(metricValue(metrics.body, 'tributary_http_auth_failures_total{reason="scheme"}'), 1);
    assert.equal(logged(broker, 'http request refused: not authenticated').length, 5);
    assert.ok(!broker.lines.some((l) => /open to the network/.test(String(l.msg))), 'warned although credentials are required');
  } finally {
    assert.equal(await broker.stop(), 0);
  }
  const log = JSON.stringify(broker.lines);
  assert.ok(!log.includes(TOKEN) && !log.includes(WRONG), 'a token reached the log');
});

test('Basic against a mosquitto_passwd file beside the token: either passes, wrong ones 401 with both challenges; status --user', async () => {
  const dir = tmpDir();
  const tokenFile = path.join(dir, 'token');
  const passwd = path.join(dir, 'passwd');
  fs.writeFileSync(tokenFile, `${TOKEN}\n`);
  execFileSync('mosquitto_passwd', ['-c', '-b', passwd, 'alice', 'a-secret:with colon']);
  execFileSync('mosquitto_passwd', ['-H', 'sha512', '-b', passwd, 'bob', 'b-secret']);
  const broker = await startServe({ configYaml: `http: { host: 127.0.0.1, auth: { bearerTokenFile: ${tokenFile}, passwordFile: ${passwd} } }\n` });
  try {
    assert.equal((await get(broker, '/metrics', basic('alice', 'a-secret:with colon'))).status, 200);
    assert.equal((await get(broker, '/api/v1/status', basic('bob', 'b-secret'))).status, 200);
    assert.equal((await get(broker, '/api/v1/status', `Bearer ${TOKEN}`)).status, 200);
    const wrong = await get(broker, '/metrics', basic('alice', 'guessed-wrong'));
    assert.equal(wrong.status, 401);
    assert.ok(wrong.ms >= 1_000, `refused after ${wrong.ms} ms`);
    assert.deepEqual(wrong.headers['www-authenticate'], 'Bearer realm="tributary", Basic realm="tributary", charset="UTF-8"');
    assert.equal((await get(broker, '/metrics', basic('mallory', 'b-secret'))).status, 401);
    assert.equal((await get(broker, '/healthz')).status, 200);

    const url = `http://127.0.0.1:${broker.httpPort}`;
    const status = await runCli(['status', '--url', url, '--user', 'bob', '--json'], { TRIBUTARY_HTTP_PASSWORD: 'b-secret' });
    assert.equal(status.code, 0, status.stderr);
    assert.equal(JSON.parse(status.stdout).gateway, 'gw-01');
    const refused = await runCli(['status', '--url', url, '--user', 'bob'], { TRIBUTARY_HTTP_PASSWORD: 'not-bobs' });
    assert.equal(refused.code, 1);
    assert.match(refused.stderr, /answered HTTP 401: the credentials were refused/);
    assert.ok(!refused.stderr.includes('not-bobs'));
    const anonymous = await runCli(['status', '--url', url]);
    assert.equal(anonymous.code, 1);
    assert.match(anonymous.stderr, /HTTP 401: not authenticated \(give --token-file, TRIBUTARY_HTTP_TOKEN or --user\)/);

    const metrics = (await get(broker, '/metrics', `Bearer ${TOKEN}`)).body;
    assert.equal(metricValue(metrics, 'tributary_http_auth_failures_total{reason="bad-password"}'), 2);
    assert.equal(metricValue(metrics, 'tributary_http_auth_failures_total{reason="unknown-user"}'), 1);
    const users = logged(broker, 'http request refused: not authenticated').map((l) => l.user);
    assert.deepEqual(users, ['alice', 'mallory', 'bob', undefined]);
  } finally {
    assert.equal(await broker.stop(), 0);
  }
  const log = JSON.stringify(broker.lines);
  for (const secret of ['a-secret', 'guessed-wrong', 'b-secret', 'not-bobs', TOKEN]) assert.ok(!log.includes(secret), `${secret} reached the log`);
});

test('SIGHUP swaps the token without a restart; a damaged token file keeps the one in force; MQTT and HTTP files reload apart', async () => {
  const dir = tmpDir();
  const tokenFile = path.join(dir, 'token');
  const mqttPasswd = path.join(dir, 'mqtt-passwd');
  const next = 'tok-next-fedcba9876543210fedcba98';
  fs.writeFileSync(tokenFile, `${TOKEN}\n`);
  execFileSync('mosquitto_passwd', ['-c', '-b', mqttPasswd, 'sensor', 's']);
  const broker = await startServe({ configYaml: `mqtt: { auth: { passwordFile: ${mqttPasswd} } }\nhttp: { host: 127.0.0.1, auth: { bearerTokenFile: ${tokenFile} } }\n` });
  const loads = (): number => logged(broker, 'http credentials loaded').length;
  try {
    assert.equal(loads(), 1);
    assert.equal((await get(broker, '/metrics', `Bearer ${TOKEN}`)).status, 200);
    fs.writeFileSync(tokenFile, `${next}\n`);
    process.kill(broker.pid, 'SIGHUP');
    await until('the reload', () => loads() === 2);
    assert.equal((await get(broker, '/metrics', `Bearer ${TOKEN}`)).status, 401, 'the old token is refused');
    assert.equal((await get(broker, '/metrics', `Bearer ${next}`)).status, 200, 'the new token passes');

    fs.writeFileSync(tokenFile, `${next}\nshort-token\n`);
    process.kill(broker.pid, 'SIGHUP');
    await until('the failed reload', () => logged(broker, 'reload failed: the previous rules stay in force').length === 1);
    assert.match(String(logged(broker, 'reload failed: the previous rules stay in force')[0]?.error), /token:2: a token is at least 16 characters/);
    assert.equal((await get(broker, '/metrics', `Bearer ${next}`)).status, 200, 'the token in force stays');

    // One damaged file (MQTT's) does not keep the other part (HTTP's) from reloading.
    fs.writeFileSync(tokenFile, `${TOKEN}\n`);
    fs.appendFileSync(mqttPasswd, 'broken-line\n');
    process.kill(broker.pid, 'SIGHUP');
    await until('the half-failed reload', () => logged(broker, 'reload failed: the previous rules stay in force').length === 2);
    assert.equal(loads(), 3);
    assert.match(String(logged(broker, 'reload failed: the previous rules stay in force')[1]?.error), /mqtt-passwd:2: expected user:hash/);
    assert.equal((await get(broker, '/metrics', `Bearer ${TOKEN}`)).status, 200);
  } finally {
    assert.equal(await broker.stop(), 0);
  }
  const log = JSON.stringify(broker.lines);
  for (const secret of [TOKEN, next, 'short-token']) assert.ok(!log.includes(secret), `${secret} reached the log`);
});

test('a token file, certificate or key that cannot be read or used stops serve with exit 2, naming key and file', async () => {
  const dir = tmpDir();
  const garbage = path.join(dir, 'garbage.pem');
  fs.writeFileSync(garbage, 'not a certificate\n');
  const missing = path.join(dir, 'missing');
  const cases: Array<[string, RegExp]> = [
    [`http: { auth: { bearerTokenFile: ${missing} } }`, new RegExp(`http\\.auth\\.bearerTokenFile: cannot read ${missing} \\(ENOENT\\)`)],
    [`http: { auth: { passwordFile: ${missing} } }`, new RegExp(`http\\.auth\\.passwordFile: cannot read ${missing} \\(ENOENT\\)`)],
    [`http: { tls: { cert: ${missing}, key: ${garbage} } }`, new RegExp(`http\\.tls\\.cert: cannot read ${missing} \\(ENOENT\\)`)],
    [`http: { tls: { cert: ${garbage}, key: ${missing} } }`, new RegExp(`http\\.tls\\.key: cannot read ${missing} \\(ENOENT\\)`)],
    [`http: { tls: { cert: ${garbage}, key: ${garbage} } }`, new RegExp(`http\\.tls: cannot use cert ${garbage} with key ${garbage}`)],
  ];
  for (const [yaml, message] of cases) {
    const config = path.join(dir, 'config.yaml');
    fs.writeFileSync(config, `${yaml}\n`);
    const result = await runCli(['serve', '--config', config, '--data-dir', path.join(dir, 'data'), '--mqtt-port', '0', '--http-port', '0']);
    assert.equal(result.code, 2, `${yaml}: ${result.stderr}`);
    assert.match(result.stderr, message);
  }
});
