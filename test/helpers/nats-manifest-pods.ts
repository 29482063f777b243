import { execFile } from 'node:child_process';
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
import { createPodProcesses, freePorts, type PodProcess } from './pod-processes.js';

// The pods of manifests/nats/ on loopback: nats.conf from the ConfigMap, the container's args and
// environment from the StatefulSet, one nats-server per pod. Only what cannot hold on one machine
// is rewritten, by explicit substitutions that fail when the manifest no longer holds the token:
// each node's client, cluster and monitoring ports (free loopback ones instead of 4222/6222/8222),
// the routes' DNS names (nats-N.nats-cluster → 127.0.0.1 and node N's cluster port) and the
// volume paths (store_dir, pid_file → the pod's directory). A pod's directories outlive its
// process, as its volumes outlive its container.

const run = promisify(execFile);

export interface NatsStatefulSet {
  metadata: { name: string };
  spec: {
    replicas: number;
    serviceName: string;
    volumeClaimTemplates: { metadata: { name: string } }[];
    template: {
      spec: {
        terminationGracePeriodSeconds: number;
        containers: Container[];
        volumes: { name: string; configMap?: { name: string } }[];
      };
    };
  };
}

const cm = readManifest<{ metadata: { name: string }; data: Record<string, string> }>(
  'manifests/nats/configmap.yaml',
);
const sts = readManifest<NatsStatefulSet>('manifests/nats/statefulset.yaml');
const container = sts.spec.template.spec.containers[0]!;
const configVolume = sts.spec.template.spec.volumes.find((v) => v.configMap?.name === cm.metadata.name);
const [confKey] = Object.keys(cm.data) as [string];

/** What the tests read from manifests/nats/ (and the namespace from manifests/kustomization.yaml). */
export const NATS_MANIFEST = {
  sts,
  container,
  conf: cm.data[confKey]!,
  /** Where the container sees nats.conf: the ConfigMap's key under the mount of the volume naming it. */
  confPath: configVolume ? `${mountPath(container, configVolume.name)}/${confKey}` : undefined,
  namespace: readManifest<{ namespace: string }>('manifests/kustomization.yaml').namespace,
  ports: {
    client: namedPort(container, 'client'),
    cluster: namedPort(container, 'cluster'),
    monitor: namedPort(container, 'monitor'),
  },
  nodes: Array.from({ length: sts.spec.replicas }, (_, i) => i),
  podName: (i: number) => `${sts.metadata.name}-${i}`,
  /** A pod's address as the other manifests name it: `nats-N.nats-cluster`. */
  dnsName: (i: number) => `${sts.metadata.name}-${i}.${sts.spec.serviceName}`,
} as const;

const M = NATS_MANIFEST;

/** A `key: value` setting of nats.conf (its first occurrence); undefined when absent. */
export function natsSetting(key: string): string | undefined {
  return new RegExp(`^\\s*${key}\\s*[:=]\\s*(\\S+)\\s*$`, 'm').exec(M.conf)?.[1];
}

/** A nats.conf duration (`30s`, `2m`) in seconds. */
export function natsSeconds(value: string): number {
  const m = /^(\d+)(s|m)$/.exec(value);
  if (!m) throw new Error(`unexpected duration ${value}`);
  return Number(m[1]) * (m[2] === 'm' ? 60 : 1);
}

/** The volume of the nats container holding `path`, and the path inside it; throws when on none. */
export function natsVolumeOf(path: string): { volume: string; rest: string } {
  const m = container.volumeMounts?.find((v) => path.startsWith(`${v.mountPath}/`));
  if (!m) throw new Error(`${path} is on no volume of the nats container`);
  return { volume: m.name, rest: path.slice(m.mountPath.length) };
}

export interface NatsNodePorts {
  readonly client: number;
  readonly cluster: number;
  readonly monitor: number;
}

export interface NatsManifestPods {
  readonly ports: readonly NatsNodePorts[];
  /** `127.0.0.1:<client port>` of node i. */
  url(i: number): string;
  /** Starts pod i's container (again, after a loss: same config, same volumes); resolves once it listens. */
  start(i: number): Promise<PodProcess>;
  /** Pod i's running (or last) process. */
  process(i: number): PodProcess;
  /** A GET on node i's monitoring port: its status and JSON body. */
  monitor<T>(i: number, path: string): Promise<{ status: number; body: T }>;
  /** The container's preStop hook run for pod i as the kubelet runs it (its pid file moved to the pod's volume); resolves when it returns. */
  preStop(i: number): Promise<void>;
  stop(): Promise<void>;
}

