/**
 * One GET to the operations HTTP server, over http or https, for `tributary status` (and the tests).
 * node:http(s) rather than fetch: Node 20's fetch takes no CA file or client certificate without
 * importing undici itself. The body is read up to `bodyBytesMax`; past it the request fails.
 */
import http, { type IncomingHttpHeaders } from 'node:http';
import https from 'node:https';

export interface HttpGetOptions {
  headers?: Record<string, string>;
  /** PEM: the CA that signed an https server's certificate (instead of the system's CAs). */
  ca?: Buffer;
  /** PEM: a client certificate and its key. */
  cert?: Buffer;
  key?: Buffer;
  /** https without checking the server's certificate. */
  insecure?: boolean;
  timeoutMs?: number;
  bodyBytesMax?: number;
}

export interface HttpGetResult {
  status: number;
  headers: IncomingHttpHeaders;
  body: string;
}

const TIMEOUT_MS = 5_000;
const BODY_BYTES_MAX = 16 * 1024 * 1024;

export function httpGet(url: string, options: HttpGetOptions = {}): Promise<HttpGetResult> {
  const target = new URL(url);
  const bodyBytesMax = options.bodyBytesMax ?? BODY_BYTES_MAX;
  const common = { headers: options.headers ?? {}, timeout: options.timeoutMs ?? TIMEOUT_MS };
  return new Promise((resolve, reject) => {
    const onResponse = (res: http.IncomingMessage): void => {
      const chunks: Buffer[] = [];
      let bytes = 0;
      res.on('data', (chunk: Buffer) => {
        bytes += chunk.length;
        if (bytes > bodyBytesMax) req.destroy(new Error(`the answer is larger than ${bodyBytesMax} bytes`));
        else chunks.push(chunk);
      });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString('utf8') }));
      res.on('error', reject);
    };
    const req =
      target.protocol === 'https:'
        ? https.get(target, { ...common, ...pick(options, ['ca', 'cert', 'key']), rejectUnauthorized: options.insecure !== true }, onResponse)
        : http.get(target, common, onResponse);
    req.on('timeout', () => req.destroy(new Error(`no answer within ${common.timeout} ms`)));
    req.on('error', reject);
  });
}

function pick<T extends object, K extends keyof T>(o: T, keys: K[]): Partial<Pick<T, K>> {
  const out: Partial<Pick<T, K>> = {};
  for (const k of keys) if (o[k] !== undefined) out[k] = o[k];
  return out;
}
