/**
 * The status page's files: `GET /` (index.html), `/page.js`, `/page.css`, `/favicon.svg`, served from memory.
 *
 * The files live in src/ops/page/ as plain HTML, CSS and JavaScript (no build step for the page);
 * `npm run build` copies them next to this module in dist, and scripts/install.sh ships dist/src with
 * them. They are read once, when the HTTP server starts: a request does no I/O, and a broken install
 * (a file missing) stops serve at start with PageAssetsMissingError rather than serving 404s later.
 *
 * Invariants: the set of paths is fixed here; every response carries the same strict
 * Content-Security-Policy (scripts, styles and connections from this origin only; no inline code; no
 * framing), so the page keeps working with JavaScript restricted to its own files. The page reads
 * only `/api/v1/status`, which passes the same `http.auth` check as the page itself.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { fileURLToPath } from 'node:url';
import { PageAssetsMissingError, errorMessage } from '../errors.js';

export const PAGE_CSP = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

export interface PageAsset {
  contentType: string;
  body: Buffer;
}

/** URL path → file in src/ops/page/. */
const ASSETS: ReadonlyArray<readonly [string, string, string]> = [
  ['/', 'index.html', 'text/html; charset=utf-8'],
  ['/page.js', 'page.js', 'text/javascript; charset=utf-8'],
  ['/page.css', 'page.css', 'text/css; charset=utf-8'],
  // Without an icon of its own the browser asks for /favicon.ico and logs the 404 as an error.
  ['/favicon.svg', 'favicon.svg', 'image/svg+xml'],
];

/** Reads every page file; `dir` defaults to the page/ folder beside this module. */
export function loadPageAssets(dir: string = fileURLToPath(new URL('./page/', import.meta.url))): Map<string, PageAsset> {
  const assets = new Map<string, PageAsset>();
  for (const [urlPath, file, contentType] of ASSETS) {
    let body: Buffer;
    try {
      body = fs.readFileSync(`${dir.replace(/\/$/, '')}/${file}`);
    } catch (err) {
      throw new PageAssetsMissingError(`status page file ${file} missing from ${dir} (run 'npm run build', which copies src/ops/page/): ${errorMessage(err)}`, { cause: err });
    }
    assert.ok(body.length > 0, `status page file ${file} is empty`);
    assets.set(urlPath, { contentType, body });
  }
  assert.equal(assets.size, ASSETS.length);
  return assets;
}
