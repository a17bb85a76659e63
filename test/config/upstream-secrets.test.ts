/**
 * The upstream's security settings: `upstream.kafka.tls` (ca/cert/key files, servername, rejectUnauthorized,
 * or `tls: true`) and `upstream.kafka.sasl` (mechanism, username, passwordFile) parse and have their file
 * names resolved against the config file's folder; the files are read whole (one trailing newline off the
 * password); TRIBUTARY_KAFKA_PASSWORD wins over passwordFile; every unreadable or unusable file, a lone cert
 * or key, and a sasl section without any password are a ConfigError naming the key and the file — and
 * `serve` and `check-config` exit 2 with that message. The password is never in what `check-config`
 * prints (plain or --json), nor in a Secret's JSON, string or inspect form.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { inspect } from 'node:util';
import test from 'node:test';
import { loadConfig, parseConfig } from '../../src/config/load.js';
import { readUpstreamSecurity, sameUpstreamSecurity, Secret } from '../../src/config/upstream-secrets.js';
import { ConfigError } from '../../src/errors.js';
import { runCli } from '../helpers/cli.js';
import { tmpDir } from '../helpers/tmp.js';

const password = `pw-${process.pid}-Zq8`;

/** A folder with a self-signed CA, a key and cert from it, a password file, and a config naming them relatively. */
function fixture(sasl = 'passwordFile: secret/kafka.password'): { dir: string; file: string } {
  const dir = tmpDir('tributary-secrets-');
  fs.mkdirSync(path.join(dir, 'tls'));
  fs.mkdirSync(path.join(dir, 'secret'));
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '2'];
  execFileSync('openssl', ['req', '-x509', ...ec, '-keyout', path.join(dir, 'tls/ca.key'), '-out', path.join(dir, 'tls/ca.pem'), '-subj', '/CN=test-ca'], { stdio: 'ignore' });
  execFileSync('openssl', ['req', '-x509', ...ec, '-keyout', path.join(dir, 'tls/client.key'), '-out', path.join(dir, 'tls/client.pem'), '-subj', '/CN=test-client'], { stdio: 'ignore' });
  fs.writeFileSync(path.join(dir, 'secret/kafka.password'), `${password}\n`);
  const file = path.join(dir, 'tributary.yaml');
  fs.writeFileSync(
    file,
    `upstream:
  kafka:
    brokers: ["kafka-1:9093"]
    tls: { ca: tls/ca.pem, cert: tls/client.pem, key: tls/client.key, servername: kafka.internal }
    sasl: { mechanism: scram-sha-512, username: gw-01, ${sasl} }
`,
  );
  return { dir, file };
}

function configError(fn: () => unknown, keyPath: string, message: RegExp): void {
  assert.throws(fn, (err: unknown) => {
    assert.ok(err instanceof ConfigError, String(err));
    assert.equal(err.path, keyPath, err.message);
    assert.match(err.message, message);
    assert.ok(!err.message.includes(password), 'never the password');
    return true;
  });
}

test('tls and sasl parse, their files resolve against the config file and are read whole', () => {
  const { dir, file } = fixture();
  const kafka = loadConfig(file, {}, {}).upstream.kafka;
  assert.ok(kafka);
  assert.deepEqual(kafka.tls, { ca: path.join(dir, 'tls/ca.pem'), cert: path.join(dir, 'tls/client.pem'), key: path.join(dir, 'tls/client.key'), servername: 'kafka.internal', rejectUnauthorized: true });
  assert.deepEqual(kafka.sasl, { mechanism: 'scram-sha-512', username: 'gw-01', passwordFile: path.join(dir, 'secret/kafka.password') });
  const security = readUpstreamSecurity(kafka, {});
  assert.equal(security?.sasl?.password.reveal(), password, 'the trailing newline is not part of the password');
  assert.equal(security?.sasl?.passwordSource, `passwordFile ${path.join(dir, 'secret/kafka.password')}`);
  assert.deepEqual(security?.tls?.ca, fs.readFileSync(path.join(dir, 'tls/ca.pem')));
  assert.equal(security?.tls?.servername, 'kafka.internal');
  assert.ok(sameUpstreamSecurity(security, readUpstreamSecurity(kafka, {})), 'the same files read twice are the same');
  fs.writeFileSync(path.join(dir, 'secret/kafka.password'), 'other\r\n');
  const changed = readUpstreamSecurity(kafka, {});
  assert.equal(changed?.sasl?.password.reveal(), 'other', 'CRLF is stripped too');
  assert.equal(sameUpstreamSecurity(security, changed), false);
});

test('TRIBUTARY_KAFKA_PASSWORD wins over passwordFile and stands in for it', () => {
  const { file } = fixture();
  const kafka = loadConfig(file, {}, {}).upstream.kafka;
  assert.ok(kafka);
  const fromEnv = readUpstreamSecurity(kafka, { TRIBUTARY_KAFKA_PASSWORD: 'from-env' });
  assert.equal(fromEnv?.sasl?.password.reveal(), 'from-env');
  assert.equal(fromEnv?.sasl?.passwordSource, 'TRIBUTARY_KAFKA_PASSWORD');
  assert.equal(readUpstreamSecurity(kafka, { TRIBUTARY_KAFKA_PASSWORD: '' })?.sasl?.password.reveal(), password, 'empty counts as unset');
  const { file: noFile } = fixture('');
  const bare = loadConfig(noFile, {}, {}).upstream.kafka;
  assert.ok(bare);
  assert.equal(readUpstreamSecurity(bare, { TRIBUTARY_KAFKA_PASSWORD: 'from-env' })?.sasl?.password.reveal(), 'from-env');
  configError(() => readUpstreamSecurity(bare, {}), 'upstream.kafka.sasl.passwordFile', /no password for gw-01: give passwordFile or set TRIBUTARY_KAFKA_PASSWORD/);
});

