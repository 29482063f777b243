import { SEQ_FIELDS } from './keys.js';
import { bump, iso } from './report-data.js';
import type { PodLife } from './report-lives.js';
import type { PodTermination } from './report-types.js';
import {
  closesFromEvents,
  noOutcomes,
  terminationWebsocketOutcomes,
  type WebSocketOutcomes,
  killedAtGrace as wasKilled,
} from './report-websockets.js';

// Pod terminations: one record per pod whose termination started in the window, whether it was
// clean and why not, and the figures summed over all of them.

/** A seq gap of any agent instance of the pod: some of its events never arrived. */
export function hasGap(seqs: Readonly<Record<string, string>> | undefined): boolean {
  if (!seqs) return false;
  for (const [field, value] of Object.entries(seqs)) {
    const instance = SEQ_FIELDS.instanceOfCount(field);
    if (instance === undefined) continue;
    if (Number(value) < Number(seqs[SEQ_FIELDS.max(instance)] ?? 0)) return true;
  }
  return false;
}

/** Why a termination is not clean, in a fixed order; none when it is. */
export function uncleanReasons(
  life: PodLife,
  failedProbeRequests: number,
  outcomes: Readonly<Partial<WebSocketOutcomes>>,
  killedAtGrace: boolean,
): string[] {
  const reasons: string[] = [];
  if (failedProbeRequests > 0) reasons.push('failed-requests');
  if ((life.summary?.inFlightCut ?? 0) > 0) reasons.push('in-flight-cut');
  if (Object.entries(outcomes).some(([outcome, n]) => n > 0 && outcome !== 'clean')) {
    reasons.push('websocket-close');
  }
  if (killedAtGrace) reasons.push('killed-at-grace');
  if (life.exitedMs === null && !life.summary) reasons.push('exit-not-seen');
  return reasons;
}

/** One pod's termination record; the agent's drain summary wins over figures from single events. */
export function terminationOf(
  life: PodLife,
  failedProbeRequests: number,
  incomplete: boolean,
): PodTermination {
  const s = life.summary;
  // The same source as the outcomes (report-websockets.ts closesFromEvents).
  const closes = closesFromEvents(life) ? life.wsCloses : { ...(s?.websocketCloses ?? {}) };
  const killedAtGrace = wasKilled(life);
  const websocketOutcomes = terminationWebsocketOutcomes(life);
  const reasons = uncleanReasons(life, failedProbeRequests, websocketOutcomes, killedAtGrace);
  return {
    pod: life.pod,
    instance: life.instance,
    clean: reasons.length === 0,
    uncleanReasons: reasons,
    startedAt: new Date(life.startMs).toISOString(),
    prestopMs: life.prestopFinished?.durationMs ?? s?.prestopMs ?? null,
    prestopReason: life.prestopFinished?.reason ?? null,
    sigtermAt: iso(life.sigtermMs),
    stoppedListeningAt: iso(life.stoppedMs),
    exitedAt: iso(life.exitedMs),
    drainMs:
      s?.drainMs ??
      (life.exitedMs !== null && life.sigtermMs !== null ? life.exitedMs - life.sigtermMs : null),
    exitCode: life.exited?.code ?? s?.exitCode ?? null,
    killedAtGrace,
    inFlightAtSigterm: s?.inFlightAtSigterm ?? 0,
    inFlightCut: s?.inFlightCut ?? 0,
    lateArrivals: s?.lateArrivals ?? 0,
    websocketCloses: closes,
    websocketOutcomes,
    failedProbeRequests,
    endpointPropagationMs: life.propagationMs,
    evidenceIncomplete: incomplete,
  };
}

export interface TerminationTotals {
  readonly websocketCloses: Record<string, number>;
  readonly websocketOutcomes: WebSocketOutcomes;
  readonly prestopByReason: Record<string, number>;
  readonly prestopMs: number[];
  readonly drainMs: number[];
  readonly propagationMs: number[];
  readonly inFlightAtSigterm: number;
  readonly inFlightCut: number;
  readonly lateArrivals: number;
  readonly agentEventsDropped: number;
}

/** Figures summed over the terminations; `lives` gives what a record does not carry (events dropped). */
export function sumTerminations(
  terminations: readonly PodTermination[],
  lives: readonly PodLife[],
): TerminationTotals {
  const totals = {
    websocketCloses: {} as Record<string, number>,
    websocketOutcomes: noOutcomes(),
    prestopByReason: {} as Record<string, number>,
    prestopMs: [] as number[],
    drainMs: [] as number[],
    propagationMs: [] as number[],
    inFlightAtSigterm: 0,
    inFlightCut: 0,
    lateArrivals: 0,
    agentEventsDropped: 0,
  };
  for (const t of terminations) {
    for (const [code, n] of Object.entries(t.websocketCloses)) bump(totals.websocketCloses, code, n);
    for (const [o, n] of Object.entries(t.websocketOutcomes)) bump(totals.websocketOutcomes, o, n);
    if (t.prestopReason !== null) bump(totals.prestopByReason, t.prestopReason);
    if (t.prestopMs !== null) totals.prestopMs.push(t.prestopMs);
    if (t.drainMs !== null) totals.drainMs.push(t.drainMs);
    if (t.endpointPropagationMs !== null) totals.propagationMs.push(t.endpointPropagationMs);
    totals.inFlightAtSigterm += t.inFlightAtSigterm;
    totals.inFlightCut += t.inFlightCut;
    totals.lateArrivals += t.lateArrivals;
  }
  for (const life of lives) totals.agentEventsDropped += life.summary?.eventsDropped ?? 0;
  return totals;
}
