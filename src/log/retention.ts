/**
 * Retention: which records to delete, planned from committed state and applied by the Log's commit
 * loop as `Trim`s (delete offsets [fromOffset, toOffset) of one partition).
 *
 * Rules, in the order they are applied to each partition:
 *   1. `retention.ageMs`   — records older than the age go;
 *   2. `retention.bytes`   — per stream: the oldest records (across its partitions) go until the
 *                            stream fits;
 *   3. `storageMaxBytes`   — across all streams: the oldest records of the lowest-priority stream go
 *                            first, until the log fits.
 * Rules 1 and 2 never pass the hold group's cursor (records not yet forwarded stay); rule 3 does, and
 * every record it deletes before the hold group passed it is reported as dropped, by reason.
 *
 * A trim deletes whole values: a record, or a batch of the records one commit appended to the
 * partition (record.ts, at most BATCH_RECORDS_MAX), kept until its newest record is due. Rules 1 and 2
 * delete a batch only when all of it is below the hold cursor. Each pass deletes values holding at most
 * `retentionBatchRecords` records per partition (or the first value, when it alone holds more), so a
 * commit that carries a trim stays short and appends never stall behind a huge delete. A pass that has
 * nothing to do reads one value per partition (the oldest, for its age): the candidates are read only
 * when a rule applies, so the once-a-second pass costs nothing measurable under full ingest.
 */
import type { LogObserver, LogOptions, PartitionRef, StreamSpec } from './types.js';
import { cursorKey, parseRecordKey, readU64, recordKey } from './keys.js';
import { newestTimestamp } from './record.js';
import { recordCountAt, where } from './reader.js';
import type { Store, Txn } from './store.js';

export type DropReason = 'retention.age' | 'retention.bytes' | 'storage.maxBytes' | 'disk.free';

export interface Trim {
  part: PartitionRef;
  fromOffset: number;
  toOffset: number;
  /** Record bytes freed. */
  bytes: number;
  /** The keys it deletes: the first offsets of the values (records or batches) that hold [fromOffset, toOffset). */
  keys: number[];
  reason: DropReason;
  /** How many of the trimmed records the hold group had not consumed yet. */
  unforwarded: number;
}

/** One stored value (a record, or a batch of them: record.ts), the unit a trim deletes. */
interface Candidate {
  part: PartitionRef;
  /** Its first record's offset (its key). */
  offset: number;
  /** The offset after its last record. */
  end: number;
  /** Its newest record's timestamp. */
  timestamp: number;
  bytes: number;
}

export interface PlannedStream {
  spec: StreamSpec;
  partitions: PartitionRef[];
}

/** Per-partition scratch state while planning one pass. */
interface Head {
  part: PartitionRef;
  /** Next offset not yet planned for deletion. */
  cut: number;
  /** Retention may not go past this (hold group cursor); Infinity with no hold group. */
  hold: number;
  /** Newest timestamp of the oldest value, or null for an empty partition. */
  firstTimestamp: number | null;
  /** Oldest values from the start (holding up to retentionBatchRecords), read only when a rule needs them. */
  candidates: Candidate[] | null;
}

export class RetentionPlanner {
  constructor(
    private readonly store: Store,
    private readonly options: Pick<LogOptions, 'retentionHoldGroup' | 'retentionBatchRecords' | 'storageMaxBytes'>,
  ) {}

  /** Plans one pass. `pressureLimitBytes` is a second, tighter storage limit while the disk is short. */
  plan(streams: PlannedStream[], now: number, pressureLimitBytes: number | null = null): Trim[] {
    const trims: Trim[] = [];
    const heads = new Map<PartitionRef, Head>();
    this.store.read((txn) => {
      for (const s of streams) for (const p of s.partitions) heads.set(p, this.head(txn, s.spec, p));
    });
    for (const s of streams) {
      const ageMs = s.spec.retention?.ageMs;
      if (ageMs !== undefined) {
        for (const p of s.partitions) this.cutByAge(heads.get(p) as Head, now - ageMs, trims);
      }
      const limit = s.spec.retention?.bytes;
      if (limit !== undefined) {
        const excess = streamBytes(s, trims) - limit;
        if (excess > 0) this.cutOldest(s.partitions.map((p) => heads.get(p) as Head), excess, 'retention.bytes', false, trims);
      }
    }
    const total = streams.reduce((n, s) => n + streamBytes(s, trims), 0);
    const storageExcess = this.options.storageMaxBytes > 0 ? total - this.options.storageMaxBytes : 0;
    const pressureExcess = pressureLimitBytes === null ? 0 : total - pressureLimitBytes;
    const reason: DropReason = pressureExcess > storageExcess ? 'disk.free' : 'storage.maxBytes';
    let toFree = Math.max(storageExcess, pressureExcess, 0);
    if (toFree > 0) {
      const byPriority = [...streams].sort((a, b) => (a.spec.priority ?? 0) - (b.spec.priority ?? 0));
      for (const s of byPriority) {
        if (toFree <= 0) break;
        toFree -= this.cutOldest(s.partitions.map((p) => heads.get(p) as Head), toFree, reason, true, trims);
      }
    }
    return trims;
  }