export async function startNatsManifestPods(): Promise<NatsManifestPods> {
  const root = await mkdtemp(join(tmpdir(), 'drainwatch-nats-manifest-'));
  const procs = createPodProcesses();
  const running: PodProcess[] = [];
  const all = await freePorts(3 * M.nodes.length);
  const ports = M.nodes.map((i) => ({
    client: all[3 * i]!,
    cluster: all[3 * i + 1]!,
    monitor: all[3 * i + 2]!,
  }));
  // The hook's `nats-server` is the one the tests run, first on PATH.
  const PATH = `${dirname(findBinary('nats-server', 'DRAINWATCH_NATS_SERVER_BIN'))}:${process.env.PATH ?? '/usr/bin:/bin'}`;
  const local = (i: number, path: string) => {
    const { volume, rest } = natsVolumeOf(path);
    return join(root, M.podName(i), volume, rest);
  };

  function nodeConf(i: number): string {
    const own = ports[i]!;
    const out = substitute(
      M.conf,
      [
        // http_port first: `port: 8222` is inside `http_port: 8222`.
        { from: `http_port: ${M.ports.monitor}\n`, to: `http: 127.0.0.1:${own.monitor}\n` },
        { from: `port: ${M.ports.client}\n`, to: `listen: 127.0.0.1:${own.client}\n` },
        { from: `port: ${M.ports.cluster}\n`, to: `listen: 127.0.0.1:${own.cluster}\n` },
        ...['pid_file', 'store_dir'].map((key) => {
          const path = natsSetting(key) ?? `(no ${key})`;
          return { from: `${key}: ${path}\n`, to: `${key}: ${local(i, path)}\n` };
        }),
        ...M.nodes.map((j) => ({
          from: `nats://${M.dnsName(j)}:${M.ports.cluster}`,
          to: `nats://127.0.0.1:${ports[j]!.cluster}`,
        })),
      ],
      `nats.conf of ${M.podName(i)}`,
    );
    // Nothing of Kubernetes left: no DNS name, no container port.
    const left = new RegExp(`\\.${sts.spec.serviceName}|\\b(${Object.values(M.ports).join('|')})\\b`).exec(
      out,
    );
    if (left) throw new Error(`nats.conf of ${M.podName(i)} still holds ${left[0]} after substitution`);
    return out;
  }

  const podEnv = (i: number) => containerEnv(container, { name: M.podName(i), namespace: M.namespace });

  return {
    ports,
    url: (i) => `127.0.0.1:${ports[i]!.client}`,
    async start(i) {
      for (const m of container.volumeMounts ?? [])
        await mkdir(join(root, M.podName(i), m.name), { recursive: true });
      const file = join(root, M.podName(i), confKey);
      await writeFile(file, nodeConf(i));
      const env = podEnv(i);
      // No command in the manifest: the image's entrypoint runs `nats-server "$@"` for args that
      // start with a flag (the tests check both).
      const args = (container.args ?? []).map((a) => (a === M.confPath ? file : expandKubeVars(a, env)));
      if (!args.includes(file)) throw new Error(`the container's args do not name ${M.confPath}`);
      running[i] = await procs.start({
        bin: findBinary('nats-server', 'DRAINWATCH_NATS_SERVER_BIN'),
        args,
        env,
        cwd: join(root, M.podName(i)),
        port: ports[i]!.client,
      });
      return running[i]!;
    },
    process: (i) => running[i]!,
    async monitor<T>(i: number, path: string) {
      const res = await fetch(`http://127.0.0.1:${ports[i]!.monitor}${path}`, {
        signal: AbortSignal.timeout(2000),
      });
      return { status: res.status, body: (await res.json()) as T };
    },
    async preStop(i) {
      const pidFile = natsSetting('pid_file') ?? '(no pid_file)';
      const [bin, ...args] = substitute(
        container.lifecycle!.preStop!.exec!.command.map((a) => expandKubeVars(a, podEnv(i))).join('\0'),
        [{ from: pidFile, to: local(i, pidFile) }],
        'the preStop command',
      ).split('\0');
      await run(bin!, args, { env: { PATH }, timeout: 10_000 });
    },
    async stop() {
      await procs.stopAll();
      await rm(root, { recursive: true, force: true });
    },
  };
}
