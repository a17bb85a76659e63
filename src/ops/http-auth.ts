/**
 * Who may read the operations HTTP routes. When any credential is configured, every route but
 * `/healthz` (probed by systemd, watchdogs and load balancers, which carry none) passes `check()`:
 *
 *   Authorization: Bearer TOKEN                a token of `http.auth.bearerTokenFile` (src/auth/token-file.ts)
 *   Authorization: Basic base64(USER:PASSWORD) a user of `http.auth.passwordFile`, Mosquitto's format,
 *                                              verified on libuv's thread pool (src/auth/password-file.ts)
 *   a TLS client certificate                   signed by `http.tls.ca`, with `http.tls.requestCert`
 *
 * Any one of them passes. Without one a request is refused: 401 with a `WWW-Authenticate` challenge
 * for each configured scheme (403 when client certificates are the only credential: HTTP has no scheme
 * to challenge with), and `{"error": ...}` that does not say what was wrong. The answer leaves
 * `failureDelayMs` later, on a timer, so other requests are served meanwhile. Each refusal is counted
 * by reason (`HttpAuthFailure`) and logged with address, path and user name, never a token or password.
 *
 * Limit: at most `judgingMax` requests are being judged or waiting out their delay at once. Past it a
 * request is refused at once with 429 and `Retry-After`, its credentials unread, so guesses come no
 * faster than `judgingMax` per delay however many connections bring them. (A flood can make the
 * protected routes answer 429 while it lasts; it cannot speed up guessing.)
 *
 * Invariants: which schemes are on is fixed by the config at start; the credentials in force are
 * replaced only whole, once every configured file has parsed (a damaged file on reload is thrown and
 * changes nothing); `judging` stays within 0..judgingMax.
 */
import assert from 'node:assert/strict';
import type { IncomingMessage } from 'node:http';
import type { TLSSocket } from 'node:tls';
import { AUTH_FAILURE_DELAY_MS } from '../auth/authenticator.js';
import { parsePasswordFile, verifyPassword, type PasswordEntry } from '../auth/password-file.js';
import { B64TOKEN, TokenSet } from '../auth/token-file.js';
import { readConfiguredFile } from '../config/files.js';
import type { Logger } from './logger.js';

export const REALM = 'tributary';
export const AUTH_JUDGING_MAX = 100;

/** The metric label of a refusal. `scheme`: a scheme that is not configured (or unknown). */
export type HttpAuthFailure = 'missing' | 'malformed' | 'scheme' | 'bad-token' | 'unknown-user' | 'bad-password' | 'throttled';

/** What an `Authorization` header holds. */
export type Credential =
  | { scheme: 'none' }
  | { scheme: 'bearer'; token: string }
  | { scheme: 'basic'; user: string; password: string }
  | { scheme: 'other' }
  | { scheme: 'malformed' };

export interface HttpAuthConfig {
  bearerTokenFile?: string | undefined;
  passwordFile?: string | undefined;
  /** `http.tls.requestCert`: a client certificate that `http.tls.ca` signed passes. */
  clientCertificates: boolean;
}

export interface HttpAuthOptions {
  config: HttpAuthConfig;
  logger: Logger;
  onFailure(reason: HttpAuthFailure): void;
  failureDelayMs?: number;
  judgingMax?: number;
}

/** The answer to a refused request. */
export interface Refusal {
  statusCode: 401 | 403 | 429;
  headers: Record<string, string | string[]>;
  error: string;
}

interface Credentials {
  tokens: TokenSet | null;
  passwords: Map<string, PasswordEntry> | null;
}

type Judgement = { ok: true } | { ok: false; reason: HttpAuthFailure; user?: string };

