/**
 * The `kafkaApi` section: loopback by default and open there; off loopback SASL is on by default, cannot
 * be turned off and needs the MQTT password file; `--kafka-api-port` / TRIBUTARY_KAFKA_API_PORT add or move
 * the first listener; TLS file paths are relative to the config file and an unreadable one names its key.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import test from 'node:test';
import { kafkaApiListeners } from '../../src/config/kafka-api.js';
import { loadConfig, parseConfig } from '../../src/config/load.js';
import { kafkaApiSasl } from '../../src/config/schema.js';
import { ConfigError } from '../../src/errors.js';
import { tmpDir } from '../helpers/tmp.js';

const refused = (raw: unknown, key: RegExp) =>
  assert.throws(() => parseConfig(raw), (err: Error) => err instanceof ConfigError && key.test(err.message));

test('defaults: 127.0.0.1:9092, open; SASL by default off loopback, refused without a password file or when turned off there', () => {
  const c = parseConfig({ kafkaApi: {} });
  assert.deepEqual(c.kafkaApi?.listeners, [{ host: '127.0.0.1', port: 9092 }]);
  assert.equal(kafkaApiSasl({ host: '127.0.0.1' }), false);
  assert.equal(kafkaApiSasl({ host: '::1' }), false);
  assert.equal(kafkaApiSasl({ host: '0.0.0.0' }), true);
  assert.equal(parseConfig({}).kafkaApi, undefined, 'off unless configured');
  refused({ kafkaApi: { listeners: [{ host: '0.0.0.0', port: 9093 }] } }, /kafkaApi\.listeners\[0\]\.sasl: SASL PLAIN checks mqtt\.auth\.passwordFile/);
  refused({ mqtt: { auth: { passwordFile: '/x' } }, kafkaApi: { listeners: [{ host: '0.0.0.0', port: 9093, sasl: false }] } }, /needs SASL/);
  refused({ kafkaApi: { listeners: [{ port: 9092 }, { port: 9092 }] } }, /kafkaApi\.listeners\[1\]\.port: listener 127\.0\.0\.1:9092 is already used/);
  assert.ok(parseConfig({ mqtt: { auth: { passwordFile: '/x' } }, kafkaApi: { listeners: [{ host: '0.0.0.0', port: 9093 }] } }).kafkaApi);
});

test('--kafka-api-port and TRIBUTARY_KAFKA_API_PORT: a loopback listener, or the first one moved; a bad port named', () => {
  assert.deepEqual(loadConfig(undefined, { kafkaApiPort: 0 }, {}).kafkaApi?.listeners, [{ host: '127.0.0.1', port: 0 }]);
  assert.deepEqual(loadConfig(undefined, {}, { TRIBUTARY_KAFKA_API_PORT: '19093' }).kafkaApi?.listeners, [{ host: '127.0.0.1', port: 19093 }]);
  assert.throws(() => loadConfig(undefined, { kafkaApiPort: 70000 }, {}), /--kafka-api-port must be a port number/);
});

test('TLS files are relative to the config file; an unreadable one is a ConfigError naming its key', () => {
  const dir = tmpDir();
  fs.writeFileSync(path.join(dir, 'cert.pem'), 'CERT');
  fs.writeFileSync(path.join(dir, 'c.yaml'), 'kafkaApi: { listeners: [{ port: 9092, tls: { cert: cert.pem, key: key.pem } }] }\n');
  const c = loadConfig(path.join(dir, 'c.yaml'), {}, {});
  assert.equal(c.kafkaApi?.listeners[0]?.tls?.cert, path.join(dir, 'cert.pem'));
  assert.throws(() => kafkaApiListeners(c.kafkaApi!), (err: Error) => err instanceof ConfigError && err.message.startsWith(`kafkaApi.listeners[0].tls.key: cannot read ${path.join(dir, 'key.pem')} (ENOENT)`));
});
