/**
 * Human units in config: sizes (`512MiB`, `1GB`, `1048576`) and durations (`500ms`, `30s`, `7d`).
 * Binary prefixes (KiB, MiB, GiB, TiB) are powers of 1024, decimal ones (KB, MB, GB, TB) powers of
 * 1000, as in IEC 80000-13; a bare number is bytes or milliseconds.
 */

const SIZE_UNITS: Record<string, number> = {
  b: 1,
  kb: 1e3,
  mb: 1e6,
  gb: 1e9,
  tb: 1e12,
  kib: 1024,
  mib: 1024 ** 2,
  gib: 1024 ** 3,
  tib: 1024 ** 4,
};

const DURATION_UNITS: Record<string, number> = {
  ms: 1,
  s: 1000,
  m: 60_000,
  h: 3_600_000,
  d: 86_400_000,
  w: 604_800_000,
};

/** Returns bytes, or a message saying what is wrong. */
export function parseSize(input: string | number): number | string {
  return parseWithUnits(input, SIZE_UNITS, 'a size such as 512MiB, 4GiB or 1048576');
}

/** Returns milliseconds, or a message saying what is wrong. */
export function parseDuration(input: string | number): number | string {
  return parseWithUnits(input, DURATION_UNITS, 'a duration such as 500ms, 30s, 12h or 7d');
}

function parseWithUnits(input: string | number, units: Record<string, number>, expected: string): number | string {
  if (typeof input === 'number') {
    return Number.isSafeInteger(input) && input >= 0 ? input : `expected ${expected}, got ${input}`;
  }
  const match = /^\s*(\d+(?:\.\d+)?)\s*([a-zA-Z]*)\s*$/.exec(input);
  if (!match) return `expected ${expected}, got "${input}"`;
  const unit = (match[2] ?? '').toLowerCase();
  const factor = unit === '' ? 1 : units[unit];
  if (factor === undefined) return `unknown unit "${match[2]}" in "${input}" (use ${Object.keys(units).join(', ')})`;
  const value = Math.round(Number(match[1]) * factor);
  return Number.isSafeInteger(value) ? value : `"${input}" is too large`;
}

export function formatBytes(bytes: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let value = bytes;
  let i = 0;
  while (Math.abs(value) >= 1024 && i < units.length - 1) {
    value /= 1024;
    i++;
  }
  return `${i === 0 ? value : value.toFixed(1)} ${units[i]}`;
}
