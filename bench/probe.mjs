// How many sessions one probe process sustains against a trivial local target while its own
// event-loop lag stays under 50 ms. Stages of growing size, each ramped then measured; prints the
// sustained req/s against the offered rate (sessions × rate) of the same stage, WebSocket message
// throughput and the probe's event-loop lag. Bounded: every stage ends by itself, total < 2 min.
//
//   npm run build && node bench/probe.mjs [--stages 2500:500,5000:1000,10000:2000] [--rate 0.35] [--measure 12]
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { createInterface } from 'node:readline';
import { createProbeRun } from '../dist/probe/index.js';

const arg = (name, fallback) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? process.argv[i + 1] : fallback;
};
const stages = arg('stages', '2500:500,5000:1000,10000:2000')
  .split(',')
  .map((s) => s.split(':').map(Number));
const rate = Number(arg('rate', '0.35'));
const measureMs = Number(arg('measure', '12')) * 1000;
const LAG_BUDGET_MS = 50;

const target = spawn(process.execPath, [new URL('./probe-target.mjs', import.meta.url).pathname], {
  stdio: ['pipe', 'pipe', 'inherit'],
});
const [portLine] = await once(createInterface({ input: target.stdout }), 'line');
const url = `http://127.0.0.1:${portLine.trim()}`;
console.log(
  `target ${url} (pid ${target.pid}); rate ${rate} req/s per session, ${measureMs / 1000} s measured per stage`,
);
console.log(
  'sessions  ws     offered  sustained  ratio  ws-acks/s  lost  lag-max(ms)  lag-ramp(ms)  failed  cpu   µs/req    verdict',
);

const sleep = (ms) => new Promise((r) => setTimeout(r, ms).unref());
const results = [];
for (const [sessions, websockets] of stages) {
  const rampMs = Math.min(10_000, sessions);
  const run = createProbeRun({
    target: url,
    sessions,
    websockets,
    ratePerSession: rate,
    identityIntervalMs: 10_000,
    wsPingIntervalMs: 1000,
    rampMs,
    progressIntervalMs: 500,
  });
  let steadyLag = 0;
  let measuring = false;
  run.onProgress((s) => {
    if (measuring) steadyLag = Math.max(steadyLag, s.loopLagMs);
  });
  await run.start();
  // Ramp, then a couple of seconds for the first requests of the last sessions to land.
  await sleep(rampMs + 3000);
  const a = run.snapshot();
  const cpuA = process.cpuUsage();
  measuring = true;
  await sleep(measureMs);
  const b = run.snapshot();
  const cpu = process.cpuUsage(cpuA);
  measuring = false;
  const summary = await run.stop();
  const secs = (b.elapsedMs - a.elapsedMs) / 1000;
  const sustained = (b.requests - a.requests) / secs;
  const acks = (b.websockets.messagesAcked - a.websockets.messagesAcked) / secs;
  const offered = sessions * rate;
  // CPU per request does not depend on how loaded the machine is, unlike lag and throughput.
  const cpuMs = (cpu.user + cpu.system) / 1000;
  const cpuShare = cpuMs / (secs * 1000);
  const usPerReq = (cpuMs * 1000) / Math.max(1, b.requests - a.requests);
  const ok = steadyLag < LAG_BUDGET_MS && sustained >= 0.9 * offered;
  results.push({ sessions, websockets, sustained, steadyLag, ok });
  console.log(
    [
      String(sessions).padEnd(9),
      String(websockets).padEnd(6),
      offered.toFixed(0).padEnd(8),
      sustained.toFixed(0).padEnd(10),
      (sustained / offered).toFixed(2).padEnd(6),
      acks.toFixed(0).padEnd(10),
      String(summary.websockets.messagesLost).padEnd(5),
      String(steadyLag).padEnd(12),
      String(summary.maxLoopLagMs).padEnd(13),
      String(summary.failed).padEnd(7),
      `${(cpuShare * 100).toFixed(0)}%`.padEnd(5),
      usPerReq.toFixed(0).padEnd(9),
      ok ? 'sustained' : 'NOT sustained',
    ].join(' '),
  );
}
target.stdin.end();
await once(target, 'exit');
console.log(
  'cpu = probe process CPU as a share of one core while measuring; µs/req = that CPU per HTTP request (WebSocket work included)',
);
const best = results.filter((r) => r.ok).at(-1);
console.log(
  best
    ? `largest stage sustained with lag < ${LAG_BUDGET_MS} ms: ${best.sessions} sessions incl. ${best.websockets} WebSockets at ${best.sustained.toFixed(0)} req/s`
    : `no stage sustained with lag < ${LAG_BUDGET_MS} ms`,
);
console.log('(figures from a shared 2-core machine; re-run on an idle one for the README)');
