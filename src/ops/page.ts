/**
 * The status page's files: `GET /` (index.html), `/page.js`, `/page.css`, `/favicon.svg`, served from memory.
 *
 * The files live in src/ops/page/ as plain HTML, CSS and JavaScript (no build step for the page);
 * `npm run build` copies them to dist/src/ops/page/ (found from the package root, so the one-file build
 * in dist/src/cli finds them too), and scripts/install.sh ships dist/src with
 * them. They are read once, when the HTTP server starts: a request does no I/O, and a broken install
 * (a file missing) stops serve at start with PageAssetsMissingError rather than serving 404s later.
 *
 * Invariants: the set of paths is fixed here; every response carries the same strict
 * Content-Security-Policy (scripts, styles and connections from this origin only; no inline code; no
 * framing), so the page keeps working with JavaScript restricted to its own files. The page reads
 * only `/api/v1/status`, which always passes the `http.auth` check.
 *
 * Who may load the page's files: without a bearer token configured, the same `http.auth` as
 * `/api/v1/status`, so a password file gives the browser's own login prompt on navigation and a client
 * certificate is asked for in the TLS handshake, as before. With `http.auth.bearerTokenFile`, the files
 * are served without credentials (`pageServedOpen`): a browser cannot send a bearer header when it
 * navigates, so a protected page could never load, and a technician with a token would be locked out
 * of the one view meant for them. What is opened holds nothing secret (the same static files as in the
 * package, no figure, no gateway name); every number still comes from `/api/v1/status`, which stays
 * protected: page.js asks for the token once when it gets a Bearer challenge, keeps it in
 * sessionStorage (this tab only, gone when the tab closes; not localStorage, on a field laptop shared
 * by a crew) and sends it as `Authorization: Bearer` on its polls.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { PageAssetsMissingError, errorMessage } from '../errors.js';
import { PACKAGE_ROOT } from '../version.js';

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

/** Reads every page file; `dir` defaults to dist/src/ops/page/ of this package (the copy the build makes). */
export function loadPageAssets(dir: string = path.join(PACKAGE_ROOT, 'dist', 'src', 'ops', 'page')): Map<string, PageAsset> {
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

/** Whether the page's files skip `http.auth`: only with a bearer token configured (see the top of this file). */
export function pageServedOpen(auth: { bearerTokenFile?: string | undefined }): boolean {
  return auth.bearerTokenFile !== undefined;
}
