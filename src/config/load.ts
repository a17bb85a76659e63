/**
 * Loading the configuration: YAML file < environment (TRIBUTARY_*) < command-line flags, validated
 * once against the schema, then deeply frozen. Nothing else in src/ reads the environment for
 * settings, except upstream-secrets.ts beside this file for the one secret (TRIBUTARY_KAFKA_PASSWORD):
 * secrets are never part of the config, which `check-config --json` prints.
 *
 * Every problem is a ConfigError whose message names the key path (`streams[1].partitions`), the
 * environment variable or the flag, so `tributary check-config` can print it and exit 2.
 */
import fs from 'node:fs';
import path from 'node:path';
import { parseDocument } from 'yaml';
import type { z } from 'zod';
import { ConfigError } from '../errors.js';
import { checkConfig, configSchema, type RawConfig } from './schema.js';

export type Config = DeepReadonly<RawConfig>;
export type StreamConfig = Config['streams'][number];
export type ListenerConfig = Config['mqtt']['listeners'][number];
export type KafkaConfig = NonNullable<Config['upstream']['kafka']>;
export type FirmwareBridgeConfig = NonNullable<Config['firmwareBridge']>;
export type KafkaApiConfig = NonNullable<Config['kafkaApi']>;

type DeepReadonly<T> = T extends (infer U)[] ? ReadonlyArray<DeepReadonly<U>> : T extends object ? { readonly [K in keyof T]: DeepReadonly<T[K]> } : T;

/** Overrides from flags; undefined means "not given". */
export interface ConfigOverrides {
  dataDir?: string | undefined;
  mqttPort?: number | undefined;
  httpPort?: number | undefined;
  kafka?: string | undefined;
  /** Serve the local Kafka API on 127.0.0.1:PORT (the first listener's port when kafkaApi is configured). */
  kafkaApiPort?: number | undefined;
}

export function loadConfig(file: string | undefined, overrides: ConfigOverrides = {}, env: NodeJS.ProcessEnv = process.env): Config {
  const raw = file === undefined ? {} : readYaml(file);
  const fromEnv: ConfigOverrides = {
    dataDir: env.TRIBUTARY_DATA_DIR,
    mqttPort: envPort(env, 'TRIBUTARY_MQTT_PORT'),
    httpPort: envPort(env, 'TRIBUTARY_HTTP_PORT'),
    kafka: env.TRIBUTARY_KAFKA_BROKERS,
    kafkaApiPort: envPort(env, 'TRIBUTARY_KAFKA_API_PORT'),
  };
  if (env.TRIBUTARY_GATEWAY_ID) setIn(raw, ['gateway', 'id'], env.TRIBUTARY_GATEWAY_ID);
  if (env.TRIBUTARY_LOG_LEVEL) setIn(raw, ['logging', 'level'], env.TRIBUTARY_LOG_LEVEL);
  applyOverrides(raw, fromEnv);
  for (const [flag, value] of [['--mqtt-port', overrides.mqttPort], ['--http-port', overrides.httpPort], ['--kafka-api-port', overrides.kafkaApiPort]] as const) {
    if (value !== undefined && !(Number.isInteger(value) && value >= 0 && value <= 65535)) {
      // yargs turns a non-number into NaN, so the text given is gone: name the flag and what it needs.
      throw new ConfigError(`${flag} must be a port number (0-65535)${Number.isNaN(value) ? '' : `, not ${value}`}`, flag);
    }
  }
  applyOverrides(raw, overrides);
  return parseConfig(raw, file ?? 'defaults');
}

/** Validates an already-parsed object (from YAML, or built in tests). */
export function parseConfig(raw: unknown, source = 'config'): Config {
  const result = configSchema.safeParse(raw);
  if (!result.success) throw configError(result.error.issues, source);
  const problems = checkConfig(result.data);
  if (problems.length > 0) {
    const first = problems[0] as { path: string; message: string };
    throw new ConfigError(`${source}: ${problems.map((p) => `${p.path}: ${p.message}`).join('; ')}`, first.path);
  }
  const config = result.data;
  if (!config.streams.some((s) => s.name === 'default')) {
    config.streams.push({ name: 'default', match: [], partitions: 4, key: 'topic', retention: {}, priority: 0, upstream: { enabled: true } });
  }
  return deepFreeze(config);
}

