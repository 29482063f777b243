import { randomUUID } from 'node:crypto';
import type { NatsConnection } from '@nats-io/transport-node';
import type { ReportStore } from '../../collector/index.js';
import type { RedisClient } from '../../lib/redis.js';
import type { RunningServer } from '../../lib/servers.js';
import { splitUrlList } from '../../lib/values.js';
import type { ReportSource, VerifyResult } from '../../witness/index.js';
import { RuntimeFailure } from '../errors.js';
import type { RedisTargetFlags } from '../redis-target.js';
import { resolveRedisTarget } from '../redis-target.js';

// What `drainwatch verify` starts around the probe run: its NATS connection (a nats-server of its
// own without --nats-url) and where the report comes from (a collector's API with --collector-url,
// else a collector of its own on its own durable consumer, over a Redis of its own without a
// target), and the text of its result. Modules are loaded on use, as verify.ts does.

/** Undo steps, run last-first when verify ends however it ends. */
export type Cleanup = (() => Promise<unknown>)[];

/** The flags these steps read (VerifyFlags has them). */
export interface VerifyWiringFlags extends RedisTargetFlags {
  natsUrl?: string;
  redisUrl?: string;
  redisPrefix: string;
  subjectRoot: string;
  stream: string;
  collectorUrl?: string;
  apiToken?: string;
}

/**
 * Connects to `--nats-url` (a comma-separated list), or starts a nats-server of its own and
 * connects to it. Throws RuntimeFailure (exit 3) naming the URL when it does not answer within 5 s.
 */
export async function connectVerifyNats(
  f: VerifyWiringFlags,
  cleanup: Cleanup,
): Promise<{ nc: NatsConnection; natsUrl: string }> {
  const [{ connect }, { startNatsServer }] = await Promise.all([
    import('@nats-io/transport-node'),
    import('../../lib/servers.js'),
  ]);
  let natsUrl = f.natsUrl;
  if (!natsUrl) {
    const own: RunningServer = await startNatsServer();
    cleanup.push(() => own.stop());
    natsUrl = own.url;
  }
  let nc: NatsConnection;
  try {
    nc = await connect({ servers: splitUrlList(natsUrl), name: 'drainwatch-verify', timeout: 5000 });
  } catch (err) {
    throw new RuntimeFailure(`NATS at ${natsUrl} is unreachable: ${(err as Error).message}`);
  }
  cleanup.push(() => nc.drain());
  return { nc, natsUrl };
}

/**
 * The report's source: the collector at `--collector-url`, or a collector started here on the
 * Redis target (a Redis of its own when none is given). The store is there only in the second
 * case. Throws RedisUnreachableError (one plain line within 5 s, exit 3).
 */
export async function openReportSource(
  f: VerifyWiringFlags,
  nc: NatsConnection,
  natsUrl: string,
  cleanup: Cleanup,
): Promise<{ reports: ReportSource; store: ReportStore | undefined }> {
  const witness = await import('../../witness/index.js');
  if (f.collectorUrl)
    return { reports: witness.httpReportSource(f.collectorUrl, f.apiToken), store: undefined };
  const [{ createCollector, createReportStore, loadCollectorConfig }, { connectRedisClient }, servers] =
    await Promise.all([
      import('../../collector/index.js'),
      import('../../lib/redis.js'),
      import('../../lib/servers.js'),
    ]);
  let target = resolveRedisTarget({ ...f, url: f.redisUrl ?? '', urlSet: Boolean(f.redisUrl) });
  if ('url' in target && !target.url) {
    const own: RunningServer = await servers.startRedisServer();
    cleanup.push(() => own.stop());
    target = { ...target, url: own.url };
  }
  const redis: RedisClient = await connectRedisClient(target, { prefix: f.redisPrefix });
  cleanup.push(async () => redis.disconnect());
  const collector = createCollector(
    loadCollectorConfig(
      {
        listen: '127.0.0.1:0',
        natsUrl,
        // The same target, checked above: the URL (maybe of the Redis started here) or the lists.
        ...('url' in target ? { redisUrl: target.url } : {}),
        redisCluster: f.redisCluster,
        redisSentinel: f.redisSentinel,
        redisSentinelName: f.redisSentinelName,
        redisPassword: f.redisPassword,
        redisSentinelPassword: f.redisSentinelPassword,
        redisPrefix: f.redisPrefix,
        subjectRoot: f.subjectRoot,
        stream: f.stream,
        // Its own durable consumer, so it never takes events from a collector sharing this NATS.
        consumer: `drainwatch-verify-${randomUUID().slice(0, 8)}`,
      },
      {},
    ),
    { nats: nc, redis },
  );
  await collector.start();
  cleanup.push(() => collector.stop());
  const store = createReportStore(redis);
  return { reports: witness.storeReportSource(store, collector), store };
}

/** verify's text result: the report, then the rollout's outcome and the gate's verdict with reasons. */
export function formatVerifyResult(
  r: VerifyResult,
  formatReportText: (report: VerifyResult['report']) => string,
): string {
  const pct = (v: number | null) => (v === null ? 'n/a' : `${(v * 100).toFixed(2)}%`);
  const lines = [formatReportText(r.report).trimEnd(), ''];
  if (r.rollout.outcome !== 'complete')
    lines.push(`Rollout ${r.rollout.outcome}: the Deployment did not finish rolling out.`);
  const cmp = r.gate.value !== null && r.gate.value >= r.gate.threshold ? '≥' : '<';
  const verdict = r.gate.inconclusive !== undefined ? 'INCONCLUSIVE' : r.passed ? 'PASSED' : 'FAILED';
  lines.push(
    `Gate: session persistence ${pct(r.gate.value)} ${cmp} ${pct(r.gate.threshold)} (${r.gate.source}) — ${verdict}`,
  );
  for (const reason of r.gate.reasons ?? []) lines.push(`  ${reason}`);
  if (r.gate.inconclusive !== undefined) lines.push(`  inconclusive: ${r.gate.inconclusive}`);
  return `${lines.join('\n')}\n`;
}
