/**
 * Configuration: sizes and durations parse; every key is optional and defaults match DESIGN.md;
 * unknown keys and bad values are rejected with the key path named; YAML file < environment < flags;
 * the result is frozen; and `tributary check-config` exits 0 for a valid file and 2 naming the bad
 * key for an invalid one.
 */
import test from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { loadConfig, parseConfig } from '../../src/config/load.js';
import { parseDuration, parseSize } from '../../src/config/units.js';
import { topicFilterProblem } from '../../src/config/schema.js';
import { ConfigError } from '../../src/errors.js';
import { runCli } from '../helpers/cli.js';
import { tmpDir } from '../helpers/tmp.js';

test('sizes and durations', () => {
  assert.equal(parseSize('1GiB'), 1024 ** 3);
  assert.equal(parseSize('512MiB'), 512 * 1024 ** 2);
  assert.equal(parseSize('1.5KB'), 1500);
  assert.equal(parseSize(4096), 4096);
  assert.equal(parseSize('4096'), 4096);
  assert.match(String(parseSize('12 parsecs')), /unknown unit "parsecs"/);
  assert.match(String(parseSize('-1')), /expected a size/);
  assert.equal(parseDuration('7d'), 7 * 86_400_000);
  assert.equal(parseDuration('500ms'), 500);
  assert.equal(parseDuration('2h'), 7_200_000);
  assert.match(String(parseDuration('soon')), /expected a duration/);
});

test('defaults follow DESIGN.md and a default stream always exists', () => {
  const c = loadConfig(undefined, {}, {});
  assert.equal(c.dataDir, './data');
  assert.deepEqual(c.mqtt.listeners, [{ type: 'tcp', host: '0.0.0.0', port: 1883 }]);
  assert.equal(c.http.port, 9180);
  assert.equal(c.durability.commitIntervalMs, 5);
  assert.equal(c.upstream.kafka, undefined);
  assert.deepEqual(c.streams.map((s) => [s.name, s.partitions, s.key]), [['default', 4, 'topic']]);
  assert.ok(Object.isFrozen(c) && Object.isFrozen(c.streams) && Object.isFrozen(c.mqtt.listeners[0]));
});

test('the DESIGN.md example parses, with sizes and durations converted', () => {
  const dir = tmpDir();
  const file = path.join(dir, 'tributary.yaml');
  fs.writeFileSync(file, `
gateway: { id: gw-01 }
dataDir: /var/lib/tributary
mqtt:
  listeners: [{ type: tcp, host: 0.0.0.0, port: 1883 }]
  maxPayloadBytes: 262144
durability: { commitIntervalMs: 2, commitBytesMax: 1048576 }
storage: { maxBytes: 4GiB, diskFreeMinBytes: 512MiB }
streams:
  - name: telemetry
    match: ["sensors/+/telemetry/#"]
    partitions: 4
    key: topic-level:1
    retention: { bytes: 1GiB, age: 7d }
    priority: 5
    upstream: { topic: edge.telemetry }
upstream:
  kafka:
    brokers: ["kafka-1:9092"]
    compression: lz4
    batch: { maxRecords: 10000, maxBytes: 1MiB, lingerMs: 50 }
    rateLimitBytesPerSec: 0
http: { host: 0.0.0.0, port: 9180 }
`);
  const c = loadConfig(file, {}, {});
  const telemetry = c.streams[0];
  assert.equal(telemetry?.retention.bytes, 1024 ** 3);
  assert.equal(telemetry?.retention.age, 7 * 86_400_000);
  assert.equal(c.storage.maxBytes, 4 * 1024 ** 3);
  assert.equal(c.upstream.kafka?.batch.maxBytes, 1024 * 1024);
  assert.deepEqual(c.streams.map((s) => s.name), ['telemetry', 'default']);
});

