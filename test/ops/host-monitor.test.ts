/**
 * Proves the host monitor on this real machine: a sample has sane numbers (free <= total disk and memory,
 * both positive, load within 0..100, a temperature that is null or plausible, a fresh timestamp), its
 * disk numbers match `df` for the data dir's filesystem within what can change between the two reads,
 * `start()` names the data dir's mount, the timer does not keep the process alive (this file ends), and
 * `diskFreeBytes` answers for a data dir that does not exist yet from its nearest existing ancestor.
 * Pure parts are proved on their own: the longest-mount-prefix rule respects path boundaries, and the
 * CPU thermal zone is found in a fake sysfs tree (Pi's `cpu-thermal` preferred, millidegrees converted,
 * no zone means null). The CPU load comes from /proc/stat's `cpu` line (a fixed vector worked by hand
 * from proc(5)'s field order), falls back to `os.cpus()` without one, and sampling spawns no process:
 * under `strace -f -e trace=execve`, a monitor that takes 20 more samples execs exactly what `start()`
 * alone does (`fsSize`'s `df`, once; systeminformation's `currentLoad()` forks sh, cat and grep at every
 * call, synchronously).
 */
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import {
  createHostMonitor,
  diskFreeBytes,
  diskSpace,
  findCpuThermalZone,
  loadPercentBetween,
  mountPointFor,
  parseProcStat,
  readCpuTimes,
  readThermalZoneCelsius,
} from '../../src/ops/host-monitor.js';
import { createLogger } from '../../src/ops/logger.js';

const logger = createLogger({ level: 'silent' });

test('a real sample has sane numbers', async () => {
  const dataDir = await mkdtemp(join(tmpdir(), 'tributary-host-'));
  const monitor = createHostMonitor({ dataDir, logger, intervalMs: 60_000 });
  try {
    assert.equal(monitor.latest(), null);
    const before = Date.now();
    await monitor.start();
    const s = monitor.latest();
    assert.ok(s !== null);
    assert.ok(s.diskTotalBytes > 0 && s.diskFreeBytes >= 0 && s.diskFreeBytes <= s.diskTotalBytes, JSON.stringify(s));
    assert.ok(s.memTotalBytes > 0 && s.memAvailableBytes > 0 && s.memAvailableBytes <= s.memTotalBytes, JSON.stringify(s));
    assert.ok(s.cpuLoadPercent >= 0 && s.cpuLoadPercent <= 100, JSON.stringify(s));
    assert.ok(s.cpuTemperatureCelsius === null || (s.cpuTemperatureCelsius > -40 && s.cpuTemperatureCelsius < 130));
    assert.ok(s.sampledAt >= before && s.sampledAt <= Date.now());
    const again = await monitor.sample();
    assert.ok(again.sampledAt >= s.sampledAt);
    assert.equal(monitor.latest(), again);
  } finally {
    monitor.close();
    await rm(dataDir, { recursive: true, force: true });
  }
});

test('disk numbers agree with df for the data dir, and start() names its mount', async () => {
  const dataDir = await mkdtemp(join(tmpdir(), 'tributary-host-'));
  const monitor = createHostMonitor({ dataDir, logger });
  try {
    await monitor.start();
    const [header, row] = execFileSync('df', ['-B1', '-P', dataDir], { encoding: 'utf8' }).trim().split('\n');
    assert.match(header ?? '', /Available/);
    const [, totalText, , availableText, , mount] = (row ?? '').split(/\s+/);
    const space = await diskSpace(dataDir);
    const slackBytes = 64 * 1024 * 1024; // other processes write between the two reads
    assert.ok(Math.abs(space.freeBytes - Number(availableText)) < slackBytes, `${space.freeBytes} vs df ${availableText}`);
    // df rounds the size of the filesystem the same way statfs reports it.
    assert.ok(Math.abs(space.totalBytes - Number(totalText)) < slackBytes, `${space.totalBytes} vs df ${totalText}`);
    assert.equal(monitor.filesystem()?.mount, mount);
    assert.ok((monitor.filesystem()?.type ?? '').length > 0);
  } finally {
    monitor.close();
    await rm(dataDir, { recursive: true, force: true });
  }
});

