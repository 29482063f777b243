// A synthetic rollout's stored facts (the shape ReportStore.facts returns), for the timeline's
// size test and bench: `pods` pods (half replaced by the other half), `requests` probe requests
// spread over `seconds`, failures of several causes, WebSocket closes. Deterministic per seed.

function rng(seed) {
  let s = seed >>> 0 || 1;
  return () => {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    return (s >>> 0) / 2 ** 32;
  };
}

export function syntheticFacts({
  pods = 12,
  requests = 10_000,
  seconds = 60,
  sessions = 200,
  seed = 7,
} = {}) {
  const rand = rng(seed);
  const t0 = Date.parse('2026-11-30T10:00:00.000Z');
  const iso = (ms) => new Date(ms).toISOString();
  const old = Math.ceil(pods / 2);
  const step = (seconds * 1000 - 10_000) / old;
  const lives = [];
  for (let k = 0; k < old; k++) {
    const term = t0 + 3000 + k * step;
    lives.push({
      pod: `web-old-${k}`,
      up: t0 - 60_000,
      term,
      propagationMs: 1500 + k * 800,
      sigterm: term + 2000,
      stopped: term + 2500,
      exit: term + 4000 + (k === old - 1 ? 3000 : 0),
      killed: k === old - 1,
    });
  }
  for (let k = 0; k < pods - old; k++) {
    lives.push({ pod: `web-new-${k}`, up: t0 + 1000 + k * step, term: null });
  }
  const timelines = new Map();
  const terminations = [];
  const terminationStartByPod = new Map();
  let id = 0;
  const ev = (pod, instance, kind, ms, data) => ({
    id: `e${id++}`,
    kind,
    time: iso(ms),
    instance,
    seq: id,
    pod,
    data,
  });
  for (const l of lives) {
    if (l.term === null) continue;
    const inst = `${l.pod}-agent`;
    terminations.push({ pod: l.pod, instance: inst, startMs: l.term });
    terminationStartByPod.set(l.pod, l.term);
    timelines.set(l.pod, [
      ev(l.pod, inst, 'agent.started', l.up, {}),
      ev(l.pod, inst, 'prestop.started', l.term, { mode: 'fixed', inFlight: 3, websockets: 2 }),
      ev(l.pod, 'adapter', 'endpoints.propagated', l.term + l.propagationMs, {
        deletionAt: iso(l.term),
        terminatingAt: iso(l.term),
        propagationMs: l.propagationMs,
        via: 'synthetic',
      }),
      ev(l.pod, inst, 'prestop.finished', l.sigterm, {
        mode: 'fixed',
        durationMs: 2000,
        reason: 'fixed-elapsed',
        requestsDuring: 40,
        inFlight: 2,
      }),
      ev(l.pod, inst, 'sigterm', l.sigterm, {
        appRunning: true,
        phase: 'draining',
        inFlight: 2,
        websockets: 2,
      }),
      ev(l.pod, inst, 'app.stopped-listening', l.stopped, { phase: 'draining', inFlight: 1 }),
      ev(l.pod, inst, 'app.exited', l.exit, {
        code: l.killed ? null : 0,
        signal: l.killed ? 'SIGKILL' : null,
        killedAtGrace: l.killed,
        detectedBy: 'process',
        inFlight: 0,
      }),
    ]);
  }
  const probes = [];
  const agentRequests = new Map();
  const logins = new Map();
  for (let i = 0; i < requests; i++) {
    const at = t0 + Math.floor((i / requests) * seconds * 1000);
    const session = `s${Math.floor(rand() * sessions)}`;
    // Routed to a pod that is up, or whose deletion has not propagated yet.
    const routable = lives.filter((l) => l.up <= at && (l.term === null || at < l.term + l.propagationMs));
    const l = routable[Math.floor(rand() * routable.length)];
    const probeId = `p${i}`;
    const durationMs = 5 + Math.floor(rand() * 80);
    let ok = true;
    let error;
    let status = 200;
    if (l.term !== null && at >= l.exit) {
      ok = false;
      error = 'refused';
      status = undefined;
    } else if (l.term !== null && at >= l.stopped) {
      ok = false;
      error = 'reset';
      status = undefined;
      const startedAt = iso(at);
      agentRequests.set(probeId, {
        requestId: `r${i}`,
        probeId,
        method: 'GET',
        route: '/quote',
        arrivalPhase: 'draining',
        endPhase: 'draining',
        outcome: 'upstream-reset',
        durationMs,
        connection: 'reused',
        lateArrival: false,
        startedAt,
        pod: l.pod,
        instance: `${l.pod}-agent`,
        time: startedAt,
      });
    } else if (rand() < 0.002) {
      ok = false;
      error = '5xx';
      status = 503;
    }
    probes.push({
      id: `q${i}`,
      kind: 'probe.request',
      time: iso(at + durationMs),
      data: {
        probeId,
        runId: 'run',
        sessionId: session,
        kind: 'traffic',
        method: 'GET',
        route: '/quote',
        ok,
        ...(status ? { status } : {}),
        ...(error ? { error } : {}),
        ...(ok || error !== 'refused' ? { pod: l.pod } : {}),
        connection: 'reused',
        startedAt: iso(at),
        durationMs,
      },
    });
  }
  for (const l of lives) {
    if (l.term === null) continue;
    for (let w = 0; w < 3; w++) {
      const at = l.sigterm + 300 + w * 400;
      probes.push({
        id: `w${id++}`,
        kind: 'probe.websocket',
        time: iso(at),
        data: {
          runId: 'run',
          sessionId: `s${w}`,
          connectionId: `c${id}`,
          event: 'closed',
          code: l.killed ? 1006 : 1001,
          pod: l.pod,
          at: iso(at),
        },
      });
    }
  }
  return {
    rollout: {
      id: `ro-synthetic-${pods}x${requests}`,
      namespace: 'bench',
      workload: 'web',
      trigger: 'cli',
      startedAt: t0,
      finishedAt: t0 + seconds * 1000,
      outcome: 'complete',
      podsReplaced: old,
    },
    terminations,
    terminationStartByPod,
    timelines,
    seqs: new Map(),
    probes,
    agentRequests,
    logins,
    traffic: [],
  };
}
