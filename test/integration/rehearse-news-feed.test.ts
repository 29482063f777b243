import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readNewsSentFigures } from '../../examples/news-feed/index.js';
import { createRedis } from '../../lib/redis.js';
import type { RunningServer } from '../../lib/servers.js';
import { startRedisServer } from '../../lib/servers.js';
import { QUICK, type RehearseCliResult, runRehearseCli } from '../helpers/rehearse-cli.js';
import { uniqueTag } from '../helpers/servers.js';

// The SSE news feed (examples/news-feed) rolled by `drainwatch rehearse --app`, each flaw switch
// in turn. The feed keeps its own ledger in Redis of the events the kernel took for each user; the
// probe's messagesLost must equal the ids the feed never sent between a user's first and last.

const MAIN = fileURLToPath(new URL('../../dist/examples/news-feed/main.js', import.meta.url));
const SCENARIO = fileURLToPath(new URL('../../examples/news-feed/scenario.yaml', import.meta.url));

function explain(r: RehearseCliResult): string {
  return `exit ${r.code}\nstderr:\n${r.stderr.slice(-3000)}\nstdout:\n${r.stdout.slice(0, 2000)}`;
}

describe('rehearse --app examples/news-feed', () => {
  let redis: RunningServer;
  beforeAll(async () => {
    redis = await startRedisServer();
  });
  afterAll(async () => {
    await redis?.stop();
  });

  async function rehearse(mode: 'naive' | 'fixed') {
    const prefix = `${uniqueTag()}:${mode}:`;
    const app = `FEED_MODE=${mode} FEED_REDIS_PREFIX=${prefix} exec "${process.execPath}" "${MAIN}"`;
    const r = await runRehearseCli(
      [...QUICK, '--app', app, '--scenario', SCENARIO, '--ready-path', '/ready', '--replicas', '2', '--json'],
      120_000,
      { REDIS_URL: redis.url },
    );
    expect(r.code, explain(r)).toBe(0);
    const client = createRedis(redis.url, { prefix });
    await client.connect();
    try {
      return { run: r.runs[0]!, ledger: await readNewsSentFigures(client) };
    } finally {
      await client.quit();
    }
  }

  it('naive: streams cut at exit, Last-Event-ID ignored: the probe loses exactly what the feed never sent', async () => {
    const { run, ledger } = await rehearse('naive');
    expect(run.podsReplaced).toBe(2);
    // Every stream a terminating pod served was cut by its exit; none ended cleanly.
    expect(run.streamEnds.cut).toBeGreaterThan(0);
    expect(run.streamEnds['server-closed']).toBe(0);
    expect(run.cleanTerminations).toBe(0);
    const missing = ledger.reduce((n, u) => n + u.missing, 0);
    expect(ledger.length).toBeGreaterThan(0);
    expect(missing).toBeGreaterThan(0);
    // Exact: the feed records an event only once the kernel took it (ledger.ts), and its exit path
    // waits for those records, so what it counts as sent is what reached the probe.
    expect(run.messagesLost, JSON.stringify(ledger)).toBe(missing);
    // Every loss came after a terminating pod's last push: the cut streams' cause, not another.
    expect(run.messagesLostAtTermination).toBe(run.messagesLost);
    for (const u of ledger) expect(u.writes, u.user).toBe(u.distinct);
  }, 150_000);

  it('fixed: streams ended at SIGTERM, resumed from the Redis history: nothing lost, nothing sent twice', async () => {
    const { run, ledger } = await rehearse('fixed');
    expect(run.podsReplaced).toBe(2);
    expect(run.streamEnds['server-closed']).toBeGreaterThan(0);
    expect(run.streamEnds.cut).toBe(0);
    expect(run.cleanTerminations).toBe(1);
    expect(run.messagesLost).toBe(0);
    expect(run.probeRequests.failed).toBe(0);
    expect(run.sessionPersistence).toBe(1);
    expect(ledger.length).toBeGreaterThan(0);
    for (const u of ledger) {
      expect(u.missing, u.user).toBe(0);
      expect(u.writes, u.user).toBe(u.distinct);
    }
  }, 150_000);
});
