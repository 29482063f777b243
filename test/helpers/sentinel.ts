import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type RunningServer, startRedisServer } from '../../lib/servers.js';
import type { HostPort } from '../../lib/values.js';
import { pollUntil } from '../../lib/wait.js';
import { redisCall } from './redis-call.js';

// A real Sentinel-backed Redis on loopback: a master, its replicas (one by default, or two as
// docs/scaling.md advises) and three sentinels (`redis-server sentinel.conf --sentinel`, quorum 2)
// on free ports, with the short timeouts a test needs (down after 1 s, failover timeout 5 s). Optionally with passwords on the Redis servers
// (requirepass/masterauth, `sentinel auth-pass`) and on the sentinels (requirepass,
// `sentinel sentinel-pass`).

export interface TestSentinelSet {
  /** The master group the sentinels monitor. */
  readonly name: string;
  /** The Redis servers: the first starts as master, the others as its replicas. */
  readonly servers: readonly RunningServer[];
  readonly sentinels: readonly RunningServer[];
  /** The sentinels' addresses: what `--redis-sentinel` is given. */
  readonly sentinelNodes: readonly HostPort[];
  /** `127.0.0.1:p1,127.0.0.1:p2,127.0.0.1:p3`, as the flag or REDIS_SENTINEL_NODES takes it. */
  readonly sentinelList: string;
  /** The port of the master every sentinel names now (they must agree). */
  masterPort(): Promise<number>;
  /**
   * SENTINEL FAILOVER, once every replica has every write of the master (unless `inSync` is
   * false: then at once, while writes flow): resolves when every sentinel names a replica (the one
   * Sentinel chose) as master and it says so itself. The old master may still think it is one
   * until the sentinels demote it (8–20 s later); settled() waits for that.
   */
  failover(options?: { readonly inSync?: boolean }): Promise<{ from: number; to: number }>;
  /**
   * A crash that loses acknowledged writes, with replication lag made long enough to see: every
   * replica is frozen (SIGSTOP) and the master drops their links (CLIENT KILL TYPE replica; what
   * it sent before is in the replicas' socket buffers, and they apply it once thawed), so the
   * writes made while `meanwhile` runs reach no replica; then the master is killed (SIGKILL) and
   * the replicas thawed. Needs minReplicasToWrite unset (the master would refuse those writes).
   * Resolves when every sentinel names a replica as master and it says so itself; the killed
   * server stays down.
   */
  crash(meanwhile: () => Promise<void>): Promise<{ from: number; to: number }>;
  /** Resolves once the old master and every other server are replicas of the new one, links up, in sync. */
  settled(): Promise<void>;
  /** `master` or `slave`: the role the server at `port` says it has (ROLE). */
  role(port: number): Promise<string>;
  /** Connections of clients on the server at `port` (neither sentinels', replicas' nor this one). */
  clientsOn(port: number): Promise<number>;
  stop(): Promise<void>;
}

const ask = (port: number, password: string | undefined, ...args: string[]): Promise<unknown> =>
  redisCall({ port, password }, ...args);

/** `INFO replication` as fields. */
async function replication(port: number, password: string | undefined): Promise<Record<string, string>> {
  const text = String(await ask(port, password, 'INFO', 'replication').catch(() => ''));
  return Object.fromEntries(
    text
      .split('\r\n')
      .filter((l) => l.includes(':'))
      .map((l) => [l.slice(0, l.indexOf(':')), l.slice(l.indexOf(':') + 1)]),
  );
}

/** A flat `[k, v, k, v]` reply (SENTINEL MASTER / REPLICAS entries) as a record. */
function pairs(flat: unknown): Record<string, string> {
  const a = flat as string[];
  const out: Record<string, string> = {};
  for (let i = 0; i + 1 < a.length; i += 2) out[a[i]!] = a[i + 1]!;
  return out;
}

