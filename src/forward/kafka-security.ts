/**
 * The Kafka sink's security, beside kafka-sink.ts: maps the upstream's TLS and SASL material onto the
 * client's `tls` and `sasl` options, and tells a connection that failed for TLS or SASL reasons from one
 * that failed on the network. The client does the protocols (TLS through node:tls, SASL PLAIN and SCRAM
 * itself); this file imports none of its code and knows its errors only by their code fields.
 *
 * Classification, from the codes the errors carry (never their message text), anywhere in the chain of
 * causes and aggregated errors under the error a send ended with:
 * - `UPSTREAM_AUTH`: the client's AuthenticationError (code PLT_KFK_AUTHENTICATION: a refused SCRAM exchange,
 *   no usable mechanism), or Kafka's answer SASL_AUTHENTICATION_FAILED (58), UNSUPPORTED_SASL_MECHANISM (33),
 *   ILLEGAL_SASL_STATE (34);
 * - `UPSTREAM_TLS`: Node's certificate verification codes (OpenSSL's X509 verify results such as
 *   UNABLE_TO_VERIFY_LEAF_SIGNATURE, SELF_SIGNED_CERT_IN_CHAIN, and ERR_TLS_CERT_ALTNAME_INVALID), or a
 *   handshake the broker refused for our certificate or protocol (OpenSSL alert codes);
 * both are non-retriable: only an operator can fix them (the forwarder waits its longest backoff between
 * tries and health says so). Everything else is left to the sink's own table.
 *
 * Invariant: the password reaches the client only as a function that reveals it when the client asks; no
 * option object, error or message built here holds it.
 */
import type { ConnectionOptions } from 'node:tls';
import type { UpstreamSecurity } from '../config/upstream-secrets.js';

export type SecurityFailureCode = 'UPSTREAM_AUTH' | 'UPSTREAM_TLS';

/** The client's `tls` and `sasl` options (its ConnectionOptions); absent when not configured. */
export interface ClientSecurityOptions {
  tls?: ConnectionOptions;
  sasl?: { mechanism: 'PLAIN' | 'SCRAM-SHA-256' | 'SCRAM-SHA-512'; username: string; password: () => string };
}

const clientMechanism = { plain: 'PLAIN', 'scram-sha-256': 'SCRAM-SHA-256', 'scram-sha-512': 'SCRAM-SHA-512' } as const;

export function clientSecurityOptions(security: UpstreamSecurity | undefined): ClientSecurityOptions {
  const options: ClientSecurityOptions = {};
  const { tls, sasl } = security ?? {};
  if (tls !== undefined) {
    options.tls = {
      rejectUnauthorized: tls.rejectUnauthorized,
      ...(tls.ca !== undefined && { ca: tls.ca }),
      ...(tls.cert !== undefined && { cert: tls.cert }),
      ...(tls.key !== undefined && { key: tls.key }),
      // node:tls checks the certificate against `servername` when it is given, else against the host.
      ...(tls.servername !== undefined && { servername: tls.servername }),
    };
  }
  if (sasl !== undefined) {
    const { password } = sasl;
    options.sasl = { mechanism: clientMechanism[sasl.mechanism], username: sasl.username, password: () => password.reveal() };
  }
  return options;
}

/** The client's own code for a failed SASL exchange (its AuthenticationError). */
const clientAuthenticationCode = 'PLT_KFK_AUTHENTICATION';

/** Kafka error codes of a refused SASL exchange. */
const kafkaSaslErrorCodes: ReadonlySet<number> = new Set([
  58, // SASL_AUTHENTICATION_FAILED
  33, // UNSUPPORTED_SASL_MECHANISM
  34, // ILLEGAL_SASL_STATE
]);

/**
 * Node's codes for a broker certificate that did not verify (OpenSSL's X509_V_ERR_* names, as node:tls
 * gives them), for a certificate name that does not match, and for handshakes refused because of our
 * certificate or protocol. All mean a setting or a certificate must change; none passes by waiting.
 */
