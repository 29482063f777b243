import type { Server as HttpServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Registry } from 'prom-client';
import { createUncheckedEventSequencer } from '../contract/index.js';
import { type Logger, SILENT_LOGGER } from '../lib/log.js';
import { formatHostPort } from '../lib/values.js';
import { createAdminServer } from './admin.js';
import type { Agent, AgentDeps, AgentState, AgentStopOptions } from './agent-types.js';
import { type AppWatch, createAppWatch } from './app-watch.js';
import type { AgentConfig } from './config.js';
import { AgentStateError } from './errors.js';
import { finalFlushBudgetMs, runFinalFlush } from './final-flush.js';
import { closeServer, listenOn } from './listen.js';
import { createListenerMirror, type ListenerMirror } from './listener-mirror.js';
import { createAgentMetrics } from './metrics.js';
import { createNatsConnector, type NatsConnector } from './nats-connection.js';
import { prestopLimitsOf } from './prestop.js';
import { createTrafficServer, loadParserBinding, type TrafficServer } from './proxy/index.js';
import { createEventPublisher, type EventPublisher } from './publisher.js';
import { createRequestBatcher, type RequestBatcher } from './request-batcher.js';
import { waitForInFlight } from './sidecar-wait.js';
import { createTrafficSummaries, type TrafficSummaries } from './summary.js';
import { createTermination, type Termination } from './termination.js';
import { type Clock, systemClock, systemScheduler } from './time.js';
import { createTerminationTracing, type TerminationTracing } from './tracing.js';
import { createTraffic, type Traffic } from './traffic.js';

// Wiring only: the agent is a traffic proxy (proxy/), the traffic counters (traffic.ts), the
// termination state machine (termination.ts), the app watch, the admin port and the event
// publisher with its NATS connection. This file connects them and orders start and stop; the
// shapes it takes and returns are agent-types.ts.

// Poll the app port every second while serving and at ≤ 50 ms once the pod terminates (the issue);
// in-flight requests get 300 ms once the agent closes its listener; the trace export gets 1.5 s.
const SLOW_POLL_MS = 1000;
const FAST_POLL_MS = 50;
const TRACE_BUDGET_MS = 1500;
const CLOSE_GRACE_MS = 300;
class AgentRuntime {
  private readonly clock: Clock;
  private readonly version: string;
  private readonly publisher: EventPublisher;
  private readonly batcher: RequestBatcher;
  private readonly traffic: Traffic;
  private readonly proxy: TrafficServer;
  private readonly termination: Termination;
  private readonly admin: HttpServer;
  private readonly nats: NatsConnector | undefined;
  private tracing: TerminationTracing | undefined;
  private appWatch: AppWatch | undefined;
  private mirror: ListenerMirror | undefined;
  private readonly summaries: TrafficSummaries;
  private readonly log: Logger;
  // Clock ms of the first sign of termination: the grace period counts from about then.
  private terminationStartedAt: number | undefined;
  private started = false;
  private flushEnded = false;
  private stopping: Promise<void> | undefined;

