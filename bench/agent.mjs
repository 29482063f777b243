#!/usr/bin/env node
// bench/agent: the agent's cost as a reverse proxy, against the app direct and nginx (one worker)
// in the same run on the same machine. Prints req/s, p50/p99 latency at a fixed 1,000 req/s, the
// ratios, the CPU time per proxied request of the agent and of nginx (from /proc/<pid>/stat, the
// figure to compare on a shared machine), and the agent's RSS with 1,000 keep-alive connections
// and with 1,000 WebSockets.
// On a 2-core machine the load generator, the app and the proxy share the cores, so one run
// swings by ±15 %: the targets are measured in several interleaved rounds (the order rotates)
// and the medians are compared, with the per-round range of the ratio printed beside them.
// Needs `npm run build` first (runs dist/cli/main.js). Finishes in about 2 minutes.
import { fileURLToPath } from 'node:url';
import { startNatsServer } from '../dist/lib/servers.js';
import {
  cpuMicros,
  fixedRateLatency,
  maxThroughput,
  openKeepAlive,
  openWebSockets,
  rssMb,
  spawnUntil,
  startNginx,
  stop,
  withChildren,
} from './lib/agent-bench-lib.mjs';
import { grpcFixedRateLatency, grpcMaxThroughput, startGrpcNginx } from './lib/grpc-bench-lib.mjs';

const DURATION_S = Number(process.env.BENCH_DURATION_S ?? 4);
const ROUNDS = Math.max(1, Number(process.env.BENCH_ROUNDS ?? 3));
const RATE = 1000;
const cli = fileURLToPath(new URL('../dist/cli/main.js', import.meta.url));
const appScript = fileURLToPath(new URL('./lib/agent-bench-app.mjs', import.meta.url));
const grpcAppScript = fileURLToPath(new URL('./lib/grpc-bench-app.mjs', import.meta.url));
// BENCH_ONLY=http or BENCH_ONLY=grpc runs one part; both by default.
const ONLY = process.env.BENCH_ONLY ?? '';

const fmt = (n, d = 2) => (Number.isFinite(n) ? n.toFixed(d) : 'n/a');
const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};

const startAgentFor = (natsUrl, upstreamPort) =>
  spawnUntil(
    process.execPath,
    [cli, 'agent'],
    {
      DRAINWATCH_LISTEN: '127.0.0.1:0',
      DRAINWATCH_ADMIN: '127.0.0.1:0',
      DRAINWATCH_UPSTREAM: `127.0.0.1:${upstreamPort}`,
      NATS_URL: natsUrl,
      POD_NAME: 'bench-agent',
      NODE_OPTIONS: process.env.AGENT_NODE_OPTIONS ?? '',
    },
    /traffic=127\.0\.0\.1:(\d+) admin=/,
  );

/**
 * The h2c/gRPC row: unary calls/s (h2load, closed loop) and p50/p99 at RATE calls/s (grpc-js,
 * open loop) for the gRPC app direct, through the agent and through nginx's grpc_pass, in
 * interleaved rounds; CPU per call of the agent and of nginx. Returns the table's lines.
 */
