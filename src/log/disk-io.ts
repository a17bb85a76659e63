/**
 * Bytes this process caused to be written to storage, from /proc/self/io `write_bytes` (counted at
 * page-dirtying time by the kernel). Null where the file does not exist (not Linux) or the kernel
 * does not account I/O: write amplification is then unknown rather than zero.
 */
import fs from 'node:fs';

export function processWriteBytes(): number | null {
  let text: string;
  try {
    text = fs.readFileSync('/proc/self/io', 'utf8');
  } catch {
    return null;
  }
  const match = /^write_bytes:\s*(\d+)$/m.exec(text);
  return match ? Number(match[1]) : null;
}
