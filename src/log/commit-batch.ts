/**
 * What one group commit is made of: the items queued for it (appends, other writes, retention trims),
 * and how they become one LMDB write transaction. Offsets are assigned here, from the partitions'
 * committed state, in queue order; the partition states the commit leaves behind become the committed
 * state only once it is durable (log.ts). A partition's checkpoint (keys.ts) goes into the commit when
 * a trim moved its start, or when CHECKPOINT_RECORDS records were appended since the last one.
 */
import { encodePartitionState, partitionKey, recordKey, type PartitionState } from './keys.js';
import type { Trim } from './retention.js';
import type { WriteOp } from './store.js';
import type { PartitionRef } from './types.js';

/**
 * Appends between two checkpoints of a partition. Opening after a crash walks at most this many keys
 * per partition (reader.ts); a checkpoint costs one dirty page of the small partitions table, here
 * once per ~0.5 MB of 100-byte records.
 */
export const CHECKPOINT_RECORDS = 4096;

/** Called once per item: with the error when its commit failed, else with its result (an append's offset). */
export type Settle = (err: Error | null, result: number) => void;

export type Item =
  | { kind: 'append'; part: PartitionRef; value: Buffer; payloadBytes: number; bytes: number; settle: Settle }
  | { kind: 'ops'; ops: WriteOp[]; apply(): void; bytes: number; settle: Settle }
  | { kind: 'trim'; trim: Trim; bytes: number; settle: Settle };

/** A Settle that resolves or rejects a promise. */
export function settlePromise(resolve: (value: number) => void, reject: (err: Error) => void): Settle {
  return (err, result) => (err === null ? resolve(result) : reject(err));
}

export interface StagedCommit {
  ops: WriteOp[];
  /** Per item, in order: an append's offset, 0 for the rest. */
  results: number[];
  /** The partition states after the commit, for the partitions it touches. */
  working: Map<PartitionRef, PartitionState>;
  /** The partitions whose checkpoint the commit writes. */
  checkpointed: PartitionRef[];
}

export function stageCommit(items: Item[]): StagedCommit {
  const working = new Map<PartitionRef, PartitionState>();
  const trimmed = new Set<PartitionRef>();
  const stateOf = (p: PartitionRef): PartitionState => {
    let s = working.get(p);
    if (!s) working.set(p, (s = { ...p.state }));
    return s;
  };
  const ops: WriteOp[] = [];
  const results: number[] = [];
  // One allocation for all record keys of the commit instead of one per record.
  const keys = new KeySlab(items.length);
  for (const item of items) results.push(stage(item, stateOf, ops, keys, trimmed));
  const checkpointed: PartitionRef[] = [];
  for (const [part, state] of working) {
    if (trimmed.has(part) || state.endOffset - part.checkpointEnd >= CHECKPOINT_RECORDS) {
      ops.push(checkpointOp(part, state));
      checkpointed.push(part);
    }
  }
  return { ops, results, working, checkpointed };
}

/** The put that records `state` as the partition's checkpoint. */
export function checkpointOp(part: Pick<PartitionRef, 'streamId' | 'index'>, state: PartitionState): WriteOp {
  return { db: 'partitions', key: partitionKey(part.streamId, part.index), value: encodePartitionState(state) };
}

/** Turns one queued item into LMDB ops against the working partition states; returns its result. */
function stage(item: Item, stateOf: (p: PartitionRef) => PartitionState, ops: WriteOp[], keys: KeySlab, trimmed: Set<PartitionRef>): number {
  switch (item.kind) {
    case 'append': {
      const state = stateOf(item.part);
      const offset = state.endOffset++;
      state.bytes += item.value.length;
      ops.push({ db: 'records', key: recordKey(item.part.streamId, item.part.index, offset, keys.next()), value: item.value });
      return offset;
    }
    case 'ops':
      ops.push(...item.ops);
      return 0;
    case 'trim': {
      const { trim } = item;
      const state = stateOf(trim.part);
      // A trim planned against an older start is stale (another trim got there first): skip it.
      if (state.startOffset !== trim.fromOffset) return 0;
      for (let o = trim.fromOffset; o < trim.toOffset; o++) {
        ops.push({ db: 'records', key: recordKey(trim.part.streamId, trim.part.index, o), value: null });
      }
      state.startOffset = trim.toOffset;
      state.bytes -= trim.bytes;
      trimmed.add(trim.part);
      return 0;
    }
  }
}

/** Hands out 16-byte record keys carved from one buffer. */
class KeySlab {
  private readonly slab: Buffer;
  private at = 0;
  constructor(count: number) {
    this.slab = Buffer.allocUnsafe(16 * count);
  }
  next(): Buffer {
    const key = this.slab.subarray(this.at, this.at + 16);
    this.at += 16;
    return key;
  }
}
