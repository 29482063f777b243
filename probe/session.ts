import type { ProbeError } from '../contract/index.js';
import { routeOf } from '../lib/route.js';
import { bump, createSessionSleeper, type ProbeContext, recordSessionLoss } from './context.js';
import { createCookieJar } from './cookies.js';
import { createSessionClient, type HttpResult } from './http-client.js';
import { fieldAt, fillTemplate, type TrafficRoute } from './scenario.js';
import type { SessionPods } from './skew.js';
import { createProbeSocketIo } from './socketio.js';
import { createProbeStream } from './sse.js';
import { createProbeSocket, type ProbeSocket } from './websocket.js';

// One synthetic user: logs in, keeps its session (cookie jar or bearer token), checks its identity
// at an interval and sends weighted traffic at its rate, one request at a time like a person would.

export interface ProbeSession {
  readonly id: string;
  /** Runs until the run's signal aborts; resolves once the last request ended. */
  run(): Promise<void>;
  /** Cuts the current wait short so an aborted run ends at once. */
  wake(): void;
  readonly pods: SessionPods;
  readonly socket: ProbeSocket | undefined;
  readonly started: boolean;
}

type RequestKind = 'login' | 'identity' | 'traffic';

interface Outcome {
  readonly error?: ProbeError;
  readonly result: HttpResult;
  readonly probeId: string;
}

const RETRYABLE: ReadonlySet<ProbeError> = new Set(['refused', 'reset', 'timeout', '5xx']);

function pickRoute(routes: readonly TrafficRoute[], total: number): TrafficRoute {
  let r = Math.random() * total;
  for (const route of routes) {
    r -= route.weight;
    if (r < 0) return route;
  }
  return routes[routes.length - 1]!;
}

function statusError(status: number): ProbeError | undefined {
  if (status >= 500) return '5xx';
  if (status === 401 || status === 403) return 'unauthorized';
  if (status >= 400) return 'other';
  return undefined;
}