async function grpcRows(natsUrl) {
  const app = await spawnUntil(process.execPath, [grpcAppScript], { PORT: '0' }, /listening (\d+)/);
  const appPort = Number(app.match[1]);
  const agent = await startAgentFor(natsUrl, appPort);
  const nginx = await startGrpcNginx(appPort);
  const targets = [
    ['direct', appPort],
    ['agent', Number(agent.match[1])],
    ['nginx', nginx.port],
  ];
  // nginx's worker is forked after the master listens: list its children when measuring.
  const pids = {
    direct: () => [],
    agent: () => [agent.child.pid],
    nginx: () => withChildren(nginx.child.pid),
  };
  const runs = { direct: [], agent: [], nginx: [] };
  try {
    for (let round = 0; round < ROUNDS; round += 1) {
      for (let k = 0; k < targets.length; k += 1) {
        const [name, port] = targets[(k + round) % targets.length];
        const measured = pids[name]();
        const cpuBefore = cpuMicros(measured);
        const tp = await grpcMaxThroughput(port, { durationS: DURATION_S });
        const cpu = (cpuMicros(measured) - cpuBefore) / tp.requests;
        const lat = await grpcFixedRateLatency(port, { rate: RATE, durationS: DURATION_S });
        runs[name].push({ ...tp, ...lat, cpu, genCpu: tp.generatorCpuMicros / tp.requests });
        process.stderr.write(
          `grpc round ${round + 1}/${ROUNDS} ${name}: ${fmt(tp.rps, 0)} calls/s, p50 ${fmt(lat.p50, 3)} ms, p99 ${fmt(lat.p99, 3)} ms, ${fmt(cpu, 1)} µs CPU/call\n`,
        );
      }
    }
  } finally {
    await stop(agent.child);
    await nginx.stop();
    await stop(app.child);
  }
  const m = (name, f) => median(runs[name].map(f));
  const r = Object.fromEntries(
    Object.keys(runs).map((k) => [
      k,
      {
        rps: m(k, (x) => x.rps),
        p50: m(k, (x) => x.p50),
        p99: m(k, (x) => x.p99),
        cpu: m(k, (x) => x.cpu),
        genCpu: m(k, (x) => x.genCpu),
        errors: runs[k].reduce((n, x) => n + x.errors + x.latencyErrors, 0),
      },
    ]),
  );
  const range = (f) => {
    const xs = runs.agent.map((a, i) => f(a, runs.nginx[i], runs.direct[i]));
    return `${fmt(Math.min(...xs))}–${fmt(Math.max(...xs))}`;
  };
  const { direct: d, agent: a, nginx: n } = r;
  // Latency at RATE means nothing when the machine cannot serve twice that bare: the open-loop
  // calls queue in the generator and the figures measure the queue (rule: overloaded = inconclusive).
  const overloaded = d.rps < 2 * RATE;
  const lat = (v) => (overloaded ? 'inconclusive' : fmt(v, 3));
  return [
    '| gRPC unary (h2c) | calls/s (max) | p50 @' + RATE + '/s ms | p99 @' + RATE + '/s ms | errors |',
    '|---|---|---|---|---|',
    ...['direct', 'agent', 'nginx'].map(
      (k) => `| ${k} | ${fmt(r[k].rps, 0)} | ${lat(r[k].p50)} | ${lat(r[k].p99)} | ${r[k].errors} |`,
    ),
    '',
    '| gRPC ratio | value | target |',
    '|---|---|---|',
    `| agent ÷ nginx calls/s (median; per-round range) | ${fmt(a.rps / n.rps)}× (${range((x, y) => x.rps / y.rps)}) | — |`,
    overloaded
      ? `| added p99 vs direct @${RATE}/s, agent | inconclusive: direct served only ${fmt(d.rps, 0)} calls/s (< 2 × ${RATE}), the machine is overloaded | ≤ 1 ms |`
      : `| added p99 vs direct @${RATE}/s, agent (median; per-round range) | ${fmt(a.p99 - d.p99, 3)} ms (${range((x, _y, z) => x.p99 - z.p99)}) | ≤ 1 ms |`,
    `| added p50 / p99 vs direct @${RATE}/s, nginx | ${lat(n.p50 - d.p50)} / ${lat(n.p99 - d.p99)} ms | — |`,
    `| CPU per call, agent / nginx (median) | ${fmt(a.cpu, 1)} / ${fmt(n.cpu, 1)} µs | — |`,
    `| agent ÷ nginx CPU per call (median; per-round range) | ${fmt(a.cpu / n.cpu)}× (${range((x, y) => x.cpu / y.cpu)}) | ≤ 1.5× |`,
    `| load generator (h2load) CPU per call, direct / agent / nginx | ${fmt(d.genCpu, 1)} / ${fmt(a.genCpu, 1)} / ${fmt(n.genCpu, 1)} µs | — |`,
    '',
    `gRPC: medians of ${ROUNDS} interleaved rounds; max calls/s: h2load (nghttp2, one thread), 8 h2c connections × 8 concurrent streams, ${DURATION_S} s per target, a 16-byte message to a unary echo method (@grpc/grpc-js server); latency: open-loop ${RATE} calls/s for ${DURATION_S} s (after 1 s, discarded) from one grpc-js channel, call to status; CPU: utime+stime of the agent, or nginx's master and worker, over the h2load run divided by the calls that got a 200; the generator's own CPU (from /usr/bin/time) is reported apart. nginx: one worker, \`listen … http2\` + \`grpc_pass grpc://…\` with a keep-alive upstream.`,
  ];
}

