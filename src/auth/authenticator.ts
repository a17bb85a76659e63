/**
 * Who may connect over MQTT: a pure decision from the CONNECT's credentials and the peer's address.
 *
 *   - on a listener with `useIdentityAsUsername`, the TLS client certificate is the credential: its CN
 *     is the user (the CONNECT's user name and password are ignored, as in Mosquitto), and a verified
 *     certificate without a CN is refused with return code 5;
 *   - a user name and password are checked against the password file (password-file.ts), when one is
 *     configured: unknown user or wrong password → refused, return code 5 (not authorized), as Mosquitto
 *     answers an MQTT 3.1.1 client, so devices moved from it see what they saw there (3.1.1's code 4 is for
 *     a malformed user name or password);
 *   - without a password file, credentials are not checked and the client counts as anonymous;
 *   - anonymous clients (no user name, or no password file): `allowAnonymous` true lets them in from
 *     anywhere, false from nowhere, and unset (the default, as in Mosquitto 2) from loopback only;
 *     refused → return code 5 (not authorized).
 *
 * The delay before a refusal (AUTH_FAILURE_DELAY_MS) is the caller's (ingest), so that this stays a decision.
 */
import { isLoopback } from './address.js';
import { verifyPassword, type PasswordEntry } from './password-file.js';

/**
 * A refused credential (MQTT CONNECT, HTTP request) is answered this much later, so passwords and
 * tokens cannot be guessed at network speed. The wait is the caller's, on a timer.
 */
export const AUTH_FAILURE_DELAY_MS = 1_000;

export type AuthDecision = { ok: true; user: string | null } | { ok: false; returnCode: 5; reason: 'unknown-user' | 'bad-password' | 'anonymous-refused' | 'will-denied' | 'no-certificate-identity' };

export interface AuthOptions {
  /** Parsed password file, or null when none is configured. */
  passwords: Map<string, PasswordEntry> | null;
  allowAnonymous?: boolean | undefined;
}

export class Authenticator {
  constructor(private readonly options: AuthOptions) {}

  /** Whether anonymous clients are let in from addresses other than loopback. */
  get anonymousFromNetwork(): boolean {
    return this.options.allowAnonymous === true;
  }

  /** `certificateUser`: undefined unless the listener takes identities from certificates (see above). */
  async check(username: string | undefined, password: Buffer | undefined, address: string | undefined, certificateUser?: string | null): Promise<AuthDecision> {
    if (certificateUser !== undefined) {
      return certificateUser === null ? { ok: false, returnCode: 5, reason: 'no-certificate-identity' } : { ok: true, user: certificateUser };
    }
    const { passwords } = this.options;
    if (passwords !== null && username !== undefined) {
      const entry = passwords.get(username);
      if (entry === undefined) return { ok: false, returnCode: 5, reason: 'unknown-user' };
      if (password === undefined || !(await verifyPassword(entry, password))) return { ok: false, returnCode: 5, reason: 'bad-password' };
      return { ok: true, user: username };
    }
    const allow = this.options.allowAnonymous;
    if (allow === true || (allow === undefined && isLoopback(address))) return { ok: true, user: null };
    return { ok: false, returnCode: 5, reason: 'anonymous-refused' };
  }
}
