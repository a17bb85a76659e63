/**
 * The V8 flags serve is deployed with, read from package.json's `start` script (which the systemd
 * unit repeats; test/ops/systemd-unit.test.ts keeps the two equal), so every benchmark measures serve
 * as deployed and a change of flags is made in one place.
 */
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const PACKAGE_JSON = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../package.json');

export function deployedNodeFlags(): string[] {
  const pkg = JSON.parse(fs.readFileSync(PACKAGE_JSON, 'utf8')) as { scripts: { start: string } };
  return pkg.scripts.start.split(/\s+/).filter((arg) => arg.startsWith('--max-'));
}
