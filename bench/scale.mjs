#!/usr/bin/env node
// Scale bench: many pods of many workloads terminating at once, 1 and 2 collector replicas,
// against a real nats-server and redis-server on loopback.
//   npm run build && node bench/scale.mjs [--pods 2000] [--workloads 100] [--seconds 60]
//        [--requests 293] [--quiet 10s] [--collectors 1,2] [--publishers 2] [--prefill]
//        [--semi-space 32] [--publish core|ack] [--request-batch 100ms]
// Simulated agents (worker threads) publish each pod's termination as the agent does, built with
// the contract's event builder: prestop.started, `--requests` request records spread over the
// pod's 5 s drain, traffic.summary, prestop.finished, sigterm, app.stopped-listening, app.exited,
// drain.summary. Pods start their termination spread over `--seconds`, evenly per workload (so
// each workload's pods form one preStop-opened rollout, closed by the quiet timeout). Each event is
// stamped with its publish time. The defaults (2,000 pods × 300 events in 60 s) make 10,000
// events/s.
// --request-batch <duration> (the repo's duration grammar; default 100ms, as the agent's
// `--request-batch`; 0: off, each record its own `request` event): the request records are sent
// as the agent batches them (bench/lib/scale-batches.mjs): a record ending while no window is
// open opens one for that long; records ending in it join it; it is flushed at expiry, at
// MAX_REQUEST_BATCH_RECORDS (100) records, before its records' JSON would pass 48 KiB, and before
// any other event of the pod. A flush of one record is a plain `request` stamped with the record's
// end; of more, a `request.batch` stamped with its flush time, each record's `at` its end. The
// grouping is computed in the script's times, so a pod's messages are the same in real time and
// with --prefill; in real time each message is published at its flush time.
// So the bench counts two things. Observations: the pods' events and request records, 300 per pod
// at the defaults whatever the batching (what the bench called events before batching). Messages:
// what JetStream carries and the collector's eventsApplied counts; with batching one message
// carries several observations (about 5 at the defaults). Both are printed, so that neither figure
// is read for the other.
// Each collector replica runs in its own process (bench/lib/scale-collector.mjs) so its CPU time
// is its own. Printed per replica count:
// - messages applied / published (they must be equal: each applied once) and the observations
//   they carry; how many were batches, of how many records, and plain requests of a one-record
//   window;
// - rate: observations/s and messages/s published, and applied (÷ seconds from the first publish
//   to the last message applied);
// - lag per observation: the collector's onApplied time minus a record's end (its `at` in a batch)
//   or an event's time, so it includes the batching window's wait; judged against the target;
// - lag per message: onApplied time minus the message's time, i.e. publish -> applied (a plain
//   request of a one-record window carries its end, a few ms before its flush);
// - report closed: for each rollout, when this bench first saw it closed (polling the open
//   rollouts in Redis every 100 ms) minus (its last activity + the quiet timeout);
// - per collector CPU-second: observations and messages applied ÷ the replicas' CPU seconds (user
//   + system, from start until every message was applied). The target (>= 40,000) is stated for the
//   bench's events, so it is judged in observations; the messages figure is printed and judged
//   beside it (with --request-batch 0 the two are the same).
// --prefill: the events are all published first, as fast as the publishers go, and the replicas
// start only then and drain the stream: the CPU figure is then the collector's alone, without
// publishers competing for the cores (on a 2-core machine the full-rate run measures the machine's
// saturation). Lag and close figures mean nothing in that mode (the events are old when applied).
// --semi-space MiB: the replicas' --max-semi-space-size, 32 as the collector image runs them
// (0: Node's default, 16 MiB at most on 64-bit).
// --publish: `ack` publishes as the agent does (JetStream publish, each acknowledgement awaited, in
// windows of 2,000); `core` (default) sends the same messages, with the same Nats-Msg-Id, as core
// NATS publishes that JetStream stores without an acknowledgement to wait for. On this 2-core
// machine `ack` costs the publishers about 120 µs of CPU per message, more than the collector, and
// 10,000 messages/s then leaves the collector no core; agents spread that cost over the cluster's
// nodes. Every message is still checked: the run waits until the stream holds all of them.
// SCALE_CPU_PROF=dir writes each replica's V8 CPU profile there.
// Targets are printed beside the figures. Figures depend on the machine and its load.
import { fork } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { isMainThread, parentPort, Worker, workerData } from 'node:worker_threads';
import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import { connect, headers } from '@nats-io/transport-node';
import { createReportStore } from '../dist/collector/index.js';
import { createUncheckedEventSequencer, encodeEvent, subjectOf } from '../dist/contract/index.js';
import { connectRedis } from '../dist/lib/redis.js';
import { startNatsServer, startRedisServer } from '../dist/lib/servers.js';
import { parseDurationMs } from '../dist/lib/values.js';
import { observationsOf } from './lib/scale-batches.mjs';
import { eventOf, POD_DRAIN_MS, podScriptMessages } from './lib/scale-pods.mjs';

