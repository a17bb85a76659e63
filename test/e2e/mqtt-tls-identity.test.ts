/**
 * TLS client certificates as identities (`useIdentityAsUsername` on a tls listener, Mosquitto's
 * use_identity_as_username), with certificates made by openssl for the test and real mqtt.js clients:
 *  - a certificate the listener's CA signed logs in as its subject CN, with no password, even though
 *    anonymous clients are refused and a password file is configured; a user name and password in the
 *    CONNECT are ignored;
 *  - the ACL applies to that name: its own topic is appended to the log, another device's is not;
 *  - a signed certificate without a CN is refused with return code 5 and counted;
 *  - a certificate from another CA, or none, fails the TLS handshake;
 *  - the listener's files are relative to the config file; one that cannot be read or used stops serve
 *    with exit 2, naming the key and the file.
 */
import test from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { connectAsync, type IClientOptions } from 'mqtt';
import { metricValue, startServe } from '../helpers/broker.js';
import { jsonLines, runCli } from '../helpers/cli.js';
import { tmpDir } from '../helpers/tmp.js';

const ACL = `user sensor-7
topic write sensors/7/#
user alice
topic read sensors/#
`;

function openssl(dir: string, args: string[]): void {
  execFileSync('openssl', args, { cwd: dir, stdio: 'ignore' });
}

