/**
 * The host monitor: disk, memory, CPU load and temperature of the gateway, sampled on an interval.
 * The only module that imports `systeminformation`.
 *
 * Cheap on a Pi means no process spawned per sample and nothing synchronous on the event loop. Measured
 * on the dev machine (2 vCPU, Node 20, systeminformation 5.33), per call, wall / worst event loop stall:
 *
 * | call                | wall      | loop stall | processes spawned | used?                                  |
 * |---------------------|-----------|------------|-------------------|----------------------------------------|
 * | si.mem()            | ~1 ms     | ~1 ms      | 0 (/proc/meminfo) | every sample                           |
 * | si.currentLoad()    | ~10 ms    | ~10 ms     | 3 (`execSync` sh, cat, grep of /proc/stat) | no: `readCpuTimes` |
 * | si.fsSize()         | 21-35 ms  | 2-5 ms     | 1 (`df`)          | once, to name the data dir's mount     |
 * | si.cpuTemperature() | 35-48 ms  | 7-8 ms     | 2-4 (`execSync` sh, hwmon sh, sensors, vcgencmd) | no |
 * | fs.statfs(dataDir)  | 0.2-0.5ms | ~1 ms      | 0                 | every sample, and `diskFreeBytes()`    |
 *
 * So: disk numbers come from `statfs(2)` on the data dir itself, which is exact (no mount-table matching
 * can pick the wrong filesystem), 100x cheaper than `df`, and cheap enough for disk pressure to call on
 * every check. `fsSize` runs once to report which filesystem that is (the longest mount point that is a
 * prefix of the data dir). The temperature is read from the kernel's thermal zone in sysfs, which is
 * where systeminformation finds it on a Raspberry Pi (`cpu-thermal`), but without its `execSync` shell
 * (a 7 ms event loop stall here, much more on a Pi) and without forking `sensors` every sample. The CPU
 * load likewise: systeminformation 5.33's `currentLoad()` runs `execSync('cat /proc/stat | grep cpu')`
 * on Linux at every call — a shell, cat and grep forked while the event loop waits, which held every
 * client's ack for ~10 ms once a sample at bench:footprint's steady load (issue 13's profile); here the
 * first line of /proc/stat is read asynchronously and the load is the busy share of the jiffies since
 * the previous sample (`os.cpus()` where there is no /proc/stat). No process is spawned per sample: the
 * only one is `fsSize`'s `df`, once (test/ops/host-monitor.test.ts counts them under strace).
 */
import { readdir, readFile, statfs } from 'node:fs/promises';
import os from 'node:os';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import type SystemInformation from 'systeminformation';

type Si = typeof SystemInformation;
let siModule: Promise<Si> | null = null;
/**
 * Loaded at the first sample, not at start: the broker opens its listeners without waiting for it.
 * Required (it is CommonJS), not `import()`ed: the one-file build runs from V8's code cache, where a
 * dynamic import has no loader to call (scripts/bundle.ts refuses one).
 */
function loadSi(): Promise<Si> {
  siModule ??= Promise.resolve().then(() => createRequire(import.meta.url)('systeminformation') as Si);
  return siModule;
}
import type { Logger } from './logger.js';
import type { HostProbe, HostSample } from './probes.js';

export interface HostMonitorOptions {
  /** The log's directory; its filesystem is the one whose free space matters. */
  dataDir: string;
  /** Default 10,000 ms. */
  intervalMs?: number;
  logger: Logger;
  /** Where the kernel's thermal zones are; default /sys/class/thermal. Tests point it at a fake tree. */
  thermalRoot?: string;
}

export interface FilesystemInfo {
  /** The mount point holding the data dir, e.g. `/` or `/var/lib/tributary`. */
  mount: string;
  /** Device, e.g. `/dev/mmcblk0p2`. */
  device: string;
  /** e.g. `ext4`. */
  type: string;
}

export interface HostMonitor extends HostProbe {
  /** Takes a first sample (resolves when it is in) and then samples every `intervalMs`. */
  start(): Promise<void>;
  /** Samples now; concurrent callers share one sample in flight. */
  sample(): Promise<HostSample>;
  /** The data dir's filesystem, once known; null if `df` was unavailable. */
  filesystem(): FilesystemInfo | null;
  close(): void;
}

export interface DiskSpace {
  freeBytes: number;
  totalBytes: number;
}

export function createHostMonitor(options: HostMonitorOptions): HostMonitor {
  return new SystemHostMonitor(options);
}

