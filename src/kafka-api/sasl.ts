/**
 * SASL PLAIN (RFC 4616) for the local Kafka API, against the MQTT password file (Mosquitto's format,
 * src/auth/password-file.ts): the same users and passwords as the sensors' side, so an operator keeps one
 * file. Kafka's flow (KIP-152): SaslHandshake v1 names the mechanism, then SaslAuthenticate carries the
 * token `authzid NUL authcid NUL password`. A refusal is answered after AUTH_FAILURE_DELAY_MS, like an
 * MQTT refusal, and the connection is then closed by the server (as Kafka does).
 *
 * Invariant: no message and no log line holds the password or the token.
 */
import { verifyPassword, type PasswordEntry } from '../auth/password-file.js';

export const SASL_MECHANISM = 'PLAIN';

export type PlainResult = { ok: true; user: string } | { ok: false; reason: 'malformed' | 'unknown-user' | 'bad-password' | 'authzid' };

/** Checks a PLAIN token against `passwords`. */
export async function checkPlain(token: Buffer, passwords: ReadonlyMap<string, PasswordEntry>): Promise<PlainResult> {
  const first = token.indexOf(0);
  const second = first < 0 ? -1 : token.indexOf(0, first + 1);
  if (first < 0 || second < 0 || token.indexOf(0, second + 1) >= 0) return { ok: false, reason: 'malformed' };
  const authzid = token.subarray(0, first).toString('utf8');
  const user = token.subarray(first + 1, second).toString('utf8');
  const password = token.subarray(second + 1);
  if (user.length === 0) return { ok: false, reason: 'malformed' };
  // Acting for someone else is not offered: an authzid must be empty or the user itself.
  if (authzid !== '' && authzid !== user) return { ok: false, reason: 'authzid' };
  const entry = passwords.get(user);
  if (entry === undefined) return { ok: false, reason: 'unknown-user' };
  return (await verifyPassword(entry, password)) ? { ok: true, user } : { ok: false, reason: 'bad-password' };
}
