/**
 * The configuration schema (DESIGN.md "Config"), as a zod schema: every key optional with a default,
 * unknown keys rejected, sizes and durations parsed into numbers. Cross-field checks live in
 * `checkConfig` beside it, so all validation is in this one file and runs once at start.
 */
import { z } from 'zod';
import { isLoopback } from '../auth/address.js';
import { LOG_DEFAULTS } from '../log/types.js';
import { parseDuration, parseSize } from './units.js';

/** A value with units (`1GiB`, `7d`) or a bare number, parsed by `parse` into a number. */
function withUnits(parse: (v: string | number) => number | string) {
  return z.union([z.string(), z.number()]).transform((v, ctx) => {
    const parsed = parse(v);
    if (typeof parsed === 'string') {
      ctx.issues.push({ code: 'custom', message: parsed, input: v });
      return z.NEVER;
    }
    return parsed;
  });
}

const size = withUnits(parseSize);
const duration = withUnits(parseDuration);

const port = z.number().int().min(0).max(65535);
const host = z.string().min(1);

const tcpListener = z.strictObject({ type: z.literal('tcp'), host: host.default('0.0.0.0'), port: port.default(1883) });
const tlsListener = z.strictObject({
  type: z.literal('tls'),
  host: host.default('0.0.0.0'),
  port: port.default(8883),
  cert: z.string().min(1),
  key: z.string().min(1),
  ca: z.string().min(1).optional(),
  /** Ask clients for a certificate; with `ca` set, only clients it signed are let in. */
  requestCert: z.boolean().default(false),
  /**
   * The client certificate's subject CN is the MQTT user name (Mosquitto's use_identity_as_username):
   * no password is asked, and the ACL applies to that name. Needs requestCert and ca.
   */
  useIdentityAsUsername: z.boolean().default(false),
});
const wsListener = z.strictObject({ type: z.literal('ws'), host: host.default('0.0.0.0'), port: port.default(8080), path: z.string().default('/mqtt') });
const listener = z.discriminatedUnion('type', [tcpListener, tlsListener, wsListener]);

export const STREAM_NAME = /^[A-Za-z0-9._-]{1,200}$/;
export const PARTITION_KEY = /^(topic|client-id|topic-level:(\d{1,3}))$/;

const stream = z.strictObject({
  name: z.string().regex(STREAM_NAME, 'a stream name is 1-200 characters of A-Z a-z 0-9 . _ -'),
  match: z.array(z.string().min(1)).default([]),
  partitions: z.number().int().min(1).max(1024).default(4),
  key: z.string().regex(PARTITION_KEY, 'key is one of topic, client-id, topic-level:N').default('topic'),
  retention: z.strictObject({ bytes: size.optional(), age: duration.optional() }).default({}),
  priority: z.number().int().min(0).max(100).default(0),
  upstream: z.strictObject({ topic: z.string().min(1).optional(), enabled: z.boolean().default(true) }).default({ enabled: true }),
});

/**
 * firmware-bridge (firmware-bridge/src/index.ts): MQTT-SN 1.2 gateways for sensor firmware. Inside
 * `serve` the bridge connects over loopback to serve's first tcp listener; `broker.url` is for the
 * standalone `tributary bridge`. The limits are the spec's (retryIntervalMs/retriesMax are Tretry and
 * Nretry) and the bridge's memory bounds.
 *
 * `serial`: framed serial ports (firmware-bridge/src/serial/; the framing is in the README), each
 * carrying MQTT-SN messages, optionally forwarder-encapsulated, for a radio coordinator.
 */