const TARGETS = { perCpuSecond: 40_000, lagP99Ms: 1000, lagAtRate: 10_000, closeWithinMs: 5000 };

const fmt = (x) => x.toLocaleString('en-US');
const percentile = (sorted, p) =>
  sorted.length ? sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] : Number.NaN;

/** Worker thread: the simulated agents of the pods `index % publishers === k`, in real time. */
async function publishPods({
  natsUrl,
  root,
  pods,
  workloads,
  seconds,
  requests,
  publishers,
  prefill,
  publish,
  batchMs,
  k,
}) {
  const nc = await connect({ servers: natsUrl });
  const js = jetstream(nc);
  const perWl = Math.ceil(pods / workloads);
  const spanMs = Math.max(0, seconds * 1000 - POD_DRAIN_MS);
  const schedule = [];
  const seqs = [];
  for (let i = k; i < pods; i += publishers) {
    const w = i % workloads;
    const p = Math.floor(i / workloads);
    const workload = `wl-${w}`;
    const pod = `${workload}-${p}`;
    // Evenly per workload, workloads offset from each other.
    const start = Math.floor(((p + w / workloads) / perWl) * spanMs);
    // As the agent builds its events: no zod on the publishing side (the collector validates).
    const s = createUncheckedEventSequencer({ namespace: 'bench', workload, pod }, `i-${pod}`);
    seqs.push(s);
    for (const m of podScriptMessages(pod, requests, batchMs))
      schedule.push([start + m.due, seqs.length - 1, m, start]);
  }
  schedule.sort((a, b) => a[0] - b[0]);
  // Every publisher ready (schedule built) before the common start time is set.
  parentPort.postMessage({ type: 'ready' });
  const startAt = await new Promise((r) => parentPort.once('message', r));
  while (Date.now() < startAt) await new Promise((r) => setTimeout(r, 5));
  let next = 0;
  let behindMaxMs = 0;
  let inflight = [];
  const counts = { observations: 0, batches: 0, batchRecords: 0, oneRecordFlushes: 0 };
  while (next < schedule.length) {
    const now = Date.now();
    // --prefill: every message at once, in schedule order (the collectors are not running yet).
    while (next < schedule.length && (prefill || startAt + schedule[next][0] <= now)) {
      const [due, si, m, start] = schedule[next++];
      behindMaxMs = Math.max(behindMaxMs, now - (startAt + due));
      const e = eventOf(seqs[si], m, prefill ? undefined : startAt + start, now);
      counts.observations += observationsOf(m);
      if (m.records) {
        counts.batches++;
        counts.batchRecords += m.records.length;
      } else if (m.recordDue !== undefined) counts.oneRecordFlushes++;
      if (publish === 'core') {
        // A core publish on the stream's subject: stored by JetStream, no acknowledgement awaited.
        const h = headers();
        h.set('Nats-Msg-Id', e.id);
        nc.publish(subjectOf(e, root), encodeEvent(e), { headers: h });
        continue;
      }
      inflight.push(js.publish(subjectOf(e, root), encodeEvent(e), { msgID: e.id, timeout: 60_000 }));
      if (inflight.length >= 2000) {
        await Promise.all(inflight);
        inflight = [];
      }
    }
    await new Promise((r) => setTimeout(r, 5));
  }
  await Promise.all(inflight);
  await nc.flush();
  const lastAt = Date.now();
  await nc.close();
  parentPort.postMessage({ type: 'done', sent: schedule.length, ...counts, lastAt, behindMaxMs });
}

