/**
 * Bearer tokens for the operations HTTP routes (`http.auth.bearerTokenFile`):
 *
 *   file  := line*        blank lines and lines starting with '#' are skipped; white space around a token is trimmed
 *   line  := token
 *   token := 16..4096 characters of RFC 6750's b64token: 1*( A-Z / a-z / 0-9 / "-" / "." / "_" / "~" / "+" / "/" ) *"="
 *
 * Every token listed passes, so a token is rotated without a gap: add the new one, SIGHUP, move the
 * clients, remove the old one, SIGHUP. `openssl rand -hex 32` makes a good one.
 *
 * Invariants: a parsed set holds at least one token, and only their SHA-256 digests (all 32 bytes,
 * whatever the token's length, so no comparison can stop early on a length). `matches` hashes the
 * presented token and compares it with every digest in constant time, without stopping at a hit. No
 * message quotes a line of the file: a token is a secret even when it is malformed.
 */
import assert from 'node:assert/strict';
import { createHash, timingSafeEqual } from 'node:crypto';
import { ConfigError } from '../errors.js';

export const TOKEN_CHARS_MIN = 16;
export const TOKEN_CHARS_MAX = 4096;
/** RFC 6750 section 2.1, b64token: what a bearer token is made of, in the file and in a header. */
export const B64TOKEN = /^[A-Za-z0-9\-._~+/]+=*$/;
const DIGEST_BYTES = 32;

export class TokenSet {
  private constructor(private readonly digests: readonly Buffer[]) {
    assert.ok(digests.length > 0, 'a token set holds at least one token');
    assert.ok(digests.every((d) => d.length === DIGEST_BYTES));
  }

  /** Parses a token file; `file` names it in errors (`file:line: what`). */
  static parse(text: string, file: string): TokenSet {
    return new TokenSet(parseTokens(text, file).map(digest));
  }

  get size(): number {
    return this.digests.length;
  }

  /** Whether `token` is one of the set, in time that depends on neither the token nor which one it matches. */
  matches(token: string): boolean {
    const presented = digest(token);
    let hit = false;
    for (const d of this.digests) hit = timingSafeEqual(presented, d) || hit;
    return hit;
  }
}

/** The tokens of a token file, in order: at least one. What a client sends is the first. */
export function parseTokens(text: string, file: string): string[] {
  const tokens: string[] = [];
  const lines = text.split(/\r?\n/);
  for (let i = 0; i < lines.length; i++) {
    const token = (lines[i] as string).trim();
    if (token === '' || token.startsWith('#')) continue;
    const problem = tokenProblem(token);
    if (problem !== null) throw new ConfigError(`${file}:${i + 1}: ${problem}`, file);
    tokens.push(token);
  }
  if (tokens.length === 0) throw new ConfigError(`${file}: holds no token (one a line; lines starting with # are comments)`, file);
  return tokens;
}

/** Why `token` cannot be a bearer token, or null; never quotes it. */
export function tokenProblem(token: string): string | null {
  if (token.length < TOKEN_CHARS_MIN) return `a token is at least ${TOKEN_CHARS_MIN} characters (make one with: openssl rand -hex 32)`;
  if (token.length > TOKEN_CHARS_MAX) return `a token is at most ${TOKEN_CHARS_MAX} characters`;
  if (!B64TOKEN.test(token)) return 'a token is made of A-Z a-z 0-9 - . _ ~ + / and may end in = (RFC 6750 b64token)';
  return null;
}

function digest(token: string): Buffer {
  return createHash('sha256').update(token, 'utf8').digest();
}
