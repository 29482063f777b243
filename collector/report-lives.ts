import { websocketCloseKey } from '../contract/index.js';
import type { EventData } from '../contract/validate.js';
import { dataOf } from './report-data.js';
import type { FailurePhase, ReportFacts, StoredPodEvent } from './report-types.js';

// A pod's life as its timeline tells it: when its termination started, SIGTERM, stopped
// listening, exit, and the agent's own summaries. Phases of failed requests are read from it.

export interface PodLife {
  readonly pod: string;
  readonly instance: string;
  readonly startMs: number;
  prestopStartMs: number | null;
  sigtermMs: number | null;
  stoppedMs: number | null;
  exitedMs: number | null;
  firstEventMs: number | null;
  prestopFinished: EventData<'prestop.finished'> | null;
  exited: EventData<'app.exited'> | null;
  summary: EventData<'drain.summary'> | null;
  propagationMs: number | null;
  wsCloses: Record<string, number>;
  /** The same closes one by one: code (`none` without a close frame) and when (ms). */
  wsCloseEvents: { code: string; atMs: number }[];
  /** websocket.closed events of this instance in any phase (serving included). */
  wsClosedEventsAll: number;
}

const earliest = (prev: number | null, t: number): number => Math.min(prev ?? t, t);

/** Applies one event of the pod's own agent instance to its life. */
function applyEvent(life: PodLife, e: StoredPodEvent, t: number): void {
  switch (e.kind) {
    case 'prestop.started':
      life.prestopStartMs = earliest(life.prestopStartMs, t);
      break;
    case 'prestop.finished':
      life.prestopFinished = dataOf(e, 'prestop.finished') ?? life.prestopFinished;
      break;
    case 'sigterm':
      life.sigtermMs = earliest(life.sigtermMs, t);
      break;
    case 'app.stopped-listening':
      life.stoppedMs = earliest(life.stoppedMs, t);
      break;
    case 'app.exited':
      life.exitedMs = earliest(life.exitedMs, t);
      life.exited = dataOf(e, 'app.exited') ?? life.exited;
      break;
    case 'drain.summary':
      life.summary = dataOf(e, 'drain.summary') ?? life.summary;
      break;
    case 'endpoints.propagated':
      life.propagationMs = dataOf(e, 'endpoints.propagated')?.propagationMs ?? life.propagationMs;
      break;
    case 'websocket.closed': {
      const d = dataOf(e, 'websocket.closed');
      if (d) life.wsClosedEventsAll += 1;
      if (!d || d.closedPhase === 'serving') break;
      // A close frame without a code is 1005, as the drain summary counts it: not a drop.
      const code = websocketCloseKey(d);
      life.wsCloses[code] = (life.wsCloses[code] ?? 0) + 1;
      life.wsCloseEvents.push({ code, atMs: t });
      break;
    }
    default:
      break;
  }
}

/** The life of `pod` as agent `instance`, whose termination started at `startMs` (NaN: unknown). */
export function podLife(
  pod: string,
  instance: string,
  startMs: number,
  events: readonly StoredPodEvent[],
): PodLife {
  const life: PodLife = {
    pod,
    instance,
    startMs,
    prestopStartMs: null,
    sigtermMs: null,
    stoppedMs: null,
    exitedMs: null,
    firstEventMs: null,
    prestopFinished: null,
    exited: null,
    summary: null,
    propagationMs: null,
    wsCloses: {},
    wsCloseEvents: [],
    wsClosedEventsAll: 0,
  };
  for (const e of events) {
    // Endpoint propagation is measured by a cluster adapter (Kubernetes watch, local entry point),
    // not by the pod's agent, so it arrives under the adapter's own instance.
    if (e.kind === 'endpoints.propagated' && e.instance !== instance) {
      if (Date.parse(e.time) >= startMs) {
        life.propagationMs = dataOf(e, 'endpoints.propagated')?.propagationMs ?? life.propagationMs;
      }
      continue;
    }
    if (e.instance !== instance) continue;
    const t = Date.parse(e.time);
    if (life.firstEventMs === null || t < life.firstEventMs) life.firstEventMs = t;
    applyEvent(life, e, t);
  }
  return life;
}

/** The phase of a pod at `t` (ms): serving before its termination started, then prestop, draining, exited. */
export function phaseAt(life: PodLife | undefined, t: number): FailurePhase {
  if (!life) return 'unknown';
  const termStart = life.prestopStartMs ?? life.sigtermMs;
  if (termStart === null || t < termStart) return 'serving';
  if (life.exitedMs !== null && t >= life.exitedMs) return 'exited';
  if (life.sigtermMs !== null && t >= life.sigtermMs) return 'draining';
  return 'prestop';
}

/** Was the pod's agent up at `t` (it had spoken, and not exited yet)? */
export function reachedPod(life: PodLife, t: number): boolean {
  return (
    life.firstEventMs !== null && life.firstEventMs <= t && (life.exitedMs === null || t <= life.exitedMs)
  );
}

export interface PodLives {
  /** Lives of the pods whose termination started in the window, by pod, in order of termination. */
  readonly terminated: ReadonlyMap<string, PodLife>;
  /** A pod's life: its termination in the window, or else (a pod named by a probe) from its timeline. */
  lifeOf(pod: string | null | undefined, instance?: string): PodLife | undefined;
}

export function podLives(facts: ReportFacts): PodLives {
  const terminated = new Map<string, PodLife>();
  const byStart = [...facts.terminations].sort((a, b) => a.startMs - b.startMs || a.pod.localeCompare(b.pod));
  for (const t of byStart) {
    if (!terminated.has(t.pod)) {
      terminated.set(t.pod, podLife(t.pod, t.instance, t.startMs, facts.timelines.get(t.pod) ?? []));
    }
  }
  // Pods outside the window (named by probes) still have timelines: their life tells phases too.
  const others = new Map<string, PodLife>();
  return {
    terminated,
    lifeOf(pod, instance) {
      if (!pod) return undefined;
      const l = terminated.get(pod);
      if (l && (instance === undefined || l.instance === instance)) return l;
      const key = `${pod}|${instance ?? ''}`;
      let o = others.get(key);
      if (!o) {
        const events = facts.timelines.get(pod);
        if (!events || events.length === 0) return l;
        o = podLife(pod, instance ?? events[events.length - 1]!.instance, Number.NaN, events);
        others.set(key, o);
      }
      return o;
    },
  };
}
