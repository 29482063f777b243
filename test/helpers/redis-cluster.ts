import { execFile } from 'node:child_process';
import { createConnection } from 'node:net';
import { promisify } from 'node:util';
import { findBinary, freePort, type RunningServer, startRedisServer } from '../../lib/servers.js';
import type { HostPort } from '../../lib/values.js';
import { pollUntil } from '../../lib/wait.js';
import { redisCall } from './redis-call.js';

// A real Redis Cluster on loopback for the HA tests: masters with a replica each, formed by
// `redis-cli --cluster create`, and the failures a cluster meets (planned failover, crash,
// partition). Every port is a free loopback one.

const run = promisify(execFile);

export interface RedisClusterNode {
  readonly server: RunningServer;
  readonly port: number;
}

export interface TestRedisCluster {
  readonly nodes: readonly RedisClusterNode[];
  /** The seed nodes, every node: what `--redis-cluster` is given. */
  readonly seeds: readonly HostPort[];
  /** `127.0.0.1:p1,127.0.0.1:p2,...` as the flag or REDIS_CLUSTER_NODES takes it. */
  readonly seedList: string;
  /**
   * A planned failover (CLUSTER FAILOVER on a replica, as a node drain does): the replica of the
   * master serving `key`'s slot takes over. Resolves once the old replica is master, every node
   * reports the cluster ok and every node's map shows the new master for the slot. Returns the
   * ports of the old master and the new one.
   */
  failover(slotOf: number): Promise<{ from: number; to: number }>;
  /**
   * A crash of the master serving `slot` that loses writes it acknowledged: its replica (once in
   * sync) is frozen (SIGSTOP) and the master drops the replica's link (CLIENT KILL TYPE replica),
   * so the writes made while `meanwhile` runs reach no replica; then the master is killed
   * (SIGKILL) and the replica thawed. Resolves once the replica is master and every node left
   * says cluster_state:ok. The killed node stays down.
   */
  crash(slot: number, meanwhile: () => Promise<void>): Promise<{ from: number; to: number }>;
  /**
   * A master cut off from its replica that keeps acknowledging writes, as on the minority side of
   * a partition: the replica is frozen and its link dropped while `meanwhile` runs, then promoted
   * by CLUSTER FAILOVER TAKEOVER (as the majority does after the node timeout) before it can sync
   * again. The old master stays up, learns it lost its slots and rejoins as the new master's
   * replica, dropping those writes; clients keep their connection to it. Resolves once the old
   * master is a replica in sync and every node says cluster_state:ok.
   */
  partition(slot: number, meanwhile: () => Promise<void>): Promise<{ from: number; to: number }>;
  stop(): Promise<void>;
}

const ask = (port: number, ...args: string[]): Promise<unknown> => redisCall({ port }, ...args);

/**
 * Writes one inline command to the server on `port` and resolves once the bytes are in the socket
 * (the server may be frozen: the kernel accepts the connection and holds them); `reply` is the
 * server's first reply line. The socket closes after that reply, or after 30 s.
 */
async function sendQueued(port: number, command: string): Promise<{ reply: Promise<string> }> {
  const socket = createConnection({ host: '127.0.0.1', port });
  socket.setTimeout(30_000, () => socket.destroy(new Error(`no reply to ${command} within 30 s`)));
  const reply = new Promise<string>((resolve, reject) => {
    let got = '';
    socket.on('data', (chunk) => {
      got += chunk.toString('latin1');
      if (got.includes('\r\n')) {
        socket.end();
        resolve(got.slice(0, got.indexOf('\r\n')));
      }
    });
    socket.on('error', reject);
    socket.on('close', () => reject(new Error(`connection closed before a reply to ${command}`)));
  });
  reply.catch(() => {});
  await new Promise<void>((resolve, reject) => {
    socket.once('error', reject);
    socket.once('connect', () => socket.write(`${command}\r\n`, (err) => (err ? reject(err) : resolve())));
  });
  return { reply };
}

async function clusterOk(ports: readonly number[]): Promise<boolean> {
  const infos = await Promise.all(ports.map((p) => ask(p, 'CLUSTER', 'INFO').catch(() => '')));
  return infos.every((i) => String(i).includes('cluster_state:ok'));
}

/** `CLUSTER SHARDS` is Redis 7; CLUSTER NODES works everywhere: `id addr flags master ...`. */
async function nodesView(
  port: number,
): Promise<{ id: string; port: number; master: string; flags: string; slots: string[] }[]> {
  const text = String(await ask(port, 'CLUSTER', 'NODES'));
  return text
    .trim()
    .split('\n')
    .map((line) => {
      const f = line.split(' ');
      return {
        id: f[0]!,
        port: Number(f[1]!.split('@')[0]!.split(':').at(-1)),
        flags: f[2]!,
        master: f[3]!,
        slots: f.slice(8),
      };
    });
}

function servesSlot(slots: readonly string[], slot: number): boolean {
  return slots.some((s) => {
    const [a, b] = s.split('-').map(Number);
    return slot >= a! && slot <= (b ?? a!);
  });
}

