import type { Phase, PrestopEndReason } from '../contract/index.js';
import type { AppExitedReport } from './admin.js';
import { type PrestopResult, waitPrestop } from './prestop.js';
import { waitForApp } from './sidecar-wait.js';
import type {
  ExitDetector,
  SigtermOptions,
  Termination,
  TerminationOptions,
  WatchedApp,
} from './termination.js';
import type { CancelTimer } from './time.js';
import type { DrainCounts } from './traffic.js';

// How the termination state machine decides (its contract and inputs: termination.ts). The phase
// lives in the traffic counters, which stamp each request with it; this class moves it forward
// only (serving → prestop → draining → exited, any step may be skipped) and keeps the timeline.

// Timing constants of the termination, from the issue: poll the app port at ≤ 50 ms while the pod
// terminates; a classic sidecar leaves 2 s of the grace period for the final flush.
const FAST_POLL_MS = 50;
const SIGTERM_MARGIN_MS = 2000;
// Without a pid or an exit report, the app is taken as exited once its port refuses and no
// connection to it remains for this long (long enough for a parent's exit report to win).
const PORT_EXIT_CONFIRM_MS = 2000;
// An exit this close to the end of the grace period is taken as the kubelet's SIGKILL.
const KILLED_AT_GRACE_SLACK_MS = 500;

function deferred<T>(): { promise: Promise<T>; resolve: (value: T) => void } {
  let resolve: (value: T) => void = () => undefined;
  const promise = new Promise<T>((r) => {
    resolve = r;
  });
  return { promise, resolve };
}

export class TerminationMachine implements Termination {
  // The timeline, in clock ms.
  private terminationStartedAt: number | undefined;
  private prestopStartedAt: number | undefined;
  private drainingAt: number | undefined;
  private exitedAt: number | undefined;
  private prestopArrivalsAtStart = 0;
  private prestopWait: Promise<PrestopResult> | undefined;
  private result: PrestopResult | null = null;
  private exitInfo: { code: number | null; killedAtGrace: boolean } | undefined;
  private sigtermCalled = false;
  private sigtermDone: Promise<void> | undefined;
  // Set once the agent stops accepting traffic; a preStop call after that returns at once.
  private closing = false;
  private cancelExitConfirm: CancelTimer | undefined;
  private cutWaitNow: () => void = () => undefined;
  // Ends the preStop wait early: the app exited, or the agent is stopping.
  private readonly interrupt = deferred<PrestopEndReason>();
  // The app stopped listening or exited: a classic sidecar's SIGTERM wait may end.
  private readonly appGone = deferred<void>();

  constructor(private readonly o: TerminationOptions) {}

  get phase(): Phase {
    return this.o.traffic.phase;
  }
  get exited(): boolean {
    return this.exitedAt !== undefined;
  }
  get prestopResult(): PrestopResult | null {
    return this.result;
  }
  get sigtermSeen(): boolean {
    return this.sigtermCalled;
  }

  private setPhase(phase: Phase): void {
    const { traffic } = this.o;
    if (traffic.phase === phase || traffic.phase === 'exited') return;
    traffic.setPhase(phase);
    if (phase === 'draining') this.drainingAt = this.o.clock.now();
    this.o.onPhase(phase);
  }

  private begin(phase: Phase): void {
    this.terminationStartedAt ??= this.o.clock.now();
    this.o.trace.begin(phase);
  }

  private sincePrestop(at: number): { sincePrestopMs?: number } {
    return this.prestopStartedAt === undefined
      ? {}
      : { sincePrestopMs: Math.max(0, at - this.prestopStartedAt) };
  }

  prestop(): Promise<PrestopResult> {
    if (this.prestopWait) return this.prestopWait;
    const { traffic, prestop: limits } = this.o;
    const mode = limits.policy.mode;
    // A classic sidecar hears SIGTERM as the app's preStop hook is called, so a hook arriving after
    // our SIGTERM (phase `prestop`) still gets its wait; only once we close, or the app already got
    // SIGTERM or exited, is there nothing left to hold it for.
    if (this.closing || traffic.phase === 'draining' || traffic.phase === 'exited') {
      const reason = this.exitedAt !== undefined ? 'app-exited' : 'agent-stopping';
      return Promise.resolve({ mode, reason, durationMs: 0 });
    }
    const startedAt = this.o.clock.now();
    this.prestopStartedAt = startedAt;
    this.prestopArrivalsAtStart = traffic.arrivals;
    this.begin('prestop');
    this.setPhase('prestop');
    this.o.emit('prestop.started', {
      mode,
      ...(limits.policy.mode === 'fixed'
        ? { fixedMs: limits.policy.fixedMs }
        : { minMs: limits.minMs, quietMs: limits.quietMs, maxMs: limits.maxMs }),
      inFlight: traffic.inFlight,
      websockets: traffic.websockets,
    });
    this.prestopWait = waitPrestop({
      limits,
      clock: this.o.clock,
      scheduler: this.o.scheduler,
      lastArrivalAt: () => traffic.lastArrivalAt,
      ...(this.o.endpointsTerminating ? { endpointsTerminating: this.o.endpointsTerminating } : {}),
      interrupt: this.interrupt.promise,
    }).then((reason) => this.prestopFinished(mode, startedAt, reason));
    return this.prestopWait;
  }

