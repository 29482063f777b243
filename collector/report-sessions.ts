import type { Cause } from '../contract/index.js';
import type { ReportFacts } from './report-types.js';

// Sessions: who issued each one, whether it was lost, and why. A session whose issuing pod was
// terminating (or gone) when it was lost was held in that pod's memory.

export interface Login {
  readonly atMs: number;
  readonly issuedBy: string | null;
}

/** The session's latest login at or before `t` (ms), if any. */
export function latestLogin(facts: ReportFacts, sessionId: string, t: number): Login | undefined {
  let latest: Login | undefined;
  for (const l of facts.logins.get(sessionId) ?? []) if (l.atMs <= t) latest = l;
  return latest;
}

/**
 * Why a session was lost at `t`: `session-in-memory` when its issuer's termination had started by
 * then; `session-not-shared` when another pod (`answeredBy`) refused it while the issuer was still
 * serving (the replicas do not share sessions, rollout or not); else `other`. The loss event may
 * name the issuer itself (the probe knows it); else the latest login says.
 */
export function sessionCause(
  facts: ReportFacts,
  sessionId: string,
  t: number,
  issuedBy?: string,
  answeredBy?: string | null,
): Cause {
  const issuer = issuedBy ?? latestLogin(facts, sessionId, t)?.issuedBy ?? null;
  if (issuer === null) return 'other';
  const termStart = facts.terminationStartByPod.get(issuer);
  if (termStart !== undefined && termStart <= t) return 'session-in-memory';
  return answeredBy && answeredBy !== issuer ? 'session-not-shared' : 'other';
}

export interface SessionLoss {
  readonly atMs: number;
  readonly cause: Cause;
}

/** Sessions seen, and the first loss of each (the earliest one counts; on a tie, the first noted). */
export interface SessionTally {
  readonly active: ReadonlySet<string>;
  readonly losses: ReadonlyMap<string, SessionLoss>;
  see(sessionId: string): void;
  lose(sessionId: string, atMs: number, cause: Cause): void;
}

export function createSessionTally(): SessionTally {
  const active = new Set<string>();
  const losses = new Map<string, SessionLoss>();
  return {
    active,
    losses,
    see(sessionId) {
      active.add(sessionId);
    },
    lose(sessionId, atMs, cause) {
      const prev = losses.get(sessionId);
      if (!prev || atMs < prev.atMs) losses.set(sessionId, { atMs, cause });
    },
  };
}
