/**
 * Mosquitto's password-file format, read and written so that files made by `mosquitto_passwd` (Debian's
 * mosquitto 2) work unchanged, and files made by `tributary passwd` work in Mosquitto.
 *
 *   file     := line*            (blank lines and lines starting with '#' are skipped)
 *   line     := user ':' hash
 *   user     := 1+ bytes of UTF-8 without ':' or a line break
 *   hash     := '$7$' iterations '$' salt '$' digest     PBKDF2-HMAC-SHA512(password, salt, iterations, 64 bytes)
 *             | '$6$' salt '$' digest                    SHA-512(password ‖ salt)   (mosquitto 1.6 and earlier)
 *   salt, digest := base64 (mosquitto writes a 12-byte salt and the 64-byte digest)
 *
 * Invariants: a parsed file has at most one entry per user (a second line for a user is an error, as
 * it would be ambiguous which one Mosquitto uses); every entry's digest is 64 bytes. Checking a
 * password runs PBKDF2 on libuv's thread pool (never on the event loop) and compares in constant time.
 */
import { createHash, pbkdf2, randomBytes, timingSafeEqual } from 'node:crypto';
import { ConfigError } from '../errors.js';

export type PasswordEntry =
  | { user: string; scheme: 'pbkdf2-sha512'; iterations: number; salt: Buffer; digest: Buffer }
  | { user: string; scheme: 'sha512'; salt: Buffer; digest: Buffer };

/** mosquitto_passwd's defaults for what it writes: 101 iterations, a 12-byte salt. */
export const PBKDF2_ITERATIONS = 101;
const SALT_BYTES = 12;
const DIGEST_BYTES = 64;
const ITERATIONS_MAX = 10_000_000;
const BASE64 = /^[A-Za-z0-9+/]+={0,2}$/;

/** Parses a password file; `file` names it in errors (`file:line: what`). */
export function parsePasswordFile(text: string, file: string): Map<string, PasswordEntry> {
  const entries = new Map<string, PasswordEntry>();
  const lines = text.split(/\r?\n/);
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i] as string;
    if (line.trim() === '' || line.startsWith('#')) continue;
    const where = `${file}:${i + 1}`;
    const entry = parseLine(line, where);
    if (entries.has(entry.user)) throw new ConfigError(`${where}: user "${entry.user}" appears twice`, file);
    entries.set(entry.user, entry);
  }
  return entries;
}

function parseLine(line: string, where: string): PasswordEntry {
  const colon = line.indexOf(':');
  if (colon <= 0) throw new ConfigError(`${where}: expected user:hash`, where);
  const user = line.slice(0, colon);
  const parts = line.slice(colon + 1).split('$');
  const bad = (what: string): ConfigError => new ConfigError(`${where}: user "${user}": ${what}`, where);
  // '$7$ITER$SALT$HASH' splits as ['', '7', ITER, SALT, HASH]; '$6$SALT$HASH' as ['', '6', SALT, HASH].
  if (parts[0] !== '' || (parts[1] !== '7' && parts[1] !== '6')) throw bad('the hash is not $7$ (PBKDF2-SHA512) or $6$ (SHA-512); plain-text passwords are not accepted (hash them with tributary passwd)');
  const decode = (s: string | undefined, what: string): Buffer => {
    if (s === undefined || !BASE64.test(s)) throw bad(`the ${what} is not base64`);
    return Buffer.from(s, 'base64');
  };
  if (parts[1] === '7') {
    if (parts.length !== 5) throw bad('a $7$ hash has the form $7$iterations$salt$digest');
    const iterations = Number(parts[2]);
    if (!Number.isInteger(iterations) || iterations < 1 || iterations > ITERATIONS_MAX) throw bad(`iterations "${parts[2]}" is not a whole number in 1..${ITERATIONS_MAX}`);
    const salt = decode(parts[3], 'salt');
    const digest = decode(parts[4], 'digest');
    if (digest.length !== DIGEST_BYTES) throw bad(`the digest has ${digest.length} bytes, expected ${DIGEST_BYTES}`);
    return { user, scheme: 'pbkdf2-sha512', iterations, salt, digest };
  }
  if (parts.length !== 4) throw bad('a $6$ hash has the form $6$salt$digest');
  const salt = decode(parts[2], 'salt');
  const digest = decode(parts[3], 'digest');
  if (digest.length !== DIGEST_BYTES) throw bad(`the digest has ${digest.length} bytes, expected ${DIGEST_BYTES}`);
  return { user, scheme: 'sha512', salt, digest };
}

/** Whether `password` matches `entry`. PBKDF2 runs off the event loop; the comparison takes constant time. */
export async function verifyPassword(entry: PasswordEntry, password: Buffer | string): Promise<boolean> {
  const secret = typeof password === 'string' ? Buffer.from(password, 'utf8') : password;
  const computed =
    entry.scheme === 'sha512'
      ? createHash('sha512').update(secret).update(entry.salt).digest()
      : await new Promise<Buffer>((resolve, reject) => pbkdf2(secret, entry.salt, entry.iterations, DIGEST_BYTES, 'sha512', (err, key) => (err ? reject(err) : resolve(key))));
  return computed.length === entry.digest.length && timingSafeEqual(computed, entry.digest);
}

/** A new $7$ entry for `user`, with a fresh random salt. */
export async function hashPassword(user: string, password: string, iterations = PBKDF2_ITERATIONS): Promise<PasswordEntry> {
  assertUser(user);
  const salt = randomBytes(SALT_BYTES);
  const digest = await new Promise<Buffer>((resolve, reject) => pbkdf2(Buffer.from(password, 'utf8'), salt, iterations, DIGEST_BYTES, 'sha512', (err, key) => (err ? reject(err) : resolve(key))));
  return { user, scheme: 'pbkdf2-sha512', iterations, salt, digest };
}

/** One line of the file for `entry`, without its line break. */
export function formatEntry(entry: PasswordEntry): string {
  const hash = entry.scheme === 'sha512' ? `$6$${entry.salt.toString('base64')}$${entry.digest.toString('base64')}` : `$7$${entry.iterations}$${entry.salt.toString('base64')}$${entry.digest.toString('base64')}`;
  return `${entry.user}:${hash}`;
}

export function formatPasswordFile(entries: Iterable<PasswordEntry>): string {
  return [...entries].map((e) => `${formatEntry(e)}\n`).join('');
}

/** A user name the format can hold. */
export function assertUser(user: string): void {
  if (user.length === 0 || /[:\r\n]/.test(user)) throw new ConfigError(`user name "${user}" is empty or contains ':' or a line break`, 'user');
}