function startReplica(env, semiSpaceMiB) {
  // SCALE_CPU_PROF=dir: each replica writes a V8 CPU profile there (node --cpu-prof).
  const prof = process.env.SCALE_CPU_PROF;
  const execArgv = prof ? ['--cpu-prof', `--cpu-prof-dir=${prof}`] : [];
  // As the collector image runs it (manifests/images/collector.Dockerfile); 0: Node's default.
  if (semiSpaceMiB > 0) execArgv.push(`--max-semi-space-size=${semiSpaceMiB}`);
  const child = fork(fileURLToPath(new URL('./lib/scale-collector.mjs', import.meta.url)), [], {
    env: { ...process.env, ...env },
    execArgv,
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  const waitFor = (type) =>
    new Promise((resolve, reject) => {
      const onExit = (code) => reject(new Error(`collector replica exited with ${code} before ${type}`));
      const onMsg = (m) => {
        if (m.type !== type) return;
        child.off('message', onMsg);
        child.off('exit', onExit);
        resolve(m);
      };
      child.on('message', onMsg);
      child.once('exit', onExit);
    });
  const ask = (type, reply) => {
    const answer = waitFor(reply);
    child.send({ type });
    return answer;
  };
  return {
    ready: waitFor('ready'),
    snapshot: () => ask('snapshot', 'snapshot'),
    stop: () => ask('stop', 'stopped'),
  };
}

async function pollUntil(fn, timeoutMs, intervalMs, what) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await fn()) return;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}

/** Waits (30 s at most) until the stream holds `count` messages: a core publish has no acknowledgement. */
async function streamHolds(natsUrl, stream, count) {
  const nc = await connect({ servers: natsUrl });
  try {
    const jsm = await jetstreamManager(nc);
    let held = 0;
    await pollUntil(
      async () => {
        held = (await jsm.streams.info(stream)).state.messages;
        return held >= count;
      },
      30_000,
      100,
      `the stream to hold all ${count} events published`,
    ).catch((err) => {
      throw new Error(`${err.message}: it holds ${held}`);
    });
  } finally {
    await nc.close();
  }
}

/** CPU seconds (user + system) a process has used so far, from /proc (Linux); NaN elsewhere. */
function processCpuSeconds(pid) {
  try {
    // Fields 14 and 15 (utime, stime) after the command name, in clock ticks (USER_HZ, 100 on Linux).
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(f[11]) + Number(f[12])) / 100;
  } catch {
    return Number.NaN;
  }
}

/** What the bench's own parts use of the machine: this process (publishers), nats-server, redis-server. */
function machineCpu(servers) {
  const own = process.cpuUsage();
  return {
    publishers: (own.user + own.system) / 1e6,
    nats: processCpuSeconds(servers.natsPid),
    redis: processCpuSeconds(servers.redisPid),
  };
}

