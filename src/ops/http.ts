/**
 * The operations HTTP server: `GET /healthz`, `GET /metrics`, `GET /api/v1/status`, and the status
 * page (`GET /` and its files, src/ops/page.ts) with a strict Content-Security-Policy.
 *
 * Plain node:http: three read-only routes do not justify a framework on a Pi. HEAD is served like GET
 * without a body (HTTP requires it of general-purpose servers); any other method is 405 with `Allow`.
 * Unknown paths are 404. A handler that throws answers 500 and is logged; it never takes the broker down.
 *
 * `close()` stops accepting, lets requests in flight finish for up to `closeTimeoutMs`, then cuts the
 * remaining connections, so a scraper holding a keep-alive connection cannot hold shutdown hostage.
 *
 * With `tls` it is HTTPS (node:https). A client certificate is asked for with `requestCert` but never
 * required by the handshake: `/healthz` stays open to probes without one, and whether a certificate
 * counts as a credential is `auth`'s decision (src/ops/http-auth.ts), which every other path passes
 * before it is routed, so an unknown path says nothing to an unauthenticated client. The status page's
 * own files skip that check only with `pageOpen` (a bearer token configured: src/ops/page.ts).
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer, type Server as HttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { readConfiguredFile } from '../config/files.js';
import { ConfigError, errorMessage } from '../errors.js';
import type { HealthReport } from './health.js';
import type { Refusal } from './http-auth.js';
import type { Logger } from './logger.js';
import { PAGE_CSP, type PageAsset } from './page.js';

/** The one path open without credentials: service managers and load balancers probe it. */
export const HEALTH_PATH = '/healthz';

/** `http.tls`: file names. */
export interface HttpTlsConfig {
  cert: string;
  key: string;
  ca?: string | undefined;
  requestCert: boolean;
}

export interface HttpServerOptions {
  /** Default 0.0.0.0. */
  host?: string;
  /** 0 picks a free port; read it back from the handle. */
  port: number;
  /** Anything that renders Prometheus text: `createMetrics()`'s result fits. */
  metrics: { render(): Promise<string>; readonly contentType: string };
  health: () => HealthReport | Promise<HealthReport>;
  status: () => object | Promise<object>;
  logger: Logger;
  /** How long `close()` waits for requests in flight; default 2,000 ms. */
  closeTimeoutMs?: number;
  /** HTTPS instead of HTTP. */
  tls?: HttpTlsConfig | undefined;
  /** Asked about every request but `/healthz`'s (src/ops/http-auth.ts); without it all are served. */
  auth?: { check(req: IncomingMessage, path: string): Promise<Refusal | null> } | undefined;
  /** The status page's files by URL path (`loadPageAssets()`); without them `/` is 404. */
  page?: ReadonlyMap<string, PageAsset> | undefined;
  /** Serve the page's files without asking `auth` (src/ops/page.ts says when and why); `/api/v1/status` still asks. */
  pageOpen?: boolean | undefined;
}

export interface HttpServerHandle {
  readonly host: string;
  readonly port: number;
  close(): Promise<void>;
}

type Route = (res: ServerResponse) => Promise<void>;

/** A slow or stalled client must not hold a socket for long on a small gateway. */
const REQUEST_TIMEOUT_MS = 10_000;
const HEADERS_TIMEOUT_MS = 5_000;

export async function startHttpServer(options: HttpServerOptions): Promise<HttpServerHandle> {
  const routes = buildRoutes(options);
  const inFlight = new Set<ServerResponse>();
  const server = makeServer(options.tls, (req, res) => {
    inFlight.add(res);
    res.on('close', () => inFlight.delete(res));
    void handle(routes, req, res, options);
  });
  const host = options.host ?? '0.0.0.0';
  await listen(server, host, options.port);
  const { port } = server.address() as AddressInfo;
  options.logger.info({ host, port, tls: options.tls !== undefined }, 'http listening');
  const close = (): Promise<void> => {
    // A response finishing during close() must not leave its connection idling in keep-alive.
    for (const res of inFlight) if (!res.headersSent) res.setHeader('Connection', 'close');
    return closeGracefully(server, options.closeTimeoutMs ?? 2_000);
  };
  return { host, port, close };
}

