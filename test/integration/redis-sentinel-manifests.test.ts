import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { findBinary } from '../../lib/servers.js';
import { pollUntil } from '../../lib/wait.js';
import { type LoopbackPods, type PodRole, startLoopbackPods } from '../helpers/sentinel-pods.js';

// The start-up script of manifests/redis-sentinel/ (the ConfigMap's start.sh), run as the
// StatefulSet's containers run it, on loopback with real redis-server and sentinel processes: three
// "pods" form a master, two replicas and three sentinels; the master's pod is killed, the sentinels
// promote a replica, and pod 0 started again through the same script comes back as a replica of
// the new master, not as a second master. Only the addresses differ from Kubernetes (127.0.0.1 and
// free ports instead of the pods' DNS names and 6379/26379) and the sentinel timeouts (1 s, 5 s).

const run = promisify(execFile);
const dir = new URL('../../manifests/redis-sentinel/', import.meta.url);
// A password start.sh must quote for redis.conf: a space, a double quote, a backslash.
const PASSWORD = 'pw "quoted\\ secret';

interface Manifest {
  readonly script: string;
  readonly scriptPath: string;
  readonly command: Record<PodRole, string[]>;
  readonly env: Record<string, string>;
  readonly replicas: number;
}

async function readManifest(): Promise<Manifest> {
  const cm = parse(await readFile(new URL('configmap.yaml', dir), 'utf8'));
  const sts = parse(await readFile(new URL('statefulset.yaml', dir), 'utf8'));
  type Container = { name: PodRole; command: string[]; env: { name: string; value?: string }[] };
  const containers: Container[] = sts.spec.template.spec.containers;
  const byName = (n: PodRole) => containers.find((c) => c.name === n)!;
  const mount = byName('redis').command[1]!;
  // The literal settings the pods give start.sh (MASTER_NAME, HEADLESS_SERVICE); the same in both.
  const literal = (c: Container) =>
    Object.fromEntries(c.env.filter((e) => e.value !== undefined).map((e) => [e.name, e.value!]));
  expect(literal(byName('sentinel'))).toEqual(literal(byName('redis')));
  return {
    script: cm.data['start.sh'],
    scriptPath: mount,
    command: { redis: byName('redis').command, sentinel: byName('sentinel').command },
    env: { ...literal(byName('redis')), POD_NAMESPACE: 'drainwatch' },
    replicas: sts.spec.replicas,
  };
}

const fields = (text: string, sep: string): Record<string, string> =>
  Object.fromEntries(
    text
      .split(sep === ':' ? '\r\n' : '\n')
      .filter((l) => l.includes(sep))
      .map((l) => [l.slice(0, l.indexOf(sep)), l.slice(l.indexOf(sep) + 1)]),
  );

