import { STREAM_ENDS, type StreamEnd } from '../contract/index.js';
import { dataOf, zeroes } from './report-data.js';
import type { PodLives } from './report-lives.js';
import type { ReportFacts } from './report-types.js';

// Probe streams (SSE, gRPC server streaming) at pod terminations, the counterpart of the probes'
// WebSocket closes (report-websockets.ts): a `stream-ended` event names the pod that served the
// stream, so a stream that ended once that pod's termination began is that termination's, ended
// cleanly by the server (`server-closed`: the body's proper end, gRPC status OK) or `cut` at its
// exit. A `message-gap` names the pod the last push before the gap came from: the pushes a
// terminating pod's streams lost are counted against it (docs/collector.md, "Counting rules").

export type StreamEnds = Record<StreamEnd, number>;

/** One terminating pod's probe streams: how they ended, and the pushes lost after them. */
export interface PodStreamFigures {
  readonly streamEnds: StreamEnds;
  readonly messagesLost: number;
}

export function noStreamEnds(): StreamEnds {
  return zeroes(STREAM_ENDS);
}

/**
 * Per terminated pod (by name), the probe streams that ended and the pushes lost from its
 * termination's start on. Pods without any are absent; events naming no pod, or a pod that did not
 * terminate, are left to the run-wide figures (report.streamEnds, report.messagesLost).
 */
export function probeStreamsByPod(facts: ReportFacts, lives: PodLives): Map<string, PodStreamFigures> {
  const out = new Map<string, { streamEnds: StreamEnds; messagesLost: number }>();
  for (const p of facts.probes) {
    const ws = dataOf(p, 'probe.websocket');
    if (!ws?.pod || (ws.event !== 'stream-ended' && ws.event !== 'message-gap')) continue;
    const life = lives.terminated.get(ws.pod);
    if (!life || Date.parse(ws.at) < life.startMs) continue;
    let figures = out.get(ws.pod);
    if (!figures) {
      figures = { streamEnds: noStreamEnds(), messagesLost: 0 };
      out.set(ws.pod, figures);
    }
    if (ws.event === 'stream-ended' && ws.end) figures.streamEnds[ws.end] += 1;
    if (ws.event === 'message-gap') figures.messagesLost += ws.missed ?? 0;
  }
  return out;
}
