/**
 * `tributary status [--url URL] [--json] [--watch]`: asks a running broker for `/api/v1/status` and
 * shows it as a table (streams, rates, backlog and lag, upstream, disk, memory, and a line per local
 * Kafka consumer group: state, members, lag). `--watch` redraws in place every `--interval` seconds
 * until interrupted.
 *
 * Against a broker with `http.auth` and `http.tls` (src/ops/http-auth.ts), credentials, in this order:
 *   --user NAME          HTTP Basic; the password from TRIBUTARY_HTTP_PASSWORD, or asked on the terminal
 *   --token-file FILE    Bearer, the file's first token (the broker's token-file format)
 *   TRIBUTARY_HTTP_TOKEN Bearer, the token itself
 * and for https: --ca FILE (the CA that signed the server's certificate), --insecure (no check),
 * --cert FILE --key FILE (a client certificate, for `http.tls.requestCert`). The environment is read
 * here, in the client, and never for the broker's settings. A secret is never printed.
 */
import type { Argv } from 'yargs';
import { parseTokens } from '../auth/token-file.js';
import { readConfiguredFile } from '../config/files.js';
import { formatBytes } from '../config/units.js';
import { errorMessage, StatusUnavailableError, UsageError } from '../errors.js';
import type { StatusReport } from '../ops/status.js';
import { httpGet, type HttpGetOptions } from './http-get.js';
import { table } from './log.js';
import { askHidden } from './prompt.js';

export interface StatusAccessArgs {
  url: string;
  user?: string | undefined;
  tokenFile?: string | undefined;
  ca?: string | undefined;
  insecure: boolean;
  cert?: string | undefined;
  key?: string | undefined;
}

export function statusCommand(cli: Argv): Argv {
  return cli.command(
    'status',
    'show what a running broker is doing',
    (y) =>
      y
        .option('url', { type: 'string', default: 'http://127.0.0.1:9180', describe: 'the broker HTTP address (https://... with http.tls)' })
        .option('json', { type: 'boolean', default: false, describe: 'print the raw status JSON' })
        .option('watch', { type: 'boolean', default: false, describe: 'refresh in place until Ctrl-C' })
        .option('interval', { type: 'number', default: 2, describe: 'seconds between refreshes with --watch' })
        .option('token-file', { type: 'string', describe: 'file holding the bearer token (default: env TRIBUTARY_HTTP_TOKEN)' })
        .option('user', { type: 'string', describe: 'HTTP Basic user; password from env TRIBUTARY_HTTP_PASSWORD or asked' })
        .option('ca', { type: 'string', describe: "CA certificate (PEM) that signed the broker's https certificate" })
        .option('insecure', { type: 'boolean', default: false, describe: "https without checking the broker's certificate" })
        .option('cert', { type: 'string', describe: 'client certificate (PEM), with --key' })
        .option('key', { type: 'string', describe: 'client certificate key (PEM)' }),
    async (args) => {
      const access = await statusAccess({ url: args.url, user: args.user, tokenFile: args['token-file'], ca: args.ca, insecure: args.insecure, cert: args.cert, key: args.key });
      if (!args.watch) {
        const report = await fetchStatus(args.url, access);
        process.stdout.write(args.json ? `${JSON.stringify(report, null, 2)}\n` : renderStatus(report));
        return;
      }
      for (;;) {
        let screen: string;
        try {
          const report = await fetchStatus(args.url, access);
          screen = args.json ? `${JSON.stringify(report, null, 2)}\n` : renderStatus(report);
        } catch (err) {
          screen = `tributary: ${(err as Error).message}\n`;
        }
        // Home the cursor and clear the screen, then draw: a refresh in place, no scrolling.
        process.stdout.write(`\x1b[H\x1b[2J${screen}\n(every ${args.interval}s; Ctrl-C to stop)\n`);
        await new Promise((r) => setTimeout(r, Math.max(0.2, args.interval) * 1000));
      }
    },
  );
}

