/**
 * The upstream's secret material: the TLS files (`upstream.kafka.tls.ca/cert/key`) and the SASL password,
 * read at start and again on SIGHUP, never kept in the config (which `check-config --json` prints).
 *
 * The password: TRIBUTARY_KAFKA_PASSWORD when it is set and not empty, else the whole content of
 * `upstream.kafka.sasl.passwordFile` with one trailing newline (LF or CRLF) removed. The environment wins,
 * as it does over every other key of the config file (load.ts); a `sasl` section with neither is invalid.
 *
 * Invariants: the password is held only inside a `Secret`, which prints, logs and serialises as
 * `[redacted]`; every failure is a ConfigError naming the key and the file, never a file's content; TLS
 * material that Node cannot use (not PEM, key not matching cert) is refused here, not at the first connect.
 */
import { X509Certificate } from 'node:crypto';
import fs from 'node:fs';
import tls from 'node:tls';
import { inspect } from 'node:util';
import { ConfigError, errorMessage } from '../errors.js';
import type { KafkaConfig } from './load.js';
import type { SASL_MECHANISMS } from './schema.js';
import { readConfiguredFile, readPasswordFile } from './files.js';

export const KAFKA_PASSWORD_ENV = 'TRIBUTARY_KAFKA_PASSWORD';

/** A value that must not reach a log, a status page or an error message: only `reveal()` gives it out. */
export class Secret {
  readonly #value: string;

  constructor(value: string) {
    if (value.length === 0) throw new Error('a Secret is never empty');
    this.#value = value;
  }

  reveal(): string {
    return this.#value;
  }

  equals(other: Secret): boolean {
    return this.#value === other.#value;
  }

  toString(): string {
    return '[redacted]';
  }

  toJSON(): string {
    return '[redacted]';
  }

  [inspect.custom](): string {
    return 'Secret [redacted]';
  }
}

export interface UpstreamTls {
  ca?: Buffer;
  cert?: Buffer;
  key?: Buffer;
  servername?: string;
  rejectUnauthorized: boolean;
  /** The files the material came from, for error messages. */
  files: { ca?: string; cert?: string; key?: string };
}

export interface UpstreamSasl {
  mechanism: (typeof SASL_MECHANISMS)[number];
  username: string;
  password: Secret;
  /** Where the password came from (`passwordFile /etc/...` or `TRIBUTARY_KAFKA_PASSWORD`), for messages. */
  passwordSource: string;
}

/** What the Kafka sink needs beyond the config to connect: absent parts mean plaintext / no SASL. */
export interface UpstreamSecurity {
  tls?: UpstreamTls;
  sasl?: UpstreamSasl;
}

type TlsFileKey = 'ca' | 'cert' | 'key';

/**
 * Reads the files and the password the config names; undefined when it names no TLS and no SASL.
 * Throws ConfigError (exit 2 at start; on SIGHUP the settings in force stay).
 */
export function readUpstreamSecurity(kafka: Pick<KafkaConfig, 'tls' | 'sasl'>, env: NodeJS.ProcessEnv = process.env): UpstreamSecurity | undefined {
  if (kafka.tls === undefined && kafka.sasl === undefined) return undefined;
  const security: UpstreamSecurity = {};
  if (kafka.tls !== undefined) security.tls = readTls(kafka.tls);
  if (kafka.sasl !== undefined) security.sasl = readSasl(kafka.sasl, env);
  return security;
}

/**
 * For `check-config`: reads what serve would, and also a passwordFile that the environment overrides (it
 * must work once the variable is gone); the environment counts only where the config names no file.
 */
export function checkUpstreamSecurity(kafka: Pick<KafkaConfig, 'tls' | 'sasl'>, env: NodeJS.ProcessEnv = process.env): UpstreamSecurity | undefined {
  return readUpstreamSecurity(kafka, kafka.sasl?.passwordFile === undefined ? env : {});
}

