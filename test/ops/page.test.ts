/**
 * Proves the status page's serving on a real socket (port 0): `GET /`, `/page.js`, `/page.css` and
 * `/favicon.svg` answer with their content types, the strict Content-Security-Policy (no
 * 'unsafe-inline', no other origin) and nosniff; HEAD has the headers and no body; POST is 405; without
 * page files `/` stays 404. The shipped files hold no inline script, no inline style and no URL of
 * another origin (the CSP would block them; a field technician may have no internet). A page folder
 * with a file missing is a PageAssetsMissingError naming the file, at start.
 */
import assert from 'node:assert/strict';
import { request } from 'node:http';
import { after, before, test } from 'node:test';
import { PageAssetsMissingError } from '../../src/errors.js';
import { startHttpServer, type HttpServerHandle } from '../../src/ops/http.js';
import { createLogger } from '../../src/ops/logger.js';
import { loadPageAssets, PAGE_CSP } from '../../src/ops/page.js';
import { tmpDir } from '../helpers/tmp.js';

const logger = createLogger({ level: 'silent' });
const page = loadPageAssets();
let withPage: HttpServerHandle;
let without: HttpServerHandle;

const options = { host: '127.0.0.1', port: 0, logger, metrics: { render: async () => '', contentType: 'text/plain' }, health: () => ({ status: 'ok' as const, checks: [] }), status: () => ({}) };

before(async () => {
  withPage = await startHttpServer({ ...options, page });
  without = await startHttpServer(options);
});
after(async () => {
  await withPage.close();
  await without.close();
});

function call(port: number, method: string, path: string): Promise<{ status: number; headers: Record<string, unknown>; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, method, path }, (res) => {
      let body = '';
      res.setEncoding('utf8').on('data', (d: string) => (body += d)).on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
    });
    req.on('error', reject).end();
  });
}

test('the page and its files, with types, CSP and nosniff; HEAD without body; POST 405', async () => {
  const types: Record<string, RegExp> = { '/': /^text\/html/, '/page.js': /^text\/javascript/, '/page.css': /^text\/css/, '/favicon.svg': /^image\/svg\+xml/ };
  for (const [path, type] of Object.entries(types)) {
    const res = await call(withPage.port, 'GET', path);
    assert.equal(res.status, 200, path);
    assert.match(String(res.headers['content-type']), type, path);
    assert.equal(res.headers['content-security-policy'], PAGE_CSP);
    assert.equal(res.headers['x-content-type-options'], 'nosniff');
    assert.equal(res.body, page.get(path)?.body.toString('utf8'));
  }
  assert.match(PAGE_CSP, /^default-src 'self';/);
  assert.doesNotMatch(PAGE_CSP, /unsafe|\*|https?:/);
  const head = await call(withPage.port, 'HEAD', '/');
  assert.equal(head.status, 200);
  assert.equal(head.body, '');
  assert.equal(Number(head.headers['content-length']), page.get('/')?.body.length);
  const post = await call(withPage.port, 'POST', '/');
  assert.equal(post.status, 405);
  assert.equal(post.headers.allow, 'GET, HEAD');
  assert.equal((await call(without.port, 'GET', '/')).status, 404);
});

test('the shipped files: no inline script or style, nothing from another origin', () => {
  const html = page.get('/')?.body.toString('utf8') ?? '';
  assert.doesNotMatch(html, /<script(?![^>]*\bsrc=)[^>]*>/, 'inline <script>');
  assert.doesNotMatch(html, /<style|\sstyle=|\son[a-z]+=/i, 'inline style or handler');
  for (const [path, asset] of page) {
    const text = asset.body.toString('utf8');
    const urls = [...text.matchAll(/(?:src|href)="([^"]*)"|url\(([^)]*)\)|fetch\(['"`]([^'"`]*)/g)].map((m) => m[1] ?? m[2] ?? m[3] ?? '');
    for (const url of urls) assert.doesNotMatch(url, /^(?:[a-z]+:)?\/\//i, `${path} refers to ${url}`);
    assert.ok(asset.body.length < 40_000, `${path} is ${asset.body.length} bytes`);
  }
});

test('a page folder with a file missing is PageAssetsMissingError naming it', () => {
  assert.throws(() => loadPageAssets(tmpDir()), (err: unknown) => err instanceof PageAssetsMissingError && err.code === 'PAGE_ASSETS_MISSING' && /index\.html/.test(err.message));
});
