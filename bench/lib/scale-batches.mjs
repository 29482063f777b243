// The scale bench's request batching (bench/scale.mjs --request-batch): one pod's scripted events
// grouped into the messages an agent with `--request-batch <ms>` publishes. Pure, in the script's
// own times, so the same pods give the same messages whether the bench runs in real time or
// --prefill.
//
// Which records leave together, and when, is decided by the agent's own batcher
// (agent/request-batcher.ts, createReplayedBatcher: its rule on a clock of the script's offsets):
// a window opened by a record and flushed at its expiry, at MAX_REQUEST_BATCH_RECORDS records,
// before its records' JSON would pass REQUEST_BATCH_MAX_BYTES, or before any other event of the pod.
// A flush of one record is a plain `request` event; of two or more, a `request.batch`.
import { createReplayedBatcher } from '../../dist/agent/index.js';

/**
 * The messages of one pod's script, in publish order. `steps`: [offset ms, kind, data(now)] in
 * emit order (offsets not decreasing); a request's data(0) is what the batcher sizes. Each message
 * is { due, kind, data } for a plain event (a request's `recordDue` is its own offset, the time it
 * ended) or { due, kind: 'request.batch', records: [{ due, data }] }; `due` is when it is published
 * (a batch's flush). batchMs 0: every step its own message, at its own offset.
 */
export function podMessages(steps, { batchMs }) {
  if (batchMs <= 0) return steps.map(([due, kind, data]) => ({ due, kind, data }));
  const out = [];
  // The request steps the batcher holds, oldest first: it hands them on in this order.
  const held = [];
  let current;
  const replay = createReplayedBatcher({
    windowMs: batchMs,
    emit: (kind, data, _time, atMs) => {
      if (kind === 'request.batch') {
        const records = held.splice(0, data.records.length).map(([due, , d]) => ({ due, data: d }));
        out.push({ due: atMs, kind, records });
      } else if (kind === 'request') {
        const [due, , d] = held.shift();
        out.push({ due: atMs, kind, recordDue: due, data: d });
      } else out.push({ due: atMs, kind, data: current[2] });
    },
  });
  for (const step of steps) {
    const [off, kind, data] = step;
    current = step;
    if (kind === 'request') held.push(step);
    replay.emit(off, kind, kind === 'request' ? data(0) : {});
  }
  replay.end();
  return out;
}

/** How many observations (events and request records) a message carries. */
export function observationsOf(message) {
  return message.records ? message.records.length : 1;
}