type OpsServer = Server | HttpsServer;

function makeServer(tls: HttpTlsConfig | undefined, listener: (req: IncomingMessage, res: ServerResponse) => void): OpsServer {
  const timeouts = { requestTimeout: REQUEST_TIMEOUT_MS, headersTimeout: HEADERS_TIMEOUT_MS };
  if (tls === undefined) return createServer(timeouts, listener);
  const files = {
    cert: readConfiguredFile(tls.cert, 'http.tls.cert'),
    key: readConfiguredFile(tls.key, 'http.tls.key'),
    ...(tls.ca === undefined ? {} : { ca: readConfiguredFile(tls.ca, 'http.tls.ca') }),
  };
  try {
    return createHttpsServer({ ...timeouts, ...files, requestCert: tls.requestCert, rejectUnauthorized: false }, listener);
  } catch (err) {
    throw new ConfigError(`http.tls: cannot use cert ${tls.cert} with key ${tls.key}${tls.ca === undefined ? '' : ` and ca ${tls.ca}`}: ${errorMessage(err)}`, 'http.tls', { cause: err });
  }
}

function buildRoutes(options: HttpServerOptions): Map<string, Route> {
  return new Map<string, Route>([
    [HEALTH_PATH, async (res) => {
      const report = await options.health();
      sendJson(res, report.status === 'ok' ? 200 : 503, report);
    }],
    ['/metrics', async (res) => {
      const body = await options.metrics.render();
      send(res, 200, options.metrics.contentType, body);
    }],
    ['/api/v1/status', async (res) => sendJson(res, 200, await options.status())],
    ...[...(options.page ?? [])].map(([path, asset]): [string, Route] => [path, async (res) => sendAsset(res, asset)]),
  ]);
}

async function handle(routes: Map<string, Route>, req: IncomingMessage, res: ServerResponse, options: HttpServerOptions): Promise<void> {
  const path = new URL(req.url ?? '/', 'http://localhost').pathname;
  try {
    const open = path === HEALTH_PATH || (options.pageOpen === true && options.page?.has(path) === true);
    const refusal = open || options.auth === undefined ? null : await options.auth.check(req, path);
    if (refusal !== null) {
      for (const [name, value] of Object.entries(refusal.headers)) res.setHeader(name, value);
      return sendJson(res, refusal.statusCode, { error: refusal.error });
    }
    const route = routes.get(path);
    if (route === undefined) return sendJson(res, 404, { error: 'not found', path });
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.setHeader('Allow', 'GET, HEAD');
      return sendJson(res, 405, { error: 'method not allowed', method: req.method ?? '' });
    }
    await route(res);
  } catch (err) {
    options.logger.error({ err, path }, 'http handler failed');
    if (!res.headersSent) sendJson(res, 500, { error: 'internal error' });
    else res.destroy();
  }
}

function sendJson(res: ServerResponse, statusCode: number, body: unknown): void {
  send(res, statusCode, 'application/json; charset=utf-8', `${JSON.stringify(body)}\n`);
}

function sendAsset(res: ServerResponse, asset: PageAsset): void {
  res.writeHead(200, {
    'Content-Type': asset.contentType,
    'Content-Length': asset.body.length,
    'Content-Security-Policy': PAGE_CSP,
    'X-Content-Type-Options': 'nosniff',
    'Referrer-Policy': 'no-referrer',
    // Small files and a new version on upgrade: revalidating is cheaper than a stale page.
    'Cache-Control': 'no-cache',
  });
  res.end(asset.body);
}

function send(res: ServerResponse, statusCode: number, contentType: string, body: string): void {
  res.writeHead(statusCode, {
    'Content-Type': contentType,
    'Content-Length': Buffer.byteLength(body),
    // Health and metrics are live readings: a cache between scraper and broker would lie.
    'Cache-Control': 'no-store',
  });
  res.end(body);
}

function listen(server: OpsServer, host: string, port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
}

function closeGracefully(server: OpsServer, timeoutMs: number): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(() => server.closeAllConnections(), timeoutMs);
    timer.unref();
    server.close(() => {
      clearTimeout(timer);
      resolve();
    });
    // Keep-alive connections with no request in flight would otherwise keep close() waiting.
    server.closeIdleConnections();
  });
}
