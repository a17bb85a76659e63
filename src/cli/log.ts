/**
 * `tributary log streams` and `tributary log read`: inspect a data dir's log, read-only, safe while
 * `serve` is writing to it (LMDB readers never block the writer).
 */
import type { Argv } from 'yargs';
import { once } from 'node:events';
import { UsageError } from '../errors.js';
import { Log, UPSTREAM_GROUP, type LogReader, type LogRecord } from '../log/index.js';
import { formatBytes } from '../config/units.js';

const READ_BATCH_RECORDS = 1000;
const READ_BATCH_BYTES = 4 * 1024 * 1024;

export function logCommand(cli: Argv): Argv {
  return cli.command('log', 'inspect the durable log (read-only; works while serve runs)', (y) =>
    y
      .command(
        'streams',
        'list streams and partitions with offsets, sizes and forward lag',
        (a) => a.option('data-dir', dataDirOption).option('json', jsonOption),
        (args) => printStreams(args['data-dir'], args.json),
      )
      .command(
        'read <stream>',
        'print records of a stream',
        (a) =>
          a
            .positional('stream', { type: 'string', demandOption: true, describe: 'stream name' })
            .option('data-dir', dataDirOption)
            .option('partition', { type: 'number', describe: 'only this partition (default: all, one after another)' })
            .option('from', { type: 'string', default: 'earliest', describe: 'earliest, latest (the last --limit records) or an offset' })
            .option('limit', { type: 'number', describe: 'at most this many records per partition (default: all)' })
            .option('json', jsonOption),
        (args) => readStream(args),
      )
      .strictCommands()
      .demandCommand(1, 'name a log command: streams or read'),
  );
}

const dataDirOption = { type: 'string', default: './data', describe: 'the broker data directory' } as const;
const jsonOption = { type: 'boolean', default: false, describe: 'machine-readable JSON output' } as const;

function openReader(dataDir: string): LogReader {
  const reader = Log.openReadOnly(dataDir);
  if (!reader) throw new UsageError(`no log in ${dataDir} (expected ${dataDir}/log/data.mdb): check --data-dir`);
  return reader;
}

export interface PartitionListing {
  partition: number;
  startOffset: number;
  endOffset: number;
  records: number;
  bytes: number;
  /** Next offset the forwarder will send; null when it never committed a cursor. */
  upstreamOffset: number | null;
  lagRecords: number;
}

export function listStreams(reader: LogReader): Array<{ stream: string; partitions: PartitionListing[] }> {
  return reader.streamNames().map((stream) => ({
    stream,
    partitions: Array.from({ length: reader.partitionCount(stream) }, (_, partition) => {
      const s = reader.partitionState(stream, partition);
      const upstreamOffset = reader.cursor(UPSTREAM_GROUP, stream, partition);
      const forwarded = Math.max(upstreamOffset ?? 0, s.startOffset);
      return {
        partition,
        startOffset: s.startOffset,
        endOffset: s.endOffset,
        records: s.endOffset - s.startOffset,
        bytes: s.bytes,
        upstreamOffset,
        lagRecords: s.endOffset - forwarded,
      };
    }),
  }));
}

/** Age of the oldest record not yet forwarded (one record read); 0 when caught up. */
export function lagSeconds(reader: LogReader, stream: string, p: PartitionListing, now: number): number {
  if (p.lagRecords === 0) return 0;
  const from = Math.max(p.upstreamOffset ?? 0, p.startOffset);
  const [oldest] = reader.read(stream, p.partition, from, { maxRecords: 1, maxBytes: 1 });
  return oldest === undefined ? 0 : Math.max(0, (now - oldest.timestamp) / 1000);
}