test('diskFreeBytes of a data dir not created yet measures its nearest existing ancestor', async () => {
  const parent = await mkdtemp(join(tmpdir(), 'tributary-host-'));
  try {
    const missing = join(parent, 'not', 'yet', 'there');
    const free = await diskFreeBytes(missing);
    const parentFree = await diskFreeBytes(parent);
    assert.ok(free > 0);
    assert.ok(Math.abs(free - parentFree) < 64 * 1024 * 1024);
  } finally {
    await rm(parent, { recursive: true, force: true });
  }
});

test('the longest mount point that is a directory prefix of the path wins', () => {
  const mounts = ['/', '/var', '/var/lib/tributary', '/data', '/boot/firmware'];
  assert.equal(mountPointFor('/var/lib/tributary/log', mounts), '/var/lib/tributary');
  assert.equal(mountPointFor('/var/lib/tributary', mounts), '/var/lib/tributary');
  assert.equal(mountPointFor('/var/lib/tributary2', mounts), '/var');
  assert.equal(mountPointFor('/data2/x', mounts), '/');
  assert.equal(mountPointFor('/data/x', mounts), '/data');
  assert.equal(mountPointFor('/home/pi', mounts), '/');
  assert.equal(mountPointFor('/mnt/usb/x', ['/mnt/usb/']), '/mnt/usb/');
  assert.equal(mountPointFor('/x', ['/var']), null);
});

test('the CPU thermal zone is found in sysfs and read in degrees', async () => {
  const root = await mkdtemp(join(tmpdir(), 'tributary-thermal-'));
  try {
    assert.equal(await findCpuThermalZone(join(root, 'absent')), null);
    assert.equal(await findCpuThermalZone(root), null);
    await zone(root, 0, 'acpitz', '27800');
    assert.equal(await findCpuThermalZone(root), join(root, 'thermal_zone0', 'temp'));
    await zone(root, 1, 'cpu-thermal', '48312\n');
    const found = await findCpuThermalZone(root);
    assert.equal(found, join(root, 'thermal_zone1', 'temp'));
    assert.equal(await readThermalZoneCelsius(found ?? ''), 48.3);
    await zone(root, 2, 'junk', 'not a number');
    assert.equal(await readThermalZoneCelsius(join(root, 'thermal_zone2', 'temp')), null);
    assert.equal(await readThermalZoneCelsius(join(root, 'thermal_zone9', 'temp')), null);
  } finally {
    await rm(root, { recursive: true, force: true });
  }
});

test('the monitor reports the temperature of a thermal zone it is pointed at', async () => {
  const root = await mkdtemp(join(tmpdir(), 'tributary-thermal-'));
  const monitor = createHostMonitor({ dataDir: root, logger, thermalRoot: root });
  try {
    await zone(root, 0, 'cpu-thermal', '61000');
    assert.equal((await monitor.sample()).cpuTemperatureCelsius, 61);
  } finally {
    monitor.close();
    await rm(root, { recursive: true, force: true });
  }
});

async function zone(root: string, index: number, type: string, temp: string): Promise<void> {
  const dir = join(root, `thermal_zone${index}`);
  await mkdir(dir, { recursive: true });
  await writeFile(join(dir, 'type'), `${type}\n`);
  await writeFile(join(dir, 'temp'), temp);
}