  private prestopFinished(
    mode: PrestopResult['mode'],
    startedAt: number,
    reason: PrestopEndReason,
  ): PrestopResult {
    const { traffic } = this.o;
    const durationMs = Math.max(0, this.o.clock.now() - startedAt);
    this.result = { mode, reason, durationMs };
    this.o.emit('prestop.finished', {
      mode,
      durationMs,
      reason,
      requestsDuring: traffic.arrivals - this.prestopArrivalsAtStart,
      inFlight: traffic.inFlight,
    });
    this.o.trace.event('prestop finished', { reason, durationMs });
    // The hook returning is what lets the kubelet send SIGTERM to the app.
    this.setPhase('draining');
    return this.result;
  }

  appStoppedListening(): void {
    const { traffic, clock } = this.o;
    this.o.emit('app.stopped-listening', {
      phase: traffic.phase,
      ...this.sincePrestop(clock.now()),
      inFlight: traffic.inFlight,
    });
    this.o.trace.event('app stopped listening', { phase: traffic.phase });
    // An app that closes its port is shutting down, preStop hook or not.
    if (traffic.phase === 'serving' || traffic.phase === 'prestop') this.setPhase('draining');
    this.appGone.resolve();
    this.confirmExitByPort(clock.now());
  }

  // The fallback exit detector: stopped listening and no connection left to the app.
  private confirmExitByPort(stoppedAt: number): void {
    const { clock, scheduler } = this.o;
    let quietSince: number | undefined;
    const tick = (): void => {
      if (this.exitedAt !== undefined || this.o.app()?.listening) return;
      if (this.o.upstreamConnections() === 0) {
        quietSince ??= clock.now();
        if (clock.now() - quietSince >= PORT_EXIT_CONFIRM_MS) {
          this.appExited('port', {}, Math.max(stoppedAt, quietSince));
          return;
        }
      } else quietSince = undefined;
      this.cancelExitConfirm = scheduler.setTimeout(tick, FAST_POLL_MS);
    };
    tick();
  }

  appExited(detectedBy: ExitDetector, report: AppExitedReport, at: number = this.o.clock.now()): void {
    if (this.exitedAt !== undefined) return;
    this.exitedAt = at;
    this.cancelExitConfirm?.();
    // Without the parent's word, SIGKILL at the end of the grace period is inferred from timing.
    const killedAtGrace =
      report.killedAtGrace ??
      (this.terminationStartedAt !== undefined &&
        at - this.terminationStartedAt >= this.o.graceSeconds * 1000 - KILLED_AT_GRACE_SLACK_MS);
    const code = report.code ?? null;
    this.exitInfo = { code, killedAtGrace };
    const inFlight = this.o.traffic.inFlight;
    this.o.emit('app.exited', {
      code,
      signal: report.signal ?? null,
      killedAtGrace,
      ...this.sincePrestop(at),
      detectedBy,
      inFlight,
    });
    this.o.trace.event('app exited', { detectedBy, code: report.code ?? -1, killedAtGrace });
    this.setPhase('exited');
    this.interrupt.resolve('app-exited');
    this.appGone.resolve();
  }

  sigterm(options: SigtermOptions): Promise<void> {
    this.sigtermCalled = true;
    this.sigtermDone ??= this.runSigterm(options);
    return this.sigtermDone;
  }

  private async runSigterm(options: SigtermOptions): Promise<void> {
    const { traffic, clock } = this.o;
    const sigtermAt = clock.now();
    const app = this.o.app();
    // A native sidecar hears SIGTERM only after the app exited: look before concluding it runs.
    if (this.exitedAt === undefined && app) await this.lookAtApp(app);
    // Running means: it accepts connections or still holds some. An app that never listened is not
    // waited for.
    const appRunning =
      this.exitedAt === undefined && ((app?.listening ?? false) || this.o.upstreamConnections() > 0);
    this.begin(traffic.phase === 'serving' ? 'draining' : traffic.phase);
    this.o.emit('sigterm', {
      appRunning,
      phase: traffic.phase,
      inFlight: traffic.inFlight,
      websockets: traffic.websockets,
    });
    this.o.trace.event('sigterm', { appRunning });
    // SIGTERM to any container means the pod is terminating; the app's preStop hook may still come.
    if (traffic.phase === 'serving') this.setPhase(appRunning ? 'prestop' : 'draining');
    if (appRunning && !options.immediate) {
      const start = this.terminationStartedAt ?? sigtermAt;
      await waitForApp({
        clock,
        scheduler: this.o.scheduler,
        traffic,
        appGone: this.appGone.promise,
        // A classic sidecar leaves the final flush its share of the grace period.
        deadline: start + this.o.graceSeconds * 1000 - SIGTERM_MARGIN_MS,
        onCut: (cut) => {
          this.cutWaitNow = cut;
        },
      });
    }
    this.closing = true;
    this.interrupt.resolve('agent-stopping');
    if (this.prestopWait) await this.prestopWait;
  }

  private async lookAtApp(app: WatchedApp): Promise<void> {
    await app.checkNow();
    if (app.everListened && !app.listening && this.o.upstreamConnections() === 0) this.appExited('port', {});
  }

  cutWait(): void {
    this.cutWaitNow();
  }

  stop(): void {
    this.cancelExitConfirm?.();
  }

  emitDrainSummary(counts: DrainCounts, eventsDropped: number): void {
    const end = this.exitedAt ?? this.o.clock.now();
    this.o.emit('drain.summary', {
      ...(this.result ? { prestopMs: this.result.durationMs } : {}),
      ...(this.drainingAt !== undefined ? { drainMs: Math.max(0, end - this.drainingAt) } : {}),
      ...counts,
      exitCode: this.exitInfo?.code ?? null,
      killedAtGrace: this.exitInfo?.killedAtGrace ?? false,
      eventsDropped,
    });
  }
}
