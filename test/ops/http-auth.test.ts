/**
 * The pure parts of HTTP authentication, and the gate on a real server (port 0, loopback):
 * - `parseAuthorization` reads Bearer and Basic credentials as RFC 6750 / 7617 / 9110 say (scheme in
 *   any case, a Basic password may hold ':', UTF-8), and calls anything else malformed or another scheme;
 * - a token file takes one token a line, skips comments and blank lines, accepts every listed token and
 *   nothing else (not a prefix, not a longer string), refuses short, odd or no tokens without quoting
 *   the line;
 * - the gate answers a refusal only after its delay while a good request is served at once, and past
 *   `judgingMax` refusals in flight it answers 429 unread, counted as `throttled`, until they are out.
 */
import test from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { TokenSet } from '../../src/auth/token-file.js';
import { ConfigError } from '../../src/errors.js';
import { HttpAuth, parseAuthorization, type HttpAuthFailure } from '../../src/ops/http-auth.js';
import { startHttpServer } from '../../src/ops/http.js';
import { createLogger } from '../../src/ops/logger.js';
import { createMetrics } from '../../src/ops/metrics.js';
import { tmpDir } from '../helpers/tmp.js';

const basic = (pair: string): string => `Basic ${Buffer.from(pair, 'utf8').toString('base64')}`;

test('Authorization headers: Bearer and Basic in any case, everything else malformed or another scheme', () => {
  assert.deepEqual(parseAuthorization(undefined), { scheme: 'none' });
  assert.deepEqual(parseAuthorization('  '), { scheme: 'none' });
  assert.deepEqual(parseAuthorization('Bearer abc-._~+/DEF=='), { scheme: 'bearer', token: 'abc-._~+/DEF==' });
  assert.deepEqual(parseAuthorization('bEaReR   tok'), { scheme: 'bearer', token: 'tok' });
  assert.deepEqual(parseAuthorization(basic('alice:pa:ss wörd')), { scheme: 'basic', user: 'alice', password: 'pa:ss wörd' });
  assert.deepEqual(parseAuthorization(`basic ${Buffer.from('bob:').toString('base64')}`), { scheme: 'basic', user: 'bob', password: '' });
  assert.deepEqual(parseAuthorization('Digest username="x"'), { scheme: 'other' });
  for (const bad of [
    'Bearer',
    'Bearer two tokens',
    'Bearer tok=en',
    'Bearer tök',
    'Basic',
    'Basic not*base64',
    'Basic YWxpY2U', // unpadded
    `Basic ${Buffer.from('no-colon').toString('base64')}`,
    `Basic ${Buffer.from([0x61, 0x3a, 0xff, 0xfe]).toString('base64')}`, // not UTF-8
    'B@d scheme',
    ':',
  ]) {
    assert.deepEqual(parseAuthorization(bad), { scheme: 'malformed' }, bad);
  }
});

test('a token file: one token a line, comments skipped, exactly the listed tokens pass, bad lines refused unquoted', () => {
  const a = 'a'.repeat(16);
  const b = 'Zm9vYmFyYmF6cXV4cXV1eA==';
  const set = TokenSet.parse(`# tokens for the scrapers\n\n  ${a}  \r\n${b}\n`, 'tokens');
  assert.equal(set.size, 2);
  assert.equal(set.matches(a), true);
  assert.equal(set.matches(b), true);
  for (const wrong of ['', 'a'.repeat(15), 'a'.repeat(17), `${a} `, b.slice(0, -1), 'b'.repeat(16)]) assert.equal(set.matches(wrong), false, wrong);

  const secret = 'short-secret';
  const cases: Array<[string, RegExp]> = [
    [`# c\n${secret}\n`, /^tokens:2: a token is at least 16 characters/],
    [`${a}\n${secret}with space\n`, /^tokens:2: a token is made of/],
    [`${'x'.repeat(4097)}\n`, /^tokens:1: a token is at most 4096/],
    ['# only a comment\n\n', /^tokens: holds no token/],
    ['', /^tokens: holds no token/],
  ];
  for (const [text, message] of cases) {
    assert.throws(
      () => TokenSet.parse(text, 'tokens'),
      (err: unknown) => err instanceof ConfigError && message.test(err.message) && !err.message.includes(secret),
      text,
    );
  }
});

test('the gate: a refusal waits out its delay without holding up others; past judgingMax, 429 unread until they are out', async () => {
  const dir = tmpDir();
  const tokenFile = path.join(dir, 'token');
  const token = 't'.repeat(32);
  fs.writeFileSync(tokenFile, `${token}\n`);
  const failures: HttpAuthFailure[] = [];
  const logger = createLogger({ level: 'silent' });
  const auth = HttpAuth.load({ config: { bearerTokenFile: tokenFile, clientCertificates: false }, logger, onFailure: (r) => failures.push(r), failureDelayMs: 400, judgingMax: 2 });
  const server = await startHttpServer({ host: '127.0.0.1', port: 0, auth, logger, metrics: createMetrics({ defaultMetrics: false }), health: () => ({ status: 'ok', checks: [] }), status: () => ({ ok: true }) });
  const url = `http://127.0.0.1:${server.port}/api/v1/status`;
  const get = async (authorization?: string): Promise<{ status: number; ms: number; retryAfter: string | null }> => {
    const t0 = Date.now();
    const res = await fetch(url, authorization === undefined ? {} : { headers: { authorization } });
    await res.arrayBuffer();
    return { status: res.status, ms: Date.now() - t0, retryAfter: res.headers.get('retry-after') };
  };
  try {
    const wrong1 = get('Bearer wrong-token-wrong-token');
    const wrong2 = get();
    await new Promise((resolve) => setTimeout(resolve, 50));
    const good = await get(`Bearer ${token}`);
    assert.equal(good.status, 429, 'two refusals are in flight: judgingMax reached, even a good token is not read');
    assert.equal(good.retryAfter, '1');
    assert.ok(good.ms < 200, `429 after ${good.ms} ms`);
    const [r1, r2] = await Promise.all([wrong1, wrong2]);
    assert.deepEqual([r1.status, r2.status], [401, 401]);
    assert.ok(r1.ms >= 400 && r2.ms >= 400, `refused after ${r1.ms} and ${r2.ms} ms`);

    const slow = get('Bearer wrong-token-wrong-token');
    await new Promise((resolve) => setTimeout(resolve, 50));
    const meanwhile = await get(`Bearer ${token}`);
    assert.equal(meanwhile.status, 200);
    assert.ok(meanwhile.ms < 300, `a good request waited ${meanwhile.ms} ms behind a refused one`);
    assert.equal((await slow).status, 401);
    assert.deepEqual(failures.sort(), ['bad-token', 'bad-token', 'missing', 'throttled']);
  } finally {
    await server.close();
  }
});