/**
 * Polls until every node in `ports` names the node on `master` as the master serving `slot`:
 * cluster_state:ok on every node does not mean every node's map shows a failover yet (gossip),
 * and a client reads the map from any node. Within 30 s.
 */
function everyNodeSees(ports: readonly number[], slot: number, master: number): Promise<void> {
  return pollUntil(
    async () => {
      const views = await Promise.all(ports.map((p) => nodesView(p).catch(() => [])));
      return views.every((v) =>
        v.some((n) => n.port === master && n.flags.includes('master') && servesSlot(n.slots, slot)),
      );
    },
    { timeoutMs: 30_000, intervalMs: 100, what: `every node to see ${master} serving slot ${slot}` },
  ).then(() => undefined);
}

async function isMaster(port: number): Promise<boolean> {
  const role = (await ask(port, 'ROLE').catch(() => [])) as unknown[];
  return role[0] === 'master';
}

/** Polls until `port` says its link to its master is up (a replica in sync), within 30 s. */
function inSync(port: number, what: string): Promise<void> {
  return pollUntil(
    async () =>
      String(await ask(port, 'INFO', 'replication').catch(() => '')).includes('master_link_status:up'),
    { timeoutMs: 30_000, intervalMs: 100, what },
  ).then(() => undefined);
}

/**
 * CLUSTER FAILOVER on `replica` until it is master and every node says cluster_state:ok. A manual
 * failover aborts by itself (Redis's 5 s manual-failover timeout) when the replica has not caught up
 * with its master's offset, which a loaded machine makes happen, so the replica's link must be up
 * first, and an attempt that did not take within 10 s is asked again, the last time with FORCE
 * (no handshake with the old master; still elected by the masters' votes).
 */
async function takeOver(replica: number, ports: readonly number[]): Promise<void> {
  await inSync(replica, `the replica on ${replica} to be in sync`);
  const attempts = [[], [], ['FORCE']] as const;
  for (const [i, extra] of attempts.entries()) {
    // Said in the test's output: a forced failover may lose the old master's last writes, which
    // the collector must then replay (its slot-map trigger), so a failure after it reads differently.
    if (i > 0) console.info(`CLUSTER FAILOVER ${extra.join(' ')} on ${replica}: attempt ${i + 1}`);
    await ask(replica, 'CLUSTER', 'FAILOVER', ...extra);
    const last = i === attempts.length - 1;
    try {
      await pollUntil(async () => (await isMaster(replica)) && (await clusterOk(ports)), {
        timeoutMs: last ? 30_000 : 10_000,
        intervalMs: 100,
        what: `the replica on ${replica} to take over`,
      });
      return;
    } catch (err) {
      // Already master but the cluster not yet ok: asking again would fail; wait on that instead.
      if (last || (await isMaster(replica))) {
        await pollUntil(async () => (await isMaster(replica)) && (await clusterOk(ports)), {
          timeoutMs: 30_000,
          intervalMs: 100,
          what: `the replica on ${replica} to take over`,
        }).catch(() => {
          throw err;
        });
        return;
      }
    }
  }
}

/**
 * Starts `masters` × (1 + `replicas`) redis-servers with cluster mode on (their bus on a second
 * free port) and forms the cluster; resolves once every node says cluster_state:ok.
 * `syncDelaySeconds` is `repl-diskless-sync-delay` (Redis's default 5 s when not given): how long
 * a master waits before a full sync, so how long a resyncing replica stays out of CLUSTER SLOTS.
 */
