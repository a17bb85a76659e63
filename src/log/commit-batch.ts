/**
 * What one group commit is made of: the items queued for it (appends, other writes, retention trims),
 * and how they become one LMDB write transaction. Offsets are assigned here, from the partitions'
 * committed state, in queue order; the partition states the commit leaves behind become the committed
 * state only once it is durable (log.ts). A partition's checkpoint (keys.ts) goes into the commit when
 * a trim moved its start, or when CHECKPOINT_RECORDS records were appended since the last one.
 */
import { LogInvariantError } from '../errors.js';
import { encodePartitionState, partitionKey, recordKey, writeRecordKey, type PartitionState } from './keys.js';
import type { Trim } from './retention.js';
import type { WriteBatch, WriteOp } from './store.js';
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
  /** Per item, in order: an append's offset, 0 for the rest. */
  results: number[];
  /** Payload bytes of the appends. */
  payloadBytes: number;
  /** How many items are appends. */
  appends: number;
  /** The partition states after the commit, for the partitions it touches. */
  working: Map<PartitionRef, PartitionState>;
  /** The partitions whose checkpoint the commit writes. */
  checkpointed: PartitionRef[];
  /** Per item: one past the index of its last operation in the batch (its operations end there). */
  opEnds: Uint32Array;
}

/** Adds the commit of `items` to `batch` (empty); returns what the commit will have done once durable. */
export function stageCommit(items: Item[], batch: WriteBatch): StagedCommit {
  const working = new Map<PartitionRef, PartitionState>();
  const trimmed = new Set<PartitionRef>();
  const stateOf = (p: PartitionRef): PartitionState => {
    let s = working.get(p);
    if (!s) working.set(p, (s = { ...p.state }));
    return s;
  };
  const results: number[] = new Array<number>(items.length);
  const opEnds = new Uint32Array(items.length);
  let payloadBytes = 0;
  let appends = 0;
  // One allocation for all record keys of the commit instead of one per record.
  const keys = new KeySlab(items.length);
  for (let i = 0; i < items.length; i++) {
    const item = items[i] as Item;
    if (item.kind === 'append') {
      // The hot path, inline: the next offset of the partition, its key, the put.
      const state = stateOf(item.part);
      const offset = state.endOffset++;
      state.bytes += item.bytes;
      payloadBytes += item.payloadBytes;
      appends++;
      batch.putRecord(writeRecordKey(keys.next(), item.part.streamId, item.part.index, offset), item.value);
      results[i] = offset;
    } else {
      results[i] = stage(item, stateOf, batch, trimmed);
    }
    opEnds[i] = batch.ops.length;
  }
  const checkpointed: PartitionRef[] = [];
  for (const [part, state] of working) {
    if (trimmed.has(part) || state.endOffset - part.checkpointEnd >= CHECKPOINT_RECORDS) {
      batch.add(checkpointOp(part, state));
      checkpointed.push(part);
    }
  }
  return { results, payloadBytes, appends, working, checkpointed, opEnds };
}

/** The put that records `state` as the partition's checkpoint. */
export function checkpointOp(part: Pick<PartitionRef, 'streamId' | 'index'>, state: PartitionState): WriteOp {
  return { db: 'partitions', key: partitionKey(part.streamId, part.index), value: encodePartitionState(state) };
}

/** Turns one queued item other than an append into LMDB ops against the working partition states. */
function stage(item: Exclude<Item, { kind: 'append' }>, stateOf: (p: PartitionRef) => PartitionState, batch: WriteBatch, trimmed: Set<PartitionRef>): number {
  switch (item.kind) {
    case 'ops':
      for (const op of item.ops) batch.add(op);
      return 0;
    case 'trim': {
      const { trim } = item;
      const state = stateOf(trim.part);
      // A trim planned against an older start is stale (another trim got there first): skip it.
      if (state.startOffset !== trim.fromOffset) return 0;
      if (trim.toOffset > state.endOffset || trim.bytes > state.bytes) {
        throw new LogInvariantError(`${trim.part.stream}/${trim.part.index}: a trim to ${trim.toOffset} (${trim.bytes} bytes) passes the end ${state.endOffset} (${state.bytes} bytes)`);
      }
      for (let o = trim.fromOffset; o < trim.toOffset; o++) {
        batch.add({ db: 'records', key: recordKey(trim.part.streamId, trim.part.index, o), value: null });
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
