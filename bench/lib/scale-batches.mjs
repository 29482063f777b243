// The scale bench's request batching (bench/scale.mjs --request-batch): one pod's scripted events
// grouped into the messages an agent with `--request-batch <ms>` publishes. Pure, in the script's
// own times, so the same pods give the same messages whether the bench runs in real time or
// --prefill.
//
// The agent's rule, as the bench simulates it: a request record ending while no window is open
// opens one for `batchMs`; records ending before it expires join it. The window is flushed when it
// expires, when it holds `maxRecords` records (the contract's MAX_REQUEST_BATCH_RECORDS), when the
// next record's JSON would take its records past BATCH_JSON_LIMIT_BYTES (flushed first; that record
// opens the next window), or when the pod emits any other event (flushed first, so seq order
// follows what happened). A flush of one record is a plain `request` event; of two or more, a
// `request.batch`. Imports nothing, so its unit test (test/unit/scale-batches.test.ts) needs no build.

/** Records' JSON past this flushes a window: below the event's 64 KiB, leaving room for the envelope. */
export const BATCH_JSON_LIMIT_BYTES = 48 * 1024;

/**
 * The messages of one pod's script, in publish order. `steps`: [offset ms, kind, data(now)] in
 * emit order (offsets not decreasing). `recordBytes(step)`: a request record's JSON size in bytes,
 * its `at` included (asked only when batching). Each message is { due, kind, data } for a plain
 * event (a request's `recordDue` is its own offset, the time it ended) or { due, kind:
 * 'request.batch', records: [{ due, data }] }; `due` is when it is published (a batch's flush).
 * batchMs 0: every step its own message, at its own offset.
 */
export function podMessages(steps, { batchMs, maxRecords, recordBytes }) {
  const out = [];
  if (batchMs <= 0) {
    for (const [due, kind, data] of steps) out.push({ due, kind, data });
    return out;
  }
  let window; // { openedAt, records: [{ due, data }], bytes }
  const flush = (at) => {
    if (!window) return;
    const { records } = window;
    window = undefined;
    if (records.length === 1)
      out.push({ due: at, kind: 'request', recordDue: records[0].due, data: records[0].data });
    else out.push({ due: at, kind: 'request.batch', records });
  };
  for (const step of steps) {
    const [off, kind, data] = step;
    if (window && off >= window.openedAt + batchMs) flush(window.openedAt + batchMs);
    if (kind !== 'request') {
      flush(off);
      out.push({ due: off, kind, data });
      continue;
    }
    const bytes = recordBytes(step);
    // The records array's JSON: each record plus a comma between two.
    if (window && window.bytes + 1 + bytes > BATCH_JSON_LIMIT_BYTES) flush(off);
    if (!window) window = { openedAt: off, records: [], bytes: -1 };
    window.records.push({ due: off, data });
    window.bytes += 1 + bytes;
    if (window.records.length >= maxRecords) flush(off);
  }
  if (window) flush(window.openedAt + batchMs);
  return out;
}

/** How many observations (events and request records) a message carries. */
export function observationsOf(message) {
  return message.records ? message.records.length : 1;
}
