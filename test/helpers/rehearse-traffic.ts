import { Agent, request } from 'undici';

// A bounded client load for the adapter's tests: a few keep-alive workers hitting one path
// through the entry point until stopped, counting answers by status and by pod.

export interface TrafficTally {
  ok: number;
  failed: number;
  byStatus: Map<string, number>;
  byPod: Map<string, number>;
}

export interface TrafficLoop {
  stop(): Promise<TrafficTally>;
  tally(): TrafficTally;
}

/** A JSON POST instead of a GET: not idempotent, so the entry point never sends it twice. */
export interface TrafficPost {
  readonly json: unknown;
}

export function startTraffic(
  baseUrl: string,
  path: string,
  workers = 4,
  maxRequests = 100_000,
  post?: TrafficPost,
): TrafficLoop {
  const dispatcher = new Agent({ keepAliveTimeout: 10_000, connections: workers });
  const t: TrafficTally = { ok: 0, failed: 0, byStatus: new Map(), byPod: new Map() };
  let running = true;
  let sent = 0;
  const bump = (m: Map<string, number>, k: string): void => {
    m.set(k, (m.get(k) ?? 0) + 1);
  };
  const worker = async (): Promise<void> => {
    while (running && sent++ < maxRequests) {
      try {
        const r = await request(`${baseUrl}${path}`, {
          dispatcher,
          headersTimeout: 10_000,
          bodyTimeout: 10_000,
          ...(post
            ? {
                method: 'POST' as const,
                body: JSON.stringify(post.json),
                headers: { 'content-type': 'application/json' },
              }
            : {}),
        });
        await r.body.dump();
        bump(t.byStatus, String(r.statusCode));
        const pod = r.headers['x-served-by'];
        if (typeof pod === 'string') bump(t.byPod, pod);
        if (r.statusCode < 400) t.ok++;
        else t.failed++;
      } catch (err) {
        t.failed++;
        bump(t.byStatus, (err as { code?: string }).code ?? 'error');
      }
    }
  };
  const all = Promise.all(Array.from({ length: workers }, worker));
  return {
    tally: () => t,
    async stop() {
      running = false;
      await all;
      await dispatcher.close();
      return t;
    },
  };
}
