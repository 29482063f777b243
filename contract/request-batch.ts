import type { DrainwatchEvent } from './event-builder.js';
import { cloudEventType } from './kinds.js';

// A `request.batch` event read as the `request` events it stands for. The collector stores a batch
// as one entry and every reader expands it here, so reports, timelines and the probe-id lookup see
// the same `request` events an agent without batching would have sent.

/** The id of record `index` (from 0) of the batch `batchId`, as a `request` event: `<batchId>/<index>`. */
export function batchRecordId(batchId: string, index: number): string {
  return `${batchId}/${index}`;
}

/**
 * The `request` events of `batch`, in its order: the batch's envelope with the record's `at` as
 * `time`, the record's other fields as `data`, and id `<batch id>/<index>` (index from 0), so each
 * is unique and stable across reads. They share the batch's `seq`: a batch is one message.
 */
export function requestsOfBatch(batch: DrainwatchEvent<'request.batch'>): DrainwatchEvent<'request'>[] {
  const type = cloudEventType('request');
  return batch.data.records.map(({ at, ...data }, i) => ({
    ...batch,
    id: batchRecordId(batch.id, i),
    type,
    time: at,
    kind: 'request',
    data,
  }));
}
