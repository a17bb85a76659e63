/**
 * What one group commit is made of: the items queued for it (appends, other writes, retention trims),
 * and how they become one LMDB write transaction. Offsets are assigned here, from the partitions'
 * committed state, in queue order; the partition states the commit leaves behind become the committed
 * state only once it is durable (log.ts). The records a commit appends to one partition are one put
 * per BATCH_RECORDS_MAX / BATCH_BYTES_MAX of them (one value: a record, or a batch of them; record.ts),
 * after the items' own operations. A partition's
 * checkpoint (keys.ts) goes into the commit when a trim moved its start, or when CHECKPOINT_RECORDS
 * records were appended since the last one. A trim deletes whole values: the keys it lists.
 */
import { LogInvariantError } from '../errors.js';
import { encodePartitionState, partitionKey, recordKey, writeRecordKey, type PartitionState } from './keys.js';
import { encodeValue } from './record.js';
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

/**
 * Bounds of one batch value: what a read of one record decodes at most, and what retention deletes at
 * once. A commit's records of one partition past them become more batches. At a gateway's steady load a
 * partition gets about a dozen records per commit; at a burst, 128 records cost one put instead of 128.
 */
export const BATCH_RECORDS_MAX = 128;
export const BATCH_BYTES_MAX = 32 * 1024;

/** Records one commit appends to one partition that become one LMDB value (record.ts), at the first's offset. */
interface Run {
  part: PartitionRef;
  baseOffset: number;
  values: Buffer[];
  bytes: number;
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
  // Appends in queue order per partition; each partition's become puts after the loop (record.ts), one
  // per BATCH_RECORDS_MAX / BATCH_BYTES_MAX.
  const open = new Map<PartitionRef, Run>();
  const runs: Run[] = [];
  for (let i = 0; i < items.length; i++) {
    const item = items[i] as Item;
    if (item.kind === 'append') {
      // The hot path, inline: the next offset of the partition, its run.
      const state = stateOf(item.part);
      const offset = state.endOffset++;
      payloadBytes += item.payloadBytes;
      appends++;
      const run = open.get(item.part);
      if (run === undefined || run.values.length >= BATCH_RECORDS_MAX || run.bytes + item.value.length > BATCH_BYTES_MAX) {
        const next = { part: item.part, baseOffset: offset, values: [item.value], bytes: item.value.length };
        open.set(item.part, next);
        runs.push(next);
      } else {
        run.values.push(item.value);
        run.bytes += item.value.length;
      }
      results[i] = offset;
    } else {
      results[i] = stage(item, stateOf, batch, trimmed);
    }
    opEnds[i] = batch.ops.length;
  }
  // One allocation for the commit's keys instead of one per partition.
  const keys = new KeySlab(runs.length);
  for (const run of runs) {
    const value = encodeValue(run.values, 0, run.values.length);
    const state = working.get(run.part) as PartitionState;
    state.bytes += value.length;
    state.keys++;
    batch.putRecord(writeRecordKey(keys.next(), run.part.streamId, run.part.index, run.baseOffset), value);
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
      const last = trim.keys.length - 1;
      if (trim.toOffset > state.endOffset || trim.bytes > state.bytes || trim.keys.length > state.keys || trim.keys[0] !== trim.fromOffset || (trim.keys[last] as number) >= trim.toOffset) {
        throw new LogInvariantError(`${trim.part.stream}/${trim.part.index}: a trim to ${trim.toOffset} (${trim.bytes} bytes, ${trim.keys.length} keys from ${String(trim.keys[0])}) does not fit the partition ${state.startOffset}..${state.endOffset} (${state.bytes} bytes, ${state.keys} keys)`);
      }
      for (const offset of trim.keys) batch.add({ db: 'records', key: recordKey(trim.part.streamId, trim.part.index, offset), value: null });
      state.startOffset = trim.toOffset;
      state.bytes -= trim.bytes;
      state.keys -= trim.keys.length;
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
