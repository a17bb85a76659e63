/**
 * Log formats, and upgrading an older one in place when the writer opens it.
 *
 *   meta "format" := version u32
 *   1  the partition state in a table of its own, rewritten by every commit (refused)
 *   2  the partition state inside the records table, after the partition's records, under the key
 *      streamId u32, partition u32, 0xFFFFFFFF_FFFFFFFF, rewritten by every commit
 *   3  the partition's checkpoint in the partitions table, written every CHECKPOINT_RECORDS appends,
 *      on close and with every trim (keys.ts)
 *   4  a value holds one record or the batch of records one commit appended to a partition, under the
 *      first one's offset (record.ts); the checkpoint counts the partition's keys (keys.ts)
 *
 * Format 3 → 4 writes only the format key: every format 3 value is a single record and a 24-byte
 * checkpoint reads as one with a key per record, which is what format 3 stores. A reader of this
 * version reads format 3 as it is; a format 3 reader must not open format 4 (it would take a batch for
 * a damaged record), and refuses it by the format key.
 *
 * Format 2 → 3 is one write transaction: each state moves to the partitions table unchanged (it was
 * exact, so it is a valid checkpoint) and the format key says 3. A crash before its commit leaves a
 * format 2 log, upgraded again at the next open; nothing else is rewritten. A read-only process refuses
 * any format but this one with an error saying what to do: it cannot upgrade, and it would misread
 * format 2 (its states are not where format 3 looks).
 */
import { StreamMismatchError } from '../errors.js';
import { partitionKey } from './keys.js';
import { readStreamDefs } from './reader.js';
import type { Store, WriteOp } from './store.js';

export const FORMAT_VERSION = 4;
/** Formats this version reads without writing anything first. */
const READABLE_AS_IS = new Set([3, FORMAT_VERSION]);
const FORMAT_KEY = Buffer.from('format');

/** The format the log at `store` was written in; null for a log that has none yet (being created). */
export function storedFormat(store: Store): number | null {
  const value = store.read((txn) => store.get(txn, 'meta', FORMAT_KEY));
  return value === null ? null : value.readUInt32BE(0);
}

/** The put that marks the log as written in this format. */
export function formatOp(): WriteOp {
  const value = Buffer.alloc(4);
  value.writeUInt32BE(FORMAT_VERSION);
  return { db: 'meta', key: FORMAT_KEY, value };
}

/** Brings a writer's log to FORMAT_VERSION, or refuses a format it cannot read. Returns the format found. */
export async function upgradeFormat(store: Store, where: string): Promise<number | null> {
  const found = storedFormat(store);
  if (found === null || found === FORMAT_VERSION) return found;
  if (found !== 2 && found !== 3) throw new StreamMismatchError(`log format ${found} in ${where} is not supported (this version upgrades formats 2 and 3 and writes ${FORMAT_VERSION})`);
  await store.writeAll([...(found === 2 ? format2Moves(store) : []), formatOp()]);
  return found;
}

/** For a read-only process: the log must be in a format it reads as it is (3 or 4). */
export function assertReadableFormat(store: Store, where: string): void {
  const found = storedFormat(store);
  if (found === null || READABLE_AS_IS.has(found)) return;
  throw new StreamMismatchError(
    found === 2
      ? `log format 2 in ${where}: start the broker of this version once to upgrade it to format ${FORMAT_VERSION} (or read it with the version that wrote it)`
      : `log format ${found} in ${where} is not supported (expected ${FORMAT_VERSION})`,
  );
}

/** Moves every format 2 partition state from the records table to the partitions table. */
function format2Moves(store: Store): WriteOp[] {
  const ops: WriteOp[] = [];
  const defs = readStreamDefs(store);
  store.read((txn) => {
    for (const def of defs) {
      for (let index = 0; index < def.partitions; index++) {
        const key = format2StateKey(def.id, index);
        const state = store.get(txn, 'records', key);
        if (state === null) continue;
        ops.push({ db: 'partitions', key: partitionKey(def.id, index), value: state });
        ops.push({ db: 'records', key, value: null });
      }
    }
  });
  return ops;
}

function format2StateKey(streamId: number, partition: number): Buffer {
  const key = Buffer.alloc(16, 0xff);
  key.writeUInt32BE(streamId, 0);
  key.writeUInt32BE(partition, 4);
  return key;
}
