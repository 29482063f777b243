import { z } from 'zod';
import { CAUSES, PHASES } from '../contract/index.js';

// The timeline data model: what `--timeline-json` writes, what the HTML page and the SVG export
// draw, and what other tools can draw instead. Built from the collector's stored facts of one
// rollout (timeline/build.ts). Every time is epoch milliseconds (UTC); every duration is ms.

export const TIMELINE_VERSION = 1;

const ms = z.number().finite();
const count = z.number().int().nonnegative();
const ratio = z.number().min(0).max(1).nullable();

/** A span of a pod's life: serving (ready), in its preStop wait, draining after SIGTERM. */
export const LANE_PHASES = ['ready', 'prestop', 'draining'] as const;
export type LanePhase = (typeof LANE_PHASES)[number];

/** Instants on a pod's lane. `killed` is SIGKILL at the end of the grace period. */
export const LANE_MARKS = ['sigterm', 'stopped-listening', 'exit', 'killed'] as const;
export type LaneMark = (typeof LANE_MARKS)[number];

export const podLaneSchema = z.object({
  pod: z.string(),
  /** The agent instance of the terminating container; null for pods that only served. */
  instance: z.string().nullable(),
  terminated: z.boolean(),
  phases: z.array(z.object({ phase: z.enum(LANE_PHASES), startMs: ms, endMs: ms })),
  marks: z.array(z.object({ mark: z.enum(LANE_MARKS), atMs: ms })),
  /** From the pod's deletion until the balancer stopped routing to it (endpoints.propagated). */
  propagation: z.object({ startMs: ms, endMs: ms }).nullable(),
  exitCode: z.number().int().nullable(),
  killedAtGrace: z.boolean(),
  /** Why the report calls this termination unclean (empty: clean, or not terminated). */
  uncleanReasons: z.array(z.string()),
});
export type PodLane = z.infer<typeof podLaneSchema>;

/** A probe request routed to a pod while that pod was terminating: the in-flight bars. */
export const inFlightSchema = z.object({
  probeId: z.string(),
  pod: z.string(),
  startMs: ms,
  endMs: ms,
  ok: z.boolean(),
});
export type InFlightRequest = z.infer<typeof inFlightSchema>;

/** One failed probe request, with the report's verdict on it (collector/report.ts). */
export const failureMarkSchema = z.object({
  probeId: z.string(),
  sessionId: z.string(),
  atMs: ms,
  route: z.string(),
  status: z.number().int().nullable(),
  error: z.string(),
  /** Null when no pod answered (the request never reached one). */
  pod: z.string().nullable(),
  phase: z.enum([...PHASES, 'unknown']),
  cause: z.enum(CAUSES),
});
export type FailureMark = z.infer<typeof failureMarkSchema>;

/** A probe WebSocket closing, as the client saw it; code 1006 means no close frame. */
export const websocketCloseSchema = z.object({
  atMs: ms,
  pod: z.string().nullable(),
  code: z.number().int().nullable(),
  sessionId: z.string(),
});
export type WebsocketClose = z.infer<typeof websocketCloseSchema>;

/**
 * Probe requests started in [atMs, atMs + bucketMs), how many were ok, and the sessions active then
 * (between their first and last probe event in the rollout).
 */
export const bucketSchema = z.object({
  atMs: ms,
  requests: count,
  ok: count,
  sessions: count,
});
export type Bucket = z.infer<typeof bucketSchema>;

export const timelineRunSchema = z.object({
  /** "naive", "drained", "app", or the rollout id. */
  label: z.string(),
  rolloutId: z.string(),
  namespace: z.string(),
  workload: z.string(),
  outcome: z.string(),
  startMs: ms,
  /** The rollout's end, or the last fact seen while it is open. */
  endMs: ms,
  summary: z.object({
    requests: count,
    failed: count,
    requestSuccess: ratio,
    sessionPersistence: ratio,
    sessionsActive: count,
    sessionsLost: count,
  }),
  pods: z.array(podLaneSchema),
  inFlight: z.array(inFlightSchema),
  failures: z.array(failureMarkSchema),
  websocketCloses: z.array(websocketCloseSchema),
  bucketMs: z.number().positive(),
  buckets: z.array(bucketSchema),
});
export type TimelineRun = z.infer<typeof timelineRunSchema>;

export const timelineSchema = z.object({
  version: z.literal(TIMELINE_VERSION),
  generatedAt: z.string(),
  /** One run, or two drawn side by side (naive, drained) when a rehearsal compared them. */
  runs: z.array(timelineRunSchema).min(1),
});
export type Timeline = z.infer<typeof timelineSchema>;
