import { type RunningServer, startNatsServer, startRedisServer } from '../lib/servers.js';
import { DependencyUnavailableError } from './errors.js';

// NATS and Redis for a rehearsal: the caller's when it gives URLs, otherwise real servers of our
// own on free loopback ports, stopped afterwards, so the first run needs no set-up beyond the
// two packages.

export interface RehearsalDependencies {
  readonly natsUrl: string;
  readonly redisUrl: string;
  /** Which of the two this rehearsal started itself. */
  readonly embedded: { readonly nats: boolean; readonly redis: boolean };
  /** Stops what was started here; repeated calls return the same promise. */
  stop(): Promise<void>;
}

export async function startDependencies(given: {
  natsUrl?: string | undefined;
  redisUrl?: string | undefined;
}): Promise<RehearsalDependencies> {
  const started: RunningServer[] = [];
  const start = async (what: string, fn: () => Promise<RunningServer>): Promise<string> => {
    try {
      const s = await fn();
      started.push(s);
      return s.url;
    } catch (err) {
      await Promise.all(started.map((s) => s.stop()));
      throw new DependencyUnavailableError(what, (err as Error).message);
    }
  };
  const natsUrl = given.natsUrl ?? (await start('nats-server', startNatsServer));
  const redisUrl = given.redisUrl ?? (await start('redis-server', startRedisServer));
  let stopping: Promise<void> | undefined;
  return {
    natsUrl,
    redisUrl,
    embedded: { nats: !given.natsUrl, redis: !given.redisUrl },
    stop() {
      stopping ??= Promise.all(started.map((s) => s.stop())).then(() => undefined);
      return stopping;
    },
  };
}
