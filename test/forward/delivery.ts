/**
 * Checks what reached Kafka against what the log holds, using the headers every forwarded record carries
 * (`tributary.stream`, `tributary.partition`, `tributary.offset`): what is missing, how many duplicates
 * at-least-once produced, and whether order held.
 *
 * Order: records with one key land in one Kafka partition, so per (log stream, log partition, key) the
 * first arrival of each offset must come after the first arrivals of all smaller offsets. A re-sent batch
 * (a duplicate run) may go back; a record may never overtake one that was not yet delivered.
 */
import type { ConsumedRecord } from '../helpers/kafka.js';

export interface DeliveryReport {
  received: number;
  unique: number;
  duplicates: number;
  /** `stream/partition@offset`, at most 20. */
  missing: string[];
  /** `stream/partition key: offset after max`, at most 20. */
  outOfOrder: string[];
  /** Records whose headers are incomplete, at most 20. */
  badHeaders: string[];
}

const requiredHeaders = ['tributary.gateway', 'tributary.stream', 'tributary.partition', 'tributary.offset', 'mqtt.topic'];

/** `expected`: `stream/partition` → [startOffset, endOffset) that must have arrived. */
export function checkDelivery(records: ConsumedRecord[], expected: Map<string, [number, number]>): DeliveryReport {
  const seen = new Map<string, Set<number>>();
  const maxByKey = new Map<string, number>();
  const report: DeliveryReport = { received: records.length, unique: 0, duplicates: 0, missing: [], outOfOrder: [], badHeaders: [] };
  for (const r of records) {
    const missingHeader = requiredHeaders.find((h) => !r.headers.has(h));
    if (missingHeader !== undefined) {
      if (report.badHeaders.length < 20) report.badHeaders.push(`${r.topic}/${r.partition}@${r.offset}: no ${missingHeader}`);
      continue;
    }
    const id = `${r.headers.get('tributary.stream')?.toString()}/${r.headers.get('tributary.partition')?.toString()}`;
    const offset = Number(r.headers.get('tributary.offset')?.toString());
    let set = seen.get(id);
    if (set === undefined) seen.set(id, (set = new Set()));
    if (set.has(offset)) {
      report.duplicates++;
      continue;
    }
    set.add(offset);
    report.unique++;
    const orderKey = `${id} ${r.key?.toString() ?? ''}`;
    const max = maxByKey.get(orderKey) ?? -1;
    if (offset < max && report.outOfOrder.length < 20) report.outOfOrder.push(`${orderKey}: ${offset} after ${max}`);
    maxByKey.set(orderKey, Math.max(max, offset));
  }
  for (const [id, [start, end]] of expected) {
    const set = seen.get(id) ?? new Set<number>();
    for (let o = start; o < end && report.missing.length < 20; o++) if (!set.has(o)) report.missing.push(`${id}@${o}`);
  }
  return report;
}

/** The expectation for every partition of the log's forwarded streams: everything from start to end. */
export function expectAll(partitions: Array<{ stream: string; partition: number; startOffset: number; endOffset: number }>): Map<string, [number, number]> {
  return new Map(partitions.map((p) => [`${p.stream}/${p.partition}`, [p.startOffset, p.endOffset]]));
}
