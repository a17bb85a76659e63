/**
 * The checks a group commit must pass before its partition states replace the committed ones (log.ts):
 * which items LMDB refused one by one, whether a failed transaction left LMDB as it was before or as
 * the commit would have, and that a state only moves forward. Each broken expectation is a
 * LogInvariantError naming the partition.
 */
import { LogInvariantError } from '../errors.js';
import type { Item } from './commit-batch.js';
import type { PartitionState } from './keys.js';
import { checkpointIn, partitionStateIn } from './reader.js';
import type { Store } from './store.js';
import type { PartitionRef } from './types.js';

/**
 * The items owning the operations LMDB refused one by one. Only an `ops` item may be refused and
 * fail alone: a refused record put or delete leaves a hole in a partition, and a refused checkpoint a
 * state that cannot be trusted, so those break the log.
 */
export function refusedItems(items: Item[], opEnds: Uint32Array, refused: number[]): Set<number> {
  const owners = new Set<number>();
  let item = 0;
  for (const op of refused) {
    while (item < items.length && (opEnds[item] as number) <= op) item++;
    const owner = items[item];
    if (owner === undefined || owner.kind !== 'ops') {
      throw new LogInvariantError(`LMDB refused operation #${op} of a commit, ${owner === undefined ? 'a record put or partition checkpoint' : `part of an ${owner.kind}`}`);
    }
    owners.add(item);
  }
  return owners;
}

/**
 * Reads the partitions a commit touched back from LMDB and says whether they hold the committed states
 * from before it (`before`) and whether they hold the staged states `working` (`after`); both hold
 * when the commit changed no partition. Anything else breaks an invariant (thrown).
 */
export function reconcile(store: Store, working: Map<PartitionRef, PartitionState>): { before: boolean; after: boolean } {
  let before = true;
  let after = true;
  const found: Array<[PartitionRef, PartitionState]> = [];
  store.read((txn) => {
    for (const part of working.keys()) found.push([part, partitionStateIn(store, txn, part, checkpointIn(store, txn, part))]);
  });
  for (const [part, disk] of found) {
    before &&= sameState(disk, part.state);
    after &&= sameState(disk, working.get(part) as PartitionState);
  }
  if (before || after) return { before, after };
  const [part, disk] = found.find(([p, d]) => !sameState(d, p.state)) as [PartitionRef, PartitionState];
  throw new LogInvariantError(
    `${part.stream}/${part.index}: LMDB holds ${describe(disk)}, neither the state before the commit (${describe(part.state)}) nor after it (${describe(working.get(part) as PartitionState)})`,
  );
}

function sameState(a: PartitionState, b: PartitionState): boolean {
  return a.startOffset === b.startOffset && a.endOffset === b.endOffset && a.bytes === b.bytes && a.keys === b.keys;
}

function describe(s: PartitionState): string {
  return `${s.startOffset}..${s.endOffset} (${s.bytes} bytes in ${s.keys} keys)`;
}

/** A committed state replaces the last one only by moving forward. */
export function assertAdvance(part: PartitionRef, before: PartitionState, after: PartitionState): void {
  if (after.endOffset < before.endOffset || after.startOffset < before.startOffset || after.startOffset > after.endOffset || after.bytes < 0 || after.keys < 0 || after.keys > after.endOffset - after.startOffset || (after.keys === 0) !== (after.startOffset === after.endOffset)) {
    throw new LogInvariantError(`${part.stream}/${part.index}: a commit would move the partition from ${describe(before)} to ${describe(after)}`);
  }
}