async function runOnce(opts, replicas, natsUrl, redisUrl, servers) {
  const tag = `scale${replicas}`;
  const env = {
    DRAINWATCH_LISTEN: '127.0.0.1:0',
    NATS_URL: natsUrl,
    REDIS_URL: redisUrl,
    DRAINWATCH_REDIS_PREFIX: `${tag}:`,
    DRAINWATCH_SUBJECT_ROOT: `${tag}.drainwatch`,
    DRAINWATCH_STREAM: tag.toUpperCase(),
    DRAINWATCH_ROLLOUT_QUIET: `${opts.quietMs}ms`,
  };
  // All at once (creating the stream and the consumer twice is accepted): with --prefill, replicas
  // started one after the other left the first to drain most of the backlog alone while the next
  // loaded (3.4 s), which measured no sharing at all.
  const startReplicas = async () => {
    const started = Array.from({ length: replicas }, () => startReplica(env, opts.semiSpaceMiB));
    await Promise.all(started.map((c) => c.ready));
    return started;
  };
  // --prefill: the stream and the durable consumer are created by a replica that stops at once,
  // and the replicas measured start only once every event is in the stream.
  let collectors = opts.prefill ? [] : await startReplicas();
  if (opts.prefill) {
    const creator = startReplica(env, opts.semiSpaceMiB);
    await creator.ready;
    await creator.stop();
  }
  const redis = await connectRedis(redisUrl, { prefix: env.DRAINWATCH_REDIS_PREFIX });
  const store = createReportStore(redis);
  const workers = Array.from(
    { length: opts.publishers },
    (_, k) =>
      new Worker(new URL(import.meta.url), {
        workerData: { ...opts, natsUrl, root: env.DRAINWATCH_SUBJECT_ROOT, k },
      }),
  );
  const nextMessage = (w, type) =>
    new Promise((resolve, reject) => {
      const onMsg = (m) => {
        if (m.type !== type) return;
        w.off('message', onMsg);
        resolve(m);
      };
      w.on('message', onMsg);
      w.once('error', reject);
    });
  await Promise.all(workers.map((w) => nextMessage(w, 'ready')));
  // CPU from here on: the replicas' start-up (module loading, connecting) is not event work.
  let base = await Promise.all(collectors.map((c) => c.snapshot()));
  const done = workers.map((w) => nextMessage(w, 'done'));
  const publishStartAt = Date.now() + 200;
  let startAt = publishStartAt;
  let machine0 = machineCpu(servers);
  for (const w of workers) w.postMessage(publishStartAt);
  const pubs = await Promise.all(done);
  const total = (field) => pubs.reduce((s, p) => s + p[field], 0);
  const sent = total('sent');
  await streamHolds(natsUrl, env.DRAINWATCH_STREAM, sent);
  const lastPublishAt = Math.max(...pubs.map((p) => p.lastAt));
  if (opts.prefill) {
    // The machine's CPU and the rate are then the drain's alone: from the replicas' start on.
    machine0 = machineCpu(servers);
    startAt = Date.now();
    collectors = await startReplicas();
    // The first replica may have applied events while the next started: its CPU counts from 0.
    base = collectors.map(() => ({ cpuUs: 0 }));
  }
  // Every message applied, then the CPU figure (before the quiet wait, which is idle time).
  let snaps = [];
  await pollUntil(
    async () => {
      snaps = await Promise.all(collectors.map((c) => c.snapshot()));
      return snaps.reduce((s, x) => s + x.applied, 0) >= sent;
    },
    10 * 60_000,
    100,
    'every message applied',
  );
  const appliedAllAt = Date.now();
  const machine1 = machineCpu(servers);
  const cpuS = snaps.reduce((s, x, i) => s + x.cpuUs - base[i].cpuUs, 0) / 1e6;
  // Rollouts closing for quiet: when each open rollout was first seen closed.
  const seenClosed = new Map();
  let everOpen = new Set(await store.openRollouts());
  await pollUntil(
    async () => {
      const open = new Set(await store.openRollouts());
      const now = Date.now();
      for (const id of everOpen) if (!open.has(id) && !seenClosed.has(id)) seenClosed.set(id, now);
      everOpen = new Set([...everOpen, ...open]);
      return open.size === 0;
    },
    opts.quietMs + 120_000,
    100,
    'every rollout closed',
  );
  const rollouts = await store.listRollouts({ limit: 100_000 });
  const beyond = rollouts
    .filter((r) => seenClosed.has(r.rolloutId) && r.finishedAt)
    .map((r) => seenClosed.get(r.rolloutId) - (Date.parse(r.finishedAt) + opts.quietMs))
    .sort((a, b) => a - b);
  const stopped = await Promise.all(collectors.map((c) => c.stop()));
  redis.disconnect();
  const lags = stopped.flatMap((s) => s.lagsMs).sort((a, b) => a - b);
  const observationLags = stopped.flatMap((s) => s.observationLagsMs).sort((a, b) => a - b);
  const applied = stopped.reduce((s, x) => s + x.applied, 0);
  const observations = stopped.reduce((s, x) => s + x.observations, 0);
  const spanS = (appliedAllAt - startAt) / 1000;
  const publishS = (lastPublishAt - publishStartAt) / 1000;
  return {
    replicas,
    // Messages: what JetStream carries and the collector's eventsApplied counts.
    sent,
    applied,
    appliedPerReplica: stopped.map((s) => s.applied),
    // Observations: the pods' events and request records, whatever the batching.
    observationsSent: total('observations'),
    observationsApplied: observations,
    batches: total('batches'),
    batchRecords: total('batchRecords'),
    oneRecordFlushes: total('oneRecordFlushes'),
    publishSeconds: publishS,
    publishRate: Math.round(sent / publishS),
    observationPublishRate: Math.round(total('observations') / publishS),
    publisherBehindMaxMs: Math.max(...pubs.map((p) => p.behindMaxMs)),
    eventsPerSecond: Math.round(applied / spanS),
    observationsPerSecond: Math.round(observations / spanS),
    lagP50Ms: percentile(lags, 50),
    lagP99Ms: percentile(lags, 99),
    lagMaxMs: lags[lags.length - 1],
    observationLagP50Ms: percentile(observationLags, 50),
    observationLagP99Ms: percentile(observationLags, 99),
    observationLagMaxMs: observationLags[observationLags.length - 1],
    rollouts: rollouts.length,
    closedSeen: beyond.length,
    closeBeyondQuietP50Ms: percentile(beyond, 50),
    closeBeyondQuietMaxMs: beyond[beyond.length - 1],
    collectorCpuSeconds: Number(cpuS.toFixed(2)),
    collectorMaxRssMiB: Math.round(Math.max(...snaps.map((x) => x.maxRssBytes)) / 2 ** 20),
    eventsPerCollectorCpuSecond: Math.round(applied / cpuS),
    observationsPerCollectorCpuSecond: Math.round(observations / cpuS),
    // CPU seconds each part used from the publishers' start to the last event applied.
    machineCpuSeconds: {
      publishers: Number((machine1.publishers - machine0.publishers).toFixed(2)),
      natsServer: Number((machine1.nats - machine0.nats).toFixed(2)),
      redisServer: Number((machine1.redis - machine0.redis).toFixed(2)),
      collectors: Number(cpuS.toFixed(2)),
      wallSeconds: Number(spanS.toFixed(1)),
      cores: availableParallelism(),
    },
  };
}

