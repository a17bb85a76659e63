/**
 * The `kafkaApi` section as the local Kafka API takes it: listeners with their TLS files read (a file
 * that cannot be read is a ConfigError naming the key, exit 2) and SASL settled (schema.ts
 * `kafkaApiSasl`), and the MQTT password file, which SASL PLAIN checks, re-read on SIGHUP.
 */
import { parsePasswordFile, type PasswordEntry } from '../auth/password-file.js';
import type { ListenerSpec } from '../kafka-api/index.js';
import { readConfiguredFile } from './files.js';
import type { Config, KafkaApiConfig } from './load.js';
import { kafkaApiSasl } from './schema.js';

export function kafkaApiListeners(k: KafkaApiConfig): ListenerSpec[] {
  return k.listeners.map((l, i) => {
    const at = `kafkaApi.listeners[${i}].tls`;
    const spec: ListenerSpec = { host: l.host, port: l.port, sasl: kafkaApiSasl(l) };
    if (l.tls !== undefined) {
      spec.tls = {
        cert: readConfiguredFile(l.tls.cert, `${at}.cert`),
        key: readConfiguredFile(l.tls.key, `${at}.key`),
        ...(l.tls.ca === undefined ? {} : { ca: readConfiguredFile(l.tls.ca, `${at}.ca`) }),
        requestCert: l.tls.requestCert,
      };
    }
    return spec;
  });
}

/** The password entries SASL checks; `reload` re-reads the file and keeps the old entries if it fails. */
export function kafkaApiPasswords(config: Config): { current: () => ReadonlyMap<string, PasswordEntry> | null; reload: () => void } {
  const file = config.mqtt.auth.passwordFile;
  const read = (): Map<string, PasswordEntry> | null => (file === undefined ? null : parsePasswordFile(readConfiguredFile(file, 'mqtt.auth.passwordFile').toString('utf8'), file));
  let entries = read();
  return {
    current: () => entries,
    reload: () => {
      entries = read();
    },
  };
}

/** `127.0.0.1:9092 (SASL PLAIN over TLS)`: for check-config and the start-up log line. */
export function describeKafkaApiListener(l: ListenerSpec): string {
  const security = l.sasl ? `SASL PLAIN${l.tls ? ' over TLS' : ', no TLS'}` : l.tls ? 'TLS, no authentication' : 'open';
  return `${l.host}:${l.port} (${security})`;
}