/** The request options `args` (and the environment) ask for; reads the files, asks for a password. */
export async function statusAccess(args: StatusAccessArgs, env: NodeJS.ProcessEnv = process.env): Promise<HttpGetOptions> {
  const https = args.url.startsWith('https://');
  if (!https && !args.url.startsWith('http://')) throw new UsageError(`--url ${args.url}: expected http://HOST:PORT or https://HOST:PORT`);
  for (const [flag, given] of [['--ca', args.ca !== undefined], ['--insecure', args.insecure], ['--cert', args.cert !== undefined]] as const) {
    if (given && !https) throw new UsageError(`${flag} goes with an https:// --url`);
  }
  if ((args.cert === undefined) !== (args.key === undefined)) throw new UsageError('--cert and --key go together');
  if (args.user !== undefined && args.tokenFile !== undefined) throw new UsageError('--user and --token-file cannot be combined: give one credential');
  const access: HttpGetOptions = { insecure: args.insecure };
  if (args.ca !== undefined) access.ca = readConfiguredFile(args.ca, '--ca');
  if (args.cert !== undefined && args.key !== undefined) {
    access.cert = readConfiguredFile(args.cert, '--cert');
    access.key = readConfiguredFile(args.key, '--key');
  }
  const authorization = await authorizationHeader(args, env);
  if (authorization !== null) access.headers = { authorization };
  return access;
}

async function authorizationHeader(args: StatusAccessArgs, env: NodeJS.ProcessEnv): Promise<string | null> {
  if (args.user !== undefined) {
    if (args.user.includes(':')) throw new UsageError('--user: an HTTP Basic user name cannot hold ":"');
    const password = env.TRIBUTARY_HTTP_PASSWORD ?? (await askPassword(args.user));
    return `Basic ${Buffer.from(`${args.user}:${password}`, 'utf8').toString('base64')}`;
  }
  if (args.tokenFile !== undefined) {
    const [token] = parseTokens(readConfiguredFile(args.tokenFile, '--token-file').toString('utf8'), args.tokenFile);
    return `Bearer ${token as string}`;
  }
  const token = env.TRIBUTARY_HTTP_TOKEN?.trim();
  return token ? `Bearer ${token}` : null;
}

function askPassword(user: string): Promise<string> {
  if (!process.stdin.isTTY) throw new UsageError('--user: no terminal to ask for the password on: set TRIBUTARY_HTTP_PASSWORD');
  return askHidden(`Password for ${user}: `);
}

export async function fetchStatus(url: string, access: HttpGetOptions = {}): Promise<StatusReport> {
  const target = `${url.replace(/\/+$/, '')}/api/v1/status`;
  let res;
  try {
    res = await httpGet(target, access);
  } catch (err) {
    const code = String((err as NodeJS.ErrnoException).code ?? '');
    const hint = /CERT|SIGNATURE|SELF_SIGNED|ISSUER/.test(code) ? "the broker's certificate was not accepted: give --ca FILE (or --insecure)" : 'is serve running? check --url';
    throw new StatusUnavailableError(`cannot reach the broker at ${target}: ${errorMessage(err)} (${hint})`, { cause: err });
  }
  if (res.status !== 200) throw new StatusUnavailableError(`${target} answered HTTP ${res.status}${refusalHint(res.status, access)}`);
  return JSON.parse(res.body) as StatusReport;
}

function refusalHint(status: number, access: HttpGetOptions): string {
  if (status === 401) return access.headers?.authorization === undefined ? ': not authenticated (give --token-file, TRIBUTARY_HTTP_TOKEN or --user)' : ': the credentials were refused';
  if (status === 403) return ': a client certificate is required (--cert and --key)';
  if (status === 429) return ': too many failed authentications at the broker; retry later';
  return '';
}