test('the CPU load is the busy share of /proc/stat jiffies between two readings', async () => {
  // proc(5): cpu user nice system idle iowait irq softirq steal guest guest_nice. guest is inside user.
  const earlier = parseProcStat('cpu  100 20 30 800 50 5 5 10 40 0\ncpu0 50 10 15 400 25 2 3 5 20 0\nintr 1 2 3\n');
  assert.deepEqual(earlier, { busy: 100 + 20 + 30 + 5 + 5 + 10, total: 100 + 20 + 30 + 800 + 50 + 5 + 5 + 10, source: 'proc-stat' });
  const later = parseProcStat('cpu  160 20 50 900 70 5 5 10 40 0\n');
  assert.deepEqual(later, { busy: 250, total: 1220, source: 'proc-stat' });
  // 80 busy of 200 ticks (idle 100 and iowait 20 are the other 120).
  assert.equal(loadPercentBetween(earlier as NonNullable<typeof earlier>, later as NonNullable<typeof later>), 40);
  assert.equal(loadPercentBetween({ busy: 5, total: 10, source: 'proc-stat' }, { busy: 5, total: 10, source: 'proc-stat' }), 0);
  // No earlier reading (the first sample): the share since boot.
  assert.equal(loadPercentBetween(null, { busy: 250, total: 1000, source: 'proc-stat' }), 25);
  // Ticks and milliseconds do not compare: the later reading's share since boot.
  assert.equal(loadPercentBetween({ busy: 9e6, total: 1e7, source: 'os-cpus' }, { busy: 250, total: 1000, source: 'proc-stat' }), 25);
  assert.equal(parseProcStat('intr 1 2 3\n'), null);
  assert.equal(parseProcStat('cpu  1 2 x 4\n'), null);
  // Older kernels print fewer fields (no steal, guest): the missing ones count as 0.
  assert.deepEqual(parseProcStat('cpu 1 2 3 4\n'), { busy: 6, total: 10, source: 'proc-stat' });

  const dir = await mkdtemp(join(tmpdir(), 'tributary-stat-'));
  try {
    await writeFile(join(dir, 'stat'), 'cpu  160 20 50 900 70 5 5 10 40 0\n');
    assert.deepEqual(await readCpuTimes(join(dir, 'stat')), { busy: 250, total: 1220, source: 'proc-stat' });
    // No /proc/stat (not Linux): os.cpus()' times, which only grow.
    const fallback = await readCpuTimes(join(dir, 'missing'));
    assert.ok(fallback.source === 'os-cpus' && fallback.total > 0 && fallback.busy > 0 && fallback.busy < fallback.total, JSON.stringify(fallback));
    // This machine's own /proc/stat parses.
    assert.ok(parseProcStat(await readFile('/proc/stat', 'utf8')) !== null);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

/** The programs a process that starts a host monitor and then takes `samples` more samples execs, under strace. */
async function programsExeced(samples: number): Promise<string[]> {
  const dataDir = await mkdtemp(join(tmpdir(), 'tributary-host-'));
  const trace = join(dataDir, 'execve.trace');
  const moduleUrl = new URL('../../src/ops/host-monitor.js', import.meta.url).href;
  const loggerUrl = new URL('../../src/ops/logger.js', import.meta.url).href;
  const script = `
    const { createHostMonitor } = await import(${JSON.stringify(moduleUrl)});
    const { createLogger } = await import(${JSON.stringify(loggerUrl)});
    const monitor = createHostMonitor({ dataDir: ${JSON.stringify(dataDir)}, logger: createLogger({ level: 'silent' }), intervalMs: 60000 });
    await monitor.start();
    for (let i = 0; i < ${samples}; i++) { await new Promise((r) => setTimeout(r, 20)); await monitor.sample(); }
    monitor.close();
    process.stdout.write('sampled ' + JSON.stringify(monitor.latest()));
  `;
  try {
    const run = spawnSync('strace', ['-f', '-qq', '-e', 'trace=execve', '-o', trace, process.execPath, '--input-type=module', '-e', script], { encoding: 'utf8', timeout: 60_000 });
    assert.equal(run.status, 0, `${run.error?.message ?? ''}${run.stderr}`);
    assert.match(run.stdout, /^sampled \{"diskFreeBytes"/);
    const execs = (await readFile(trace, 'utf8')).split('\n').filter((line) => /execve\(/.test(line) && !/= -1 /.test(line));
    // The first is strace starting node itself.
    return execs.slice(1).map((line) => /execve\("([^"]+)"/.exec(line)?.[1] ?? line);
  } finally {
    await rm(dataDir, { recursive: true, force: true });
  }
}

test('sampling spawns no process: 20 more samples under strace exec nothing more than start() did', async () => {
  const atStart = await programsExeced(0);
  const after20 = await programsExeced(20);
  // start() names the filesystem once (fsSize: df, through a shell); sampling itself starts nothing.
  assert.ok(atStart.some((p) => p.endsWith('/df')), `start() ran: ${atStart.join(', ')}`);
  assert.deepEqual(after20.sort(), atStart.sort(), `processes started by 20 more samples: ${after20.join(', ')} (start() alone: ${atStart.join(', ')})`);
});
