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
  const replay = createReplayedBatcher({
    windowMs: batchMs,
    emit: (kind, _data, atMs, inputs) => {
      if (kind === 'request.batch') {
        out.push({ due: atMs, kind, records: inputs.map(([due, , d]) => ({ due, data: d })) });
      } else if (kind === 'request') {
        const [[due, , d]] = inputs;
        out.push({ due: atMs, kind, recordDue: due, data: d });
      } else out.push({ due: atMs, kind, data: inputs[0][2] });
    },
  });
  for (const step of steps) {
    const [off, kind, data] = step;
    replay.emit(off, kind, kind === 'request' ? data(0) : {}, step);
  }
  replay.end();
  return out;
}

/** How many observations (events and request records) a message carries. */
export function observationsOf(message) {
  return message.records ? message.records.length : 1;
}
