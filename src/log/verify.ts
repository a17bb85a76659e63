/**
 * Checks the log's invariants when the writer opens it, so a damaged log is refused with an error that
 * names the stream, partition and offset instead of being appended to.
 *
 * Each partition's state comes from its checkpoint and the records appended since, which must follow
 * the checkpoint's end without a gap (reader.ts, checked as the writer loads the states it passes here).
 *
 * 'tail' (the default, cheap enough for a Pi booting with gigabytes of log):
 *   - each partition's first and last stored keys are its startOffset and endOffset - 1;
 *   - the last `TAIL_RECORDS` records of each partition are consecutive and decode (version, checksum);
 *   - the number of stored values (records and batches, record.ts) equals the sum of the partitions'
 *     `keys`, which catches a hole anywhere; a mismatch triggers the full walk to name where it is.
 * 'full' walks every record of every partition.
 */
import { LogCorruptError } from '../errors.js';
import { parseRecordKey, recordKey, type PartitionState } from './keys.js';
import { decodeValueAt, where, type PartitionAddress } from './reader.js';
import type { LogRecord } from './record.js';
import type { Store } from './store.js';

const TAIL_RECORDS = 1000;

/** `parts`: every partition of the log with the state the writer loaded for it (reader.ts). */
export function verifyLog(store: Store, mode: 'tail' | 'full', parts: Array<PartitionAddress & PartitionState>): void {
  for (const p of parts) {
    if (p.startOffset > p.endOffset) {
      throw new LogCorruptError(`${where(p, p.startOffset)}: start offset is past the end offset ${p.endOffset}`);
    }
  }
  const expected = parts.reduce((n, p) => n + p.keys, 0);
  const stored = store.entryCount('records');
  const full = mode === 'full' || stored !== expected;
  for (const p of parts) {
    const from = full ? p.startOffset : Math.max(p.startOffset, p.endOffset - TAIL_RECORDS);
    walk(store, p, from);
  }
  if (stored !== expected) {
    throw new LogCorruptError(`the log holds ${stored} record values but its partitions account for ${expected}: stray records outside any partition's range`);
  }
}

/**
 * Walks the values holding [from, endOffset) of one partition, checking that each starts where the last
 * ended and decoding every record; also that nothing precedes startOffset.
 */
function walk(store: Store, p: PartitionAddress & { startOffset: number; endOffset: number }, from: number): void {
  store.read((txn) => {
    const before = store.lastKeyBefore(txn, 'records', recordKey(p.streamId, p.index, p.startOffset));
    if (before !== null) {
      const k = parseRecordKey(before);
      if (k.streamId === p.streamId && k.partition === p.index) {
        throw new LogCorruptError(`${where(p, k.offset)}: record below the partition's start offset ${p.startOffset}`);
      }
    }
    // `from` may fall inside a batch: the walk starts at the value holding it.
    let expected = from;
    if (from > p.startOffset) {
      const at = store.lastKeyBefore(txn, 'records', recordKey(p.streamId, p.index, from + 1));
      const k = at === null ? null : parseRecordKey(at);
      if (k !== null && k.streamId === p.streamId && k.partition === p.index && k.offset >= p.startOffset) expected = k.offset;
    }
    const decoded: LogRecord[] = [];
    store.scan(txn, 'records', recordKey(p.streamId, p.index, expected), (key, value) => {
      const k = parseRecordKey(key);
      if (k.streamId !== p.streamId || k.partition !== p.index) return false;
      if (k.offset >= p.endOffset) throw new LogCorruptError(`${where(p, k.offset)}: record past the partition's end offset ${p.endOffset}`);
      if (k.offset !== expected) throw new LogCorruptError(`${where(p, expected)}: record missing (next stored offset is ${k.offset})`);
      decoded.length = 0;
      expected = decodeValueAt(value, p, k.offset, decoded);
      if (expected > p.endOffset) throw new LogCorruptError(`${where(p, p.endOffset)}: record past the partition's end offset ${p.endOffset} (in the batch at ${k.offset})`);
      return true;
    });
    if (expected !== p.endOffset) throw new LogCorruptError(`${where(p, expected)}: record missing (the partition ends at ${p.endOffset})`);
  });
}
