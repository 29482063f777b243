import type { Server as HttpServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createServer as createNetServer, type Server } from 'node:net';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { Registry } from 'prom-client';
import { createUncheckedEventSequencer } from '../contract/event-builder.js';
import type { Phase, PrestopEndReason } from '../contract/kinds.js';
import { type AppExitedReport, createAdminServer } from './admin.js';
import { type AppWatch, createAppWatch } from './app-watch.js';
import { type AgentConfig, formatHostPort, type HostPort } from './config.js';
import { AgentPortInUseError, AgentStateError } from './errors.js';
import { createHttpProxy } from './http-proxy.js';
import { createAgentMetrics } from './metrics.js';
import { waitPrestop } from './prestop.js';
import { createEventPublisher, type PublisherStats } from './publisher.js';
import { createTerminationTracing, type TerminationTracing } from './tracing.js';
import { type Clock, createTraffic } from './traffic.js';
import { createUpstreamConnections } from './upstream-pool.js';
import { createWebSocketProxy } from './websocket-proxy.js';

export interface AgentDeps {
  /** Where /metrics registers; a fresh registry by default. */
  readonly registry?: Registry;
  /** A connection to publish on; without it the agent connects to config.natsUrl and reconnects forever. */
  readonly nats?: NatsConnection;
  readonly clock?: Clock;
  /** The Kubernetes adapter's seam: resolves once the pod's endpoints are marked terminating. */
  readonly endpointsTerminating?: (signal: AbortSignal) => Promise<void>;
  /** Reported in agent.started and on the trace. */
  readonly version?: string;
}

export interface PrestopResult {
  readonly mode: 'adaptive' | 'fixed';
  readonly reason: PrestopEndReason;
  readonly durationMs: number;
}

export interface AgentState {
  readonly phase: Phase;
  readonly pod: string;
  readonly namespace: string;
  readonly workload: string;
  readonly inFlight: number;
  readonly websockets: number;
  readonly upstreamListening: boolean;
  readonly appExited: boolean;
  readonly prestop: PrestopResult | null;
  readonly requests: ReturnType<ReturnType<typeof createTraffic>['totals']>;
  readonly events: PublisherStats;
}

export interface AgentStopOptions {
  /**
   * Skip the classic-sidecar wait for the app to stop listening (tests, a second signal).
   * The final flush still runs.
   */
  readonly immediate?: boolean;
}

export interface Agent {
  start(): Promise<{ listen: AddressInfo; admin: AddressInfo }>;
  /** SIGTERM semantics: waits for the app if it still runs, then flushes (≤ 2 s) and closes. */
  stop(options?: AgentStopOptions): Promise<void>;
  state(): AgentState;
}

// Timing constants of the termination, from the issue: poll the app port at ≤ 50 ms while the pod
// terminates; the final flush fits in 2 s; a classic sidecar leaves 2 s of the grace period for it.
const FAST_POLL_MS = 50;
const SLOW_POLL_MS = 1000;
const FLUSH_BUDGET_MS = 1500;
const SIGTERM_MARGIN_MS = 2000;
// Without a pid or an exit report, the app is taken as exited once its port refuses and no
// connection to it remains for this long (long enough for a parent's exit report to win).
const PORT_EXIT_CONFIRM_MS = 2000;
// How long in-flight requests get to finish once the agent closes its own listener.
const CLOSE_GRACE_MS = 300;

const timeOrigin = performance.timeOrigin;
const defaultClock: Clock = { now: () => timeOrigin + performance.now() };

function listenOn(server: Server, hp: HostPort, setting: string): Promise<AddressInfo> {
  return new Promise((resolve, reject) => {
    const onError = (err: NodeJS.ErrnoException): void => {
      reject(new AgentPortInUseError(setting, formatHostPort(hp), err.code ?? err.message));
    };
    server.once('error', onError);
    server.listen(hp.port, hp.host, () => {
      server.off('error', onError);
      resolve(server.address() as AddressInfo);
    });
  });
}