const serialPort = z.strictObject({
  path: z.string().min(1),
  baudRate: z.number().int().min(50).max(4_000_000).default(115_200),
  framing: z.enum(['slip', 'cobs']).default('slip'),
  /** A frame's body: message + 2 CRC bytes, before escaping. */
  frameBytesMax: z.number().int().min(16).max(65_535).default(1024),
});
const firmwareBridge = z.strictObject({
  clientIdPrefix: z.string().max(100).default('sn-'),
  broker: z
    .strictObject({
      url: z.string().regex(/^mqtt:\/\/[^\s/:]+:\d{1,5}\/?$/, 'a broker url is mqtt://HOST:PORT').optional(),
      /** The bridge's own MQTT credentials, when mqtt.auth asks for them: a user name, and a file holding the password. */
      username: z.string().min(1).optional(),
      passwordFile: z.string().min(1).optional(),
    })
    .default({}),
  mqttsn: z
    .strictObject({
      udp: z.array(z.strictObject({ host: host.default('0.0.0.0'), port: port.default(1883) })).default([{ host: '0.0.0.0', port: 1883 }]),
      gatewayId: z.number().int().min(0).max(255).default(1),
      /** Topic id → topic name, the same for every device; ids 1..65534. */
      predefinedTopics: z.record(z.string().regex(/^\d{1,5}$/, 'a predefined topic id is a number'), z.string().min(1)).default({}),
      /** ADVERTISE every intervalS seconds to address:port (0: never, the default). */
      advertise: z
        .strictObject({ intervalS: z.number().int().min(0).max(65535).default(0), address: host.default('255.255.255.255'), port: port.default(1883) })
        .prefault({}),
      devicesMax: z.number().int().min(1).max(100_000).default(1_000),
      topicsPerDeviceMax: z.number().int().min(1).max(65_534).default(256),
      /** Messages held per device for delivery, while it sleeps or while it acks slowly; beyond it they are dropped and counted. */
      bufferedMessagesMax: z.number().int().min(1).max(100_000).default(100),
      publishesInFlightMax: z.number().int().min(1).max(1_000).default(16),
      retryIntervalMs: z.number().int().min(10).max(600_000).default(10_000),
      retriesMax: z.number().int().min(0).max(100).default(3),
      connectTimeoutMs: z.number().int().min(100).max(600_000).default(5_000),
      /** Only these device client ids may connect (default: any). */
      allowClientIds: z.array(z.string().min(1)).optional(),
    })
    .prefault({}),
  serial: z.array(serialPort).default([]),
});

const compression = z.enum(['none', 'gzip', 'snappy', 'lz4', 'zstd']);

/**
 * TLS to the brokers. ca/cert/key are PEM files, read at start and on SIGHUP (upstream-secrets.ts); without
 * `ca` the system's CAs verify the broker. `tls: true` is TLS with the system's CAs and nothing else.
 */
const kafkaTlsOptions = z.strictObject({
  ca: z.string().min(1).optional(),
  cert: z.string().min(1).optional(),
  key: z.string().min(1).optional(),
  /** The name the broker's certificate must carry (and SNI), when it is not the host in `brokers`. */
  servername: z.string().min(1).optional(),
  rejectUnauthorized: z.boolean().default(true),
});
const kafkaTls = z.union([z.boolean(), kafkaTlsOptions]).transform((v) => (v === true ? { rejectUnauthorized: true } : v === false ? undefined : v));

/**
 * The local Kafka API (src/kafka-api): the log served to Kafka consumers on the gateway. A listener on a
 * loopback address is open by default; any other needs SASL PLAIN (checked against mqtt.auth.passwordFile),
 * which is then on by default and cannot be turned off. TLS is optional.
 */
const kafkaApiListener = z.strictObject({
  host: host.default('127.0.0.1'),
  port: port.default(9092),
  sasl: z.boolean().optional(),
  tls: z.strictObject({ cert: z.string().min(1), key: z.string().min(1), ca: z.string().min(1).optional(), requestCert: z.boolean().default(false) }).optional(),
});
const kafkaApi = z.strictObject({
  listeners: z.array(kafkaApiListener).min(1).default([{ host: '127.0.0.1', port: 9092 }]),
  /** The longest a Fetch long-poll waits, whatever the client asks. */
  fetchMaxWaitMs: z.number().int().min(0).max(300_000).default(30_000),
  /** Shortest session timeout a consumer may ask for (Kafka's group.min.session.timeout.ms). */
  groupMinSessionTimeoutMs: z.number().int().min(100).max(3_600_000).default(6_000),
});