function print(r, opts) {
  const ok = (b) => (b ? 'met' : 'NOT met');
  const m = r.machineCpuSeconds;
  const busy = (m.publishers + m.natsServer + m.redisServer + m.collectors) / m.wallSeconds;
  const perMessage = (r.observationsApplied / r.applied).toFixed(2);
  console.log(`--- ${r.replicas} collector replica(s)`);
  // Both units, always: with batching one message carries several of the bench's events.
  console.log(
    `messages (what JetStream carries, the collector's eventsApplied): ${fmt(r.applied)}/${fmt(r.sent)} applied (per replica ${r.appliedPerReplica.map(fmt).join(' + ')}), carrying ${fmt(r.observationsApplied)}/${fmt(r.observationsSent)} observations (the pods' events and request records): ${perMessage} per message; ${fmt(r.batches)} request.batch of ${fmt(r.batchRecords)} records, ${fmt(r.oneRecordFlushes)} plain request from a one-record window`,
  );
  console.log(
    `rate: published ${fmt(r.observationPublishRate)} observations/s = ${fmt(r.publishRate)} messages/s over ${r.publishSeconds.toFixed(1)} s (${opts.prefill ? 'as fast as they could, before the replicas started' : `publishers at most ${r.publisherBehindMaxMs} ms behind schedule`}); applied ${fmt(r.observationsPerSecond)} observations/s = ${fmt(r.eventsPerSecond)} messages/s from ${opts.prefill ? "the replicas' start" : 'first publish'} to last applied`,
  );
  // --prefill: the events waited in the stream for the replicas, so neither lag nor the time to the
  // closed report says anything about the collector; only the CPU figure is judged.
  const judged = (verdict) => (opts.prefill ? 'not judged with --prefill' : verdict);
  const lagVerdict =
    r.observationPublishRate >= TARGETS.lagAtRate
      ? ok(r.observationLagP99Ms < TARGETS.lagP99Ms)
      : 'rate below the target rate, not comparable';
  console.log(
    `lag per observation (a record's end or an event's publish -> applied): p50 ${r.observationLagP50Ms} ms, p99 ${r.observationLagP99Ms} ms, max ${r.observationLagMaxMs} ms at ${fmt(r.observationPublishRate)} observations/s (target p99 < ${TARGETS.lagP99Ms} ms at ${fmt(TARGETS.lagAtRate)} events/s: ${judged(lagVerdict)})`,
  );
  console.log(
    `lag per message (publish -> applied): p50 ${r.lagP50Ms} ms, p99 ${r.lagP99Ms} ms, max ${r.lagMaxMs} ms at ${fmt(r.publishRate)} messages/s`,
  );
  console.log(
    `report closed after last activity + quiet (${opts.quietMs} ms): p50 ${r.closeBeyondQuietP50Ms} ms, max ${r.closeBeyondQuietMaxMs} ms beyond it, ${r.closedSeen}/${r.rollouts} rollouts (target within ${TARGETS.closeWithinMs} ms: ${judged(ok(r.closeBeyondQuietMaxMs <= TARGETS.closeWithinMs))})`,
  );
  const target = TARGETS.perCpuSecond;
  console.log(
    `cpu: collectors ${r.collectorCpuSeconds} s = ${fmt(r.observationsPerCollectorCpuSecond)} observations per collector CPU-second (target >= ${fmt(target)} of the bench's events: ${ok(r.observationsPerCollectorCpuSecond >= target)}) = ${fmt(r.eventsPerCollectorCpuSecond)} messages per collector CPU-second (${ok(r.eventsPerCollectorCpuSecond >= target)} in messages; ${opts.batchMs > 0 ? `--request-batch ${opts.batchMs}ms: one message carries ${perMessage} observations` : '--request-batch 0: one message per observation'}); max RSS of a replica ${r.collectorMaxRssMiB} MiB (semi-space ${opts.semiSpaceMiB || 'default'} MiB)`,
  );
  console.log(
    `machine: over ${m.wallSeconds} s${opts.prefill ? ' (the drain)' : ''} the publishers used ${m.publishers} CPU-s, nats-server ${m.natsServer}, redis-server ${m.redisServer}, the collectors ${m.collectors}: ${busy.toFixed(2)} of ${m.cores} cores busy with the bench alone`,
  );
}