/** RFC 9110 section 11: `auth-scheme [ 1*SP ( token68 / #auth-param ) ]`; the scheme is case-insensitive. */
const CREDENTIALS = /^([!#$%&'*+.^_`|~0-9A-Za-z-]+)(?: +(\S.*))?$/;
const BASE64 = /^[A-Za-z0-9+/]+={0,2}$/;
const utf8 = new TextDecoder('utf-8', { fatal: true });

/** Reads an `Authorization` header; pure. */
export function parseAuthorization(header: string | undefined): Credential {
  if (header === undefined || header.trim() === '') return { scheme: 'none' };
  const m = CREDENTIALS.exec(header.trim());
  if (m === null) return { scheme: 'malformed' };
  const scheme = (m[1] as string).toLowerCase();
  const rest = m[2];
  if (scheme === 'bearer') return rest !== undefined && B64TOKEN.test(rest) ? { scheme: 'bearer', token: rest } : { scheme: 'malformed' };
  if (scheme !== 'basic') return { scheme: 'other' };
  // RFC 7617: base64 of user-id ":" password, UTF-8; a user-id cannot hold ':', a password can.
  if (rest === undefined || !BASE64.test(rest) || rest.length % 4 !== 0) return { scheme: 'malformed' };
  let pair: string;
  try {
    pair = utf8.decode(Buffer.from(rest, 'base64'));
  } catch {
    return { scheme: 'malformed' };
  }
  const colon = pair.indexOf(':');
  if (colon < 0) return { scheme: 'malformed' };
  return { scheme: 'basic', user: pair.slice(0, colon), password: pair.slice(colon + 1) };
}

export class HttpAuth {
  private credentials: Credentials;
  private judging = 0;
  private throttling = false;
  private readonly failureDelayMs: number;
  private readonly judgingMax: number;

  private constructor(private readonly options: HttpAuthOptions) {
    this.failureDelayMs = options.failureDelayMs ?? AUTH_FAILURE_DELAY_MS;
    this.judgingMax = options.judgingMax ?? AUTH_JUDGING_MAX;
    assert.ok(this.failureDelayMs >= 0 && this.judgingMax >= 1);
    this.credentials = this.load();
  }

  /** Reads the configured files; a missing or damaged one is a ConfigError naming it. */
  static load(options: HttpAuthOptions): HttpAuth {
    return new HttpAuth(options);
  }

  /** Whether any credential is configured; without one every route is open. */
  get enabled(): boolean {
    const { bearerTokenFile, passwordFile, clientCertificates } = this.options.config;
    return bearerTokenFile !== undefined || passwordFile !== undefined || clientCertificates;
  }

  /** SIGHUP: re-reads the token and password files; a damaged one is thrown and the old ones stay. */
  reload(): void {
    this.credentials = this.load();
  }

  /** null: let the request through. Otherwise the answer to send, already delayed. `path` is for the log. */
  async check(req: IncomingMessage, path: string): Promise<Refusal | null> {
    if (!this.enabled) return null;
    if (this.options.config.clientCertificates && (req.socket as Partial<TLSSocket>).authorized === true) return null;
    if (this.judging >= this.judgingMax) return this.throttle(req);
    this.judging++;
    try {
      const judgement = await this.judge(parseAuthorization(req.headers.authorization));
      if (judgement.ok) return null;
      this.options.onFailure(judgement.reason);
      const user = judgement.user === undefined ? {} : { user: judgement.user };
      this.options.logger.warn({ reason: judgement.reason, ...user, address: req.socket.remoteAddress, path }, 'http request refused: not authenticated');
      await new Promise((resolve) => setTimeout(resolve, this.failureDelayMs));
      return this.challenge();
    } finally {
      this.judging--;
      assert.ok(this.judging >= 0);
      // The flood is over once nothing is left waiting: the next one is logged again.
      if (this.judging === 0) this.throttling = false;
    }
  }

  private async judge(credential: Credential): Promise<Judgement> {
    const { tokens, passwords } = this.credentials;
    switch (credential.scheme) {
      case 'none':
        return { ok: false, reason: 'missing' };
      case 'malformed':
        return { ok: false, reason: 'malformed' };
      case 'other':
        return { ok: false, reason: 'scheme' };
      case 'bearer':
        if (tokens === null) return { ok: false, reason: 'scheme' };
        return tokens.matches(credential.token) ? { ok: true } : { ok: false, reason: 'bad-token' };
      case 'basic': {
        if (passwords === null) return { ok: false, reason: 'scheme' };
        const { user } = credential;
        const entry = passwords.get(user);
        if (entry === undefined) return { ok: false, reason: 'unknown-user', user };
        return (await verifyPassword(entry, credential.password)) ? { ok: true } : { ok: false, reason: 'bad-password', user };
      }
    }
  }

  private challenge(): Refusal {
    const challenges: string[] = [];
    if (this.options.config.bearerTokenFile !== undefined) challenges.push(`Bearer realm="${REALM}"`);
    if (this.options.config.passwordFile !== undefined) challenges.push(`Basic realm="${REALM}", charset="UTF-8"`);
    if (challenges.length === 0) return { statusCode: 403, headers: {}, error: 'a client certificate signed by http.tls.ca is required' };
    return { statusCode: 401, headers: { 'WWW-Authenticate': challenges }, error: 'not authenticated' };
  }

  private throttle(req: IncomingMessage): Refusal {
    this.options.onFailure('throttled');
    if (!this.throttling) {
      this.throttling = true;
      this.options.logger.warn({ judgingMax: this.judgingMax, address: req.socket.remoteAddress }, 'http: too many requests failing authentication at once; refusing more with 429 unread');
    }
    const retryAfterSeconds = Math.max(1, Math.ceil(this.failureDelayMs / 1000));
    return { statusCode: 429, headers: { 'Retry-After': String(retryAfterSeconds) }, error: 'too many failed authentications; retry later' };
  }

  private load(): Credentials {
    const { bearerTokenFile, passwordFile } = this.options.config;
    const text = (file: string, key: string): string => readConfiguredFile(file, key).toString('utf8');
    const tokens = bearerTokenFile === undefined ? null : TokenSet.parse(text(bearerTokenFile, 'http.auth.bearerTokenFile'), bearerTokenFile);
    const passwords = passwordFile === undefined ? null : parsePasswordFile(text(passwordFile, 'http.auth.passwordFile'), passwordFile);
    if (this.enabled) {
      this.options.logger.info({ bearerTokenFile, tokens: tokens?.size, passwordFile, users: passwords?.size, clientCertificates: this.options.config.clientCertificates }, 'http credentials loaded');
    }
    return { tokens, passwords };
  }
}