function closeServer(server: Server | HttpServer): Promise<void> {
  return new Promise((resolve) => {
    if (!server.listening) {
      resolve();
      return;
    }
    server.close(() => resolve());
    if ('closeIdleConnections' in server) server.closeIdleConnections();
  });
}

export function createAgent(config: AgentConfig, deps: AgentDeps = {}): Agent {
  const clock = deps.clock ?? defaultClock;
  const registry = deps.registry ?? new Registry();
  const version = deps.version ?? '0.0.0';
  const metrics = createAgentMetrics(registry);
  // Unchecked: the agent's events are typed by construction, and validating them would load zod
  // (~14 MB) into every pod's sidecar. Oversize events are still refused.
  const sequencer = createUncheckedEventSequencer({
    namespace: config.identity.namespace,
    workload: config.identity.workload,
    pod: config.identity.pod,
  });
  let tracing: TerminationTracing | undefined;
  const publisher = createEventPublisher({
    sequencer,
    subjectRoot: config.subjectRoot,
    capacity: config.bufferSize,
    metrics,
  });
  const emit = publisher.emit.bind(publisher) as typeof publisher.emit;
  const traffic = createTraffic({ clock, metrics, emit, idPrefix: sequencer.instance });
  const connections = createUpstreamConnections();
  const wsProxy = createWebSocketProxy({
    upstream: config.upstream,
    pod: config.identity.pod,
    traffic,
    connections,
  });
  const httpProxy = createHttpProxy({
    upstream: config.upstream,
    pod: config.identity.pod,
    traffic,
    metrics,
    connections,
    keepAliveTimeoutMs: config.keepAliveTimeoutMs,
    maxResponseHeaderBytes: config.maxResponseHeaderBytes,
    onUpgrade: (request) => {
      try {
        wsProxy.handleUpgrade(request);
      } catch (err) {
        // A bug in our bookkeeping must cost one connection, never the pod's whole traffic.
        process.emitWarning(`drainwatch agent: upgrade handling failed: ${(err as Error).message}`);
        request.socket.destroy();
      }
    },
  });
  // Half-open only so a WebSocket tunnel can pass each side's FIN on; plain HTTP treats a FIN as gone.
  const trafficServer = createNetServer({ allowHalfOpen: true, noDelay: true }, (socket) =>
    httpProxy.accept(socket),
  );

  let started = false;
  let stopping: Promise<void> | undefined;
  let sigtermSeen = false;
  // Set once the agent stops accepting traffic; a preStop call after that returns at once.
  let closing = false;
  let ownNats: NatsConnection | undefined;
  let summaryTimer: NodeJS.Timeout | undefined;
  let lastSummaryAt = clock.now();
  let exitConfirmTimer: NodeJS.Timeout | undefined;
  let appWatch: AppWatch | undefined;
  // Ends the classic-sidecar wait early (a second stop() with immediate).
  let cutWait: () => void = () => undefined;

  // Termination timeline (clock ms).
  let terminationStartedAt: number | undefined;
  let prestopStartedAt: number | undefined;
  let prestopArrivalsAtStart = 0;
  let prestopPromise: Promise<PrestopResult> | undefined;
  let prestopResult: PrestopResult | null = null;
  let drainingAt: number | undefined;
  let exitedAt: number | undefined;
  let exitInfo: { code: number | null; killedAtGrace: boolean } | undefined;
  let resolveInterrupt: (reason: PrestopEndReason) => void = () => undefined;
  const interrupt = new Promise<PrestopEndReason>((resolve) => {
    resolveInterrupt = resolve;
  });
  let resolveAppGone: () => void = () => undefined;
  const appGone = new Promise<void>((resolve) => {
    resolveAppGone = resolve;
  });

  const since = (t: number | undefined): { sincePrestopMs?: number } =>
    t === undefined ? {} : { sincePrestopMs: Math.max(0, clock.now() - t) };

  const setPhase = (phase: Phase): void => {
    if (traffic.phase === phase || traffic.phase === 'exited') return;
    traffic.setPhase(phase);
    httpProxy.drain();
    if (phase === 'draining') drainingAt = clock.now();
    appWatch?.poke();
  };

  const beginTermination = (phase: Phase): void => {
    terminationStartedAt ??= clock.now();
    tracing?.begin(phase);
  };

  const markExited = (
    detectedBy: 'process' | 'port' | 'pid',
    report: { code?: number | null; signal?: string | null; killedAtGrace?: boolean },
    at: number = clock.now(),
  ): void => {
    if (exitedAt !== undefined) return;
    exitedAt = at;
    if (exitConfirmTimer) clearTimeout(exitConfirmTimer);
    // Without the parent's word, SIGKILL at the end of the grace period is inferred from timing.
    const killedAtGrace =
      report.killedAtGrace ??
      (terminationStartedAt !== undefined && at - terminationStartedAt >= config.graceSeconds * 1000 - 500);
    exitInfo = { code: report.code ?? null, killedAtGrace };
    const inFlight = traffic.inFlight;
    emit('app.exited', {
      code: report.code ?? null,
      signal: report.signal ?? null,
      killedAtGrace,
      ...(prestopStartedAt === undefined ? {} : { sincePrestopMs: Math.max(0, at - prestopStartedAt) }),
      detectedBy,
      inFlight,
    });
    tracing?.event('app exited', { detectedBy, code: report.code ?? -1, killedAtGrace });
    setPhase('exited');
    resolveInterrupt('app-exited');
    resolveAppGone();
  };

  const onStoppedListening = (): void => {
    emit('app.stopped-listening', {
      phase: traffic.phase,
      ...since(prestopStartedAt),
      inFlight: traffic.inFlight,
    });
    tracing?.event('app stopped listening', { phase: traffic.phase });
    // An app that closes its port is shutting down, preStop hook or not.
    if (traffic.phase === 'serving' || traffic.phase === 'prestop') setPhase('draining');
    resolveAppGone();
    scheduleExitConfirm(clock.now());
  };

  // The fallback exit detector: stopped listening and no connection left to the app.
  const scheduleExitConfirm = (stoppedAt: number): void => {
    let quietSince: number | undefined;
    const tick = (): void => {
      if (exitedAt !== undefined || appWatch?.listening) return;
      if (connections.open === 0) {
        quietSince ??= clock.now();
        if (clock.now() - quietSince >= PORT_EXIT_CONFIRM_MS) {
          markExited('port', {}, Math.max(stoppedAt, quietSince));
          return;
        }
      } else quietSince = undefined;
      exitConfirmTimer = setTimeout(tick, FAST_POLL_MS);
      exitConfirmTimer.unref();
    };
    tick();
  };

  const prestop = (): Promise<PrestopResult> => {
    if (prestopPromise) return prestopPromise;
    const mode = config.prestop.mode;
    // A classic sidecar hears SIGTERM as the app's preStop hook is called, so a hook arriving after
    // our SIGTERM (phase `prestop`) still gets its wait; only once we close, or the app already got
    // SIGTERM or exited, is there nothing left to hold it for.
    if (closing || traffic.phase === 'draining' || traffic.phase === 'exited') {
      const result: PrestopResult = {
        mode,
        reason: exitedAt !== undefined ? 'app-exited' : 'agent-stopping',
        durationMs: 0,
      };
      return Promise.resolve(result);
    }
    prestopStartedAt = clock.now();
    prestopArrivalsAtStart = traffic.arrivals;
    beginTermination('prestop');
    setPhase('prestop');
    emit('prestop.started', {
      mode,
      ...(config.prestop.mode === 'fixed'
        ? { fixedMs: config.prestop.fixedMs }
        : { minMs: config.prestopMinMs, quietMs: config.prestopQuietMs, maxMs: config.prestopMaxMs }),
      inFlight: traffic.inFlight,
      websockets: traffic.websockets,
    });
    const startedAt = prestopStartedAt;
    prestopPromise = waitPrestop({
      limits: {
        policy: config.prestop,
        minMs: config.prestopMinMs,
        quietMs: config.prestopQuietMs,
        maxMs: config.prestopMaxMs,
      },
      clock,
      lastArrivalAt: () => traffic.lastArrivalAt,
      ...(deps.endpointsTerminating ? { endpointsTerminating: deps.endpointsTerminating } : {}),
      interrupt,
    }).then((reason) => {
      const durationMs = Math.max(0, clock.now() - startedAt);
      prestopResult = { mode, reason, durationMs };
      emit('prestop.finished', {
        mode,
        durationMs,
        reason,
        requestsDuring: traffic.arrivals - prestopArrivalsAtStart,
        inFlight: traffic.inFlight,
      });
      tracing?.event('prestop finished', { reason, durationMs });
      // The hook returning is what lets the kubelet send SIGTERM to the app.
      setPhase('draining');
      return prestopResult;
    });
    return prestopPromise;
  };

  const emitSummary = (): void => {
    const now = clock.now();
    const interval = traffic.takeInterval();
    emit('traffic.summary', {
      intervalMs: Math.max(0, now - lastSummaryAt),
      phase: traffic.phase,
      requests: interval.requests,
      failed: interval.failed,
      inFlight: traffic.inFlight,
      websockets: traffic.websockets,
      lateArrivals: interval.lateArrivals,
      eventsDropped: publisher.stats().dropped,
    });
    lastSummaryAt = now;
  };

  const state = (): AgentState => ({
    phase: traffic.phase,
    pod: config.identity.pod,
    namespace: config.identity.namespace,
    workload: config.identity.workload,
    inFlight: traffic.inFlight,
    websockets: traffic.websockets,
    upstreamListening: appWatch?.listening ?? false,
    appExited: exitedAt !== undefined,
    prestop: prestopResult,
    requests: traffic.totals(),
    events: publisher.stats(),
  });

  const admin = createAdminServer({
    registry,
    prestop,
    appExited: (report: AppExitedReport) => markExited('process', report),
    ready: () => traffic.phase === 'serving' && !stopping,
    state,
  });

  const connectNats = (): void => {
    if (deps.nats) {
      publisher.attach(deps.nats);
      return;
    }
    // NATS down at start is not fatal: keep trying (the client's own reconnect takes over once a
    // first connection exists). A loop of ours, unlike waitOnFirstConnect, stops when we stop.
    void (async () => {
      let wait = 250;
      while (!stopping) {
        try {
          const nc = await connect({
            servers: config.natsUrl,
            name: `drainwatch-agent ${config.identity.pod}`,
            maxReconnectAttempts: -1,
            reconnectTimeWait: 250,
            reconnectJitter: 100,
            pingInterval: 10_000,
            timeout: 1000,
          });
          if (stopping) {
            await nc.close();
            return;
          }
          ownNats = nc;
          publisher.attach(nc);
          return;
        } catch {
          await new Promise((r) => setTimeout(r, wait).unref());
          wait = Math.min(wait * 2, 2000);
        }
      }
    })();
  };

  const waitForInFlight = async (timeoutMs: number): Promise<void> => {
    const deadline = clock.now() + timeoutMs;
    while (traffic.inFlight > 0 && clock.now() < deadline) {
      await new Promise((r) => setTimeout(r, 10).unref());
    }
  };

  const doStop = async (options: AgentStopOptions): Promise<void> => {
    sigtermSeen = true;
    const sigtermAt = clock.now();
    // A native sidecar hears SIGTERM only after the app exited: look before concluding it runs.
    if (exitedAt === undefined && appWatch) {
      await appWatch.checkNow();
      if (appWatch.everListened && !appWatch.listening && connections.open === 0) markExited('port', {});
    }
    // Running means: it accepts connections or still holds some. An app that never listened is not
    // waited for.
    const appRunning = exitedAt === undefined && ((appWatch?.listening ?? false) || connections.open > 0);
    beginTermination(traffic.phase === 'serving' ? 'draining' : traffic.phase);
    emit('sigterm', {
      appRunning,
      phase: traffic.phase,
      inFlight: traffic.inFlight,
      websockets: traffic.websockets,
    });
    tracing?.event('sigterm', { appRunning });
    // SIGTERM to any container means the pod is terminating; the app's preStop hook may still come.
    if (traffic.phase === 'serving') setPhase(appRunning ? 'prestop' : 'draining');

    if (appRunning && !options.immediate) {
      // A classic sidecar: keep proxying until the app stopped listening, or until only the final
      // flush's share of the grace period is left.
      const deadline = (terminationStartedAt ?? sigtermAt) + config.graceSeconds * 1000 - SIGTERM_MARGIN_MS;
      const deadlineReached = new Promise<void>((r) => {
        cutWait = r;
        setTimeout(r, Math.max(0, deadline - clock.now())).unref();
      });
      await Promise.race([appGone, deadlineReached]);
      // Requests the app is still finishing after it closed its port go on through us.
      await Promise.race([waitForInFlight(Math.max(0, deadline - clock.now())), deadlineReached]);
    }
    closing = true;
    resolveInterrupt('agent-stopping');
    if (prestopPromise) await prestopPromise;

    if (summaryTimer) clearInterval(summaryTimer);
    appWatch?.stop();
    if (exitConfirmTimer) clearTimeout(exitConfirmTimer);
    const trafficClosed = closeServer(trafficServer);
    httpProxy.closeIdle();
    await waitForInFlight(CLOSE_GRACE_MS);
    httpProxy.destroyAll();
    wsProxy.destroyAll();
    await trafficClosed;

    emitSummary();
    const drain = traffic.drainCounts();
    const end = exitedAt ?? clock.now();
    emit('drain.summary', {
      ...(prestopResult ? { prestopMs: prestopResult.durationMs } : {}),
      ...(drainingAt !== undefined ? { drainMs: Math.max(0, end - drainingAt) } : {}),
      ...drain,
      exitCode: exitInfo?.code ?? null,
      killedAtGrace: exitInfo?.killedAtGrace ?? false,
      eventsDropped: publisher.stats().dropped,
    });
    await Promise.all([publisher.flush(FLUSH_BUDGET_MS), tracing?.finish(FLUSH_BUDGET_MS)]);
    publisher.stop();
    const adminClosed = closeServer(admin);
    admin.closeAllConnections();
    await adminClosed;
    if (ownNats) {
      const nc = ownNats;
      await Promise.race([nc.close().catch(() => undefined), new Promise((r) => setTimeout(r, 300).unref())]);
    }
  };

  return {
    async start() {
      if (started) throw new AgentStateError('the agent was already started');
      started = true;
      tracing = await createTerminationTracing(config.otlpEndpoint, config.identity, version);
      const listen = await listenOn(trafficServer, config.listen, 'DRAINWATCH_LISTEN (--listen)');
      let adminAddr: AddressInfo;
      try {
        adminAddr = await listenOn(admin, config.admin, 'DRAINWATCH_ADMIN (--admin)');
      } catch (err) {
        await closeServer(trafficServer);
        throw err;
      }
      connectNats();
      emit('agent.started', {
        version,
        listen: formatHostPort({ host: listen.address, port: listen.port }),
        upstream: formatHostPort(config.upstream),
        admin: formatHostPort({ host: adminAddr.address, port: adminAddr.port }),
        prestopPolicy:
          config.prestop.mode === 'fixed' ? `fixed:${config.prestop.fixedMs / 1000}` : 'adaptive',
        graceSeconds: config.graceSeconds,
        ...(config.identity.nodeName ? { nodeName: config.identity.nodeName } : {}),
        ...(config.identity.podIp ? { podIp: config.identity.podIp } : {}),
      });
      appWatch = createAppWatch({
        upstream: config.upstream,
        ...(config.appPid !== undefined ? { pid: config.appPid } : {}),
        intervalMs: () => (traffic.phase === 'serving' && !sigtermSeen ? SLOW_POLL_MS : FAST_POLL_MS),
        onStoppedListening,
        onListening: () => undefined,
        onPidGone: () => markExited('pid', {}),
      });
      summaryTimer = setInterval(emitSummary, config.summaryIntervalMs);
      summaryTimer.unref();
      return { listen, admin: adminAddr };
    },
    stop(options = {}) {
      if (stopping && options.immediate) cutWait();
      stopping ??= started ? doStop(options) : Promise.resolve();
      return stopping;
    },
    state,
  };
}