function readTls(config: NonNullable<KafkaConfig['tls']>): UpstreamTls {
  const result: UpstreamTls = { rejectUnauthorized: config.rejectUnauthorized, files: {} };
  if (config.servername !== undefined) result.servername = config.servername;
  for (const key of ['ca', 'cert', 'key'] as const satisfies readonly TlsFileKey[]) {
    const file = config[key];
    if (file === undefined) continue;
    result[key] = readConfiguredFile(file, `upstream.kafka.tls.${key}`);
    result.files[key] = file;
  }
  try {
    // Parses the PEM and matches key to cert, as the first connection would.
    tls.createSecureContext({ ...(result.ca && { ca: result.ca }), ...(result.cert && { cert: result.cert }), ...(result.key && { key: result.key }) });
  } catch (err) {
    const files = Object.entries(result.files).map(([k, f]) => `${k} ${f}`).join(', ');
    throw new ConfigError(`upstream.kafka.tls: Node.js cannot use these files (${files}): ${errorMessage(err)}`, 'upstream.kafka.tls', { cause: err });
  }
  if (result.ca !== undefined) {
    // A secure context takes a CA file without a certificate in it silently, and then trusts nothing.
    try {
      new X509Certificate(result.ca);
    } catch (err) {
      throw new ConfigError(`upstream.kafka.tls.ca: ${result.files.ca} holds no certificate Node.js can read: ${errorMessage(err)}`, 'upstream.kafka.tls.ca', { cause: err });
    }
  }
  return result;
}

function readSasl(config: NonNullable<KafkaConfig['sasl']>, env: NodeJS.ProcessEnv): UpstreamSasl {
  const { mechanism, username } = config;
  const fromEnv = env[KAFKA_PASSWORD_ENV];
  if (fromEnv !== undefined && fromEnv !== '') {
    return { mechanism, username, password: new Secret(fromEnv), passwordSource: KAFKA_PASSWORD_ENV };
  }
  if (config.passwordFile === undefined) {
    throw new ConfigError(`upstream.kafka.sasl.passwordFile: no password for ${username}: give passwordFile or set ${KAFKA_PASSWORD_ENV}`, 'upstream.kafka.sasl.passwordFile');
  }
  const password = readPasswordFile(config.passwordFile, 'upstream.kafka.sasl.passwordFile');
  return { mechanism, username, password: new Secret(password), passwordSource: `passwordFile ${config.passwordFile}` };
}


/** True when both would open the same sessions: then a reload need not start a new one. */
export function sameUpstreamSecurity(a: UpstreamSecurity | undefined, b: UpstreamSecurity | undefined): boolean {
  if (a === undefined || b === undefined) return a === b;
  return sameTls(a.tls, b.tls) && sameSasl(a.sasl, b.sasl);
}

function sameTls(a: UpstreamTls | undefined, b: UpstreamTls | undefined): boolean {
  if (a === undefined || b === undefined) return a === b;
  const sameBytes = (x: Buffer | undefined, y: Buffer | undefined): boolean => (x === undefined || y === undefined ? x === y : x.equals(y));
  return sameBytes(a.ca, b.ca) && sameBytes(a.cert, b.cert) && sameBytes(a.key, b.key) && a.servername === b.servername && a.rejectUnauthorized === b.rejectUnauthorized;
}

function sameSasl(a: UpstreamSasl | undefined, b: UpstreamSasl | undefined): boolean {
  if (a === undefined || b === undefined) return a === b;
  return a.mechanism === b.mechanism && a.username === b.username && a.password.equals(b.password);
}

/** One line for logs: how the sink connects, with file names and user, never the password. */
export function describeUpstreamSecurity(security: UpstreamSecurity | undefined): string {
  if (security === undefined) return 'plaintext, no authentication';
  const parts: string[] = [];
  const { tls: t, sasl } = security;
  if (t === undefined) parts.push('no TLS');
  else parts.push(`TLS (${t.files.ca === undefined ? 'system CAs' : `CA ${t.files.ca}`}${t.files.cert === undefined ? '' : `, client certificate ${t.files.cert}`}${t.rejectUnauthorized ? '' : ', certificate NOT verified'})`);
  if (sasl === undefined) parts.push('no SASL');
  else parts.push(`SASL ${sasl.mechanism} as ${sasl.username} (password from ${sasl.passwordSource})`);
  return parts.join(', ');
}

/** What an operator should know at start: settings that weaken what TLS and SASL protect. */
export function upstreamSecurityWarnings(security: UpstreamSecurity | undefined): string[] {
  const warnings: string[] = [];
  if (security?.tls?.rejectUnauthorized === false) warnings.push('upstream.kafka.tls.rejectUnauthorized is false: any certificate is accepted, so the brokers are not authenticated');
  if (security?.sasl?.mechanism === 'plain' && security.tls === undefined) warnings.push('upstream.kafka.sasl uses plain without upstream.kafka.tls: the password crosses the network in clear text');
  return warnings;
}