const USAGE = `usage: npm run build && node bench/scale.mjs [--pods 2000] [--workloads 100] [--seconds 60]
       [--requests 293] [--quiet 10s] [--collectors 1,2] [--publishers 2] [--prefill]
       [--semi-space 32] [--publish core|ack] [--request-batch 100ms]
What each figure means: the comment at the top of bench/scale.mjs and docs/scaling.md.`;

/** A bad command line: one line on stderr, exit 2 (as drainwatch's own commands). */
class UsageError extends Error {}

/** The options, checked; throws UsageError naming the first bad one. */
function parseOptions(argv) {
  let a;
  try {
    ({ values: a } = parseArgs({
      args: argv,
      options: {
        help: { type: 'boolean', short: 'h', default: false },
        pods: { type: 'string', default: '2000' },
        workloads: { type: 'string', default: '100' },
        seconds: { type: 'string', default: '60' },
        requests: { type: 'string', default: '293' },
        quiet: { type: 'string', default: '10s' },
        collectors: { type: 'string', default: '1,2' },
        publishers: { type: 'string', default: '2' },
        prefill: { type: 'boolean', default: false },
        'semi-space': { type: 'string', default: '32' },
        publish: { type: 'string', default: 'core' },
        'request-batch': { type: 'string', default: '100ms' },
      },
    }));
  } catch (err) {
    throw new UsageError(err.message);
  }
  if (a.help) return { help: true };
  const whole = (name, min) => {
    const v = a[name];
    if (!/^\d+$/.test(v) || Number(v) < min)
      throw new UsageError(`--${name}: expected a whole number >= ${min}, got "${v}"`);
    return Number(v);
  };
  const duration = (name) => {
    try {
      return parseDurationMs(`--${name}`, a[name]);
    } catch (err) {
      throw new UsageError(err.message);
    }
  };
  const quietMs = duration('quiet');
  const batchMs = duration('request-batch');
  const collectors = a.collectors.split(',').map((x) => x.trim());
  if (collectors.some((x) => !/^\d+$/.test(x) || Number(x) < 1))
    throw new UsageError(
      `--collectors: expected replica counts >= 1 separated by commas, got "${a.collectors}"`,
    );
  if (!['core', 'ack'].includes(a.publish))
    throw new UsageError(`--publish: expected core or ack, got "${a.publish}"`);
  const pods = whole('pods', 1);
  const workloads = whole('workloads', 1);
  if (workloads > pods)
    throw new UsageError(`--workloads: more workloads (${workloads}) than pods (${pods})`);
  return {
    help: false,
    collectors: collectors.map(Number),
    opts: {
      pods,
      workloads,
      seconds: whole('seconds', 1),
      requests: whole('requests', 0),
      quietMs,
      publishers: whole('publishers', 1),
      prefill: a.prefill,
      semiSpaceMiB: whole('semi-space', 0),
      publish: a.publish,
      batchMs,
    },
  };
}