  /** Counts a committed trim as dropped (never forwarded) or expired. */
  committed(trim: Trim, observer: LogObserver | undefined): void {
    const total = trim.toOffset - trim.fromOffset;
    if (trim.unforwarded > 0) observer?.dropped?.(trim.part.stream, trim.reason, trim.unforwarded);
    if (total - trim.unforwarded > 0) observer?.expired?.(trim.part.stream, trim.reason, total - trim.unforwarded);
  }

  private head(txn: Txn, spec: StreamSpec, part: PartitionRef): Head {
    const { startOffset, endOffset } = part.state;
    const group = this.options.retentionHoldGroup;
    let hold = Infinity;
    if (group !== null) {
      const value = this.store.get(txn, 'cursors', cursorKey(group, spec.name, part.index));
      hold = value === null ? startOffset : readU64(value, 0);
    }
    let firstTimestamp: number | null = null;
    if (startOffset < endOffset && spec.retention?.ageMs !== undefined) {
      const first = this.store.get(txn, 'records', recordKey(part.streamId, part.index, startOffset));
      firstTimestamp = first === null ? null : newestTimestamp(first, () => where(part, startOffset));
    }
    return { part, cut: startOffset, hold, firstTimestamp, candidates: null };
  }

  /** The head's candidates, read on first use in a transaction of their own. */
  private candidates(head: Head): Candidate[] {
    if (head.candidates !== null) return head.candidates;
    const { part } = head;
    const { startOffset, endOffset } = part.state;
    const candidates: Candidate[] = [];
    const last = Math.min(endOffset, startOffset + this.options.retentionBatchRecords);
    if (startOffset < last) {
      this.store.read((txn) =>
        this.store.scan(txn, 'records', recordKey(part.streamId, part.index, startOffset), (key, value) => {
          const { offset, partition, streamId } = parseRecordKey(key);
          if (streamId !== part.streamId || partition !== part.index || offset >= last) return false;
          const end = offset + recordCountAt(value, part, offset);
          // A pass stays within its bound: a value reaching past it waits for the next (but the first
          // always goes, so a pass makes progress even with a bound below a batch).
          if (end > last && candidates.length > 0) return false;
          candidates.push({ part, offset, end, timestamp: newestTimestamp(value, () => where(part, offset)), bytes: value.length });
          return true;
        }),
      );
    }
    head.candidates = candidates;
    return candidates;
  }

  private cutByAge(head: Head, oldestKeptMs: number, trims: Trim[]): void {
    if (head.firstTimestamp === null || head.firstTimestamp >= oldestKeptMs || head.cut >= head.hold) return;
    let bytes = 0;
    let to = head.cut;
    const keys: number[] = [];
    for (const c of this.candidates(head)) {
      if (c.offset < head.cut) continue;
      if (c.timestamp >= oldestKeptMs || c.end > head.hold) break;
      bytes += c.bytes;
      to = c.end;
      keys.push(c.offset);
    }
    this.push(head, to, bytes, keys, 'retention.age', trims);
  }

  /** Deletes the oldest values (by timestamp, across `heads`) until `bytesToFree`; returns bytes freed. */
  private cutOldest(heads: Head[], bytesToFree: number, reason: DropReason, force: boolean, trims: Trim[]): number {
    const next = new Map<Head, number>(heads.map((h) => [h, this.candidates(h).findIndex((c) => c.offset >= h.cut)]));
    const freedBy = new Map<Head, { to: number; bytes: number; keys: number[] }>();
    let freed = 0;
    while (freed < bytesToFree) {
      let best: Head | null = null;
      let c: Candidate | undefined;
      for (const h of heads) {
        const i = next.get(h) as number;
        const candidate = i >= 0 ? this.candidates(h)[i] : undefined;
        if (!candidate || (!force && candidate.end > h.hold)) continue;
        if (c === undefined || candidate.timestamp < c.timestamp) {
          best = h;
          c = candidate;
        }
      }
      if (best === null || c === undefined) break;
      const i = next.get(best) as number;
      next.set(best, i + 1 < this.candidates(best).length ? i + 1 : -1);
      const acc = freedBy.get(best) ?? { to: best.cut, bytes: 0, keys: [] };
      acc.to = c.end;
      acc.bytes += c.bytes;
      acc.keys.push(c.offset);
      freedBy.set(best, acc);
      freed += c.bytes;
    }
    for (const [h, acc] of freedBy) this.push(h, acc.to, acc.bytes, acc.keys, reason, trims);
    return freed;
  }

  private push(head: Head, toOffset: number, bytes: number, keys: number[], reason: DropReason, trims: Trim[]): void {
    if (toOffset <= head.cut) return;
    const unforwarded = this.options.retentionHoldGroup === null
      ? (reason === 'storage.maxBytes' || reason === 'disk.free' ? toOffset - head.cut : 0)
      : Math.max(0, toOffset - Math.max(head.cut, head.hold));
    trims.push({ part: head.part, fromOffset: head.cut, toOffset, bytes, keys, reason, unforwarded });
    head.cut = toOffset;
  }
}

function streamBytes(s: PlannedStream, trims: Trim[]): number {
  let bytes = s.partitions.reduce((n, p) => n + p.state.bytes, 0);
  for (const t of trims) if (s.partitions.includes(t.part)) bytes -= t.bytes;
  return bytes;
}