test('file < environment < flags', () => {
  const dir = tmpDir();
  const file = path.join(dir, 'c.yaml');
  fs.writeFileSync(file, 'dataDir: ./here\nhttp: { port: 1000 }\nmqtt: { listeners: [{ type: tcp, port: 1001 }] }\n');
  const fromFile = loadConfig(file, {}, {});
  assert.equal(fromFile.dataDir, path.join(dir, 'here'), 'a relative dataDir is relative to the config file');
  const env = { TRIBUTARY_HTTP_PORT: '2000', TRIBUTARY_MQTT_PORT: '2001', TRIBUTARY_KAFKA_BROKERS: 'k1:9092,k2:9092', TRIBUTARY_GATEWAY_ID: 'gw-env' };
  const fromEnv = loadConfig(file, {}, env);
  assert.equal(fromEnv.http.port, 2000);
  assert.equal(fromEnv.mqtt.listeners[0]?.port, 2001);
  assert.deepEqual(fromEnv.upstream.kafka?.brokers, ['k1:9092', 'k2:9092']);
  assert.equal(fromEnv.gateway.id, 'gw-env');
  const fromFlags = loadConfig(file, { httpPort: 3000, mqttPort: 0, dataDir: '/tmp/x', kafka: 'k3:9092' }, env);
  assert.equal(fromFlags.http.port, 3000);
  assert.equal(fromFlags.mqtt.listeners[0]?.port, 0);
  assert.equal(fromFlags.dataDir, '/tmp/x');
  assert.deepEqual(fromFlags.upstream.kafka?.brokers, ['k3:9092']);
  assert.throws(() => loadConfig(undefined, {}, { TRIBUTARY_MQTT_PORT: 'eighty' }), /TRIBUTARY_MQTT_PORT="eighty" is not a port/);
  assert.throws(() => loadConfig(undefined, { mqttPort: 99999 }, {}), /--mqtt-port must be a port number \(0-65535\), not 99999/);
  assert.throws(() => loadConfig(undefined, { httpPort: -1 }, {}), /--http-port must be a port number \(0-65535\), not -1/);
});

test('the file names under mqtt.auth, http.auth and http.tls are relative to the config file', () => {
  const dir = tmpDir();
  const file = path.join(dir, 'c.yaml');
  fs.writeFileSync(file, `
mqtt: { auth: { passwordFile: passwd, aclFile: /etc/acl } }
http:
  auth: { bearerTokenFile: secrets/token, passwordFile: ../http-passwd }
  tls: { cert: tls/cert.pem, key: tls/key.pem, ca: /etc/ca.pem }
`);
  const c = loadConfig(file, {}, {});
  assert.equal(c.mqtt.auth.passwordFile, path.join(dir, 'passwd'));
  assert.equal(c.mqtt.auth.aclFile, '/etc/acl');
  assert.deepEqual(c.http.auth, { bearerTokenFile: path.join(dir, 'secrets/token'), passwordFile: path.resolve(dir, '../http-passwd') });
  assert.deepEqual(c.http.tls, { cert: path.join(dir, 'tls/cert.pem'), key: path.join(dir, 'tls/key.pem'), ca: '/etc/ca.pem', requestCert: false });
  assert.deepEqual(loadConfig(undefined, {}, {}).http, { host: '0.0.0.0', port: 9180, auth: {} }, 'no auth and no TLS by default');
});

