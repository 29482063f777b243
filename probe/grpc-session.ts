import type { ProbeError } from '../contract/index.js';
import { bump, createSessionSleeper, type ProbeContext, recordSessionLoss } from './context.js';
import {
  createGrpcSessionClient,
  type GrpcUnaryResult,
  grpcProbeError,
  type loadGrpcService,
} from './grpc-client.js';
import { createProbeGrpcStream } from './grpc-stream.js';
import { fieldAt, fillTemplate, type GrpcScenario } from './scenario.js';
import type { ProbeSession } from './session.js';

// One synthetic gRPC user (scenario `grpc`): its token rides in the metadata of every call, each
// unary reply must name the same user whatever pod answered (identity-mismatch otherwise), and one
// server stream per live session is checked for sequence gaps. A call is counted once, on its
// first attempt, with its latency; a retry (UNAVAILABLE, DEADLINE_EXCEEDED…) goes to `retried`.

const RETRYABLE: ReadonlySet<ProbeError> = new Set(['refused', 'reset', 'timeout', '5xx']);

export function createProbeGrpcSession(
  ctx: ProbeContext,
  service: ReturnType<typeof loadGrpcService>,
  grpc: GrpcScenario,
  index: number,
  withStream: boolean,
): ProbeSession {
  const { config, counters } = ctx;
  const user = config.users(index);
  const id = `${config.runId}-s${index}`;
  const client = createGrpcSessionClient(service, grpc, config.target, config.requestTimeoutMs);
  const metadata = fillTemplate(grpc.metadata, user.name);
  const expected = fillTemplate(grpc.unary.expect, user.name);
  const request = fillTemplate(grpc.unary.request, user.name);
  const route = client.route(grpc.unary.method);
  const meanIntervalMs = 1000 / (config.ratePerSession * (user.weight ?? 1));
  const socket =
    withStream && grpc.stream
      ? createProbeGrpcStream(ctx, grpc, client, { sessionId: id, user: user.name, metadata })
      : undefined;
  let seq = 0;
  let answered = 0;
  let started = false;
  let active = false;
  let everLost = false;
  let issuedBy: string | undefined;
  const podsSeen = new Set<string>();
  const sleeper = createSessionSleeper(ctx.signal);
  const wait = sleeper.wait;
  const now = (): string => new Date(ctx.clock.now()).toISOString();

  const podOf = (r: GrpcUnaryResult): string | undefined => {
    const p = grpc.unary.pod ? fieldAt(r.reply, grpc.unary.pod) : undefined;
    return typeof p === 'string' && p ? p.slice(0, 256) : undefined;
  };
  const errorOf = (r: GrpcUnaryResult): ProbeError | undefined => {
    const e = grpcProbeError(r.code);
    if (e) return e;
    const holds = Object.entries(expected).every(([k, v]) => String(fieldAt(r.reply, k)) === v);
    return holds ? undefined : 'identity-mismatch';
  };

  async function call(
    kind: 'identity' | 'traffic',
  ): Promise<{ error?: ProbeError; pod?: string; probeId: string }> {
    seq += 1;
    const probeId = `${id}.${seq}`;
    const startedAt = ctx.clock.now();
    const first = await client.unary(request, metadata, probeId);
    const pod = podOf(first);
    const error = errorOf(first);
    if (first.connection === 'new') counters.connectionsNew += 1;
    else counters.connectionsReused += 1;
    if (pod) {
      answered += 1;
      if (podsSeen.size < 16) podsSeen.add(pod);
      ctx.answeredBy(pod);
    }
    counters.requests += 1;
    ctx.recordLatency(first.durationMs);
    let retry: { ok: boolean } | undefined;
    if (error) {
      counters.failed += 1;
      bump(counters.errorsByKind, error);
      if (config.retryOnce && RETRYABLE.has(error) && !ctx.signal.aborted) {
        const second = await client.unary(request, metadata, `${probeId}.r`);
        counters.retried += 1;
        const ok = errorOf(second) === undefined;
        if (ok) counters.retriedOk += 1;
        retry = { ok };
      }
    }
    if (ctx.publishing)
      ctx.emit('probe.request', {
        probeId,
        runId: config.runId,
        sessionId: id,
        kind,
        method: 'POST',
        route,
        ok: !error,
        grpcStatus: first.code,
        ...(error ? { error } : {}),
        ...(pod ? { pod } : {}),
        connection: first.connection,
        startedAt: new Date(startedAt).toISOString(),
        durationMs: first.durationMs,
        ...(retry ? { retry } : {}),
      });
    return { ...(error ? { error } : {}), ...(pod ? { pod } : {}), probeId };
  }

  /** The token is the session: it starts with the first call that proves who the caller is. */
  function begin(pod: string | undefined): void {
    active = true;
    issuedBy = pod;
    counters.sessionsActive += 1;
    if (!started) {
      started = true;
      counters.sessionsStarted += 1;
    }
    ctx.emit('probe.session', {
      runId: config.runId,
      sessionId: id,
      event: 'login',
      ...(pod ? { issuedBy: pod } : {}),
      at: now(),
    });
    socket?.ensure();
  }

  function lose(reason: ProbeError, pod: string | undefined, probeId: string): void {
    active = false;
    recordSessionLoss(
      ctx,
      { sessionId: id, reason, ...(issuedBy ? { issuedBy } : {}), ...(pod ? { pod } : {}), probeId },
      !everLost,
    );
    everLost = true;
  }

  async function run(): Promise<void> {
    let nextIdentityAt = 0;
    while (!ctx.signal.aborted) {
      const kind = active && ctx.clock.now() < nextIdentityAt ? 'traffic' : 'identity';
      if (kind === 'identity') nextIdentityAt = ctx.clock.now() + config.identityIntervalMs;
      const out = await call(kind);
      if (ctx.signal.aborted) break;
      if (!active && !out.error) begin(out.pod);
      else if (active && (out.error === 'unauthorized' || out.error === 'identity-mismatch'))
        lose(out.error, out.pod, out.probeId);
      await wait(meanIntervalMs * (0.5 + Math.random()));
    }
    if (socket) await socket.stop();
    if (active) counters.sessionsActive -= 1;
    if (started)
      ctx.emit('probe.session', {
        runId: config.runId,
        sessionId: id,
        event: 'end',
        ...(issuedBy ? { issuedBy } : {}),
        at: now(),
      });
    client.close();
  }

  return {
    id,
    run,
    wake: sleeper.wake,
    get pods() {
      return { answered, pods: podsSeen.size };
    },
    socket,
    get started() {
      return started;
    },
  };
}
