/**
 * `tributary status [--url URL] [--json] [--watch]`: asks a running broker for `/api/v1/status` and
 * shows it as a table (streams, rates, backlog and lag, upstream, disk, memory). `--watch` redraws in
 * place every `--interval` seconds until interrupted.
 */
import type { Argv } from 'yargs';
import { formatBytes } from '../config/units.js';
import { TributaryError } from '../errors.js';
import type { StatusReport } from '../ops/status.js';
import { table } from './log.js';

class StatusUnavailableError extends TributaryError {
  readonly code = 'STATUS_UNAVAILABLE';
  readonly retriable = true;
}

const REQUEST_TIMEOUT_MS = 5000;

export function statusCommand(cli: Argv): Argv {
  return cli.command(
    'status',
    'show what a running broker is doing',
    (y) =>
      y
        .option('url', { type: 'string', default: 'http://127.0.0.1:9180', describe: 'the broker HTTP address' })
        .option('json', { type: 'boolean', default: false, describe: 'print the raw status JSON' })
        .option('watch', { type: 'boolean', default: false, describe: 'refresh in place until Ctrl-C' })
        .option('interval', { type: 'number', default: 2, describe: 'seconds between refreshes with --watch' }),
    async (args) => {
      if (!args.watch) {
        const report = await fetchStatus(args.url);
        process.stdout.write(args.json ? `${JSON.stringify(report, null, 2)}\n` : renderStatus(report));
        return;
      }
      for (;;) {
        let screen: string;
        try {
          const report = await fetchStatus(args.url);
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

export async function fetchStatus(url: string): Promise<StatusReport> {
  const target = `${url.replace(/\/+$/, '')}/api/v1/status`;
  let res: Response;
  try {
    res = await fetch(target, { signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS) });
  } catch (err) {
    throw new StatusUnavailableError(`cannot reach the broker at ${target}: ${(err as Error).message} (is serve running? check --url)`, { cause: err });
  }
  if (!res.ok) throw new StatusUnavailableError(`${target} answered HTTP ${res.status}`);
  return (await res.json()) as StatusReport;
}

export function renderStatus(s: StatusReport): string {
  const failing = s.health.checks.filter((c) => !c.ok);
  const out: string[] = [];
  out.push(`gateway ${s.gateway}  version ${s.version}  up ${duration(s.uptimeSeconds)}  health ${s.health.status}${failing.length ? ` (${failing.map((c) => `${c.name}: ${c.message}`).join('; ')})` : ''}`);
  out.push(`ingest  ${s.ingest.recordsPerSec.toFixed(1)} msg/s  ${formatBytes(Math.round(s.ingest.bytesPerSec))}/s  ${s.ingest.clients} clients  ${s.ingest.recordsTotal} records since start`);
  out.push(`upstream ${s.upstream.state}${s.upstream.brokers.length ? ` (${s.upstream.brokers.join(',')})` : ''}${s.upstream.lastError ? `  last error: ${s.upstream.lastError}` : ''}`);
  const st = s.storage;
  out.push(
    `storage log ${formatBytes(st.logBytes)} of ${st.maxBytes > 0 ? formatBytes(st.maxBytes) : 'unlimited'}, file ${formatBytes(st.dataFileBytes)}; disk free ${st.diskFreeBytes === null ? '?' : formatBytes(st.diskFreeBytes)} (floor ${formatBytes(st.diskFreeMinBytes)}); write amplification ${st.writeAmplification === null ? '-' : st.writeAmplification.toFixed(1)}`,
  );
  if (s.host) {
    const temp = s.host.cpuTemperatureCelsius === null ? '' : `  cpu ${s.host.cpuTemperatureCelsius.toFixed(1)} °C`;
    out.push(`host    memory ${formatBytes(s.host.memAvailableBytes)} available of ${formatBytes(s.host.memTotalBytes)}  load ${s.host.cpuLoadPercent.toFixed(0)}%${temp}`);
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

function duration(seconds: number): string {
  const d = Math.floor(seconds / 86400);
  const h = Math.floor((seconds % 86400) / 3600);
  const m = Math.floor((seconds % 3600) / 60);
  return d > 0 ? `${d}d${h}h` : h > 0 ? `${h}h${m}m` : `${m}m${seconds % 60}s`;
}
