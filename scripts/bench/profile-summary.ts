/**
 * `node dist/scripts/bench/profile-summary.js DIR` — where a V8 CPU profile's time goes: the functions
 * with the most self time, and self time grouped by area (aedes, mqtt-packet, streams and sockets,
 * tributary's ingest, the log, GC, idle). For the `.cpuprofile` files `--cpu-prof --cpu-prof-dir=DIR`
 * writes (one per JavaScript thread), e.g. of serve under bench:footprint's steady load.
 *
 * Self time of a sample is the time to the next sample (the profile's timeDeltas). A native frame
 * without a script (a socket `writev`, a Buffer copy) is counted in the area of the JavaScript that
 * called it, so "streams/sockets" includes the syscalls node makes for them on this thread.
 */
import fs from 'node:fs';
import path from 'node:path';

interface CallFrame {
  functionName: string;
  url: string;
  lineNumber: number;
}

interface ProfileNode {
  id: number;
  callFrame: CallFrame;
  children?: number[];
}

interface Profile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

const TOP = Number(process.env.PROFILE_TOP ?? 25);

/** Areas by script, first match wins; `null`: a native frame, counted in its caller's area. */
const AREAS: Array<[string, (f: CallFrame) => boolean]> = [
  ['GC', (f) => f.functionName === '(garbage collector)'],
  ['idle', (f) => f.functionName === '(idle)'],
  ['(program): V8/native, unattributed', (f) => f.functionName === '(program)' || f.functionName === '(root)'],
  ['mqtt-packet parse & write', (f) => f.url.includes('/node_modules/mqtt-packet/') || f.url.includes('/node_modules/bl/')],
  ['aedes', (f) => /\/node_modules\/(aedes|aedes-packet|aedes-persistence|qlobber|fastfall|fastparallel|fastseries|reusify|hyperid|retimer|end-of-stream)\//.test(f.url)],
  ['log append/commit (src/log, node-lmdb)', (f) => f.url.includes('/src/log/') || f.url.includes('/node_modules/node-lmdb/')],
  ['our ingest (src/ingest, src/broker)', (f) => f.url.includes('/src/ingest/') || f.url.includes('/src/broker') || f.url.includes('/src/auth/') || f.url.includes('/src/topic-levels') || f.url.includes('/src/utf8-cache')],
  ['ops: metrics, logging, health (src/ops, prom-client, pino)', (f) => f.url.includes('/src/ops/') || /\/node_modules\/(prom-client|pino|systeminformation)/.test(f.url)],
  ['streams/sockets (node core)', (f) => /^node:(net|stream|events|internal\/(streams|stream_base_commons|net|dgram|buffer))/.test(f.url) || f.url === 'node:buffer'],
  ['timers, promises, ticks (node core)', (f) => /^node:internal\/(timers|process\/task_queues|process\/promises|async_hooks)/.test(f.url) || f.url === 'node:timers'],
  ['node core, other', (f) => f.url.startsWith('node:')],
  ['other dependencies', (f) => f.url.includes('/node_modules/')],
  ['tributary, other', (f) => f.url.includes('/src/')],
];

function areaOf(frame: CallFrame): string | null {
  if (frame.url === '' && !frame.functionName.startsWith('(')) return null;
  for (const [name, test] of AREAS) if (test(frame)) return name;
  return 'other';
}

function summarize(file: string): string {
  const profile = JSON.parse(fs.readFileSync(file, 'utf8')) as Profile;
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const areaCache = new Map<number, string>();
  const nodeArea = (id: number): string => {
    const cached = areaCache.get(id);
    if (cached !== undefined) return cached;
    const node = byId.get(id);
    if (node === undefined) throw new Error(`${file}: sample of unknown node ${id}`);
    const own = areaOf(node.callFrame);
    const up = parent.get(id);
    const area = own ?? (up === undefined ? 'native, no caller' : nodeArea(up));
    areaCache.set(id, area);
    return area;
  };
  const selfUs = new Map<number, number>();
  let totalUs = 0;
  for (let i = 0; i < profile.samples.length; i++) {
    const dt = profile.timeDeltas[i + 1] ?? 0;
    const id = profile.samples[i] as number;
    selfUs.set(id, (selfUs.get(id) ?? 0) + dt);
    totalUs += dt;
  }
  const areas = new Map<string, number>();
  const functions = new Map<string, { us: number; area: string }>();
  for (const [id, us] of selfUs) {
    const node = byId.get(id) as ProfileNode;
    const area = nodeArea(id);
    areas.set(area, (areas.get(area) ?? 0) + us);
    const { functionName, url, lineNumber } = node.callFrame;
    const key = `${functionName || '(anonymous)'} ${url ? `${shortUrl(url)}:${lineNumber + 1}` : '(native)'}`;
    const f = functions.get(key) ?? { us: 0, area };
    f.us += us;
    functions.set(key, f);
  }
  const pct = (us: number): string => `${((100 * us) / totalUs).toFixed(1)}%`;
  const idle = areas.get('idle') ?? 0;
  const busy = totalUs - idle;
  const lines = [`${path.basename(file)}: ${(totalUs / 1e6).toFixed(1)} s profiled, ${(busy / 1e6).toFixed(1)} s not idle (${pct(busy)})`, '', '| area | self time | of all | of not idle |', '|---|---:|---:|---:|'];
  for (const [area, us] of [...areas].sort((a, b) => b[1] - a[1])) {
    lines.push(`| ${area} | ${(us / 1000).toFixed(0)} ms | ${pct(us)} | ${area === 'idle' ? '' : `${((100 * us) / busy).toFixed(1)}%`} |`);
  }
  lines.push('', `| top ${TOP} functions by self time | area | self time | of not idle |`, '|---|---|---:|---:|');
  for (const [key, f] of [...functions].filter(([, f]) => f.area !== 'idle').sort((a, b) => b[1].us - a[1].us).slice(0, TOP)) {
    lines.push(`| ${key} | ${f.area} | ${(f.us / 1000).toFixed(0)} ms | ${((100 * f.us) / busy).toFixed(1)}% |`);
  }
  return lines.join('\n');
}

function shortUrl(url: string): string {
  const modules = url.lastIndexOf('/node_modules/');
  if (modules >= 0) return url.slice(modules + '/node_modules/'.length);
  const src = url.indexOf('/dist/');
  return src >= 0 ? url.slice(src + '/dist/'.length) : url;
}

const dir = process.argv[2];
if (dir === undefined) throw new Error('usage: profile-summary DIR (of .cpuprofile files)');
const files = fs.readdirSync(dir).filter((f) => f.endsWith('.cpuprofile')).sort();
if (files.length === 0) throw new Error(`no .cpuprofile in ${dir}`);
process.stdout.write(`${files.map((f) => summarize(path.join(dir, f))).join('\n\n')}\n`);
