#!/usr/bin/env node
// bench/agent: the agent's cost as a reverse proxy, against the app direct and nginx (one worker)
// in the same run on the same machine. Prints req/s, p50/p99 latency at a fixed 1,000 req/s, the
// ratios, and the agent's RSS with 1,000 keep-alive connections and with 1,000 WebSockets.
// Needs `npm run build` first (runs dist/cli/main.js). Finishes in well under 2 minutes.
import { fileURLToPath } from 'node:url';
import { startNatsServer } from '../dist/lib/servers.js';
import {
  fixedRateLatency,
  maxThroughput,
  openKeepAlive,
  openWebSockets,
  rssMb,
  spawnUntil,
  startNginx,
  stop,
} from './lib/agent-bench-lib.mjs';

const DURATION_S = Number(process.env.BENCH_DURATION_S ?? 5);
const RATE = 1000;
const cli = fileURLToPath(new URL('../dist/cli/main.js', import.meta.url));
const appScript = fileURLToPath(new URL('./lib/agent-bench-app.mjs', import.meta.url));

const fmt = (n, d = 2) => (Number.isFinite(n) ? n.toFixed(d) : 'n/a');

async function main() {
  const nats = await startNatsServer();
  const app = await spawnUntil(process.execPath, [appScript], { PORT: '0' }, /listening (\d+)/);
  const appPort = Number(app.match[1]);
  const agent = await spawnUntil(
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
  const agentPort = Number(agent.match[1]);
  const nginx = await startNginx(appPort);
  const targets = [
    ['direct', appPort],
    ['agent', agentPort],
    ['nginx', nginx.port],
  ];
  const results = {};
  try {
    const idleRss = rssMb(agent.child.pid);
    for (const [name, port] of targets) {
      const url = `http://127.0.0.1:${port}/`;
      const tp = await maxThroughput(url, { durationS: DURATION_S });
      const lat = await fixedRateLatency(url, { rate: RATE, durationS: DURATION_S });
      results[name] = { ...tp, ...lat };
      process.stderr.write(
        `${name}: ${fmt(tp.rps, 0)} req/s, p50 ${fmt(lat.p50, 3)} ms, p99 ${fmt(lat.p99, 3)} ms\n`,
      );
    }
    const closeKa = await openKeepAlive(agentPort, 1000);
    const kaRss = rssMb(agent.child.pid);
    closeKa();
    const closeWs = await openWebSockets(agentPort, 1000);
    const wsRss = rssMb(agent.child.pid);
    closeWs();

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
      `| agent ÷ nginx throughput | ${fmt(a.rps / n.rps)}× | ≥ 0.6× |`,
      `| agent ÷ direct throughput | ${fmt(a.rps / d.rps)}× | — |`,
      `| added p50 vs direct @${RATE}/s | ${fmt(a.p50 - d.p50, 3)} ms | ≤ 0.5 ms |`,
      `| added p99 vs direct @${RATE}/s | ${fmt(a.p99 - d.p99, 3)} ms | ≤ 1 ms |`,
      `| nginx added p50 / p99 | ${fmt(n.p50 - d.p50, 3)} / ${fmt(n.p99 - d.p99, 3)} ms | — |`,
      `| agent RSS idle | ${fmt(idleRss, 1)} MB | — |`,
      `| agent RSS, 1,000 keep-alive connections | ${fmt(kaRss, 1)} MB | ≤ 80 MB |`,
      `| agent RSS, 1,000 open WebSockets | ${fmt(wsRss, 1)} MB | ≤ 80 MB |`,
      '',
      `max throughput: ${a.tool}, 64 connections, ${DURATION_S} s per target; latency: open-loop ${RATE} req/s for ${DURATION_S} s over 32 keep-alive connections, timed with hrtime.`,
    ];
    process.stdout.write(`${lines.join('\n')}\n`);
  } finally {
    await stop(agent.child);
    await nginx.stop();
    await stop(app.child);
    await nats.stop();
  }
}

const timer = setTimeout(() => {
  process.stderr.write('bench/agent: gave up after 2 minutes\n');
  process.exit(1);
}, 120_000);
timer.unref();
await main();
