import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, expect } from 'vitest';
import { readSentFigures, type SentFigures } from '../../examples/feed-ledger.js';
import { createRedis } from '../../lib/redis.js';
import { type RunningServer, startRedisServer } from '../../lib/servers.js';
import type { RehearsalRun } from '../../rehearse/result.js';
import { explainRehearseCli, QUICK, type RehearseCliResult, runRehearseCli } from './rehearse-cli.js';
import { uniqueTag } from './servers.js';

// `drainwatch rehearse --app` on one of the realtime example feeds (examples/price-feed,
// news-feed, chat-feed), two replicas, its compiled main under a flaw switch, with a Redis of the
// suite's own kept after each run so the test can read the feed's ledger (examples/feed-ledger.ts).

export type ExampleFeed = 'price-feed' | 'news-feed' | 'chat-feed';

/** Each feed's switches: its flaw switch and its Redis key prefix (the feeds' config.ts). */
const FEED_ENV: Readonly<Record<ExampleFeed, { readonly mode: string; readonly prefix: string }>> = {
  'price-feed': { mode: 'FEED_MODE', prefix: 'FEED_REDIS_PREFIX' },
  'news-feed': { mode: 'FEED_MODE', prefix: 'FEED_REDIS_PREFIX' },
  'chat-feed': { mode: 'CHAT_MODE', prefix: 'CHAT_REDIS_PREFIX' },
};

export interface FeedRehearsalOptions {
  readonly feed: ExampleFeed;
  readonly mode: 'naive' | 'fixed';
  /** A scenario file of the feed's folder, e.g. `scenario.yaml`. */
  readonly scenario: string;
  /** Put in the run's Redis prefix after its unique tag (which pattern a run rehearsed). */
  readonly tag?: string;
  /** More `rehearse` flags (`--balance round-robin`, `--websockets 8`). */
  readonly args?: readonly string[];
}

export interface FeedRehearsalResult {
  readonly result: RehearseCliResult;
  /** The first (only) run of the rehearsal. */
  readonly run: RehearsalRun;
  /** The feed's Redis key prefix in this run, for `ledger`. */
  readonly prefix: string;
}

export interface FeedRehearsals {
  /** Runs the rehearsal (120 s at most) and asserts it exited 0. */
  rehearse(options: FeedRehearsalOptions): Promise<FeedRehearsalResult>;
  /** The feed's ledger of one run: what it sent each user (examples/feed-ledger.ts). */
  ledger(prefix: string): Promise<SentFigures[]>;
}

/** Call inside a `describe`: starts a real redis-server before its tests and stops it after. */
export function useFeedRehearsals(): FeedRehearsals {
  let redis: RunningServer | undefined;
  beforeAll(async () => {
    redis = await startRedisServer();
  });
  afterAll(async () => {
    await redis?.stop();
  });
  const redisUrl = (): string => {
    if (!redis) throw new Error('useFeedRehearsals: Redis has not started (call it inside a describe)');
    return redis.url;
  };

  return {
    async rehearse({ feed, mode, scenario, tag, args = [] }) {
      const main = fileURLToPath(new URL(`../../dist/examples/${feed}/main.js`, import.meta.url));
      const file = fileURLToPath(new URL(`../../examples/${feed}/${scenario}`, import.meta.url));
      const prefix = `${[uniqueTag(), ...(tag ? [tag] : []), mode].join(':')}:`;
      const env = FEED_ENV[feed];
      const app = `${env.mode}=${mode} ${env.prefix}=${prefix} exec "${process.execPath}" "${main}"`;
      const result = await runRehearseCli(
        [
          ...QUICK,
          '--app',
          app,
          '--scenario',
          file,
          '--ready-path',
          '/ready',
          '--replicas',
          '2',
          ...args,
          '--json',
        ],
        120_000,
        { REDIS_URL: redisUrl() },
      );
      expect(result.code, explainRehearseCli(result)).toBe(0);
      return { result, run: result.runs[0]!, prefix };
    },
    async ledger(prefix) {
      const client = createRedis(redisUrl(), { prefix });
      await client.connect();
      try {
        return await readSentFigures(client);
      } finally {
        await client.quit();
      }
    },
  };
}