export function createProbeSession(ctx: ProbeContext, index: number, withWebSocket: boolean): ProbeSession {
  const { config, counters } = ctx;
  const { scenario, target } = config;
  const user = config.users(index);
  const weight = user.weight ?? 1;
  const id = `${config.runId}-s${index}`;
  const client = createSessionClient(target, config.requestTimeoutMs);
  const jar = createCookieJar();
  const bearerField = scenario.login.session.startsWith('bearer:')
    ? scenario.login.session.slice(7)
    : undefined;
  const trafficTotal = scenario.traffic.reduce((s, r) => s + r.weight, 0);
  const meanIntervalMs = 1000 / (config.ratePerSession * weight);
  const loginBody = JSON.stringify(fillTemplate(scenario.login.body, user.name));
  const expected = fillTemplate(scenario.identity.expect, user.name);

  let token: string | undefined;
  let loggedIn = false;
  let started = false;
  let everLost = false;
  let issuedBy: string | undefined;
  let seq = 0;
  let answered = 0;
  const podsSeen = new Set<string>();

  const credentials = (path: string): Record<string, string> => {
    const h: Record<string, string> = {};
    const cookie = jar.header(path);
    if (cookie) h.cookie = cookie;
    if (token) h.authorization = `Bearer ${token}`;
    return h;
  };

  const live = { sessionId: id, user: user.name, credentials };
  const socket = !withWebSocket
    ? undefined
    : scenario.sse
      ? createProbeStream(ctx, scenario.sse, live)
      : scenario.socketio
        ? createProbeSocketIo(ctx, scenario.socketio, live)
        : createProbeSocket(ctx, live);

  const { wait, wake } = createSessionSleeper(ctx.signal);

  const account = (r: HttpResult, path: string): void => {
    if (r.connection === 'new') counters.connectionsNew += 1;
    else counters.connectionsReused += 1;
    if (r.pod) {
      answered += 1;
      if (podsSeen.size < 16) podsSeen.add(r.pod);
      ctx.answeredBy(r.pod);
    }
    if (r.setCookie) ctx.cookiesSet(jar.store(r.setCookie, path).map((c) => c.name));
  };

  async function request(kind: RequestKind, method: string, route: string, body?: string): Promise<Outcome> {
    const path = fillTemplate(route, user.name);
    seq += 1;
    const probeId = `${id}.${seq}`;
    const startedAt = ctx.clock.now();
    const attempt = async (pid: string): Promise<{ r: HttpResult; error?: ProbeError }> => {
      const headers: Record<string, string> = {
        'x-drainwatch-probe': pid,
        accept: 'application/json',
        ...credentials(path),
      };
      if (body !== undefined) headers['content-type'] = 'application/json';
      const r = await client.send({
        method,
        path,
        headers,
        wantBody: kind !== 'traffic',
        ...(body !== undefined ? { body } : {}),
      });
      account(r, path);
      let error: ProbeError | undefined = r.error ?? statusError(r.status ?? 0);
      if (!error && kind === 'identity' && !identityHolds(r.body)) error = 'identity-mismatch';
      return { r, ...(error ? { error } : {}) };
    };
    const first = await attempt(probeId);
    // Scores use raw results: a retry is counted in `retried`, never as another request.
    counters.requests += 1;
    ctx.recordLatency(first.r.durationMs);
    let retry: { ok: boolean; status?: number } | undefined;
    if (first.error) {
      counters.failed += 1;
      bump(counters.errorsByKind, first.error);
      if (config.retryOnce && RETRYABLE.has(first.error) && !ctx.signal.aborted) {
        const second = await attempt(`${probeId}.r`);
        counters.retried += 1;
        if (!second.error) counters.retriedOk += 1;
        retry = { ok: !second.error, ...(second.r.status ? { status: second.r.status } : {}) };
      }
    }
    const r = first.r;
    // Building the event costs more than the request itself; skip it when nothing is published.
    if (ctx.publishing)
      ctx.emit('probe.request', {
        probeId,
        runId: config.runId,
        sessionId: id,
        kind,
        method,
        // The scenario's path may carry a token in its query: only the path leaves the probe.
        route: routeOf(route),
        ok: !first.error,
        ...(r.status ? { status: r.status } : {}),
        ...(first.error ? { error: first.error } : {}),
        ...(r.pod ? { pod: r.pod } : {}),
        connection: r.connection,
        startedAt: new Date(startedAt).toISOString(),
        durationMs: r.durationMs,
        ...(retry ? { retry } : {}),
      });
    return { ...(first.error ? { error: first.error } : {}), result: r, probeId };
  }

  function identityHolds(body: string | undefined): boolean {
    let parsed: unknown;
    try {
      parsed = JSON.parse(body ?? '');
    } catch {
      return false;
    }
    return Object.entries(expected).every(([k, v]) => String(fieldAt(parsed, k)) === v);
  }

  async function login(): Promise<boolean> {
    const { method, path } = scenario.login;
    const out = await request('login', method, path, method === 'GET' ? undefined : loginBody);
    if (out.error) return false;
    if (bearerField) {
      let t: unknown;
      try {
        t = fieldAt(JSON.parse(out.result.body ?? ''), bearerField);
      } catch {
        t = undefined;
      }
      if (typeof t !== 'string' || !t) return false;
      token = t;
    }
    if (scenario.login.cookie && !jar.has(scenario.login.cookie)) return false;
    loggedIn = true;
    issuedBy = out.result.pod;
    counters.sessionsActive += 1;
    if (!started) {
      started = true;
      counters.sessionsStarted += 1;
    }
    ctx.emit('probe.session', {
      runId: config.runId,
      sessionId: id,
      event: 'login',
      ...(issuedBy ? { issuedBy } : {}),
      at: new Date(ctx.clock.now()).toISOString(),
    });
    return true;
  }

  /** A loss counts once: the session is logged out until its next login succeeds. */
  function lose(reason: ProbeError, out: Outcome): void {
    if (!loggedIn) return;
    loggedIn = false;
    token = undefined;
    recordSessionLoss(
      ctx,
      {
        sessionId: id,
        reason,
        ...(issuedBy ? { issuedBy } : {}),
        ...(out.result.pod ? { pod: out.result.pod } : {}),
        probeId: out.probeId,
      },
      !everLost,
    );
    everLost = true;
  }

  const jittered = (): number => meanIntervalMs * (0.5 + Math.random());

  async function run(): Promise<void> {
    let loginFailures = 0;
    let nextIdentityAt = 0;
    while (!ctx.signal.aborted) {
      if (!loggedIn) {
        const ok = await login();
        if (ctx.signal.aborted) break;
        if (!ok) {
          loginFailures += 1;
          await wait(Math.min(5000, 100 * 2 ** Math.min(loginFailures, 6)) * (0.5 + Math.random()));
          continue;
        }
        loginFailures = 0;
        nextIdentityAt = ctx.clock.now() + config.identityIntervalMs * Math.random();
        socket?.ensure();
        await wait(jittered());
        continue;
      }
      let out: Outcome;
      if (ctx.clock.now() >= nextIdentityAt) {
        nextIdentityAt = ctx.clock.now() + config.identityIntervalMs;
        out = await request('identity', 'GET', scenario.identity.path);
      } else {
        const route = pickRoute(scenario.traffic, trafficTotal);
        out = await request(
          'traffic',
          route.method,
          route.path,
          route.body ? JSON.stringify(fillTemplate(route.body, user.name)) : undefined,
        );
      }
      if (out.error === 'unauthorized' || out.error === 'identity-mismatch') {
        // Log in again at once: a user would be sent to the login page now, not later.
        lose(out.error, out);
        continue;
      }
      await wait(jittered());
    }
    if (socket) await socket.stop();
    if (loggedIn) counters.sessionsActive -= 1;
    if (started) {
      ctx.emit('probe.session', {
        runId: config.runId,
        sessionId: id,
        event: 'end',
        ...(issuedBy ? { issuedBy } : {}),
        at: new Date(ctx.clock.now()).toISOString(),
      });
    }
    await client.close();
  }

  return {
    id,
    run,
    wake,
    get pods() {
      return { answered, pods: podsSeen.size };
    },
    socket,
    get started() {
      return started;
    },
  };
}
