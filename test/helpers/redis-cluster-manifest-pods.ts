import { execFile } from 'node:child_process';
import { renameSync, writeFileSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';
import { findBinary } from '../../lib/servers.js';
import {
  type Container,
  containerEnv,
  expandKubeVars,
  mountPath,
  namedPort,
  readManifest,
  substitute,
} from './manifest-pods.js';
import { createPodProcesses, freePortBlock, freePorts, type PodProcess } from './pod-processes.js';
import { redisCall } from './redis-call.js';

// The pods of manifests/redis-cluster/ on loopback: six redis-servers started by the StatefulSet's
// container command (`sh -c 'exec sh start.sh redis.conf …'`, after the kubelet's `$(VAR)`
// expansion) with the ConfigMap's redis.conf and start.sh, and the init Job's script run with
// `sh -c` as its container runs it (busybox sh, the image's shell, when installed).
// Rewritten, by explicit substitutions that fail when the manifest no longer holds the token: each
// node gets its own port (consecutive, so the Job's loop computes it from `$i`) and bus port, and
// the volume paths move to the pod's directory. Two ways to give pods addresses and names:
// - shared (default): every pod on 127.0.0.1, the pods' DNS names become `localhost` (still a host
//   name, which redis-cli and ioredis resolve, as in Kubernetes);
// - podAddresses: each pod on the 127.x.y.z address start() gives it (its pod IP, listening and
//   connecting from it only, as a pod's one interface), the DNS names kept; DNS is a hosts file
//   here, each pod's name pointing at its latest address, read by start.sh in place of `getent
//   hosts` and by the init Job in place of the names; clients use natMap() for the names.

const run = promisify(execFile);

type Spec<T> = { metadata: { name: string }; spec: T };
export type PodTemplate = {
  template: { spec: { containers: Container[]; volumes?: { name: string; configMap?: { name: string } }[] } };
};

const DIR = 'manifests/redis-cluster/';
const cm = readManifest<{ metadata: { name: string }; data: Record<string, string> }>(`${DIR}configmap.yaml`);
const sts = readManifest<
  Spec<
    PodTemplate & {
      replicas: number;
      serviceName: string;
      volumeClaimTemplates: { metadata: { name: string } }[];
    }
  >
>(`${DIR}statefulset.yaml`);
const job = readManifest<Spec<PodTemplate>>(`${DIR}init-job.yaml`);
const container = sts.spec.template.spec.containers[0]!;
const confKey = 'redis.conf';
const scriptKey = 'start.sh';
const confVolume = sts.spec.template.spec.volumes?.find((v) => v.configMap?.name === cm.metadata.name);
// The overlay that uses the component sets the namespace its pods run in.
const namespace = readManifest<{ namespace: string }>('examples/redis-cluster/kustomization.yaml').namespace;
const podName = (i: number | string) => `${sts.metadata.name}-${i}`;

/**
 * The shell the containers' `sh -c` runs in: busybox's when installed (the Alpine image's shell),
 * else the system's sh.
 */
export const POD_SHELL: readonly string[] = (() => {
  try {
    return [findBinary('busybox'), 'sh'];
  } catch {
    return ['sh'];
  }
})();

/** What the tests read from manifests/redis-cluster/. */
export const REDIS_CLUSTER_MANIFEST = {
  sts,
  container,
  jobContainer: job.spec.template.spec.containers[0]!,
  conf: cm.data[confKey]!,
  /** start.sh, the container's entry point. */
  script: cm.data[scriptKey] ?? '',
  /** Where the container sees redis.conf: the ConfigMap's key under the mount of the volume naming it. */
  confPath: confVolume ? `${mountPath(container, confVolume.name)}/${confKey}` : undefined,
  scriptPath: confVolume ? `${mountPath(container, confVolume.name)}/${scriptKey}` : undefined,
  component: readManifest<{ patches: { target?: { kind: string }; patch: string }[] }>(
    `${DIR}kustomization.yaml`,
  ),
  namespace,
  ports: { redis: namedPort(container, 'redis'), bus: namedPort(container, 'bus') },
  nodes: Array.from({ length: sts.spec.replicas }, (_, i) => i),
  podName,
  /** A pod's DNS name as the StatefulSet's command and the init Job spell it (`$i` for the Job's loop). */
  fqdn: (i: number | string) => `${podName(i)}.${sts.spec.serviceName}.${namespace}.svc`,
} as const;

const M = REDIS_CLUSTER_MANIFEST;

/** redis.conf's value of `name`, or undefined. */
export function redisDirective(name: string): string | undefined {
  return new RegExp(`^${name} (.+)$`, 'm').exec(M.conf)?.[1];
}

/** The redis container's mount holding `path`; throws when it is on none. */
export function redisMountOf(path: string): { name: string; mountPath: string } {
  const m = container.volumeMounts?.find((v) => path === v.mountPath || path.startsWith(`${v.mountPath}/`));
  if (!m) throw new Error(`${path} is on no volume of the redis container`);
  return m;
}

export interface RedisClusterManifestPods {
  /** Node i's client port (consecutive from the first). */
  port(i: number): number;
  /** Node i's address: its pod IP (its latest), 127.0.0.1 when pods share it. */
  address(i: number): string;
  /**
   * Starts pod i's container, with `address` as its pod IP (podAddresses only; its DNS name points
   * there from then on); resolves once it listens.
   */
  start(i: number, address?: string): Promise<PodProcess>;
  process(i: number): PodProcess;
  /** The StatefulSet's readiness probe on node i (an exec in the pod: Redis's default port, so `-p` added). */
  ready(i: number): Promise<boolean>;
  /** Runs the init Job's script once: its exit status and what it printed (a timeout throws). */
  runInit(): Promise<{ code: number; output: string }>;
  /** One command on node i. */
  call(i: number, ...args: string[]): Promise<unknown>;
  /** ioredis Cluster's natMap for the announced names: each pod's name and port to its address. */
  natMap(): Record<string, { host: string; port: number }>;
  stop(): Promise<void>;
}

export async function startRedisClusterManifestPods(
  opts: { podAddresses?: boolean } = {},
): Promise<RedisClusterManifestPods> {
  const root = await mkdtemp(join(tmpdir(), 'drainwatch-redis-cluster-manifest-'));
  const procs = createPodProcesses();
  const running: PodProcess[] = [];
  const base = await freePortBlock(M.nodes.length);
  const busPorts = await freePorts(
    M.nodes.length,
    M.nodes.map((i) => base + i),
  );
  const port = (i: number) => base + i;
  // The binaries the scripts find, first on PATH (an override such as DRAINWATCH_REDIS_CLI_BIN included).
  const PATH = [
    dirname(findBinary('redis-server', 'DRAINWATCH_REDIS_SERVER_BIN')),
    dirname(findBinary('redis-cli', 'DRAINWATCH_REDIS_CLI_BIN')),
    process.env.PATH ?? '/usr/bin:/bin',
  ].join(':');
  const local = (i: number, path: string) => {
    const m = redisMountOf(path);
    return join(root, podName(i), m.name, path.slice(m.mountPath.length));
  };
  const jobEnv = () => containerEnv(M.jobContainer, { name: 'redis-cluster-init-x', namespace });
  // The pods' DNS: name → latest address, written to a hosts file ("address name" lines).
  const dns = new Map<string, string>(opts.podAddresses ? [] : [['localhost', '127.0.0.1']]);
  const hostsFile = join(root, 'hosts');
  const address = (i: number) => (opts.podAddresses ? dns.get(M.fqdn(i)) : undefined) ?? '127.0.0.1';
  // A shell word resolving `name` (may hold `$i`) through the hosts file, as getent resolves it.
  const lookup = (name: string) => `$(awk -v h="${name}" '$2 == h { print $1; exit }' '${hostsFile}')`;

  function initScript(): string {
    const [script] = (M.jobContainer.args ?? []).map((a) => expandKubeVars(a, jobEnv()));
    const out = substitute(
      script ?? '',
      [
        // The loop names every pod of the StatefulSet (an identity: the count is the check).
        { from: `for i in ${M.nodes.join(' ')}; do`, to: `for i in ${M.nodes.join(' ')}; do` },
        { from: `host="${M.fqdn('$i')}"`, to: `host="@HOST_I@" port=$((${base} + i))` },
        { from: 'redis-cli -h "$host" ping', to: 'redis-cli -h "$host" -p "$port" ping' },
        { from: `$host:${M.ports.redis}`, to: '$host:$port' },
        { from: `redis-cli -h "${M.fqdn(0)}"`, to: `redis-cli -h "@HOST_0@" -p ${port(0)}` },
      ],
      'the init Job script',
    );
    const left = new RegExp(`${sts.spec.serviceName}|${M.ports.redis}`).exec(out);
    if (left) throw new Error(`the init Job script still holds ${left[0]} after substitution`);
    return out
      .replace('@HOST_I@', () => (opts.podAddresses ? lookup(M.fqdn('$i')) : 'localhost'))
      .replace('@HOST_0@', () => (opts.podAddresses ? lookup(M.fqdn(0)) : 'localhost'));
  }

  return {
    port,
    address,
    async start(i, podIp) {
      if (Boolean(opts.podAddresses) !== (podIp !== undefined))
        throw new Error('start(i, address): an address exactly when the pods have their own');
      if (podIp) dns.set(M.fqdn(i), podIp);
      // Synchronous, and replaced whole: pods started at once neither read a half-written file nor
      // have an older snapshot of the table written after a newer one.
      writeFileSync(`${hostsFile}.new`, [...dns].map(([name, ip]) => `${ip} ${name}\n`).join(''));
      renameSync(`${hostsFile}.new`, hostsFile);
      const ip = address(i);
      for (const m of container.volumeMounts ?? [])
        await mkdir(join(root, podName(i), m.name), { recursive: true });
      const conf = substitute(
        M.conf,
        ['cluster-config-file', 'dir'].map((d) => {
          const path = redisDirective(d) ?? `(no ${d})`;
          return { from: `${d} ${path}\n`, to: `${d} ${local(i, path)}\n` };
        }),
        `redis.conf of ${podName(i)}`,
      );
      // The config names no port (the tests check it): Redis's defaults, 6379 and the bus at
      // +10000, are the container's. Each loopback node gets its own instead.
      const file = local(i, M.confPath ?? '(no config volume)');
      // A pod has one interface: Redis listens on its address and connects from it.
      await writeFile(
        file,
        `${conf}port ${port(i)}\ncluster-port ${busPorts[i]}\nbind ${ip}\nbind-source-addr ${ip}\n`,
      );
      const scriptFile = local(i, M.scriptPath ?? '(no config volume)');
      await writeFile(
        scriptFile,
        substitute(
          M.script,
          [{ from: 'getent hosts "$1"', to: `awk -v h="$1" '$2 == h' '${hostsFile}'` }],
          'start.sh',
        ),
      );
      const env = containerEnv(container, { name: podName(i), namespace, ip });
      const [script] = (container.args ?? []).map((a) => expandKubeVars(a, env));
      const command = substitute(
        script ?? '',
        [
          { from: 'exec sh ', to: `exec ${POD_SHELL.join(' ')} ` },
          { from: M.scriptPath ?? '(no config volume)', to: scriptFile },
          { from: M.confPath ?? '(no config volume)', to: file },
          ...(opts.podAddresses ? [] : [{ from: `"${M.fqdn(i)}"`, to: '"localhost"' }]),
        ],
        `the command of ${podName(i)}`,
      );
      running[i] = await procs.start({
        bin: POD_SHELL[0]!,
        args: [...POD_SHELL.slice(1), '-c', command],
        env: { ...env, PATH },
        cwd: join(root, podName(i)),
        port: port(i),
        host: ip,
      });
      return running[i]!;
    },
    process: (i) => running[i]!,
    async ready(i) {
      const [bin, ...args] = container.readinessProbe?.exec?.command ?? [];
      if (bin !== 'redis-cli') throw new Error(`the readiness probe runs ${bin}, not redis-cli`);
      // The pod's own loopback is not its own here: its address instead.
      const { stdout } = await run(bin, ['-h', address(i), '-p', String(port(i)), ...args], {
        env: { PATH },
        timeout: 5000,
      });
      return stdout.trim() === 'PONG';
    },
    async runInit() {
      const script = initScript();
      try {
        const [shell, ...shellArgs] = POD_SHELL;
        const r = await run(shell!, [...shellArgs, '-c', script], {
          env: { ...jobEnv(), PATH },
          timeout: 60_000,
        });
        return { code: 0, output: r.stdout + r.stderr };
      } catch (err) {
        const e = err as { code?: unknown; stdout?: string; stderr?: string };
        // An exit status is the script's answer; anything else (a timeout, no shell) is the test's failure.
        if (typeof e.code !== 'number') throw err;
        return { code: e.code, output: `${e.stdout ?? ''}${e.stderr ?? ''}` };
      }
    },
    call: (i, ...args) => redisCall({ host: address(i), port: port(i) }, ...args),
    natMap: () =>
      Object.fromEntries(
        M.nodes.map((i) => [`${M.fqdn(i)}:${port(i)}`, { host: address(i), port: port(i) }]),
      ),
    async stop() {
      await procs.stopAll();
      await rm(root, { recursive: true, force: true });
    },
  };
}