test('invalid values and unknown keys are rejected naming the key path', () => {
  const cases: Array<[unknown, string, RegExp]> = [
    [{ mqtt: { maxPayloadBytes: 'lots' } }, 'mqtt.maxPayloadBytes', /expected a size/],
    [{ streams: [{ name: 's', match: ['a/#'], partitions: 0 }] }, 'streams[0].partitions', />=1/],
    [{ streams: [{ name: 's', match: ['a/#'], colour: 'blue' }] }, 'streams[0].colour', /unknown key/],
    [{ streams: [{ name: 's', match: ['a/#/b'] }] }, 'streams[0].match[0]', /# must be a whole level and the last one/],
    [{ streams: [{ name: 's', match: ['a'] }, { name: 's', match: ['b'] }] }, 'streams[1].name', /duplicate stream name/],
    [{ streams: [{ name: 'bad name', match: ['a'] }] }, 'streams[0].name', /stream name/],
    [{ streams: [{ name: 's', match: ['a'], key: 'payload' }] }, 'streams[0].key', /key is one of/],
    [{ streams: [{ name: 's', match: ['a'], retention: { age: 'forever' } }] }, 'streams[0].retention.age', /expected a duration/],
    [{ upstream: { kafka: { brokers: ['no-port'] } } }, 'upstream.kafka.brokers[0]', /HOST:PORT/],
    [{ upstream: { kafka: { brokers: ['k:1'], compression: 'bzip2' } } }, 'upstream.kafka.compression', /./],
    [{ mqtt: { listeners: [{ type: 'tls', port: 8883 }] } }, 'mqtt.listeners[0].cert', /./],
    [{ mqtt: { listeners: [{ type: 'quic' }] } }, 'mqtt.listeners[0].type', /./],
    [{ http: { port: 70000 } }, 'http.port', /65535/],
    [{ http: { auth: { token: 'x' } } }, 'http.auth.token', /unknown key/],
    [{ http: { tls: { cert: 'c.pem' } } }, 'http.tls.key', /./],
    [{ http: { tls: { cert: 'c.pem', key: 'k.pem', requestCert: true } } }, 'http.tls.ca', /requestCert needs the CA/],
    [{ surprise: true }, 'surprise', /unknown key/],
  ];
  for (const [raw, keyPath, message] of cases) {
    assert.throws(
      () => parseConfig(raw, 'test.yaml'),
      (err: unknown) => {
        assert.ok(err instanceof ConfigError, `${keyPath}: ${String(err)}`);
        assert.equal(err.path, keyPath, err.message);
        assert.match(err.message, message);
        assert.ok(err.message.includes(keyPath), err.message);
        return true;
      },
    );
  }
});

test('topic filter validation follows MQTT 4.7.1', () => {
  assert.equal(topicFilterProblem('sensors/+/telemetry/#'), null);
  assert.equal(topicFilterProblem('#'), null);
  assert.match(String(topicFilterProblem('a/b#')), /#/);
  assert.match(String(topicFilterProblem('a/+b')), /\+/);
});

test('check-config exits 0 for a valid file and 2 naming the bad key for an invalid one', async () => {
  const dir = tmpDir();
  const good = path.join(dir, 'good.yaml');
  fs.writeFileSync(good, 'streams:\n  - name: telemetry\n    match: ["sensors/#"]\n');
  const ok = await runCli(['check-config', good]);
  assert.equal(ok.code, 0, ok.stderr);
  assert.match(ok.stdout, /valid \(2 streams/);

  const files: Array<[string, RegExp]> = [
    ['streams:\n  - name: t\n    match: ["a/#"]\n    partitions: many\n', /streams\[0\]\.partitions/],
    ['durability:\n  commitIntervalMs: 2\n  comitBytesMax: 10\n', /durability\.comitBytesMax: unknown key/],
    ['mqtt: [unclosed\n', /invalid YAML/],
    ['- just\n- a list\n', /top level must be a mapping/],
    ['http: { port: 1 }\nhttp: { port: 2 }\n', /invalid YAML.*[Mm]ap keys must be unique/],
  ];
  for (const [text, message] of files) {
    const file = path.join(dir, 'bad.yaml');
    fs.writeFileSync(file, text);
    const r = await runCli(['check-config', file]);
    assert.equal(r.code, 2, `${text}: ${r.stderr}`);
    assert.match(r.stderr, message);
  }
  const missing = await runCli(['check-config', path.join(dir, 'nope.yaml')]);
  assert.equal(missing.code, 2);
  assert.match(missing.stderr, /cannot read config file/);
});