function sentinelConf(name: string, masterPort: number, o: SentinelSetOptions): string {
  return [
    `sentinel monitor ${name} 127.0.0.1 ${masterPort} 2`,
    `sentinel down-after-milliseconds ${name} 1000`,
    `sentinel failover-timeout ${name} 5000`,
    `sentinel parallel-syncs ${name} 1`,
    ...(o.password ? [`sentinel auth-pass ${name} ${o.password}`] : []),
    ...(o.sentinelPassword
      ? [`requirepass ${o.sentinelPassword}`, `sentinel sentinel-pass ${o.sentinelPassword}`]
      : []),
    '',
  ].join('\n');
}

export interface SentinelSetOptions {
  /** Master group name; default `mymaster`. */
  readonly name?: string;
  /** requirepass (and masterauth) of the Redis servers. */
  readonly password?: string;
  /** requirepass of the sentinels. */
  readonly sentinelPassword?: string;
  /**
   * `min-replicas-to-write` of every server: a master refuses writes (NOREPLICAS) while it has
   * fewer replicas, as an old master does the moment its only replica is promoted.
   */
  readonly minReplicasToWrite?: number;
  /** Replicas of the master: 1 (default) or more. */
  readonly replicas?: number;
}

/**
 * Starts the master, its replicas and three sentinels; resolves once every replica is in sync and
 * every sentinel knows every replica and the two other sentinels (what a failover needs).
 */