async function main() {
  let parsed;
  try {
    parsed = parseOptions(process.argv.slice(2));
  } catch (err) {
    if (!(err instanceof UsageError)) throw err;
    process.stderr.write(`bench/scale.mjs: ${err.message}\n${USAGE}\n`);
    process.exit(2);
  }
  if (parsed.help) {
    console.log(USAGE);
    return;
  }
  const { opts } = parsed;
  const perWl = Math.ceil(opts.pods / opts.workloads);
  const gapMs = (opts.seconds * 1000 - POD_DRAIN_MS) / perWl;
  // A workload of one pod has no gap; with --prefill every event is there at once.
  if (perWl > 1 && !opts.prefill && gapMs >= opts.quietMs)
    console.warn(`warning: pods of a workload ${gapMs} ms apart >= quiet: rollouts will split`);
  // Every pod's script has the same times, so one pod's messages stand for each pod's.
  const perPod = podScriptMessages('wl-0-0', opts.requests, opts.batchMs).length;
  console.log(
    `scale: ${opts.pods} pods across ${opts.workloads} workloads terminating within ${opts.seconds} s, ${opts.requests + 7} observations (events and request records) per pod = ${fmt(opts.pods * (opts.requests + 7))}; --request-batch ${opts.batchMs}ms: ${perPod} messages per pod = ${fmt(opts.pods * perPod)} messages (the target of ${fmt(TARGETS.perCpuSecond)} per collector CPU-second is stated for the bench's events: judged in observations, printed in both units); quiet ${opts.quietMs} ms`,
  );
  const [nats, redisServer] = await Promise.all([startNatsServer(), startRedisServer()]);
  const results = [];
  try {
    for (const n of parsed.collectors) {
      const r = await runOnce(opts, n, nats.url, redisServer.url, {
        natsPid: nats.pid,
        redisPid: redisServer.pid,
      });
      print(r, opts);
      results.push(r);
    }
    console.log(JSON.stringify({ opts, targets: TARGETS, results }));
  } finally {
    await Promise.all([nats.stop(), redisServer.stop()]);
  }
}

if (isMainThread) await main();
else await publishPods(workerData);