  constructor(
    private readonly config: AgentConfig,
    private readonly deps: AgentDeps,
  ) {
    this.clock = deps.clock ?? systemClock;
    this.version = deps.version ?? '0.0.0';
    this.log = deps.log ?? SILENT_LOGGER;
    const registry = deps.registry ?? new Registry();
    const metrics = createAgentMetrics(registry);
    // Unchecked: the agent's events are typed by construction, and validating them would load zod
    // (~14 MB) into every pod's sidecar. Oversize events are still refused.
    const { namespace, workload, pod } = config.identity;
    const sequencer = createUncheckedEventSequencer({ namespace, workload, pod });
    const { subjectRoot, bufferSize: capacity } = config;
    this.publisher = createEventPublisher({ sequencer, subjectRoot, capacity, metrics, log: this.log });
    // Envelope times are wall-clock (the sequencer's new Date()), so a held record's time is too.
    this.batcher = createRequestBatcher({
      emit: this.publisher.emit.bind(this.publisher) as EventPublisher['emit'],
      clock: { now: Date.now },
      scheduler: systemScheduler,
      windowMs: config.requestBatchMs,
    });
    const emit = this.batcher.emit;
    this.traffic = createTraffic({
      clock: this.clock,
      metrics,
      emit,
      idPrefix: sequencer.instance,
    });
    this.proxy = createTrafficServer({
      upstream: config.upstream,
      pod,
      traffic: this.traffic,
      metrics,
      keepAliveTimeoutMs: config.keepAliveTimeoutMs,
      maxResponseHeaderBytes: config.maxResponseHeaderBytes,
      protocol: config.protocol,
    });
    this.summaries = createTrafficSummaries({
      clock: this.clock,
      traffic: this.traffic,
      emit,
      // The open window is sent first, so a drop its flush causes is in the count.
      eventsDropped: () => this.droppedOnEmit('traffic.summary'),
    });
    this.termination = this.createTermination(emit);
    this.admin = createAdminServer({
      registry,
      prestop: () => this.termination.prestop(),
      appExited: (report) => this.termination.appExited('process', report),
      ready: () => this.traffic.phase === 'serving' && !this.stopping,
      state: () => this.state(),
    });
    this.nats = deps.nats
      ? undefined
      : createNatsConnector({
          servers: config.natsUrl,
          name: `drainwatch-agent ${pod}`,
          onConnect: (nc) => this.publisher.attach(nc),
          // Keep trying through the final flush: NATS may come back before the grace deadline.
          active: () => !this.flushEnded,
          log: this.log,
        });
  }

  private createTermination(emit: EventPublisher['emit']): Termination {
    const { config } = this;
    return createTermination({
      clock: this.clock,
      scheduler: systemScheduler,
      emit,
      traffic: this.traffic,
      app: () => this.appWatch,
      upstreamConnections: () => this.proxy.connections.open,
      graceSeconds: config.graceSeconds,
      prestop: prestopLimitsOf(config),
      ...(this.deps.endpointsTerminating ? { endpointsTerminating: this.deps.endpointsTerminating } : {}),
      trace: {
        begin: (phase) => this.tracing?.begin(phase),
        event: (name, attributes) => this.tracing?.event(name, attributes),
      },
      onPhase: (phase) => {
        this.terminationStartedAt ??= this.clock.now();
        this.log.info({ phase }, `phase ${phase}`);
        this.proxy.drain(phase);
        this.appWatch?.poke();
      },
    });
  }

  async start(): Promise<{ listen: AddressInfo; admin: AddressInfo }> {
    const { config } = this;
    if (this.started) throw new AgentStateError('the agent was already started');
    this.started = true;
    // Node's internal HTTP parser changed shape: refuse to start (NodeHttpParserChangedError).
    loadParserBinding();
    this.tracing = await createTerminationTracing(
      config.otlpEndpoint,
      config.identity,
      this.version,
      config.otlpTracesEndpoint,
      config.otlpProtocol,
    );
    const listen = await listenOn(this.proxy.server, config.listen, 'DRAINWATCH_LISTEN (--listen)');
    let admin: AddressInfo;
    try {
      admin = await listenOn(this.admin, config.admin, 'DRAINWATCH_ADMIN (--admin)');
    } catch (err) {
      await closeServer(this.proxy.server);
      throw err;
    }
    if (this.deps.nats) this.publisher.attach(this.deps.nats);
    else this.nats?.start();
    this.batcher.emit('agent.started', {
      version: this.version,
      listen: formatHostPort({ host: listen.address, port: listen.port }),
      upstream: formatHostPort(config.upstream),
      admin: formatHostPort({ host: admin.address, port: admin.port }),
      prestopPolicy: config.prestop.mode === 'fixed' ? `fixed:${config.prestop.fixedMs / 1000}` : 'adaptive',
      graceSeconds: config.graceSeconds,
      ...(config.identity.nodeName ? { nodeName: config.identity.nodeName } : {}),
      ...(config.identity.podIp ? { podIp: config.identity.podIp } : {}),
    });
    this.mirror = createListenerMirror({
      server: this.proxy.server,
      address: { host: listen.address, port: listen.port },
      inFlight: () => this.traffic.inFlight,
      onChange: (accepting) =>
        this.batcher.emit('agent.listener', {
          accepting,
          appListening: this.appWatch?.listening ?? false,
          phase: this.traffic.phase,
          inFlight: this.traffic.inFlight,
        }),
    });
    this.appWatch = createAppWatch({
      upstream: config.upstream,
      ...(config.appPid !== undefined ? { pid: config.appPid } : {}),
      // Fast while the pod terminates, and while the app is down: the agent listens again as soon
      // as the app does.
      intervalMs: () =>
        this.traffic.phase === 'serving' && !this.termination.sigtermSeen && this.mirror?.accepting !== false
          ? SLOW_POLL_MS
          : FAST_POLL_MS,
      onStoppedListening: () => this.termination.appStoppedListening(),
      onRefused: () => this.mirror?.appStopped(),
      onListening: () => this.mirror?.appListening(),
      onPidGone: () => this.termination.appExited('pid', {}),
    });
    this.summaries.start(config.summaryIntervalMs);
    this.log.info(
      {
        version: this.version,
        listen: formatHostPort({ host: listen.address, port: listen.port }),
        admin: formatHostPort({ host: admin.address, port: admin.port }),
        upstream: formatHostPort(config.upstream),
        graceSeconds: config.graceSeconds,
        bufferSize: config.bufferSize,
      },
      'agent started',
    );
    return { listen, admin };
  }

