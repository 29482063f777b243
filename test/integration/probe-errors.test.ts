import { afterEach, describe, expect, it } from 'vitest';
import { pollUntil } from '../../lib/wait.js';
import { createProbeRun, DEFAULT_SCENARIO } from '../../probe/index.js';
import {
  type AppLogEntry,
  type Balancer,
  roundRobin,
  type ScenarioApp,
  type SessionStore,
  startBalancer,
  startScenarioApp,
} from '../helpers/probe-targets.js';

// Failures a user would see, from real servers: a pod that answers as someone else, 5xx with the
// retry reported apart from the raw result, and bearer-token sessions.

describe('probe failure kinds', () => {
  let apps: ScenarioApp[] = [];
  let balancer: Balancer | undefined;
  afterEach(async () => {
    await balancer?.stop();
    await Promise.all(apps.map((a) => a.stop()));
    apps = [];
    balancer = undefined;
  });

  it('loses a session on an identity mismatch, once per mismatching answer', async () => {
    const shared: SessionStore = new Map();
    const log: AppLogEntry[] = [];
    apps = await Promise.all([
      startScenarioApp({ pod: 'honest', writeTo: [shared], readFrom: shared, log }),
      startScenarioApp({ pod: 'liar', writeTo: [shared], readFrom: shared, log, whoamiLies: true }),
    ]);
    balancer = await startBalancer(
      apps.map((a) => a.url),
      roundRobin(2),
    );
    const run = createProbeRun({
      target: balancer.url,
      sessions: 10,
      websockets: 0,
      ratePerSession: 10,
      identityIntervalMs: 200,
      rampMs: 0,
    });
    await run.start();
    await pollUntil(() => run.snapshot().losses >= 10, { timeoutMs: 60_000, what: '10 losses' });
    const summary = await run.stop();
    const lies = log.filter(
      (e) => e.kind === 'auth' && e.pod === 'liar' && e.path === '/whoami' && e.ok,
    ).length;
    expect(summary.losses).toBe(lies);
    expect(summary.lossesByReason).toEqual({ 'identity-mismatch': lies });
    expect(summary.errorsByKind).toEqual({ 'identity-mismatch': lies });
  });

  it('scores the raw 5xx and reports a successful retry separately', async () => {
    const s: SessionStore = new Map();
    apps = [await startScenarioApp({ pod: 'flaky', writeTo: [s], readFrom: s, fail503Every: 5 })];
    const run = createProbeRun({
      target: apps[0]!.url,
      sessions: 5,
      websockets: 0,
      ratePerSession: 20,
      retryOnce: true,
      rampMs: 0,
    });
    await run.start();
    await pollUntil(() => run.snapshot().failed >= 10, { timeoutMs: 60_000, what: '10 failed requests' });
    const summary = await run.stop();
    // Retries are sequential per session, but other sessions' requests interleave, so a retry can
    // land on the next 5th request too: raw failures + failed retries = every 503 the app sent.
    expect(summary.failed).toBe(summary.errorsByKind['5xx']);
    expect(summary.retried).toBe(summary.failed);
    expect(summary.failed + (summary.retried - summary.retriedOk)).toBe(apps[0]!.failed503);
    expect(summary.retriedOk).toBeGreaterThan(0);
    expect(summary.requestSuccess).toBeCloseTo((summary.requests - summary.failed) / summary.requests, 10);
    expect(summary.requestSuccess).toBeLessThan(1);
  });

  it('keeps a bearer-token session from the login body', async () => {
    const s: SessionStore = new Map();
    apps = [await startScenarioApp({ pod: 'bearer', writeTo: [s], readFrom: s, sessions: 'bearer' })];
    const run = createProbeRun({
      target: apps[0]!.url,
      sessions: 3,
      websockets: 0,
      ratePerSession: 20,
      identityIntervalMs: 100,
      rampMs: 0,
      scenario: { ...DEFAULT_SCENARIO, login: { ...DEFAULT_SCENARIO.login, session: 'bearer:token' } },
    });
    await run.start();
    await pollUntil(() => run.snapshot().requests >= 30, { timeoutMs: 60_000, what: '30 requests' });
    const summary = await run.stop();
    expect(summary.failed).toBe(0);
    expect(summary.losses).toBe(0);
    expect(summary.sessionsStarted).toBe(3);
  });
});

describe('probe transport errors', () => {
  it('counts refused connections after the target went away, raw and without losing sessions', async () => {
    const s: SessionStore = new Map();
    const app = await startScenarioApp({ pod: 'gone', writeTo: [s], readFrom: s });
    const run = createProbeRun({
      target: app.url,
      sessions: 4,
      websockets: 0,
      ratePerSession: 20,
      rampMs: 0,
    });
    try {
      await run.start();
      await pollUntil(() => run.snapshot().requests >= 20, { timeoutMs: 60_000, what: '20 requests' });
      // The server closes every connection and stops listening, as an exited pod does.
      await app.stop();
      await pollUntil(() => (run.snapshot().errorsByKind.refused ?? 0) >= 8, {
        timeoutMs: 60_000,
        what: '8 refused requests',
      });
    } finally {
      await app.stop();
    }
    const summary = await run.stop();
    const kinds = Object.keys(summary.errorsByKind);
    expect(kinds.every((k) => k === 'refused' || k === 'reset')).toBe(true);
    expect(Object.values(summary.errorsByKind).reduce((a, b) => a + (b ?? 0), 0)).toBe(summary.failed);
    expect(summary.losses).toBe(0);
    expect(summary.requestSuccess).toBeLessThan(1);
  });
});