/**
 * Free and total bytes of the filesystem holding `dir`, as an unprivileged user sees them (`f_bavail`,
 * not `f_bfree`: the root-reserved blocks are not ours). If `dir` does not exist yet, its nearest
 * existing ancestor is measured: that is where it will be created.
 */
export async function diskSpace(dir: string): Promise<DiskSpace> {
  const stats = await statfs(await nearestExisting(resolve(dir)));
  return { freeBytes: stats.bavail * stats.bsize, totalBytes: stats.blocks * stats.bsize };
}

/** The fast path for disk pressure: one `statfs(2)`, no process, well under a millisecond. */
export async function diskFreeBytes(dir: string): Promise<number> {
  return (await diskSpace(dir)).freeBytes;
}

/**
 * The mount point that holds `path`: the longest mount point that is `path` itself or a directory
 * prefix of it (`/data` holds `/data/x` but not `/data2/x`). null when none matches.
 */
export function mountPointFor(path: string, mountPoints: readonly string[]): string | null {
  let best: string | null = null;
  for (const mount of mountPoints) {
    if (!isPathWithin(path, mount)) continue;
    if (best === null || mount.length > best.length) best = mount;
  }
  return best;
}

function isPathWithin(path: string, mount: string): boolean {
  if (mount === '/') return path.startsWith('/');
  const bare = mount.endsWith('/') ? mount.slice(0, -1) : mount;
  return path === bare || path.startsWith(`${bare}/`);
}

async function nearestExisting(path: string): Promise<string> {
  for (let current = path; ; current = dirname(current)) {
    try {
      await statfs(current);
      return current;
    } catch (err) {
      if (!isNotFound(err) || dirname(current) === current) throw err;
    }
  }
}

function isNotFound(err: unknown): boolean {
  return err instanceof Error && 'code' in err && err.code === 'ENOENT';
}

/**
 * The thermal zone to read: the first whose type names the CPU (`cpu-thermal` on a Pi, `x86_pkg_temp` on
 * Intel), else zone 0; null when the host exposes none (VMs, containers).
 */
export async function findCpuThermalZone(thermalRoot: string): Promise<string | null> {
  let names: string[];
  try {
    names = (await readdir(thermalRoot)).filter((n) => n.startsWith('thermal_zone')).sort();
  } catch {
    return null;
  }
  const zones: Array<{ path: string; type: string }> = [];
  for (const name of names) {
    const type = await readFile(join(thermalRoot, name, 'type'), 'utf8').catch(() => '');
    zones.push({ path: join(thermalRoot, name, 'temp'), type: type.trim().toLowerCase() });
  }
  const cpu = zones.find((z) => z.type.includes('cpu') || z.type === 'x86_pkg_temp' || z.type.includes('soc'));
  return (cpu ?? zones[0])?.path ?? null;
}

/** Millidegrees in sysfs; null when the zone cannot be read or reads as nonsense. */
export async function readThermalZoneCelsius(tempPath: string): Promise<number | null> {
  const text = await readFile(tempPath, 'utf8').catch(() => null);
  if (text === null) return null;
  const milli = Number.parseInt(text.trim(), 10);
  return Number.isFinite(milli) ? Math.round(milli / 100) / 10 : null;
}

/**
 * The host's CPU time since boot, over all cores: busy (all but idle and iowait) and total, in the units
 * of `source` (/proc/stat's ticks, os.cpus()' milliseconds), so two readings compare only within one.
 */
export interface CpuTimes {
  busy: number;
  total: number;
  source: 'proc-stat' | 'os-cpus';
}

/**
 * The aggregate `cpu` line of /proc/stat (proc(5)): user nice system idle iowait irq softirq steal guest
 * guest_nice. guest and guest_nice are already counted in user and nice, so they are left out; iowait is
 * idle time (the CPU waited, nothing ran). null when the text has no such line.
 */
export function parseProcStat(text: string): CpuTimes | null {
  const fields = (text.split('\n', 1)[0] as string).trim().split(/\s+/);
  if (fields[0] !== 'cpu' || fields.length < 5) return null;
  // user nice system idle, then (on newer kernels) iowait irq softirq steal; a missing one counts as 0.
  const times = fields.slice(1, 9).map(Number);
  if (!times.every((n) => Number.isFinite(n) && n >= 0)) return null;
  const total = times.reduce((a, b) => a + b, 0);
  const idle = (times[3] as number) + (times[4] ?? 0);
  return { busy: total - idle, total, source: 'proc-stat' };
}

/**
 * The busy share (0..100) of the CPU time between two readings; 0 when no time passed. Without an
 * earlier reading, or with one of another source (they do not compare), it is `later`'s share since boot.
 */