function readYaml(file: string): Record<string, unknown> {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (err) {
    throw new ConfigError(`cannot read config file ${file}: ${(err as Error).message}`, '', { cause: err });
  }
  const doc = parseDocument(text, { prettyErrors: true, uniqueKeys: true });
  if (doc.errors.length > 0) {
    throw new ConfigError(`${file}: invalid YAML: ${doc.errors.map((e) => e.message).join('; ')}`);
  }
  const value: unknown = doc.toJS();
  if (value === null || value === undefined) return {};
  if (typeof value !== 'object' || Array.isArray(value)) throw new ConfigError(`${file}: the top level must be a mapping of keys`);
  const obj = value as Record<string, unknown>;
  // A relative dataDir in a file is relative to the file, not to wherever the service was started.
  if (typeof obj.dataDir === 'string' && !path.isAbsolute(obj.dataDir)) obj.dataDir = path.resolve(path.dirname(file), obj.dataDir);
  const kafka = (obj.upstream as { kafka?: Record<string, unknown> } | undefined)?.kafka;
  const mqtt = obj.mqtt as { auth?: unknown; listeners?: unknown } | undefined;
  const http = obj.http as { auth?: unknown; tls?: unknown } | undefined;
  resolveFiles(file, mqtt?.auth, ['passwordFile', 'aclFile']);
  if (Array.isArray(mqtt?.listeners)) for (const listener of mqtt.listeners) resolveFiles(file, listener, ['cert', 'key', 'ca']);
  resolveFiles(file, http?.auth, ['bearerTokenFile', 'passwordFile']);
  resolveFiles(file, http?.tls, ['cert', 'key', 'ca']);
  resolveFiles(file, kafka?.tls, ['ca', 'cert', 'key']);
  resolveFiles(file, kafka?.sasl, ['passwordFile']);
  resolveFiles(file, (obj.firmwareBridge as { broker?: unknown } | undefined)?.broker, ['passwordFile']);
  const kafkaApiListeners = (obj.kafkaApi as { listeners?: unknown } | undefined)?.listeners;
  if (Array.isArray(kafkaApiListeners)) for (const listener of kafkaApiListeners) resolveFiles(file, (listener as { tls?: unknown }).tls, ['cert', 'key', 'ca']);
  return obj;
}

/** File names in a config file are relative to the file, not to wherever the service was started. */
function resolveFiles(file: string, section: unknown, keys: string[]): void {
  if (typeof section !== 'object' || section === null) return;
  const values = section as Record<string, unknown>;
  for (const key of keys) {
    const value = values[key];
    if (typeof value === 'string' && !path.isAbsolute(value)) values[key] = path.resolve(path.dirname(file), value);
  }
}

function applyOverrides(raw: Record<string, unknown>, o: ConfigOverrides): void {
  if (o.dataDir !== undefined) raw.dataDir = o.dataDir;
  if (o.httpPort !== undefined) setIn(raw, ['http', 'port'], o.httpPort);
  if (o.kafka !== undefined) setIn(raw, ['upstream', 'kafka', 'brokers'], o.kafka.split(',').map((b) => b.trim()).filter(Boolean));
  if (o.kafkaApiPort !== undefined) {
    const api = (raw.kafkaApi ??= {}) as Record<string, unknown>;
    const listeners = Array.isArray(api.listeners) ? (api.listeners as Array<Record<string, unknown>>) : [];
    if (listeners[0] !== undefined) listeners[0].port = o.kafkaApiPort;
    else listeners.push({ host: '127.0.0.1', port: o.kafkaApiPort });
    api.listeners = listeners;
  }
  if (o.mqttPort !== undefined) {
    const mqtt = (raw.mqtt ??= {}) as Record<string, unknown>;
    const listeners = Array.isArray(mqtt.listeners) ? (mqtt.listeners as Array<Record<string, unknown>>) : [];
    const tcp = listeners.find((l) => l.type === 'tcp');
    if (tcp) tcp.port = o.mqttPort;
    else listeners.unshift({ type: 'tcp', port: o.mqttPort });
    mqtt.listeners = listeners;
  }
}

function setIn(raw: Record<string, unknown>, keys: string[], value: unknown): void {
  let at = raw;
  for (const k of keys.slice(0, -1)) {
    const next = at[k];
    at = (typeof next === 'object' && next !== null ? next : (at[k] = {})) as Record<string, unknown>;
  }
  at[keys[keys.length - 1] as string] = value;
}

function envPort(env: NodeJS.ProcessEnv, name: string): number | undefined {
  const v = env[name];
  if (v === undefined || v === '') return undefined;
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0 || n > 65535) throw new ConfigError(`environment ${name}="${v}" is not a port number (0-65535)`, name);
  return n;
}

export function formatPath(p: ReadonlyArray<PropertyKey>): string {
  let out = '';
  for (const k of p) out += typeof k === 'number' ? `[${k}]` : out === '' ? String(k) : `.${String(k)}`;
  return out;
}

function configError(issues: z.core.$ZodIssue[], source: string): ConfigError {
  const lines = issues.map((i) => {
    const keyPath = formatPath(i.path);
    if (i.code === 'unrecognized_keys') {
      return i.keys.map((k) => `${keyPath ? `${keyPath}.` : ''}${k}: unknown key`).join('; ');
    }
    return `${keyPath || '(top level)'}: ${i.message}`;
  });
  const first = issues[0];
  const firstPath = first ? (first.code === 'unrecognized_keys' ? [...first.path, first.keys[0] ?? ''] : first.path) : [];
  return new ConfigError(`${source}: ${lines.join('; ')}`, formatPath(firstPath));
}

function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const v of Object.values(value as Record<string, unknown>)) deepFreeze(v);
  }
  return value;
}