test('tls: true is TLS with the system CAs; false is none', () => {
  const kafka = parseConfig({ upstream: { kafka: { brokers: ['k:9093'], tls: true } } }).upstream.kafka;
  assert.deepEqual(kafka?.tls, { rejectUnauthorized: true });
  assert.deepEqual(readUpstreamSecurity(kafka ?? { tls: undefined, sasl: undefined }, {}), { tls: { rejectUnauthorized: true, files: {} } });
  assert.equal(parseConfig({ upstream: { kafka: { brokers: ['k:9093'], tls: false } } }).upstream.kafka?.tls, undefined);
  assert.equal(readUpstreamSecurity({ tls: undefined, sasl: undefined }, {}), undefined, 'no tls, no sasl: plaintext');
});

test('bad security settings are ConfigErrors naming the key and the file', () => {
  const { dir, file } = fixture();
  const kafka = loadConfig(file, {}, {}).upstream.kafka;
  assert.ok(kafka);
  const missing = path.join(dir, 'nope.pem');
  configError(() => readUpstreamSecurity({ ...kafka, tls: { ...kafka.tls, rejectUnauthorized: true, ca: missing } }, {}), 'upstream.kafka.tls.ca', new RegExp(`cannot read ${missing} \\(ENOENT\\)`));
  configError(() => readUpstreamSecurity({ ...kafka, sasl: { mechanism: 'plain', username: 'u', passwordFile: missing } }, {}), 'upstream.kafka.sasl.passwordFile', new RegExp(`cannot read ${missing}`));
  configError(() => readUpstreamSecurity({ ...kafka, tls: { rejectUnauthorized: true, ca: path.join(dir, 'tls/client.key') } }, {}), 'upstream.kafka.tls.ca', /client\.key holds no certificate/);
  configError(
    () => readUpstreamSecurity({ ...kafka, tls: { rejectUnauthorized: true, cert: path.join(dir, 'tls/ca.pem'), key: path.join(dir, 'tls/client.key') } }, {}),
    'upstream.kafka.tls',
    /cannot use these files \(cert .*ca\.pem, key .*client\.key\).*key values mismatch/,
  );
  fs.writeFileSync(path.join(dir, 'secret/empty'), '\n');
  configError(() => readUpstreamSecurity({ ...kafka, sasl: { mechanism: 'plain', username: 'u', passwordFile: path.join(dir, 'secret/empty') } }, {}), 'upstream.kafka.sasl.passwordFile', /is empty/);
  configError(() => parseConfig({ upstream: { kafka: { brokers: ['k:1'], tls: { cert: 'c.pem' } } } }), 'upstream.kafka.tls.key', /needs both cert and key/);
  configError(() => parseConfig({ upstream: { kafka: { brokers: ['k:1'], sasl: { mechanism: 'gssapi', username: 'u' } } } }), 'upstream.kafka.sasl.mechanism', /plain|scram/);
  configError(() => parseConfig({ upstream: { kafka: { brokers: ['k:1'], sasl: { mechanism: 'plain', username: 'u', password: 'inline' } } } }), 'upstream.kafka.sasl.password', /unknown key/);
});

test('serve and check-config exit 2 on an unreadable file; check-config never prints the password', async () => {
  const { dir, file } = fixture();
  const shown = await runCli(['check-config', file]);
  assert.equal(shown.code, 0, shown.stderr);
  assert.match(shown.stdout, /SASL scram-sha-512 as gw-01 \(password from passwordFile .*kafka\.password\)/);
  const json = await runCli(['check-config', '--json', file]);
  assert.equal(json.code, 0, json.stderr);
  assert.match(json.stdout, /"passwordFile"/);
  for (const out of [shown.stdout, shown.stderr, json.stdout, json.stderr]) assert.ok(!out.includes(password), `password printed: ${out}`);

  fs.rmSync(path.join(dir, 'secret/kafka.password'));
  const check = await runCli(['check-config', file]);
  assert.equal(check.code, 2, check.stderr);
  assert.match(check.stderr, /upstream\.kafka\.sasl\.passwordFile: cannot read .*secret\/kafka\.password \(ENOENT\)/);
  // Bounded: a serve that wrongly starts would otherwise run on.
  const serve = await runCli(['serve', '--config', file, '--data-dir', path.join(dir, 'data'), '--mqtt-port', '0', '--http-port', '0'], {}, 15_000);
  assert.equal(serve.code, 2, serve.stderr);
  assert.match(serve.stderr, /upstream\.kafka\.sasl\.passwordFile: cannot read .*secret\/kafka\.password/);
  const fromEnv = await runCli(['check-config', file], { TRIBUTARY_KAFKA_PASSWORD: 'x' });
  assert.equal(fromEnv.code, 2, 'a named passwordFile must be readable even while the environment overrides it');
});

test('a Secret never prints', () => {
  const secret = new Secret(password);
  const holder = { sasl: { password: secret } };
  for (const text of [JSON.stringify(holder), String(secret), `${secret}`, inspect(holder, { depth: 5 }), inspect(secret, { showHidden: true })]) {
    assert.ok(!text.includes(password), text);
  }
  assert.equal(secret.reveal(), password);
});