export const SASL_MECHANISMS = ['plain', 'scram-sha-256', 'scram-sha-512'] as const;

/** The password comes from TRIBUTARY_KAFKA_PASSWORD or else `passwordFile` (upstream-secrets.ts); never from this file. */
const kafkaSasl = z.strictObject({
  mechanism: z.enum(SASL_MECHANISMS),
  username: z.string().min(1),
  passwordFile: z.string().min(1).optional(),
});

export const configSchema = z.strictObject({
  gateway: z.strictObject({ id: z.string().min(1).max(200).default('gw-01') }).default({ id: 'gw-01' }),
  dataDir: z.string().min(1).default('./data'),
  mqtt: z
    .strictObject({
      listeners: z.array(listener).min(1).default([{ type: 'tcp', host: '0.0.0.0', port: 1883 }]),
      maxPayloadBytes: size.default(262144),
      /** Bytes a client may leave unread in its socket before it is disconnected. */
      clientWriteBufferMaxBytes: size.default(4 * 1024 * 1024),
      clientsMax: z.number().int().min(1).default(10_000),
      /**
       * Publishes of one client waiting for their commit; at this many its socket is not read and the
       * pending commit starts at once. 64 (issue 13, bench:footprint's peak: 4 publishers × 100 in
       * flight): 32 held commits to ~64 records, 64 makes them ~120 — 1.1-1.7× the rate at 0.5-1.2× the
       * CPU per message in three runs; at 128 (above the publishers' own 100) the window never fills and
       * commits wait out the interval instead. A steady sensor has one publish in flight: no change.
       */
      clientAppendsInFlightMax: z.number().int().min(1).max(65535).default(64),
      /**
       * passwordFile: Mosquitto's format (tributary passwd, mosquitto_passwd). aclFile: Mosquitto's acl_file
       * syntax (src/auth/acl-file.ts). allowAnonymous: unset lets
       * clients without credentials in from loopback only (Mosquitto 2's choice); true from anywhere.
       */
      auth: z.strictObject({ passwordFile: z.string().min(1).optional(), aclFile: z.string().min(1).optional(), allowAnonymous: z.boolean().optional() }).default({}),
    })
    .prefault({}),
  durability: z
    .strictObject({
      commitIntervalMs: z.number().int().min(0).max(10_000).default(LOG_DEFAULTS.commitIntervalMs),
      commitBytesMax: size.default(LOG_DEFAULTS.commitBytesMax),
      appendsInFlightMax: z.number().int().min(1).max(1_000_000).default(LOG_DEFAULTS.appendsInFlightMax),
      // How long failing commits are retried (nothing acked meanwhile) before serve exits 1 for a restart.
      commitFailureExitMs: z.number().int().min(100).max(3_600_000).default(30_000),
    })
    .prefault({}),
  storage: z
    .strictObject({ maxBytes: size.default(4 * 1024 ** 3), diskFreeMinBytes: size.default(512 * 1024 ** 2) })
    .prefault({}),
  streams: z.array(stream).default([]),
  upstream: z
    .strictObject({
      kafka: z
        .strictObject({
          brokers: z.array(z.string().regex(/^[^\s:]+:\d{1,5}$/, 'a broker is HOST:PORT')).min(1),
          clientId: z.string().min(1).optional(),
          compression: compression.default('lz4'),
          batch: z
            .strictObject({
              maxRecords: z.number().int().min(1).max(1_000_000).default(10_000),
              maxBytes: size.default(1024 * 1024),
              lingerMs: z.number().int().min(0).max(60_000).default(50),
            })
            .default({ maxRecords: 10_000, maxBytes: 1024 * 1024, lingerMs: 50 }),
          rateLimitBytesPerSec: size.default(0),
          requestTimeoutMs: z.number().int().min(100).default(30_000),
          retryBackoffMinMs: z.number().int().min(1).default(100),
          retryBackoffMaxMs: z.number().int().min(1).default(30_000),
          tls: kafkaTls.optional(),
          sasl: kafkaSasl.optional(),
        })
        .optional(),
    })
    .default({}),
  http: z
    .strictObject({
      host: host.default('0.0.0.0'),
      port: port.default(9180),
      /**
       * Who may read every route but /healthz (src/ops/http-auth.ts). bearerTokenFile: one token a line;
       * passwordFile: Mosquitto's format, for HTTP Basic. Either passes; with neither (and no client
       * certificates) the routes are open, as before.
       */
      auth: z.strictObject({ bearerTokenFile: z.string().min(1).optional(), passwordFile: z.string().min(1).optional() }).default({}),
      /** HTTPS. requestCert: a client certificate signed by `ca` is a credential too (it needs `ca`). */
      tls: z
        .strictObject({ cert: z.string().min(1), key: z.string().min(1), ca: z.string().min(1).optional(), requestCert: z.boolean().default(false) })
        .optional(),
    })
    .default({ host: '0.0.0.0', port: 9180, auth: {} }),
  firmwareBridge: firmwareBridge.optional(),
  kafkaApi: kafkaApi.optional(),
  logging: z.strictObject({ level: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info') }).default({ level: 'info' }),
  host: z.strictObject({ sampleIntervalMs: z.number().int().min(100).default(10_000) }).default({ sampleIntervalMs: 10_000 }),
});

export type RawConfig = z.output<typeof configSchema>;

export interface ConfigProblem {
  path: string;
  message: string;
}

/** Checks that span fields. Paths use the same `a.b[0].c` form as schema errors. */
export function checkConfig(c: RawConfig): ConfigProblem[] {
  const problems: ConfigProblem[] = [];
  const names = new Set<string>();
  c.streams.forEach((s, i) => {
    if (names.has(s.name)) problems.push({ path: `streams[${i}].name`, message: `duplicate stream name "${s.name}"` });
    names.add(s.name);
    s.match.forEach((filter, j) => {
      const bad = topicFilterProblem(filter);
      if (bad) problems.push({ path: `streams[${i}].match[${j}]`, message: bad });
    });
    if (s.match.length === 0 && s.name !== 'default') problems.push({ path: `streams[${i}].match`, message: `stream "${s.name}" matches no topic: give it at least one filter` });
  });
  const seen = new Map<string, number>();
  c.mqtt.listeners.forEach((l, i) => {
    const id = `${l.host}:${l.port}`;
    if (l.type === 'tls' && l.useIdentityAsUsername && !(l.requestCert && l.ca !== undefined)) {
      problems.push({ path: `mqtt.listeners[${i}].useIdentityAsUsername`, message: 'needs requestCert: true and a ca, so that only certificates the ca signed name a user' });
    }
    if (l.port !== 0 && seen.has(id)) problems.push({ path: `mqtt.listeners[${i}].port`, message: `listener ${id} is already used by mqtt.listeners[${seen.get(id)}]` });
    seen.set(id, i);
  });
  const k = c.upstream.kafka;
  if (k && k.retryBackoffMaxMs < k.retryBackoffMinMs) {
    problems.push({ path: 'upstream.kafka.retryBackoffMaxMs', message: 'must be at least retryBackoffMinMs' });
  }
  if (c.http.tls?.requestCert === true && c.http.tls.ca === undefined) {
    problems.push({ path: 'http.tls.ca', message: 'requestCert needs the CA that signs the client certificates' });
  }
  if (k?.tls && (k.tls.cert === undefined) !== (k.tls.key === undefined)) {
    const missing = k.tls.cert === undefined ? 'cert' : 'key';
    problems.push({ path: `upstream.kafka.tls.${missing}`, message: 'a client certificate needs both cert and key' });
  }
  if (c.firmwareBridge !== undefined) problems.push(...checkFirmwareBridge(c.firmwareBridge));
  if (c.kafkaApi !== undefined) problems.push(...checkKafkaApi(c.kafkaApi, c.mqtt.auth.passwordFile !== undefined));
  if (c.durability.commitBytesMax < 1) problems.push({ path: 'durability.commitBytesMax', message: 'must be at least 1 byte' });
  return problems;
}

/** Whether a listener bound to `host` takes connections from loopback only. */
export function loopbackHost(host: string): boolean {
  return host === 'localhost' || isLoopback(host);
}

/** SASL on a Kafka API listener: as configured, and on by default off loopback. */
export function kafkaApiSasl(l: { host: string; sasl?: boolean | undefined }): boolean {
  return l.sasl ?? !loopbackHost(l.host);
}

function checkKafkaApi(k: NonNullable<RawConfig['kafkaApi']>, havePasswords: boolean): ConfigProblem[] {
  const problems: ConfigProblem[] = [];
  const seen = new Map<string, number>();
  k.listeners.forEach((l, i) => {
    const at = `kafkaApi.listeners[${i}]`;
    if (l.sasl === false && !loopbackHost(l.host)) problems.push({ path: `${at}.sasl`, message: `a listener on ${l.host} (not loopback) needs SASL: remove sasl: false or bind it to 127.0.0.1` });
    if (kafkaApiSasl(l) && !havePasswords) problems.push({ path: `${at}.sasl`, message: 'SASL PLAIN checks mqtt.auth.passwordFile: set one (tributary passwd -c FILE USER)' });
    const id = `${l.host}:${l.port}`;
    if (l.port !== 0 && seen.has(id)) problems.push({ path: `${at}.port`, message: `listener ${id} is already used by kafkaApi.listeners[${seen.get(id)}]` });
    seen.set(id, i);
  });
  return problems;
}

function checkFirmwareBridge(b: NonNullable<RawConfig['firmwareBridge']>): ConfigProblem[] {
  const problems: ConfigProblem[] = [];
  const names = new Set<string>();
  for (const [id, name] of Object.entries(b.mqttsn.predefinedTopics)) {
    const at = `firmwareBridge.mqttsn.predefinedTopics.${id}`;
    if (Number(id) < 1 || Number(id) > 65534) problems.push({ path: at, message: 'a predefined topic id is 1..65534' });
    if (name.includes('+') || name.includes('#')) problems.push({ path: at, message: `"${name}": a predefined topic is a topic name, without wildcards` });
    if (names.has(name)) problems.push({ path: at, message: `"${name}" has two predefined ids` });
    names.add(name);
  }
  if ((b.broker.username === undefined) !== (b.broker.passwordFile === undefined)) {
    problems.push({ path: 'firmwareBridge.broker.passwordFile', message: 'username and passwordFile go together' });
  }
  if (b.mqttsn.udp.length === 0 && b.serial.length === 0) problems.push({ path: 'firmwareBridge.mqttsn.udp', message: 'the bridge needs a UDP listener or a serial port' });
  const ports = new Set<string>();
  b.serial.forEach((p, i) => {
    if (ports.has(p.path)) problems.push({ path: `firmwareBridge.serial[${i}].path`, message: `${p.path} is listed twice` });
    ports.add(p.path);
  });
  const seen = new Set<string>();
  b.mqttsn.udp.forEach((l, i) => {
    const id = `${l.host}:${l.port}`;
    if (l.port !== 0 && seen.has(id)) problems.push({ path: `firmwareBridge.mqttsn.udp[${i}].port`, message: `UDP listener ${id} is listed twice` });
    seen.add(id);
  });
  return problems;
}

/** Why `filter` is not a valid MQTT topic filter, or null. [MQTT-4.7.1-2], [MQTT-4.7.1-3] */
export function topicFilterProblem(filter: string): string | null {
  if (filter.length === 0) return 'a topic filter is at least one character';
  if (filter.includes('\u0000')) return 'a topic filter may not contain the null character';
  const levels = filter.split('/');
  for (let i = 0; i < levels.length; i++) {
    const level = levels[i] as string;
    if (level.includes('#') && (level !== '#' || i !== levels.length - 1)) return `"${filter}": # must be a whole level and the last one`;
    if (level.includes('+') && level !== '+') return `"${filter}": + must be a whole level`;
  }
  return null;
}