export function loadPercentBetween(earlier: CpuTimes | null, later: CpuTimes): number {
  const from = earlier !== null && earlier.source === later.source ? earlier : { busy: 0, total: 0 };
  const total = later.total - from.total;
  if (total <= 0) return 0;
  return Math.min(100, Math.max(0, (100 * (later.busy - from.busy)) / total));
}

/** /proc/stat read without blocking the event loop; `os.cpus()` (milliseconds, summed over cores) where there is none. */
export async function readCpuTimes(procStat = '/proc/stat'): Promise<CpuTimes> {
  const text = await readFile(procStat, 'utf8').catch(() => null);
  const parsed = text === null ? null : parseProcStat(text);
  if (parsed !== null) return parsed;
  let busy = 0;
  let total = 0;
  for (const { times } of os.cpus()) {
    busy += times.user + times.nice + times.sys + times.irq;
    total += times.user + times.nice + times.sys + times.irq + times.idle;
  }
  return { busy, total, source: 'os-cpus' };
}

class SystemHostMonitor implements HostMonitor {
  private readonly intervalMs: number;
  private latestSample: HostSample | null = null;
  private inFlight: Promise<HostSample> | null = null;
  private timer: NodeJS.Timeout | null = null;
  private fsInfo: FilesystemInfo | null = null;
  private thermalZone: Promise<string | null> | null = null;
  private failing = false;
  /** The CPU times of the last sample; the first sample's load is the average since boot. */
  private cpuBefore: CpuTimes | null = null;

  constructor(private readonly options: HostMonitorOptions) {
    this.intervalMs = options.intervalMs ?? 10_000;
  }

  latest(): HostSample | null {
    return this.latestSample;
  }

  filesystem(): FilesystemInfo | null {
    return this.fsInfo;
  }

  async start(): Promise<void> {
    if (this.timer !== null) return;
    this.timer = setInterval(() => void this.sample().catch(() => undefined), this.intervalMs);
    // The monitor must never be what keeps a shutting-down process alive.
    this.timer.unref();
    await Promise.all([this.identifyFilesystem(), this.sample()]);
  }

  sample(): Promise<HostSample> {
    this.inFlight ??= this.takeSample().finally(() => {
      this.inFlight = null;
    });
    return this.inFlight;
  }

  close(): void {
    if (this.timer !== null) clearInterval(this.timer);
    this.timer = null;
  }

  private async takeSample(): Promise<HostSample> {
    try {
      const si = await loadSi();
      const [disk, mem, cpu, temperature] = await Promise.all([
        diskSpace(this.options.dataDir),
        si.mem(),
        readCpuTimes(),
        this.cpuTemperature(),
      ]);
      const cpuLoadPercent = loadPercentBetween(this.cpuBefore, cpu);
      this.cpuBefore = cpu;
      const sample: HostSample = {
        diskFreeBytes: disk.freeBytes,
        diskTotalBytes: disk.totalBytes,
        memAvailableBytes: mem.available,
        memTotalBytes: mem.total,
        cpuLoadPercent,
        cpuTemperatureCelsius: temperature,
        sampledAt: Date.now(),
      };
      this.latestSample = sample;
      this.noteRecovered();
      return sample;
    } catch (err) {
      this.noteFailure(err);
      throw err;
    }
  }

  private cpuTemperature(): Promise<number | null> {
    this.thermalZone ??= findCpuThermalZone(this.options.thermalRoot ?? '/sys/class/thermal');
    return this.thermalZone.then((zone) => (zone === null ? null : readThermalZoneCelsius(zone)));
  }

  /** One `df`, once: only to say in status which filesystem the data lives on. */
  private async identifyFilesystem(): Promise<void> {
    try {
      const filesystems = await (await loadSi()).fsSize();
      const dir = await nearestExisting(resolve(this.options.dataDir));
      const mount = mountPointFor(dir, filesystems.map((f) => f.mount));
      const fsData = filesystems.find((f) => f.mount === mount);
      if (fsData !== undefined) this.fsInfo = { mount: fsData.mount, device: fsData.fs, type: fsData.type };
    } catch (err) {
      this.options.logger.warn({ err }, 'could not list filesystems; data filesystem unnamed in status');
    }
  }

  /** A failing sample is logged once, not every 10 s, and its recovery is logged too. */
  private noteFailure(err: unknown): void {
    if (this.failing) return;
    this.failing = true;
    this.options.logger.warn({ err }, 'host sample failed; keeping the previous sample');
  }

  private noteRecovered(): void {
    if (!this.failing) return;
    this.failing = false;
    this.options.logger.info('host sampling recovered');
  }
}