export async function startRedisSentinels(options: SentinelSetOptions = {}): Promise<TestSentinelSet> {
  const name = options.name ?? 'mymaster';
  const replicaCount = options.replicas ?? 1;
  const pw = options.password;
  const spw = options.sentinelPassword;
  const auth = [
    ...(pw ? ['--requirepass', pw, '--masterauth', pw] : []),
    ...(options.minReplicasToWrite ? ['--min-replicas-to-write', String(options.minReplicasToWrite)] : []),
  ];
  const confDir = await mkdtemp(join(tmpdir(), 'drainwatch-sentinel-'));
  const started: RunningServer[] = [];
  const servers: RunningServer[] = [];
  const sentinels: RunningServer[] = [];
  try {
    const master = await startRedisServer({ extraArgs: () => auth });
    started.push(master);
    servers.push(master);
    for (let i = 0; i < replicaCount; i++) {
      const replica = await startRedisServer({
        extraArgs: () => [...auth, '--replicaof', '127.0.0.1', String(master.port)],
      });
      started.push(replica);
      servers.push(replica);
    }
    for (let i = 0; i < 3; i++) {
      const configFile = join(confDir, `sentinel-${i}.conf`);
      await writeFile(configFile, sentinelConf(name, master.port, options));
      const s = await startRedisServer({ configFile, extraArgs: () => ['--sentinel'] });
      started.push(s);
      sentinels.push(s);
    }
    const replicas = servers.slice(1);
    await pollUntil(
      async () =>
        (await Promise.all(replicas.map((r) => replication(r.port, pw)))).every(
          (r) => r.master_link_status === 'up',
        ),
      { timeoutMs: 30_000, intervalMs: 100, what: 'the replicas to be in sync' },
    );
    await pollUntil(async () => (await Promise.all(sentinels.map((s) => knowsAll(s.port)))).every(Boolean), {
      timeoutMs: 60_000,
      intervalMs: 200,
      what: 'every sentinel to know the replicas and the other sentinels',
    });
  } catch (err) {
    await Promise.all(started.map((s) => s.stop()));
    await rm(confDir, { recursive: true, force: true });
    throw err;
  }

  async function knowsAll(port: number): Promise<boolean> {
    const m = pairs(await ask(port, spw, 'SENTINEL', 'MASTER', name).catch(() => []));
    const replicas = ((await ask(port, spw, 'SENTINEL', 'REPLICAS', name).catch(() => [])) as unknown[]).map(
      pairs,
    );
    return (
      m['num-other-sentinels'] === '2' &&
      replicas.filter((r) => r.flags === 'slave' && r['master-link-status'] === 'ok').length >= replicaCount
    );
  }

  async function namedMaster(port: number): Promise<number | undefined> {
    const addr = (await ask(port, spw, 'SENTINEL', 'GET-MASTER-ADDR-BY-NAME', name).catch(() => null)) as
      | string[]
      | null;
    return addr ? Number(addr[1]) : undefined;
  }

  async function masterPort(): Promise<number> {
    const named = await Promise.all(sentinels.map((s) => namedMaster(s.port)));
    if (named.some((p) => p !== named[0]) || named[0] === undefined)
      throw new Error(`the sentinels disagree on the master: ${named.join(', ')}`);
    return named[0];
  }

  /** The replica's offset has reached the master's: it holds every write acknowledged so far. */
  async function inSync(from: number, to: number): Promise<boolean> {
    const [m, r] = await Promise.all([replication(from, pw), replication(to, pw)]);
    return (
      m.role === 'master' &&
      r.master_link_status === 'up' &&
      Number(r.master_port) === from &&
      r.slave_repl_offset === m.master_repl_offset
    );
  }

  /** Waits until every sentinel names one of `ports` as master, and that server says so. */
  async function promoted(ports: readonly number[]): Promise<number> {
    let to = 0;
    await pollUntil(
      async () => {
        const named = await masterPort().catch(() => undefined);
        if (named === undefined || !ports.includes(named)) return false;
        to = named;
        return (await replication(to, pw)).role === 'master';
      },
      {
        timeoutMs: 60_000,
        intervalMs: 100,
        what: `every sentinel to name one of ${ports.join(', ')} the master`,
      },
    );
    return to;
  }

  let last: { from: number; to: number } | undefined;
  /** Ports of the servers crash() killed. */
  const killed = new Set<number>();
  let stopping: Promise<void> | undefined;
  return {
    name,
    servers,
    sentinels,
    sentinelNodes: sentinels.map((s) => ({ host: '127.0.0.1', port: s.port })),
    sentinelList: sentinels.map((s) => `127.0.0.1:${s.port}`).join(','),
    masterPort,
    async failover(o = {}) {
      const from = await masterPort();
      const others = servers.filter((s) => s.port !== from).map((s) => s.port);
      if (o.inSync !== false) {
        await pollUntil(
          async () => (await Promise.all(others.map((to) => inSync(from, to)))).every(Boolean),
          {
            timeoutMs: 30_000,
            intervalMs: 50,
            what: `the replicas on ${others.join(', ')} to have every write of ${from}`,
          },
        );
      }
      await pollUntil(() => knowsAll(sentinels[0]!.port), {
        timeoutMs: 30_000,
        intervalMs: 200,
        what: 'the sentinel to see good replicas',
      });
      await ask(sentinels[0]!.port, spw, 'SENTINEL', 'FAILOVER', name);
      last = { from, to: await promoted(others) };
      return last;
    },
    async crash(meanwhile) {
      const from = await masterPort();
      const master = servers.find((s) => s.port === from)!;
      const replicas = servers.filter((s) => s !== master && !killed.has(s.port));
      for (const r of replicas) process.kill(r.pid, 'SIGSTOP');
      try {
        await ask(from, pw, 'CLIENT', 'KILL', 'TYPE', 'replica');
        await meanwhile();
        process.kill(master.pid, 'SIGKILL');
        killed.add(from);
      } finally {
        for (const r of replicas) process.kill(r.pid, 'SIGCONT');
      }
      last = { from, to: await promoted(replicas.map((r) => r.port)) };
      return last;
    },
    async settled() {
      if (!last) return;
      const { from, to } = last;
      for (const port of servers
        .filter((s) => !killed.has(s.port))
        .map((s) => s.port)
        .filter((p) => p !== to)) {
        await pollUntil(() => inSync(to, port), {
          timeoutMs: 60_000,
          intervalMs: 200,
          what: `the server on ${port} (the old master was ${from}) to be a replica of ${to}, in sync`,
        });
      }
    },
    async role(port) {
      return String(((await ask(port, pw, 'ROLE')) as unknown[])[0]);
    },
    async clientsOn(port) {
      const list = String(await ask(port, pw, 'CLIENT', 'LIST', 'TYPE', 'normal'));
      return list
        .split('\n')
        .filter((l) => l.trim() !== '')
        .filter((l) => !/ name=sentinel-/.test(l) && !/ cmd=client\|list /.test(l)).length;
    },
    stop() {
      stopping ??= Promise.all(started.map((s) => s.stop())).then(async () => {
        await rm(confDir, { recursive: true, force: true });
      });
      return stopping;
    },
  };
}
