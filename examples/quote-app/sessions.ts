import { randomBytes } from 'node:crypto';
import type { Redis } from 'ioredis';
import { SessionStoreError } from './errors.js';

// Where a login lives. `memory` is the flaw a rollout exposes: the session dies with the process
// that issued it, so a user routed to a new pod must log in again.

export interface SessionStore {
  readonly kind: 'memory' | 'redis';
  create(user: string): Promise<string>;
  lookup(sid: string): Promise<string | undefined>;
}

function newSessionId(): string {
  return randomBytes(18).toString('base64url');
}

export function createMemorySessionStore(): SessionStore {
  const sessions = new Map<string, string>();
  return {
    kind: 'memory',
    async create(user) {
      const sid = newSessionId();
      sessions.set(sid, user);
      return sid;
    },
    async lookup(sid) {
      return sessions.get(sid);
    },
  };
}

/** Sessions in Redis (the caller owns the client and its key prefix), so every replica sees every login. */
export function createRedisSessionStore(redis: Redis, ttlSeconds: number): SessionStore {
  return {
    kind: 'redis',
    async create(user) {
      const sid = newSessionId();
      try {
        await redis.set(`session:${sid}`, user, 'EX', ttlSeconds);
      } catch (err) {
        throw new SessionStoreError(`cannot store a session: ${(err as Error).message}`, { cause: err });
      }
      return sid;
    },
    async lookup(sid) {
      try {
        return (await redis.get(`session:${sid}`)) ?? undefined;
      } catch (err) {
        throw new SessionStoreError(`cannot read a session: ${(err as Error).message}`, { cause: err });
      }
    },
  };
}
