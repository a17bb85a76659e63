/**
 * The operations server over HTTPS, against a real `tributary serve` (port 0, on 127.0.0.1), with
 * certificates the openssl CLI made for the test (test/helpers/certs.ts):
 * - with `http.tls` the server speaks HTTPS with the configured certificate: a client that trusts the
 *   test CA gets its answers, one that trusts only the system's CAs is refused by the handshake;
 * - `tributary status` works over HTTPS with a token (`--ca` and `--token-file`, or `--insecure` and
 *   TRIBUTARY_HTTP_TOKEN), fails naming `--ca` without it and naming the token without one, and prints
 *   the token nowhere; serve never logs it;
 * - with `http.tls.requestCert` a client certificate that `http.tls.ca` signed is a credential: 200
 *   with it (status `--cert`/`--key` too), 403 without one or with a stranger's self-signed one, and
 *   `/healthz` is open to clients without a certificate.
 */
import test from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { httpGet, type HttpGetOptions } from '../../src/cli/http-get.js';
import { makeCertificates } from '../helpers/certs.js';
import { startServe } from '../helpers/broker.js';
import { runCli } from '../helpers/cli.js';
import { tmpDir } from '../helpers/tmp.js';

const TOKEN = 'tls-token-0123456789abcdef01234567';

test('HTTPS with the configured certificate; tributary status over it with --ca and a token, never printing the token', async () => {
  const dir = tmpDir();
  const certs = makeCertificates(dir);
  const tokenFile = path.join(dir, 'token');
  fs.writeFileSync(tokenFile, `${TOKEN}\n`);
  const broker = await startServe({
    configYaml: `http: { host: 127.0.0.1, tls: { cert: ${certs.serverCert}, key: ${certs.serverKey} }, auth: { bearerTokenFile: ${tokenFile} } }\n`,
  });
  const url = `https://127.0.0.1:${broker.httpPort}`;
  const ca = fs.readFileSync(certs.ca);
  try {
    const health = await httpGet(`${url}/healthz`, { ca });
    assert.equal(health.status, 200);
    assert.equal(JSON.parse(health.body).status, 'ok');
    await assert.rejects(httpGet(`${url}/healthz`), /self[- ]signed|unable to verify/i, 'the certificate is checked against the CA');
    assert.equal((await httpGet(`${url}/metrics`, { ca })).status, 401);
    assert.equal((await httpGet(`${url}/metrics`, { ca, headers: { authorization: `Bearer ${TOKEN}` } })).status, 200);
    assert.ok(broker.lines.some((l) => l.msg === 'http listening' && l.tls === true));

    const runs = [
      await runCli(['status', '--url', url, '--ca', certs.ca, '--token-file', tokenFile, '--json']),
      await runCli(['status', '--url', url, '--insecure'], { TRIBUTARY_HTTP_TOKEN: TOKEN }),
    ];
    for (const run of runs) assert.equal(run.code, 0, run.stderr);
    assert.equal(JSON.parse(runs[0]?.stdout ?? '').gateway, 'gw-01');
    assert.match(runs[1]?.stdout ?? '', /^gateway gw-01 .* health ok/m);

    const noCa = await runCli(['status', '--url', url, '--token-file', tokenFile]);
    assert.equal(noCa.code, 1);
    assert.match(noCa.stderr, /certificate was not accepted: give --ca FILE/);
    const noToken = await runCli(['status', '--url', url, '--ca', certs.ca]);
    assert.equal(noToken.code, 1);
    assert.match(noToken.stderr, /answered HTTP 401: not authenticated/);
    const wrongToken = await runCli(['status', '--url', url, '--ca', certs.ca], { TRIBUTARY_HTTP_TOKEN: `${TOKEN}-old` });
    assert.equal(wrongToken.code, 1);
    assert.match(wrongToken.stderr, /the credentials were refused/);
    const usage = await runCli(['status', '--url', `http://127.0.0.1:${broker.httpPort}`, '--ca', certs.ca]);
    assert.equal(usage.code, 2);
    assert.match(usage.stderr, /--ca goes with an https:\/\/ --url/);
    for (const run of [...runs, noCa, noToken, wrongToken]) assert.ok(!`${run.stdout}${run.stderr}`.includes(TOKEN), 'status printed the token');
  } finally {
    assert.equal(await broker.stop(), 0);
  }
  assert.ok(!JSON.stringify(broker.lines).includes(TOKEN), 'serve logged the token');
});

test('requestCert: a client certificate the CA signed is a credential; none or a stranger\'s is 403; /healthz open without one', async () => {
  const dir = tmpDir();
  const certs = makeCertificates(dir);
  const broker = await startServe({
    configYaml: `http: { host: 127.0.0.1, tls: { cert: ${certs.serverCert}, key: ${certs.serverKey}, ca: ${certs.ca}, requestCert: true } }\n`,
  });
  const url = `https://127.0.0.1:${broker.httpPort}`;
  const ca = fs.readFileSync(certs.ca);
  const client: HttpGetOptions = { ca, cert: fs.readFileSync(certs.clientCert), key: fs.readFileSync(certs.clientKey) };
  const stranger: HttpGetOptions = { ca, cert: fs.readFileSync(certs.strangerCert), key: fs.readFileSync(certs.strangerKey) };
  try {
    assert.equal((await httpGet(`${url}/healthz`, { ca })).status, 200);
    assert.equal((await httpGet(`${url}/metrics`, client)).status, 200);
    assert.equal((await httpGet(`${url}/api/v1/status`, client)).status, 200);
    for (const options of [{ ca }, stranger]) {
      const res = await httpGet(`${url}/api/v1/status`, options);
      assert.equal(res.status, 403);
      assert.match(JSON.parse(res.body).error, /client certificate signed by http\.tls\.ca/);
    }
    const status = await runCli(['status', '--url', url, '--ca', certs.ca, '--cert', certs.clientCert, '--key', certs.clientKey, '--json']);
    assert.equal(status.code, 0, status.stderr);
    const without = await runCli(['status', '--url', url, '--ca', certs.ca]);
    assert.equal(without.code, 1);
    assert.match(without.stderr, /HTTP 403: a client certificate is required/);
  } finally {
    assert.equal(await broker.stop(), 0);
  }
});