export function renderStatus(s: StatusReport): string {
  const failing = s.health.checks.filter((c) => !c.ok);
  const out: string[] = [];
  out.push(`gateway ${s.gateway}  version ${s.version}  up ${duration(s.uptimeSeconds)}  health ${s.health.status}${failing.length ? ` (${failing.map((c) => `${c.name}: ${c.message}`).join('; ')})` : ''}`);
  out.push(`ingest  ${s.ingest.recordsPerSec.toFixed(1)} msg/s  ${formatBytes(Math.round(s.ingest.bytesPerSec))}/s  ${s.ingest.clients} clients  ${s.ingest.recordsTotal} records since start`);
  out.push(`upstream ${upstreamLine(s.upstream)}`);
  const st = s.storage;
  out.push(
    `storage log ${formatBytes(st.logBytes)} of ${st.maxBytes > 0 ? formatBytes(st.maxBytes) : 'unlimited'}, file ${formatBytes(st.dataFileBytes)}; disk free ${st.diskFreeBytes === null ? '?' : formatBytes(st.diskFreeBytes)} (floor ${formatBytes(st.diskFreeMinBytes)}); write amplification ${st.writeAmplification === null ? '-' : st.writeAmplification.toFixed(1)}; flash wear ${st.wearBytesPerDay === null ? '-' : `${formatBytes(Math.round(st.wearBytesPerDay))}/day`}`,
  );
  if (s.host) {
    const temp = s.host.cpuTemperatureCelsius === null ? '' : `  cpu ${s.host.cpuTemperatureCelsius.toFixed(1)} °C`;
    out.push(`host    memory ${formatBytes(s.host.memAvailableBytes)} available of ${formatBytes(s.host.memTotalBytes)}  load ${s.host.cpuLoadPercent.toFixed(0)}%${temp}`);
  }
  // Absent from an older broker's report; null without a kafkaApi section.
  for (const g of s.kafkaApi?.groups ?? []) {
    out.push(`kafka   group ${g.group}  ${g.state}  ${g.members} member${g.members === 1 ? '' : 's'}  ${g.lagRecords === null ? 'nothing committed' : `lag ${g.lagRecords} records`}`);
  }
  out.push('');
  const rows = [['STREAM', 'PART', 'START', 'END', 'RECORDS', 'BYTES', 'LAG', 'LAG AGE']];
  for (const stream of s.streams) {
    for (const p of stream.partitions) {
      rows.push([stream.stream, String(p.partition), String(p.startOffset), String(p.endOffset), String(p.records), formatBytes(p.bytes), p.lagRecords === null ? '-' : String(p.lagRecords), p.lagSeconds === null ? '-' : `${p.lagSeconds.toFixed(1)}s`]);
    }
  }
  return `${out.join('\n')}\n${table(rows)}`;
}

/** State (and why Kafka refuses us), brokers, backlog, drain rate and time to drain, last error. */
function upstreamLine(u: StatusReport['upstream']): string {
  const parts = [u.refusal === null ? u.state : `${u.state} (${u.refusal === 'authentication' ? 'authentication failed' : 'TLS verification failed'})`];
  if (u.brokers.length) parts.push(`(${u.brokers.join(',')})`);
  if (u.backlogRecords !== null) {
    const drain = u.drainRecordsPerSec === null ? '' : `, draining ${u.drainRecordsPerSec.toFixed(1)} records/s`;
    const eta = u.drainSeconds === null ? (u.backlogGrowthRecordsPerSec === null ? '' : ', not draining') : u.drainSeconds > 0 ? `, drained in ${duration(Math.round(u.drainSeconds))}` : '';
    parts.push(` backlog ${u.backlogRecords} records${drain}${eta}`);
  }
  if (u.lastError) parts.push(` last error: ${u.lastError}`);
  return parts.join(' ');
}

function duration(seconds: number): string {
  const d = Math.floor(seconds / 86400);
  const h = Math.floor((seconds % 86400) / 3600);
  const m = Math.floor((seconds % 3600) / 60);
  return d > 0 ? `${d}d${h}h` : h > 0 ? `${h}h${m}m` : `${m}m${seconds % 60}s`;
}