async function main() {
  const nats = await startNatsServer();
  if (ONLY === 'grpc') {
    try {
      process.stdout.write(`${(await grpcRows(nats.url)).join('\n')}\n`);
    } finally {
      await nats.stop();
    }
    return;
  }
  const app = await spawnUntil(process.execPath, [appScript], { PORT: '0' }, /listening (\d+)/);
  const appPort = Number(app.match[1]);
  const startAgent = () =>
    spawnUntil(
      process.execPath,
      [cli, 'agent'],
      {
        DRAINWATCH_LISTEN: '127.0.0.1:0',
        DRAINWATCH_ADMIN: '127.0.0.1:0',
        DRAINWATCH_UPSTREAM: `127.0.0.1:${appPort}`,
        NATS_URL: nats.url,
        POD_NAME: 'bench-agent',
        // V8 flags for the agent alone (e.g. --max-semi-space-size=1 to trade GC work for RSS).
        NODE_OPTIONS: process.env.AGENT_NODE_OPTIONS ?? '',
      },
      /traffic=127\.0\.0\.1:(\d+) admin=/,
    );
  const agent = await startAgent();
  const agentPort = Number(agent.match[1]);
  const nginx = await startNginx(appPort);
  const targets = [
    ['direct', appPort],
    ['agent', agentPort],
    ['nginx', nginx.port],
  ];
  const runs = { direct: [], agent: [], nginx: [] };
  // The processes whose CPU time the proxied requests cost (the app's is the same for both).
  const proxyPids = { direct: [], agent: [agent.child.pid], nginx: withChildren(nginx.child.pid) };
  try {
    const idleRss = rssMb(agent.child.pid);
    for (let round = 0; round < ROUNDS; round += 1) {
      for (let k = 0; k < targets.length; k += 1) {
        const [name, port] = targets[(k + round) % targets.length];
        const url = `http://127.0.0.1:${port}/`;
        const cpuBefore = cpuMicros(proxyPids[name]);
        const tp = await maxThroughput(url, { durationS: DURATION_S });
        const cpuPerRequest = (cpuMicros(proxyPids[name]) - cpuBefore) / tp.requests;
        const lat = await fixedRateLatency(url, { rate: RATE, durationS: DURATION_S });
        runs[name].push({ ...tp, ...lat, cpuPerRequest });
        process.stderr.write(
          `round ${round + 1}/${ROUNDS} ${name}: ${fmt(tp.rps, 0)} req/s, p50 ${fmt(lat.p50, 3)} ms, p99 ${fmt(lat.p99, 3)} ms\n`,
        );
      }
    }
    const results = {};
    for (const [name, rs] of Object.entries(runs)) {
      results[name] = {
        rps: median(rs.map((r) => r.rps)),
        p50: median(rs.map((r) => r.p50)),
        p99: median(rs.map((r) => r.p99)),
        cpu: median(rs.map((r) => r.cpuPerRequest)),
        errors: rs.reduce((n, r) => n + r.errors, 0),
        tool: rs[0].tool,
      };
    }
    const perRound = (f) => {
      const xs = runs.agent.map((a, i) => f(a, runs.nginx[i], runs.direct[i]));
      return `${fmt(Math.min(...xs))}–${fmt(Math.max(...xs))}`;
    };
    // Each memory state on its own agent, after the same warm-up load: measured one after the
    // other, the second would also carry the first's closed connections until a full GC ran.
    const rssWith = async (open) => {
      const fresh = await startAgent();
      try {
        const port = Number(fresh.match[1]);
        await maxThroughput(`http://127.0.0.1:${port}/`, { durationS: DURATION_S });
        const close = await open(port, 1000);
        const rss = rssMb(fresh.child.pid);
        close();
        return rss;
      } finally {
        // SIGTERM would make it wait for the app as a classic sidecar does; this one is done.
        const exited = new Promise((r) => fresh.child.once('exit', r));
        fresh.child.kill('SIGKILL');
        await exited;
      }
    };
    const kaRss = await rssWith(openKeepAlive);
    const wsRss = await rssWith(openWebSockets);

    const d = results.direct;
    const a = results.agent;
    const n = results.nginx;
    const rows = [
      ['target', 'req/s (max)', `p50 @${RATE}/s ms`, `p99 @${RATE}/s ms`, 'errors'],
      ...['direct', 'agent', 'nginx'].map((k) => [
        k,
        fmt(results[k].rps, 0),
        fmt(results[k].p50, 3),
        fmt(results[k].p99, 3),
        String(results[k].errors),
      ]),
    ];
    const lines = [
      '| ' + rows[0].join(' | ') + ' |',
      '|' + rows[0].map(() => '---').join('|') + '|',
      ...rows.slice(1).map((r) => '| ' + r.join(' | ') + ' |'),
      '',
      `| ratio / memory | value | target |`,
      `|---|---|---|`,
      `| agent ÷ nginx throughput (median; per-round range) | ${fmt(a.rps / n.rps)}× (${perRound((x, y) => x.rps / y.rps)}) | ≥ 0.6× |`,
      `| agent ÷ direct throughput | ${fmt(a.rps / d.rps)}× | — |`,
      `| added p50 vs direct @${RATE}/s | ${fmt(a.p50 - d.p50, 3)} ms | ≤ 0.5 ms |`,
      `| added p99 vs direct @${RATE}/s (median; per-round range) | ${fmt(a.p99 - d.p99, 3)} ms (${perRound((x, _y, z) => x.p99 - z.p99)}) | ≤ 1 ms |`,
      `| nginx added p50 / p99 | ${fmt(n.p50 - d.p50, 3)} / ${fmt(n.p99 - d.p99, 3)} ms | — |`,
      `| CPU per proxied request, agent / nginx (median) | ${fmt(a.cpu, 1)} / ${fmt(n.cpu, 1)} µs | — |`,
      `| agent ÷ nginx CPU per request (median; per-round range) | ${fmt(a.cpu / n.cpu)}× (${perRound((x, y) => x.cpuPerRequest / y.cpuPerRequest)}) | — |`,
      `| agent RSS idle | ${fmt(idleRss, 1)} MB | — |`,
      `| agent RSS, 1,000 keep-alive connections | ${fmt(kaRss, 1)} MB | ≤ 80 MB |`,
      `| agent RSS, 1,000 open WebSockets | ${fmt(wsRss, 1)} MB | ≤ 80 MB |`,
      '',
      `medians of ${ROUNDS} interleaved rounds; max throughput: ${a.tool}, 64 connections, ${DURATION_S} s per target; latency: open-loop ${RATE} req/s for ${DURATION_S} s (after 1 s at that rate, discarded) over 32 keep-alive connections, timed with hrtime; CPU: utime+stime of the agent process and of nginx's master and worker over the max-throughput run, divided by the requests wrk counted; RSS: a fresh agent per state, after ${DURATION_S} s of the max-throughput load, then 1,000 keep-alive connections or 1,000 WebSockets held open.`,
    ];
    if (ONLY !== 'http') lines.push('', ...(await grpcRows(nats.url)));
    process.stdout.write(`${lines.join('\n')}\n`);
  } finally {
    await stop(agent.child);
    await nginx.stop();
    await stop(app.child);
    await nats.stop();
  }
}

const timer = setTimeout(() => {
  process.stderr.write('bench/agent: gave up after 8 minutes\n');
  process.exit(1);
}, 480_000);
timer.unref();
await main();
