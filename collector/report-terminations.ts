import { SEQ_FIELDS } from './keys.js';
import { bump, iso, ratio } from './report-data.js';
import type { PodLife } from './report-lives.js';
import { noStreamEnds, type PodStreamFigures, type StreamEnds } from './report-streams.js';
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

/**
 * The termination's closing events — `app.exited` and the agent's `drain.summary` — both never
 * arrived. Once the rollout closed, that is lost evidence (e.g. NATS away across the agent's exit,
 * issue #16), never proof of an unclean exit: the termination gets no verdict (docs/collector.md,
 * "Attribution").
 */
export function closingEventsMissing(life: PodLife): boolean {
  return life.exitedMs === null && !life.summary;
}

/** Evidence incomplete: a seq gap, or (once the rollout closed) the closing events missing. */
export function evidenceIncompleteOf(
  life: PodLife,
  seqs: Readonly<Record<string, string>> | undefined,
  rolloutClosed: boolean,
): boolean {
  return hasGap(seqs) || (rolloutClosed && closingEventsMissing(life));
}

/** Why a termination is not clean, in a fixed order; none when it is (or when no verdict is possible). */
export function uncleanReasons(
  life: PodLife,
  failedProbeRequests: number,
  outcomes: Readonly<Partial<WebSocketOutcomes>>,
  killedAtGrace: boolean,
  streamsCut = 0,
): string[] {
  const reasons: string[] = [];
  if (failedProbeRequests > 0) reasons.push('failed-requests');
  if ((life.summary?.inFlightCut ?? 0) > 0) reasons.push('in-flight-cut');
  if (Object.entries(outcomes).some(([outcome, n]) => n > 0 && outcome !== 'clean')) {
    reasons.push('websocket-close');
  }
  if (streamsCut > 0) reasons.push('stream-cut');
  if (killedAtGrace) reasons.push('killed-at-grace');
  return reasons;
}

/**
 * One pod's termination record; the agent's drain summary wins over figures from single events.
 * Clean needs no unclean reason and the closing events: without them (still terminating, or their
 * events lost) and without a proven reason, the record has no verdict (see hasVerdict).
 */
export function terminationOf(
  life: PodLife,
  failedProbeRequests: number,
  incomplete: boolean,
  streams: PodStreamFigures = { streamEnds: noStreamEnds(), messagesLost: 0 },
): PodTermination {
  const s = life.summary;
  // The same source as the outcomes (report-websockets.ts closesFromEvents).
  const closes = closesFromEvents(life) ? life.wsCloses : { ...(s?.websocketCloses ?? {}) };
  const killedAtGrace = wasKilled(life);
  const websocketOutcomes = terminationWebsocketOutcomes(life);
  const reasons = uncleanReasons(
    life,
    failedProbeRequests,
    websocketOutcomes,
    killedAtGrace,
    streams.streamEnds.cut,
  );
  return {
    pod: life.pod,
    instance: life.instance,
    clean: reasons.length === 0 && !closingEventsMissing(life),
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
    streamEnds: { ...streams.streamEnds },
    messagesLost: streams.messagesLost,
    failedProbeRequests,
    endpointPropagationMs: life.propagationMs,
    evidenceIncomplete: incomplete,
  };
}

/** Judged: clean, or unclean for a proven reason. A termination without a verdict is left out of the score. */
export function hasVerdict(t: PodTermination): boolean {
  return t.clean || t.uncleanReasons.length > 0;
}

/** The clean-terminations score: clean ÷ terminations with a verdict; null without any. */
export function cleanTerminationsScore(terminations: readonly PodTermination[]): number | null {
  const judged = terminations.filter(hasVerdict);
  return ratio(judged.filter((t) => t.clean).length, judged.length);
}

export interface TerminationTotals {
  readonly websocketCloses: Record<string, number>;
  readonly websocketOutcomes: WebSocketOutcomes;
  readonly streamEnds: StreamEnds;
  readonly messagesLost: number;
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
    streamEnds: noStreamEnds(),
    messagesLost: 0,
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
    for (const [end, n] of Object.entries(t.streamEnds)) bump(totals.streamEnds, end, n);
    totals.messagesLost += t.messagesLost;
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