function printStreams(dataDir: string, json: boolean): void {
  const reader = openReader(dataDir);
  try {
    const streams = listStreams(reader);
    if (json) {
      process.stdout.write(`${JSON.stringify(streams)}\n`);
      return;
    }
    const rows = [['STREAM', 'PART', 'START', 'END', 'RECORDS', 'BYTES', 'FORWARDED', 'LAG', 'LAG_S']];
    const now = Date.now();
    for (const s of streams) {
      for (const p of s.partitions) {
        const lagS = lagSeconds(reader, s.stream, p, now);
        rows.push([s.stream, String(p.partition), String(p.startOffset), String(p.endOffset), String(p.records), formatBytes(p.bytes), p.upstreamOffset === null ? '-' : String(p.upstreamOffset), String(p.lagRecords), lagS.toFixed(1)]);
      }
    }
    process.stdout.write(table(rows));
  } finally {
    reader.close();
  }
}

export function table(rows: string[][]): string {
  const widths = (rows[0] ?? []).map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length)));
  return rows.map((r) => r.map((cell, i) => cell.padEnd(widths[i] ?? 0)).join('  ').trimEnd()).join('\n') + '\n';
}

interface ReadArgs {
  stream: string;
  'data-dir': string;
  partition?: number | undefined;
  from: string;
  limit?: number | undefined;
  json: boolean;
}

async function readStream(args: ReadArgs): Promise<void> {
  const limit = args.limit ?? Number.POSITIVE_INFINITY;
  if (!(limit >= 0)) throw new UsageError(`--limit must be a non-negative number, got ${args.limit}`);
  const from = parseFrom(args.from);
  const reader = openReader(args['data-dir']);
  try {
    const count = reader.partitionCount(args.stream);
    if (args.partition !== undefined && (!Number.isInteger(args.partition) || args.partition < 0 || args.partition >= count)) {
      throw new UsageError(`--partition ${args.partition}: stream ${args.stream} has partitions 0..${count - 1}`);
    }
    const partitions = args.partition === undefined ? [...Array(count).keys()] : [args.partition];
    for (const partition of partitions) {
      const state = reader.partitionState(args.stream, partition);
      let offset = from === 'earliest' ? state.startOffset : from === 'latest' ? Math.max(state.startOffset, state.endOffset - (Number.isFinite(limit) ? limit : 0)) : from;
      let left = limit;
      while (left > 0 && offset < state.endOffset) {
        const records = reader.read(args.stream, partition, offset, { maxRecords: Math.min(READ_BATCH_RECORDS, left), maxBytes: READ_BATCH_BYTES });
        if (records.length === 0) break;
        await write(records.map((r) => (args.json ? jsonLine(args.stream, partition, r) : humanLine(args.stream, partition, r))).join(''));
        left -= records.length;
        offset = (records[records.length - 1] as LogRecord).offset + 1;
      }
    }
  } finally {
    reader.close();
  }
}

function parseFrom(from: string): 'earliest' | 'latest' | number {
  if (from === 'earliest' || from === 'latest') return from;
  const n = Number(from);
  if (!/^\d+$/.test(from) || !Number.isSafeInteger(n)) throw new UsageError(`--from must be earliest, latest or an offset, got "${from}"`);
  return n;
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

function payloadField(payload: Buffer): { payload: string } | { payloadBase64: string } {
  try {
    return { payload: utf8.decode(payload) };
  } catch {
    return { payloadBase64: payload.toString('base64') };
  }
}

function jsonLine(stream: string, partition: number, r: LogRecord): string {
  return `${JSON.stringify({ stream, partition, offset: r.offset, timestamp: r.timestamp, topic: r.topic, qos: r.qos, retain: r.retain, ...payloadField(r.payload) })}\n`;
}

function humanLine(stream: string, partition: number, r: LogRecord): string {
  const p = payloadField(r.payload);
  const body = 'payload' in p ? JSON.stringify(p.payload) : `base64:${p.payloadBase64}`;
  return `${stream}/${partition}@${r.offset} ${new Date(r.timestamp).toISOString()} qos${r.qos}${r.retain ? ' retain' : ''} ${r.topic} ${body}\n`;
}

async function write(text: string): Promise<void> {
  if (!process.stdout.write(text)) await once(process.stdout, 'drain');
}