/** A CA in `dir`/NAME.{key,pem}. */
function makeCa(dir: string, name: string): void {
  openssl(dir, ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', `${name}.key`, '-out', `${name}.pem`, '-days', '1', '-subj', `/CN=${name}`]);
}

/** A certificate `name`.{key,pem} for `subject`, signed by CA `ca`. */
function makeCert(dir: string, ca: string, name: string, subject: string, ext?: string): void {
  openssl(dir, ['req', '-newkey', 'rsa:2048', '-nodes', '-keyout', `${name}.key`, '-out', `${name}.csr`, '-subj', subject]);
  const extArgs = ext === undefined ? [] : ['-extfile', path.join(dir, `${name}.ext`)];
  if (ext !== undefined) fs.writeFileSync(path.join(dir, `${name}.ext`), ext);
  openssl(dir, ['x509', '-req', '-in', `${name}.csr`, '-CA', `${ca}.pem`, '-CAkey', `${ca}.key`, '-CAcreateserial', '-out', `${name}.pem`, '-days', '1', ...extArgs]);
}

test('a client certificate CN is the user name, the ACL applies to it, and unsigned or nameless certificates are refused', async () => {
  const dir = tmpDir();
  makeCa(dir, 'ca');
  makeCa(dir, 'rogue-ca');
  makeCert(dir, 'ca', 'server', '/CN=127.0.0.1', 'subjectAltName=IP:127.0.0.1\n');
  makeCert(dir, 'ca', 'sensor', '/O=acme/CN=sensor-7');
  makeCert(dir, 'ca', 'nameless', '/O=acme');
  makeCert(dir, 'rogue-ca', 'rogue', '/CN=sensor-7');
  const passwd = path.join(dir, 'passwd');
  execFileSync('mosquitto_passwd', ['-c', '-b', passwd, 'alice', 'a']);
  fs.writeFileSync(path.join(dir, 'acl'), ACL);
  const file = (name: string) => path.join(dir, name);
  // File names relative to the config file, as an operator writes them beside it.
  const config = file('config.yaml');
  fs.writeFileSync(
    config,
    `mqtt:
  listeners:
    - { type: tcp, host: 127.0.0.1, port: 0 }
    - { type: tls, host: 127.0.0.1, port: 0, cert: server.pem, key: server.key, ca: ca.pem, requestCert: true, useIdentityAsUsername: true }
  auth: { passwordFile: passwd, aclFile: acl, allowAnonymous: false }
`,
  );
  const broker = await startServe({ configYaml: config });
  const ready = broker.lines.find((l) => l.msg === 'listening') as { mqtt: Array<{ type: string; port: number }> };
  const tlsUrl = `mqtts://127.0.0.1:${ready.mqtt.find((l) => l.type === 'tls')?.port}`;
  const withCert = (name: string, extra: IClientOptions = {}): IClientOptions => ({
    ca: fs.readFileSync(file('ca.pem')),
    cert: fs.readFileSync(file(`${name}.pem`)),
    key: fs.readFileSync(file(`${name}.key`)),
    reconnectPeriod: 0,
    connectTimeout: 5_000,
    ...extra,
  });
  try {
    const sensor = await connectAsync(tlsUrl, withCert('sensor', { clientId: 'dev-7' }));
    await sensor.publishAsync('sensors/7/temp', 'own', { qos: 1 });
    await sensor.publishAsync('sensors/8/temp', 'not its own', { qos: 1 }); // acked, dropped by the ACL
    await sensor.endAsync();
    // The CONNECT's credentials do not matter: the certificate names the user.
    const claimed = await connectAsync(tlsUrl, withCert('sensor', { clientId: 'dev-7b', username: 'alice', password: 'wrong' }));
    await claimed.publishAsync('sensors/7/hum', 'still sensor-7', { qos: 1 });
    await claimed.endAsync();

    // allowRetries false: a socket closed before CONNACK rejects instead of waiting for a reconnect.
    const refused = await connectAsync(tlsUrl, withCert('nameless', { clientId: 'dev-x' }), false).then(
      (c) => (c.end(true), 'connected'),
      (err: { code?: number }) => err.code,
    );
    assert.equal(refused, 5, 'a certificate without a CN names no user');
    for (const [name, options] of [
      ['another CA', withCert('rogue', { clientId: 'rogue' })],
      ['no certificate', { ca: fs.readFileSync(file('ca.pem')), reconnectPeriod: 0, connectTimeout: 5_000, clientId: 'plain' }],
    ] as const) {
      const outcome = await connectAsync(tlsUrl, options, false).then(
        (c) => (c.end(true), 'connected'),
        (err: Error) => err.message,
      );
      assert.notEqual(outcome, 'connected', `${name}: the handshake must fail`);
    }

    const read = await runCli(['log', 'read', 'default', '--data-dir', broker.dataDir, '--json']);
    const records = jsonLines<{ topic: string; payload: string }>(read.stdout).map((r) => `${r.topic}=${r.payload}`).sort();
    assert.deepEqual(records, ['sensors/7/hum=still sensor-7', 'sensors/7/temp=own']);
    const metrics = await broker.metrics();
    assert.equal(metricValue(metrics, 'tributary_auth_failures_total{reason="no-certificate-identity"}'), 1);
    assert.equal(metricValue(metrics, 'tributary_rejected_publishes_total{reason="not-authorized"}'), 1);
  } finally {
    assert.equal(await broker.stop(), 0);
  }
  fs.rmSync(dir, { recursive: true, force: true });
});

test('a tls listener file that cannot be read or used stops serve with exit 2 naming the key and file', async () => {
  const dir = tmpDir();
  const config = path.join(dir, 'config.yaml');
  fs.writeFileSync(path.join(dir, 'junk.pem'), 'not a certificate\n');
  const serve = (cert: string) => {
    fs.writeFileSync(config, `mqtt:\n  listeners:\n    - { type: tcp, host: 127.0.0.1, port: 0 }\n    - { type: tls, host: 127.0.0.1, port: 0, cert: ${cert}, key: junk.pem }\n`);
    return runCli(['serve', '--config', config, '--data-dir', path.join(dir, 'data'), '--http-port', '0']);
  };
  const missing = await serve('missing.pem');
  assert.equal(missing.code, 2, missing.stderr);
  assert.match(missing.stderr, new RegExp(`mqtt\\.listeners\\[1\\]\\.cert: cannot read ${path.join(dir, 'missing.pem')}`));
  const unusable = await serve('junk.pem');
  assert.equal(unusable.code, 2, unusable.stderr);
  assert.match(unusable.stderr, /mqtt\.listeners\[1\]: cannot use cert .*junk\.pem/);
  fs.rmSync(dir, { recursive: true, force: true });
});

test('useIdentityAsUsername without requestCert and a ca is a config error naming the key', async () => {
  const dir = tmpDir();
  const config = path.join(dir, 'config.yaml');
  fs.writeFileSync(config, 'mqtt:\n  listeners:\n    - { type: tls, host: 127.0.0.1, port: 0, cert: c.pem, key: k.pem, useIdentityAsUsername: true }\n');
  const result = await runCli(['check-config', config]);
  assert.equal(result.code, 2, result.stderr);
  assert.match(result.stderr + result.stdout, /mqtt\.listeners\[0\]\.useIdentityAsUsername: needs requestCert: true and a ca/);
  fs.rmSync(dir, { recursive: true, force: true });
});
