import { Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import {
  createTermination,
  type PrestopResult,
  type PrestopWait,
  type Termination,
  type WatchedApp,
} from '../../agent/index.js';
import { createAgentMetrics } from '../../agent/metrics.js';
import { createEventPublisher } from '../../agent/publisher.js';
import { createTraffic, type Emit, type Traffic } from '../../agent/traffic.js';
import {
  type AnyEvent,
  createUncheckedEventSequencer,
  type EventKind,
  LIFECYCLE_KINDS,
  type Phase,
} from '../../contract/index.js';
import { dataSchemas, type EventData } from '../../contract/validate.js';
import { createManualTime, type ManualTime } from '../helpers/manual-time.js';

// The termination state machine on its own: real traffic counters, a hand-driven clock, and an app
// whose port the test opens and closes. Each case checks the lifecycle events, their order and
// data (against the contract's schemas too), the phase, and what SIGTERM waits for.

interface Recorded {
  kind: EventKind;
  data: Record<string, unknown>;
}

/** The app as the app watch would report it; checkNow() applies what the next check will see. */
class FakeApp implements WatchedApp {
  everListened = true;
  listening = true;
  checks = 0;
  nextCheck: Partial<Pick<FakeApp, 'listening' | 'everListened'>> = {};
  async checkNow(): Promise<void> {
    this.checks += 1;
    Object.assign(this, this.nextCheck);
  }
}

interface Setup {
  machine: Termination;
  time: ManualTime;
  traffic: Traffic;
  app: FakeApp;
  events: Recorded[];
  phases: Phase[];
  upstream: { open: number };
  lifecycle(): EventKind[];
  data<K extends EventKind>(kind: K): Record<string, unknown> | undefined;
}

function setup(options: { policy?: PrestopWait; graceSeconds?: number; emit?: Emit } = {}): Setup {
  const time = createManualTime();
  const events: Recorded[] = [];
  const record: Emit = <K extends EventKind>(kind: K, data: EventData<K>) => {
    events.push({ kind, data: data as Record<string, unknown> });
  };
  const emit = options.emit ?? record;
  const traffic = createTraffic({
    clock: time.clock,
    metrics: createAgentMetrics(new Registry()),
    emit,
    idPrefix: 'unit',
  });
  const app = new FakeApp();
  const upstream = { open: 0 };
  const phases: Phase[] = [];
  const machine = createTermination({
    clock: time.clock,
    scheduler: time.scheduler,
    emit,
    traffic,
    app: () => app,
    upstreamConnections: () => upstream.open,
    graceSeconds: options.graceSeconds ?? 30,
    prestop: {
      policy: options.policy ?? { mode: 'fixed', fixedMs: 1000 },
      minMs: 1000,
      quietMs: 500,
      maxMs: 10_000,
    },
    trace: { begin: () => undefined, event: () => undefined },
    onPhase: (phase) => phases.push(phase),
  });
  return {
    machine,
    time,
    traffic,
    app,
    events,
    phases,
    upstream,
    lifecycle: () => events.map((e) => e.kind).filter((k) => LIFECYCLE_KINDS.has(k)),
    data: (kind) => events.find((e) => e.kind === kind)?.data,
  };
}

/** Every event the machine (and the traffic counters) emitted fits the contract's schema. */
function expectValid(events: Recorded[]): void {
  for (const e of events) expect(dataSchemas[e.kind].safeParse(e.data).success, e.kind).toBe(true);
}

/** Tracks whether a promise settled, without awaiting it. */
function watch<T>(promise: Promise<T>): { readonly done: boolean; readonly value: T | undefined } {
  const state = { done: false, value: undefined as T | undefined };
  promise.then((v) => {
    state.done = true;
    state.value = v;
  });
  return state;
}

describe('agent termination machine: preStop before SIGTERM (native sidecar)', () => {
  it('walks serving → prestop → draining → exited with the events in the order the collector expects', async () => {
    const s = setup();
    const held = s.traffic.begin({ method: 'GET', url: '/work', probeId: 'p1', reused: false });
    s.traffic.websocketOpened({ url: '/ws', probeId: undefined });

    const hook = watch(s.machine.prestop());
    expect(s.machine.phase).toBe('prestop');
    expect(s.data('prestop.started')).toEqual({ mode: 'fixed', fixedMs: 1000, inFlight: 1, websockets: 1 });
    await s.time.advance(999);
    expect(hook.done).toBe(false);
    await s.time.advance(1);
    expect(hook.value).toEqual({ mode: 'fixed', reason: 'fixed-elapsed', durationMs: 1000 });
    expect(s.machine.prestopResult).toEqual(hook.value);
    expect(s.machine.phase).toBe('draining');
    expect(s.data('prestop.finished')).toEqual({
      mode: 'fixed',
      durationMs: 1000,
      reason: 'fixed-elapsed',
      requestsDuring: 0,
      inFlight: 1,
    });

    // The app gets SIGTERM: finishes its request, closes its port, exits.
    s.traffic.end(held, 'ok', 200);
    await s.time.advance(200);
    s.app.listening = false;
    s.machine.appStoppedListening();
    expect(s.data('app.stopped-listening')).toEqual({ phase: 'draining', sincePrestopMs: 1200, inFlight: 0 });
    await s.time.advance(300);
    s.machine.appExited('process', { code: 0, signal: null, killedAtGrace: false });
    expect(s.machine.exited).toBe(true);
    expect(s.machine.phase).toBe('exited');
    expect(s.data('app.exited')).toEqual({
      code: 0,
      signal: null,
      killedAtGrace: false,
      sincePrestopMs: 1500,
      detectedBy: 'process',
      inFlight: 0,
    });

    // A native sidecar's SIGTERM comes last: nothing to wait for, and no look at the port.
    await s.machine.sigterm({});
    expect(s.app.checks).toBe(0);
    expect(s.data('sigterm')).toEqual({ appRunning: false, phase: 'exited', inFlight: 0, websockets: 1 });
    s.machine.emitDrainSummary(s.traffic.drainCounts(), 0);
    expect(s.data('drain.summary')).toMatchObject({
      prestopMs: 1000,
      drainMs: 500,
      inFlightAtSigterm: 1,
      inFlightCompleted: 1,
      websocketsAtSigterm: 1,
      exitCode: 0,
      killedAtGrace: false,
      eventsDropped: 0,
    });

    expect(s.lifecycle()).toEqual([
      'prestop.started',
      'prestop.finished',
      'app.stopped-listening',
      'app.exited',
      'sigterm',
      'drain.summary',
    ]);
    expect(s.phases).toEqual(['prestop', 'draining', 'exited']);
    expect(s.events.find((e) => e.kind === 'request')?.data).toMatchObject({
      arrivalPhase: 'serving',
      endPhase: 'draining',
    });
    expectValid(s.events);
  });

  it('ends an adaptive wait once traffic has been quiet, counting the requests that came meanwhile', async () => {
    const s = setup({ policy: { mode: 'adaptive' } });
    const hook = watch(s.machine.prestop());
    expect(s.data('prestop.started')).toMatchObject({
      mode: 'adaptive',
      minMs: 1000,
      quietMs: 500,
      maxMs: 10_000,
    });
    await s.time.advance(800);
    s.traffic.end(
      s.traffic.begin({ method: 'GET', url: '/late', probeId: undefined, reused: true }),
      'ok',
      200,
    );
    await s.time.advance(499);
    expect(hook.done).toBe(false);
    await s.time.advance(1);
    expect(hook.value).toEqual({ mode: 'adaptive', reason: 'quiet', durationMs: 1300 });
    expect(s.data('prestop.finished')).toMatchObject({ reason: 'quiet', requestsDuring: 1 });
    expectValid(s.events);
  });
});

describe('agent termination machine: SIGTERM first (classic sidecar)', () => {
  it('moves to prestop, still gives a later preStop hook its wait, and waits for the app to close', async () => {
    const s = setup();
    const stop = watch(s.machine.sigterm({}));
    await s.time.settle();
    expect(s.app.checks).toBe(1);
    expect(s.data('sigterm')).toEqual({ appRunning: true, phase: 'serving', inFlight: 0, websockets: 0 });
    expect(s.machine.phase).toBe('prestop');
    expect(s.machine.sigtermSeen).toBe(true);

    const hook = watch(s.machine.prestop());
    expect(s.data('prestop.started')).toBeDefined();
    await s.time.advance(1000);
    expect(hook.value?.reason).toBe('fixed-elapsed');
    expect(s.machine.phase).toBe('draining');
    // The app still listens: the agent keeps proxying.
    await s.time.advance(5000);
    expect(stop.done).toBe(false);

    s.app.listening = false;
    s.machine.appStoppedListening();
    await s.time.settle();
    expect(stop.done).toBe(true);
    expect(s.lifecycle()).toEqual([
      'sigterm',
      'prestop.started',
      'prestop.finished',
      'app.stopped-listening',
    ]);
    expect(s.phases).toEqual(['prestop', 'draining']);
    expectValid(s.events);
  });

  it('without a preStop hook: waits for in-flight requests after the port closed, then finds the exit by the port', async () => {
    const s = setup();
    s.upstream.open = 1;
    const held = s.traffic.begin({ method: 'POST', url: '/slow', probeId: undefined, reused: false });
    const stop = watch(s.machine.sigterm({}));
    await s.time.settle();
    s.app.listening = false;
    s.machine.appStoppedListening();
    expect(s.machine.phase).toBe('draining');
    expect(s.data('app.stopped-listening')).toEqual({ phase: 'prestop', inFlight: 1 });
    await s.time.advance(100);
    expect(stop.done).toBe(false);
    s.traffic.end(held, 'ok', 201);
    s.upstream.open = 0;
    await s.time.advance(10);
    expect(stop.done).toBe(true);

    // The agent now closes: a preStop hook arriving this late returns at once, with no events.
    expect(await s.machine.prestop()).toEqual({ mode: 'fixed', reason: 'agent-stopping', durationMs: 0 });
    // Nobody reports the exit: the port stayed closed with no connection left (from the 50 ms
    // check after the last one closed) for 2 s; the exit is dated from that quiet start.
    await s.time.advance(2000);
    expect(s.machine.exited).toBe(false);
    await s.time.advance(100);
    expect(s.machine.exited).toBe(true);
    expect(s.data('app.exited')).toEqual({
      code: null,
      signal: null,
      killedAtGrace: false,
      detectedBy: 'port',
      inFlight: 0,
    });
    s.machine.emitDrainSummary(s.traffic.drainCounts(), 0);
    expect(s.data('drain.summary')).toMatchObject({
      drainMs: 150,
      inFlightAtSigterm: 1,
      inFlightCompleted: 1,
    });
    expect(s.data('drain.summary')).not.toHaveProperty('prestopMs');
    expect(s.lifecycle()).toEqual(['sigterm', 'app.stopped-listening', 'app.exited', 'drain.summary']);
    expectValid(s.events);
  });

  it('an app that never listened is not waited for', async () => {
    const s = setup();
    s.app.everListened = false;
    s.app.listening = false;
    await s.machine.sigterm({});
    expect(s.data('sigterm')).toMatchObject({ appRunning: false, phase: 'serving' });
    expect(s.machine.phase).toBe('draining');
    expect(s.machine.exited).toBe(false);
  });

  it('a native sidecar whose app already closed finds the exit at SIGTERM, before emitting it', async () => {
    const s = setup();
    s.app.nextCheck = { listening: false };
    await s.machine.sigterm({});
    expect(s.lifecycle()).toEqual(['app.exited', 'sigterm']);
    expect(s.data('app.exited')).toMatchObject({ detectedBy: 'port', code: null });
    expect(s.data('sigterm')).toMatchObject({ appRunning: false, phase: 'exited' });
    expectValid(s.events);
  });

  it('with immediate, does not wait for a running app, and a later preStop hook returns at once', async () => {
    const s = setup();
    await s.machine.sigterm({ immediate: true });
    expect(s.data('sigterm')).toMatchObject({ appRunning: true });
    expect(s.machine.phase).toBe('prestop');
    expect(await s.machine.prestop()).toEqual({ mode: 'fixed', reason: 'agent-stopping', durationMs: 0 });
    expect(s.lifecycle()).toEqual(['sigterm']);
  });
});

describe('agent termination machine: the app exits first', () => {
  it('ends the preStop wait with app-exited, after the app.exited event, and never shows draining', async () => {
    const s = setup({ policy: { mode: 'adaptive' } });
    const hook = s.machine.prestop();
    await s.time.advance(200);
    s.machine.appExited('process', { code: 143, signal: 'SIGTERM' });
    const result: PrestopResult = await hook;
    expect(result).toEqual({ mode: 'adaptive', reason: 'app-exited', durationMs: 200 });
    expect(s.lifecycle()).toEqual(['prestop.started', 'app.exited', 'prestop.finished']);
    expect(s.data('app.exited')).toMatchObject({ code: 143, signal: 'SIGTERM', sincePrestopMs: 200 });
    expect(s.phases).toEqual(['prestop', 'exited']);
    // After the exit a preStop hook has nothing to hold: it says so.
    await s.machine.sigterm({});
    s.machine.emitDrainSummary(s.traffic.drainCounts(), 0);
    const drain = s.data('drain.summary');
    expect(drain).toMatchObject({ prestopMs: 200, exitCode: 143, killedAtGrace: false });
    expect(drain).not.toHaveProperty('drainMs');
    expectValid(s.events);
  });

  it('a preStop hook called after the exit returns app-exited at once, without events', async () => {
    const s = setup();
    s.machine.appExited('pid', {});
    expect(await s.machine.prestop()).toEqual({ mode: 'fixed', reason: 'app-exited', durationMs: 0 });
    expect(s.lifecycle()).toEqual(['app.exited']);
    expect(s.data('app.exited')).toMatchObject({ detectedBy: 'pid', code: null, signal: null });
    expect(s.data('app.exited')).not.toHaveProperty('sincePrestopMs');
  });
});

describe('agent termination machine: the grace period runs out', () => {
  it('the classic wait ends 2 s before the grace period; an exit in its last 500 ms counts as killed at grace', async () => {
    const s = setup({ graceSeconds: 10 });
    const stop = watch(s.machine.sigterm({}));
    await s.time.advance(7999);
    expect(stop.done).toBe(false);
    await s.time.advance(1);
    expect(stop.done).toBe(true);
    await s.time.advance(1500);
    s.machine.appExited('pid', {});
    expect(s.data('app.exited')).toMatchObject({ killedAtGrace: true, detectedBy: 'pid' });
    s.machine.emitDrainSummary(s.traffic.drainCounts(), 0);
    expect(s.data('drain.summary')).toMatchObject({ killedAtGrace: true, exitCode: null });
  });

  it('an exit just before that window is not taken for a kill, and the parent’s word wins over timing', async () => {
    const early = setup({ graceSeconds: 10 });
    early.machine.prestop();
    await early.time.advance(9499);
    early.machine.appExited('port', {});
    expect(early.data('app.exited')).toMatchObject({ killedAtGrace: false });

    const reported = setup({ graceSeconds: 10 });
    reported.machine.prestop();
    await reported.time.advance(9900);
    reported.machine.appExited('process', { code: 0, killedAtGrace: false });
    expect(reported.data('app.exited')).toMatchObject({ killedAtGrace: false, code: 0 });
  });
});

describe('agent termination machine: repeated and duplicate inputs', () => {
  it('one preStop wait, one exit, one SIGTERM, whatever the number of calls', async () => {
    const s = setup();
    const first = s.machine.prestop();
    expect(s.machine.prestop()).toBe(first);
    await s.time.advance(1000);
    expect(s.machine.prestop()).toBe(first);
    s.machine.appExited('pid', {});
    s.machine.appExited('process', { code: 1 });
    expect(s.data('app.exited')).toMatchObject({ detectedBy: 'pid', code: null });
    const stop = s.machine.sigterm({});
    expect(s.machine.sigterm({ immediate: true })).toBe(stop);
    await stop;
    expect(s.lifecycle()).toEqual(['prestop.started', 'prestop.finished', 'app.exited', 'sigterm']);
  });

  it('a second signal cuts the classic-sidecar wait at once', async () => {
    const s = setup();
    const stop = watch(s.machine.sigterm({}));
    await s.time.settle();
    expect(stop.done).toBe(false);
    s.machine.cutWait();
    await s.time.settle();
    expect(stop.done).toBe(true);
    expect(s.machine.phase).toBe('prestop');
  });

  it('stop() cancels the port-exit fallback', async () => {
    const s = setup();
    s.app.listening = false;
    s.machine.appStoppedListening();
    expect(s.time.pending).toBe(1);
    s.machine.stop();
    await s.time.advance(5000);
    expect(s.machine.exited).toBe(false);
    expect(s.time.pending).toBe(0);
  });
});

describe('agent termination machine: NATS down', () => {
  it('emits every event in order into the publisher, which buffers them all, lifecycle first to be kept', async () => {
    const made: AnyEvent[] = [];
    const publisher = createEventPublisher({
      sequencer: createUncheckedEventSequencer({ namespace: 'ns', workload: 'web', pod: 'web-1' }),
      subjectRoot: 'drainwatch',
      capacity: 4,
      metrics: createAgentMetrics(new Registry()),
      onEvent: (e) => made.push(e),
    });
    try {
      // Never attached to NATS: the buffer holds everything, dropping traffic events past capacity.
      const s = setup({ emit: publisher.emit.bind(publisher) as Emit });
      s.machine.prestop();
      for (let i = 0; i < 10; i++) {
        const r = s.traffic.begin({ method: 'GET', url: '/x', probeId: `p${i}`, reused: false });
        s.traffic.end(r, 'ok', 200);
      }
      await s.time.advance(1000);
      s.machine.appStoppedListening();
      s.machine.appExited('process', { code: 0 });
      await s.machine.sigterm({});
      s.machine.emitDrainSummary(s.traffic.drainCounts(), publisher.stats().dropped);

      expect(made.map((e) => e.seq)).toEqual(made.map((_, i) => i + 1));
      expect(made.filter((e) => LIFECYCLE_KINDS.has(e.kind)).map((e) => e.kind)).toEqual([
        'prestop.started',
        'prestop.finished',
        'app.stopped-listening',
        'app.exited',
        'sigterm',
        'drain.summary',
      ]);
      const stats = publisher.stats();
      expect(stats.published).toBe(0);
      expect(stats.buffered + stats.dropped).toBe(made.length);
      // Ten request events, six lifecycle events: every lifecycle event is kept.
      expect(stats.buffered).toBeGreaterThanOrEqual(6);
      expect(stats.dropped).toBeGreaterThan(0);
      expect(made.at(-1)?.kind).toBe('drain.summary');
    } finally {
      publisher.stop();
    }
  });
});