  stop(options: AgentStopOptions): Promise<void> {
    if (this.stopping && options.immediate) this.termination.cutWait();
    this.stopping ??= this.started ? this.doStop(options) : Promise.resolve();
    return this.stopping;
  }

  private async doStop(options: AgentStopOptions): Promise<void> {
    this.terminationStartedAt ??= this.clock.now();
    this.log.info({ immediate: options.immediate === true }, 'agent stopping');
    await this.termination.sigterm(options);
    this.summaries.stop();
    this.appWatch?.stop();
    await this.mirror?.stop();
    this.termination.stop();
    await this.closeTraffic();
    this.summaries.emitNow();
    // Counted before it is pushed, with the traffic event its own push may drop from a full buffer.
    this.termination.emitDrainSummary(this.traffic.drainCounts(), this.droppedOnEmit('drain.summary'));
    this.batcher.flush(); // a record ended after the summary (none should) still leaves
    await Promise.all([this.finalFlush(), this.tracing?.finish(TRACE_BUDGET_MS)]);
    this.flushEnded = true;
    this.publisher.stop();
    const adminClosed = closeServer(this.admin);
    this.admin.closeAllConnections();
    await adminClosed;
    await this.nats?.close();
  }

  // Events a summary of `kind` reports as dropped: the open request window is sent first, so a
  // drop its own push causes is counted too.
  private droppedOnEmit(kind: 'traffic.summary' | 'drain.summary'): number {
    this.batcher.flush();
    return this.publisher.droppedOnEmit(kind);
  }

  // Deliver what is buffered while the grace period allows (final-flush.ts).
  private finalFlush(): Promise<void> {
    const { graceSeconds } = this.config;
    const budgetMs = finalFlushBudgetMs(graceSeconds, this.terminationStartedAt, this.clock.now());
    return runFinalFlush(this.publisher, this.log, budgetMs);
  }

  // Stop accepting, let in-flight requests finish for a moment, then cut what is left.
  private async closeTraffic(): Promise<void> {
    const trafficClosed = closeServer(this.proxy.server);
    this.proxy.closeIdle();
    await waitForInFlight(this.traffic, this.clock, systemScheduler, CLOSE_GRACE_MS);
    this.proxy.destroyAll();
    await trafficClosed;
  }

  state(): AgentState {
    const { config, traffic } = this;
    return {
      phase: traffic.phase,
      pod: config.identity.pod,
      namespace: config.identity.namespace,
      workload: config.identity.workload,
      inFlight: traffic.inFlight,
      websockets: traffic.websockets,
      upstreamListening: this.appWatch?.listening ?? false,
      accepting: this.mirror?.accepting ?? false,
      appExited: this.termination.exited,
      prestop: this.termination.prestopResult,
      requests: traffic.totals(),
      events: this.publisher.stats(),
    };
  }
}

/** The agent of one pod; start() listens on config.listen and config.admin (AgentPortInUseError). */
export function createAgent(config: AgentConfig, deps: AgentDeps = {}): Agent {
  const agent = new AgentRuntime(config, deps);
  return {
    start: () => agent.start(),
    stop: (options = {}) => agent.stop(options),
    state: () => agent.state(),
  };
}