export async function startRedisCluster(
  options: { masters?: number; replicas?: number; syncDelaySeconds?: number } = {},
): Promise<TestRedisCluster> {
  const masters = options.masters ?? 3;
  const replicas = options.replicas ?? 1;
  const count = masters * (1 + replicas);
  const servers: RunningServer[] = [];
  try {
    for (let i = 0; i < count; i++) {
      const busPort = await freePort();
      servers.push(
        await startRedisServer({
          extraArgs: (_port, dir) => [
            ...['--cluster-enabled', 'yes', '--cluster-config-file', `${dir}/nodes.conf`],
            ...['--cluster-port', String(busPort), '--cluster-node-timeout', '2000'],
            ...(options.syncDelaySeconds === undefined
              ? []
              : ['--repl-diskless-sync-delay', String(options.syncDelaySeconds)]),
          ],
        }),
      );
    }
    const addrs = servers.map((s) => `127.0.0.1:${s.port}`);
    await run(
      findBinary('redis-cli', 'DRAINWATCH_REDIS_CLI_BIN'),
      ['--cluster', 'create', ...addrs, '--cluster-replicas', String(replicas), '--cluster-yes'],
      { timeout: 30_000 },
    );
    const ports = servers.map((s) => s.port);
    await pollUntil(() => clusterOk(ports), {
      timeoutMs: 30_000,
      intervalMs: 100,
      what: 'the Redis Cluster to be ok',
    });
    // Every node must know every other one's role before clients read the slot map.
    await pollUntil(
      async () => {
        const views = await Promise.all(ports.map((p) => nodesView(p)));
        return views.every((v) => v.length === count && v.every((n) => !n.flags.includes('handshake')));
      },
      { timeoutMs: 30_000, intervalMs: 100, what: 'every Redis Cluster node to know the others' },
    );
  } catch (err) {
    await Promise.all(servers.map((s) => s.stop()));
    throw err;
  }
  const nodes = servers.map((server) => ({ server, port: server.port }));
  /** Ports of the nodes crash() killed. */
  const killed = new Set<number>();
  /**
   * The slot's master and its replica, as some node sees them: right after the cluster formed
   * (or a failover) a node's view may not show the replica's role yet (seen once in CI).
   */
  const pairServing = async (slot: number) => {
    for (const node of nodes.filter((n) => !killed.has(n.port))) {
      const view = await nodesView(node.port).catch(() => []);
      const master = view.find(
        (n) => n.flags.includes('master') && !n.flags.includes('fail') && servesSlot(n.slots, slot),
      );
      const replica = master && view.find((n) => n.master === master.id && !n.flags.includes('fail'));
      if (master && replica) return { master, replica };
    }
    return undefined;
  };
  /** Polls pairServing until some node names the pair, within 30 s. */
  const pairFor = (slot: number) =>
    pollUntil(() => pairServing(slot), {
      timeoutMs: 30_000,
      intervalMs: 100,
      what: `a master with a replica serving slot ${slot}`,
    });
  /** The slot's master and its replica once the replica is in sync, as crash() and partition() need. */
  const syncedPair = async (slot: number) => {
    const pair = await pairFor(slot);
    // A replica that never finished its first sync cannot take over ("disconnected from master
    // for longer than allowed"); a new cluster's replicas sync 5 s late (diskless sync delay).
    await inSync(pair.replica.port, `the replica on ${pair.replica.port} to be in sync`);
    return pair;
  };
  /** Ports of the nodes still running (crash() kills one). */
  const alivePorts = () => nodes.filter((n) => !killed.has(n.port)).map((n) => n.port);
  const pidOf = (port: number) => nodes.find((n) => n.port === port)!.server.pid;
  const seeds = nodes.map((n) => ({ host: '127.0.0.1', port: n.port }));
  let stopping: Promise<void> | undefined;
  return {
    nodes,
    seeds,
    seedList: seeds.map((s) => `${s.host}:${s.port}`).join(','),
    async failover(slot) {
      const { master, replica } = await pairFor(slot);
      await takeOver(replica.port, alivePorts());
      await everyNodeSees(alivePorts(), slot, replica.port);
      return { from: master.port, to: replica.port };
    },
    async crash(slot, meanwhile) {
      const { master, replica } = await syncedPair(slot);
      process.kill(pidOf(replica.port), 'SIGSTOP');
      try {
        await ask(master.port, 'CLIENT', 'KILL', 'TYPE', 'replica');
        await meanwhile();
        process.kill(pidOf(master.port), 'SIGKILL');
        killed.add(master.port);
      } finally {
        process.kill(pidOf(replica.port), 'SIGCONT');
      }
      const alive = alivePorts();
      await pollUntil(async () => (await isMaster(replica.port)) && (await clusterOk(alive)), {
        timeoutMs: 30_000,
        intervalMs: 100,
        what: `the replica on ${replica.port} to take over from the killed master`,
      });
      return { from: master.port, to: replica.port };
    },
    async partition(slot, meanwhile) {
      const { master, replica } = await syncedPair(slot);
      process.kill(pidOf(replica.port), 'SIGSTOP');
      let answer: { reply: Promise<string> } | undefined;
      try {
        await ask(master.port, 'CLIENT', 'KILL', 'TYPE', 'replica');
        await meanwhile();
        // Queued in the frozen replica's socket, so it is the first thing it does when thawed:
        // a resync with its old master first would keep the writes this case is about.
        answer = await sendQueued(replica.port, 'CLUSTER FAILOVER TAKEOVER');
      } finally {
        process.kill(pidOf(replica.port), 'SIGCONT');
      }
      const reply = await answer!.reply;
      if (!reply.startsWith('+OK')) throw new Error(`CLUSTER FAILOVER TAKEOVER answered ${reply.trim()}`);
      const ports = alivePorts();
      await pollUntil(
        async () =>
          (await isMaster(replica.port)) && !(await isMaster(master.port)) && (await clusterOk(ports)),
        {
          timeoutMs: 30_000,
          intervalMs: 100,
          what: `the old master on ${master.port} to follow ${replica.port}`,
        },
      );
      // Its resync done: it is in the slot map again, as the new master's replica.
      await inSync(master.port, `the old master on ${master.port} to resync`);
      return { from: master.port, to: replica.port };
    },
    stop() {
      stopping ??= Promise.all(servers.map((s) => s.stop())).then(() => undefined);
      return stopping;
    },
  };
}