const tlsFailureCodes: ReadonlySet<string> = new Set([
  'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_DECRYPT_CERT_SIGNATURE',
  'UNABLE_TO_DECODE_ISSUER_PUBLIC_KEY',
  'CERT_SIGNATURE_FAILURE',
  'CERT_NOT_YET_VALID',
  'CERT_HAS_EXPIRED',
  'ERROR_IN_CERT_NOT_BEFORE_FIELD',
  'ERROR_IN_CERT_NOT_AFTER_FIELD',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'CERT_CHAIN_TOO_LONG',
  'CERT_REVOKED',
  'INVALID_CA',
  'PATH_LENGTH_EXCEEDED',
  'INVALID_PURPOSE',
  'CERT_UNTRUSTED',
  'CERT_REJECTED',
  'HOSTNAME_MISMATCH',
  'ERR_TLS_CERT_ALTNAME_INVALID',
  // The broker refused the handshake: our client certificate, or no TLS version in common.
  'ERR_SSL_TLSV1_ALERT_UNKNOWN_CA',
  'ERR_SSL_SSLV3_ALERT_BAD_CERTIFICATE',
  'ERR_SSL_SSLV3_ALERT_CERTIFICATE_UNKNOWN',
  'ERR_SSL_TLSV13_ALERT_CERTIFICATE_REQUIRED',
  'ERR_SSL_SSLV3_ALERT_HANDSHAKE_FAILURE',
  'ERR_SSL_TLSV1_ALERT_PROTOCOL_VERSION',
  // The port answers, but not with TLS.
  'ERR_SSL_WRONG_VERSION_NUMBER',
]);

export interface SecurityFailure {
  code: SecurityFailureCode;
  /** The most specific words the chain has: Kafka's own message, or Node's TLS code and message. */
  detail: string;
}

/** Bounds the walk: the client's trees are a few levels deep. */
const chainDepthMax = 8;

/** The error, its causes and aggregated errors, depth first. */
function errorChain(err: unknown, depth = 0): unknown[] {
  if (depth > chainDepthMax || typeof err !== 'object' || err === null) return [];
  const inner: unknown[] = [];
  if (err instanceof AggregateError) inner.push(...(err.errors as unknown[]));
  if (err instanceof Error && err.cause !== undefined) inner.push(err.cause);
  return [err, ...inner.flatMap((e) => errorChain(e, depth + 1))];
}

function field(err: unknown, name: string): unknown {
  return typeof err === 'object' && err !== null ? (err as Record<string, unknown>)[name] : undefined;
}

/** Why a connection was refused at TLS or SASL, or null when it was not (a network failure, ...). */
export function securityFailure(err: unknown): SecurityFailure | null {
  const chain = errorChain(err);
  for (const e of chain) {
    const code = field(e, 'code');
    if (typeof code === 'string' && tlsFailureCodes.has(code)) {
      return { code: 'UPSTREAM_TLS', detail: `${code}: ${field(e, 'message') as string}` };
    }
  }
  const kafkaRefusal = chain.find((e) => kafkaSaslErrorCodes.has(field(e, 'apiCode') as number));
  if (kafkaRefusal !== undefined) {
    const server = field(kafkaRefusal, 'serverErrorMessage');
    const detail = typeof server === 'string' && server !== '' ? server : (field(kafkaRefusal, 'message') as string);
    return { code: 'UPSTREAM_AUTH', detail: `${String(field(kafkaRefusal, 'apiId'))}: ${detail}` };
  }
  // The deepest of the client's authentication errors says most (e.g. SCRAM's "Invalid server signature").
  const authentication = chain.filter((e) => field(e, 'code') === clientAuthenticationCode).at(-1);
  if (authentication !== undefined) return { code: 'UPSTREAM_AUTH', detail: String(field(authentication, 'message')) };
  return null;
}

/**
 * What failed and what to check, naming the files, the mechanism, the user and the brokers, never the
 * password. `where` is the client's own words on the connection ("Connection to HOST:PORT failed.").
 */
export function securityFailureMessage(failure: SecurityFailure, where: string, security: UpstreamSecurity | undefined, brokers: readonly string[]): string {
  const cluster = `broker(s) ${brokers.join(',')}`;
  if (failure.code === 'UPSTREAM_AUTH') {
    const sasl = security?.sasl;
    if (sasl === undefined) return `Kafka refused the connection at SASL (${where} ${failure.detail}); ${cluster} may need upstream.kafka.sasl`;
    const mechanism = clientMechanism[sasl.mechanism];
    return (
      `Kafka refused SASL ${mechanism} authentication as ${sasl.username} (${where} ${failure.detail}); ` +
      `check upstream.kafka.sasl (username, mechanism, password from ${sasl.passwordSource}) and that ${cluster} have this user for ${mechanism}`
    );
  }
  const tls = security?.tls;
  const ca = tls?.files.ca === undefined ? 'the system CAs (upstream.kafka.tls.ca is not set)' : `upstream.kafka.tls.ca (${tls.files.ca})`;
  const name = tls?.servername === undefined ? 'the host in upstream.kafka.brokers' : `upstream.kafka.tls.servername (${tls.servername})`;
  const cert = tls?.files.cert === undefined ? '' : `, and that the brokers trust upstream.kafka.tls.cert (${tls.files.cert})`;
  return `TLS with ${cluster} failed (${where} ${failure.detail}); check that ${ca} signed the brokers' certificate and that it names ${name}${cert}`;
}
