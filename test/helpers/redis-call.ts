import { Redis } from 'ioredis';

/** Where one Redis command goes: host 127.0.0.1 unless given; `password` when the server needs one. */
export interface RedisCallTarget {
  readonly port: number;
  readonly host?: string;
  readonly password?: string | undefined;
}

/**
 * Sends one command on a connection of its own, closed after the reply: the test helpers ask
 * servers that are being frozen, killed and promoted, where a shared client would retry or follow
 * a failover instead of answering for that one server. One attempt; rejects with the connection's
 * or the command's error.
 */
export async function redisCall(target: RedisCallTarget, ...args: string[]): Promise<unknown> {
  const r = new Redis({
    port: target.port,
    host: target.host ?? '127.0.0.1',
    lazyConnect: true,
    maxRetriesPerRequest: 1,
    ...(target.password ? { password: target.password } : {}),
  });
  r.on('error', () => {});
  try {
    await r.connect();
    return await r.call(args[0]!, ...args.slice(1));
  } finally {
    r.disconnect();
  }
}