describe('manifests/redis-sentinel start.sh on loopback', () => {
  let m: Manifest;
  let pods: LoopbackPods;
  beforeAll(async () => {
    m = await readManifest();
    pods = await startLoopbackPods(PASSWORD, m);
  });
  afterAll(async () => {
    await pods?.stop();
  });

  const group = () => m.env.MASTER_NAME!;
  const replication = async (port: number) =>
    fields(String(await pods.ask(port, 'INFO', 'replication').catch(() => '')), ':');
  const pairs = (flat: unknown): Record<string, string> => {
    const a = flat as string[];
    return Object.fromEntries(a.flatMap((v, i) => (i % 2 === 0 ? [[v, a[i + 1]!]] : [])));
  };
  const namedMaster = async (sentinel: number) => {
    const addr = (await pods.ask(sentinel, 'SENTINEL', 'GET-MASTER-ADDR-BY-NAME', group())) as
      | string[]
      | null;
    return addr ? `${addr[0]}:${addr[1]}` : undefined;
  };
  /** Every listed sentinel names `master`, knows the 2 other sentinels (no stale one) and 2 replicas, both up and linked. */
  const sentinelsAgree = async (sentinels: readonly number[], master: number) => {
    for (const s of sentinels) {
      if ((await namedMaster(s).catch(() => undefined)) !== `127.0.0.1:${master}`) return false;
      const info = pairs(await pods.ask(s, 'SENTINEL', 'MASTER', group()));
      if (info['num-other-sentinels'] !== '2') return false;
      const replicas = ((await pods.ask(s, 'SENTINEL', 'REPLICAS', group())) as unknown[]).map(pairs);
      if (
        replicas.length !== 2 ||
        replicas.some((r) => r.flags !== 'slave' || r['master-link-status'] !== 'ok')
      )
        return false;
    }
    return true;
  };
  const replicaOf = async (port: number, master: number) => {
    const r = await replication(port);
    return r.role === 'slave' && r.master_port === String(master) && r.master_link_status === 'up';
  };

  it('forms 1 master + 2 replicas + 3 sentinels; after a failover a restarted pod 0 rejoins as a replica', async () => {
    const [p0, p1, p2] = pods.redisPorts as [number, number, number];
    const sentinels = pods.sentinelPorts;
    // podManagementPolicy Parallel: every container of every pod starts at once.
    const started = await Promise.all(
      [0, 1, 2].flatMap((i) => (['redis', 'sentinel'] as const).map((r) => pods.start(i, r))),
    );
    expect(started[0]).toMatch(/redis-node-0 redis on 127\.0\.0\.1: master \(/);
    for (const line of [started[2], started[4]]) expect(line).toContain(`replica of 127.0.0.1:${p0} (`);

    await pollUntil(async () => (await replicaOf(p1, p0)) && (await replicaOf(p2, p0)), {
      timeoutMs: 15_000,
      intervalMs: 100,
      what: 'pods 1 and 2 to replicate pod 0',
    });
    await pollUntil(() => sentinelsAgree(sentinels, p0), {
      timeoutMs: 20_000,
      intervalMs: 200,
      what: 'the 3 sentinels to name pod 0 and know each other and both replicas',
    });
    await pods.ask(p0, 'SET', 'drainwatch:k', 'before');
    expect(await pods.ask(p0, 'WAIT', '2', '5000')).toBe(2);

    // Pod 0 lost, both containers: the two sentinels left are a quorum (2) and a majority of 3.
    const killedAt = Date.now();
    await pods.kill(0);
    const promoted = await pollUntil(
      async () => {
        const named = await Promise.all(sentinels.slice(1).map((s) => namedMaster(s).catch(() => undefined)));
        const port = Number(named[0]?.split(':')[1]);
        if (named[0] !== named[1] || ![p1, p2].includes(port)) return undefined;
        return (await replication(port)).role === 'master' ? port : undefined;
      },
      { timeoutMs: 40_000, intervalMs: 100, what: 'the sentinels to promote pod 1 or pod 2' },
    );
    const failoverMs = Date.now() - killedAt;
    expect(await pods.ask(promoted, 'GET', 'drainwatch:k')).toBe('before');

    // Pod 0 again, through the same script: it asks pods 1 and 2's sentinels, not its own.
    const [redisLog, sentinelLog] = await Promise.all([pods.start(0, 'redis'), pods.start(0, 'sentinel')]);
    const role = (await pods.ask(p0, 'ROLE')) as unknown[];
    // At once, before any sentinel could reconfigure it: a replica of the promoted master.
    expect(role.slice(0, 3)).toEqual(['slave', '127.0.0.1', promoted]);
    expect(redisLog).toMatch(
      new RegExp(
        `: replica of 127\\.0\\.0\\.1:${promoted} \\(sentinel 127\\.0\\.0\\.1:(${sentinels[1]}|${sentinels[2]})\\)`,
      ),
    );
    expect(sentinelLog).toContain(`sentinel of 127.0.0.1:${promoted} (sentinel 127.0.0.1:`);
    await pollUntil(() => replicaOf(p0, promoted), {
      timeoutMs: 15_000,
      intervalMs: 100,
      what: 'pod 0 to be in sync with the promoted master',
    });
    expect(await pods.ask(p0, 'GET', 'drainwatch:k')).toBe('before');
    // All three sentinels agree; the restarted sentinel (a new ID at the same address) replaced its
    // old entry in the others (redis/redis#9240, Redis 7), which a failover's majority counts.
    await pollUntil(() => sentinelsAgree(sentinels, promoted), {
      timeoutMs: 20_000,
      intervalMs: 200,
      what: 'the 3 sentinels to name the promoted master, with 2 other sentinels each',
    });
    const roles = await Promise.all(
      pods.redisPorts.map(async (p) => ((await pods.ask(p, 'ROLE')) as string[])[0]),
    );
    expect(roles.filter((r) => r === 'master')).toHaveLength(1);
    await pods.ask(promoted, 'SET', 'drainwatch:k', 'after');
    expect(await pods.ask(promoted, 'WAIT', '2', '5000')).toBe(2);
    console.log(`redis-sentinel manifests: failover ${failoverMs} ms after pod 0 was killed`);
  }, 90_000);

  it('gives the pods their DNS names and ports by default; busybox sh writes the same config as sh', async () => {
    const confDir = await mkdtemp(join(tmpdir(), 'drainwatch-start-sh-'));
    const script = join(confDir, 'start.sh');
    await writeFile(script, m.script);
    const shells: string[][] = [['sh']];
    try {
      shells.push([findBinary('busybox'), 'sh']);
    } catch {
      // busybox (Alpine's shell) not installed: sh only
    }
    const print = async (shell: string[], pod: number, role: PodRole) => {
      const env = {
        PATH: process.env.PATH ?? '/usr/bin:/bin',
        ...m.env,
        POD_NAME: `redis-node-${pod}`,
        REDIS_PASSWORD: PASSWORD,
        // One directory per pod and container: the calls of one shell run at once.
        CONF_DIR: join(confDir, `${pod}-${role}`),
        // No sentinel answers here: the names do not resolve (first boot).
        QUERY_TIMEOUT_S: '1',
      };
      const [bin, ...args] = shell;
      return (await run(bin!, [...args, script, role, '--print'], { env, timeout: 20_000 })).stdout;
    };
    try {
      const name = (i: number) => `redis-node-${i}.redis-headless.drainwatch.svc.cluster.local`;
      const outputs: string[] = [];
      for (const shell of shells) {
        const [r0, r1, s1] = await Promise.all([
          print(shell, 0, 'redis'),
          print(shell, 1, 'redis'),
          print(shell, 1, 'sentinel'),
        ]);
        outputs.push(r0 + r1 + s1);
        expect(r0).not.toContain('replicaof');
        expect(r1).toContain(`replicaof ${name(0)} 6379\n`);
        expect(r1).toContain(`replica-announce-ip ${name(1)}\n`);
        for (const line of ['port 6379', 'appendonly yes', 'min-replicas-to-write 1', 'dir /data'])
          expect(r1.split('\n')).toContain(line);
        expect(r1).toContain('masterauth "pw \\"quoted\\\\ secret"\n');
        const lines = s1.split('\n');
        const monitor = lines.indexOf(`sentinel monitor ${group()} ${name(0)} 6379 2`);
        expect(monitor).toBeGreaterThan(lines.indexOf('sentinel resolve-hostnames yes'));
        expect(lines.indexOf('sentinel resolve-hostnames yes')).toBeGreaterThanOrEqual(0);
        expect(lines).toContain('sentinel announce-hostnames yes');
        expect(lines).toContain(`sentinel announce-ip ${name(1)}`);
        expect(lines).toContain('port 26379');
      }
      expect(new Set(outputs).size).toBe(1);
    } finally {
      await rm(confDir, { recursive: true, force: true });
    }
  }, 60_000);
});
