/** How far a serve's forwarder got, read from its data dir while it runs (LMDB read-only). */
import { Log, UPSTREAM_GROUP } from '../../src/log/index.js';

/** Records forwarded (the sum of the `upstream` cursors) and appended (the sum of end offsets) in `streams`. */
export function forwardProgress(dataDir: string, streams: readonly string[]): { forwarded: number; appended: number } {
  const reader = Log.openReadOnly(dataDir);
  if (reader === null) return { forwarded: 0, appended: 0 };
  try {
    let forwarded = 0;
    let appended = 0;
    for (const stream of streams) {
      for (let p = 0; p < reader.partitionCount(stream); p++) {
        forwarded += reader.cursor(UPSTREAM_GROUP, stream, p) ?? 0;
        appended += reader.partitionState(stream, p).endOffset;
      }
    }
    return { forwarded, appended };
  } finally {
    reader.close();
  }
}
