/**
 * Checks the log's invariants when the writer opens it, so a damaged log is refused with an error that
 * names the stream, partition and offset instead of being appended to.
 *
 * 'tail' (the default, cheap enough for a Pi booting with gigabytes of log):
 *   - each partition's first and last stored keys are its startOffset and endOffset - 1;
 *   - the last `TAIL_RECORDS` records of each partition are consecutive and decode (version, checksum);
 *   - the number of stored records equals the sum of (endOffset - startOffset) over all partitions,
 *     which catches a hole anywhere; a mismatch triggers the full walk to name where it is.
 * 'full' walks every record of every partition.
 */
import { LogCorruptError } from '../errors.js';
import { isPartitionStateKey, parseRecordKey, recordKey } from './keys.js';
import { decodeAt, readStreamDefs, storedPartitionState, where, type PartitionAddress } from './reader.js';
import type { Store } from './store.js';

const TAIL_RECORDS = 1000;

export function verifyLog(store: Store, mode: 'tail' | 'full'): void {
  const parts: Array<PartitionAddress & { startOffset: number; endOffset: number }> = [];
  let stateKeys = 0;
  for (const def of readStreamDefs(store)) {
    for (let index = 0; index < def.partitions; index++) {
      const saved = store.read((txn) => storedPartitionState(store, txn, def.id, index));
      if (saved !== null) stateKeys++;
      const state = saved ?? { startOffset: 0, endOffset: 0, bytes: 0 };
      if (state.startOffset > state.endOffset) {
        throw new LogCorruptError(`${where({ stream: def.name, index }, state.startOffset)}: start offset is past the end offset ${state.endOffset}`);
      }
      parts.push({ stream: def.name, streamId: def.id, index, ...state });
    }
  }
  const expected = parts.reduce((n, p) => n + (p.endOffset - p.startOffset), 0);
  // The records table also holds one state key per partition (keys.ts).
  const stored = store.entryCount('records') - stateKeys;
  const full = mode === 'full' || stored !== expected;
  for (const p of parts) {
    const from = full ? p.startOffset : Math.max(p.startOffset, p.endOffset - TAIL_RECORDS);
    walk(store, p, from);
  }
  if (stored !== expected) {
    throw new LogCorruptError(`the log holds ${stored} records but its partitions account for ${expected}: stray records outside any partition's range`);
  }
}

/** Walks [from, endOffset) of one partition, checking contiguity and decoding; also that nothing precedes startOffset. */
function walk(store: Store, p: PartitionAddress & { startOffset: number; endOffset: number }, from: number): void {
  store.read((txn) => {
    const before = store.lastKeyBefore(txn, 'records', recordKey(p.streamId, p.index, p.startOffset));
    if (before !== null) {
      const k = parseRecordKey(before);
      if (k.streamId === p.streamId && k.partition === p.index) {
        throw new LogCorruptError(`${where(p, k.offset)}: record below the partition's start offset ${p.startOffset}`);
      }
    }
    let expected = from;
    store.scan(txn, 'records', recordKey(p.streamId, p.index, from), (key, value) => {
      if (isPartitionStateKey(key)) return false;
      const k = parseRecordKey(key);
      if (k.streamId !== p.streamId || k.partition !== p.index) return false;
      if (k.offset >= p.endOffset) throw new LogCorruptError(`${where(p, k.offset)}: record past the partition's end offset ${p.endOffset}`);
      if (k.offset !== expected) throw new LogCorruptError(`${where(p, expected)}: record missing (next stored offset is ${k.offset})`);
      decodeAt(value, p, k.offset);
      expected++;
      return true;
    });
    if (expected !== p.endOffset) throw new LogCorruptError(`${where(p, expected)}: record missing (the partition ends at ${p.endOffset})`);
  });
}
