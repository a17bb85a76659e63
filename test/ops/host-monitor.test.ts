/**
 * Proves the host monitor on this real machine: a sample has sane numbers (free <= total disk and memory,
 * both positive, load within 0..100, a temperature that is null or plausible, a fresh timestamp), its
 * disk numbers match `df` for the data dir's filesystem within what can change between the two reads,
 * `start()` names the data dir's mount, the timer does not keep the process alive (this file ends), and
 * `diskFreeBytes` answers for a data dir that does not exist yet from its nearest existing ancestor.
 * Pure parts are proved on their own: the longest-mount-prefix rule respects path boundaries, and the
 * CPU thermal zone is found in a fake sysfs tree (Pi's `cpu-thermal` preferred, millidegrees converted,
 * no zone means null).
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import {
  createHostMonitor,
  diskFreeBytes,
  diskSpace,
  findCpuThermalZone,
  mountPointFor,
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
