import { WEBSOCKET_OUTCOMES, type WebSocketOutcome } from '../contract/index.js';
import { dataOf, zeroes } from './report-data.js';
import type { PodLife, PodLives } from './report-lives.js';
import type { ReportFacts } from './report-types.js';

// How WebSockets ended when their pod terminated (docs/collector.md, "Counting rules"): 1001 and
// 1012 are clean; 1000 tells a client "done, do not reconnect", so at shutdown it is its own
// outcome; no close frame (1006) is a drop, and a drop by the SIGKILL at the grace period is
// `killed-at-grace`, not the app forgetting to close.

/** Close codes that end a WebSocket cleanly during a drain: going away (1001), restarting (1012). */
export const CLEAN_CLOSE_CODES: ReadonlySet<string> = new Set(['1001', '1012']);

/**
 * A socket without a close frame ending this close to the app's exit (ms) was cut by that exit:
 * the agent sees the sockets drop at the kill and detects the exit itself a little later.
 */
export const KILL_TOLERANCE_MS = 1000;

export type WebSocketOutcomes = Record<WebSocketOutcome, number>;

export function noOutcomes(): WebSocketOutcomes {
  return zeroes(WEBSOCKET_OUTCOMES);
}

/** Was the pod's app killed at the grace period? */
export function killedAtGrace(life: PodLife): boolean {
  return life.exited?.killedAtGrace === true || life.summary?.killedAtGrace === true;
}

/**
 * The outcome of one close at termination. `code` is the close code as a string, `none` (agent)
 * or `1006` (client) without a close frame; `atMs` when it closed, if known.
 */
export function websocketOutcome(code: string, life: PodLife, atMs: number | null): WebSocketOutcome {
  if (CLEAN_CLOSE_CODES.has(code)) return 'clean';
  if (code === '1000') return 'normal-close-at-shutdown';
  if (code !== 'none' && code !== '1006') return 'other-code';
  if (!killedAtGrace(life)) return 'no-close-frame';
  // Without a time (a summary's count) every frameless close of a killed app is the kill's.
  if (atMs === null || life.exitedMs === null) return 'killed-at-grace';
  return atMs >= life.exitedMs - KILL_TOLERANCE_MS ? 'killed-at-grace' : 'no-close-frame';
}

/**
 * Are the pod's websocket.closed events all there? The drain summary counts every close of the
 * agent's life (serving included); the events, when as many, tell which came at termination and
 * when. Fewer events (a gap, an older agent) leave the summary's counts, without times.
 */
export function closesFromEvents(life: PodLife): boolean {
  const summary = life.summary?.websocketCloses;
  if (!summary) return true;
  return life.wsClosedEventsAll >= Object.values(summary).reduce((a, b) => a + b, 0);
}

/** Agent-side outcomes of one termination, from the events or else the summary (closesFromEvents). */
export function terminationWebsocketOutcomes(life: PodLife): WebSocketOutcomes {
  const fromEvents = noOutcomes();
  for (const c of life.wsCloseEvents) fromEvents[websocketOutcome(c.code, life, c.atMs)] += 1;
  if (closesFromEvents(life)) return fromEvents;
  const summary = life.summary?.websocketCloses ?? {};
  const fromSummary = noOutcomes();
  for (const [code, n] of Object.entries(summary)) fromSummary[websocketOutcome(code, life, null)] += n;
  return fromSummary;
}

/**
 * Probe WebSockets by outcome: those closed while their pod terminated (the pod named by the
 * probe), and every one dropped without a close frame (1006) wherever it was.
 */
export function probeWebsocketOutcomes(facts: ReportFacts, lives: PodLives): WebSocketOutcomes {
  const out = noOutcomes();
  for (const p of facts.probes) {
    const ws = dataOf(p, 'probe.websocket');
    if (ws?.event !== 'closed' || (ws.transport ?? 'websocket') !== 'websocket') continue;
    const code = ws.code === undefined ? '1006' : String(ws.code);
    const life = ws.pod ? lives.terminated.get(ws.pod) : undefined;
    const t = Date.parse(ws.at);
    if (life && t >= life.startMs) out[websocketOutcome(code, life, t)] += 1;
    else if (code === '1006') out['no-close-frame'] += 1;
  }
  return out;
}
