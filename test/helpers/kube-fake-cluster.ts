import { createHash } from 'node:crypto';
import { delay } from '../../lib/wait.js';
import type { FakeApiServer, KObject } from './kube-fake-apiserver.js';

// The controllers and kubelet behind the fake API server, scripted: a Deployment controller that
// answers a pod-template change with a rolling update (maxSurge 1, maxUnavailable 0), an
// EndpointSlice controller that marks a deleted pod's endpoint terminating after a configurable
// delay and removes it once the pod is gone, and a kubelet that reports container exits (exit
// 137 at the grace period when the app ignores SIGTERM). Everything they do reaches the adapter
// only through the API server's lists and watches.

export interface FakePod {
  readonly namespace: string;
  readonly name: string;
  readonly workload: string;
}

export interface PodExit {
  readonly exitCode: number;
}

export interface PodScript {
  /** The app of a new pod: resolves when it is ready; may return the port it listens on. */
  start?(pod: FakePod): Promise<{ port?: number } | undefined>;
  /**
   * The kubelet's SIGTERM (there is no preStop in the fake): resolves with the container's exit.
   * `deadline` is the grace period's end; the fake kills with 137 there if this has not resolved.
   */
  stop?(pod: FakePod, deadline: Date): Promise<PodExit>;
}

export interface FakeClusterOptions {
  /** From creation to ready, when the script has no start(). */
  readonly readyDelayMs?: number;
  /** From deletionTimestamp to the EndpointSlice marking the endpoint terminating. */
  readonly endpointDelayMs?: number;
  /** From SIGTERM to a clean exit, when the script has no stop(). */
  readonly exitDelayMs?: number;
  readonly script?: PodScript;
}

export interface FakeWorkload {
  readonly namespace: string;
  readonly name: string;
  readonly replicas: number;
  readonly graceSeconds?: number;
  /** The Service whose EndpointSlice lists the pods (default: the workload name). */
  readonly service?: string;
  /** Apps that ignore SIGTERM: killed with exit 137 at the grace period. */
  readonly ignoreSigterm?: boolean;
}

export interface FakeCluster {
  addDeployment(w: FakeWorkload): Promise<void>;
  /** Deletes one pod the way `kubectl delete pod` does (graceful, with the termination sequence). */
  deletePod(namespace: string, name: string): Promise<void>;
  /** Resolves when every rollout and termination in progress has finished. */
  idle(): Promise<void>;
  /** The port a pod's app listens on (from the script's start()). */
  portOf(namespace: string, name: string): number | undefined;
}

export const FAKE_PORT_ANNOTATION = 'fake.drainwatch.dev/port';

/** metav1.Time has second precision on the wire. */
export function k8sTime(d: Date): string {
  return d.toISOString().replace(/\.\d{3}Z$/, 'Z');
}

export function createFakeCluster(api: FakeApiServer, options: FakeClusterOptions = {}): FakeCluster {
  const readyDelayMs = options.readyDelayMs ?? 30;
  const endpointDelayMs = options.endpointDelayMs ?? 80;
  const exitDelayMs = options.exitDelayMs ?? 60;
  const workloads = new Map<string, FakeWorkload>();
  const pending = new Set<Promise<unknown>>();
  const ports = new Map<string, number>();
  let podSeq = 0;
  let ipSeq = 10;

  const track = <T>(p: Promise<T>): Promise<T> => {
    pending.add(p);
    p.finally(() => pending.delete(p)).catch(() => undefined);
    return p;
  };

  const sliceName = (w: FakeWorkload) => `${w.service ?? w.name}-abcde`;
  const hashOf = (template: unknown) =>
    createHash('sha256').update(JSON.stringify(template)).digest('hex').slice(0, 10);

  function podsOf(w: FakeWorkload): KObject[] {
    return api.list('pods', w.namespace).filter((p) => p.metadata.labels?.app === w.name);
  }

  function refreshStatus(w: FakeWorkload): void {
    const dep = api.get('deployments', w.namespace, w.name);
    if (!dep) return;
    const hash = hashOf(dep.spec.template);
    const live = podsOf(w).filter((p) => !p.metadata.deletionTimestamp);
    const ready = live.filter(isReady).length;
    api.update('deployments', w.namespace, w.name, (d) => {
      d.status = {
        observedGeneration: d.metadata.generation,
        replicas: live.length,
        updatedReplicas: live.filter((p) => p.metadata.labels['pod-template-hash'] === hash).length,
        readyReplicas: ready,
        availableReplicas: ready,
        unavailableReplicas: Math.max(0, d.spec.replicas - ready),
      };
    });
  }

  function updateEndpoint(w: FakeWorkload, pod: string, conditions: KObject | null, ip?: string): void {
    api.update('endpointslices', w.namespace, sliceName(w), (s) => {
      const rest = (s.endpoints ?? []).filter((e: KObject) => e.targetRef?.name !== pod);
      const existing = (s.endpoints ?? []).find((e: KObject) => e.targetRef?.name === pod);
      s.endpoints = conditions
        ? [
            ...rest,
            {
              addresses: existing?.addresses ?? [ip ?? '10.0.0.1'],
              conditions,
              targetRef: { kind: 'Pod', namespace: w.namespace, name: pod },
            },
          ]
        : rest;
    });
  }

  async function createPod(w: FakeWorkload, template: KObject): Promise<string> {
    const name = `${w.name}-${hashOf(template).slice(0, 5)}-${(++podSeq).toString(36).padStart(5, 'x')}`;
    const ip = `10.0.0.${ipSeq++}`;
    const pod: FakePod = { namespace: w.namespace, name, workload: w.name };
    api.put('pods', {
      metadata: {
        name,
        namespace: w.namespace,
        labels: { ...template.metadata.labels, 'pod-template-hash': hashOf(template) },
        annotations: { ...(template.metadata.annotations ?? {}) },
        ownerReferences: [
          { apiVersion: 'apps/v1', kind: 'ReplicaSet', name: `${w.name}-${hashOf(template)}`, uid: 'rs' },
        ],
      },
      spec: { ...template.spec, nodeName: 'fake-node' },
      status: { phase: 'Pending', podIP: ip, conditions: [{ type: 'Ready', status: 'False' }] },
    });
    updateEndpoint(w, name, { ready: false, serving: false, terminating: false }, ip);
    refreshStatus(w);
    let started: { port?: number } | undefined;
    if (options.script?.start) started = await options.script.start(pod);
    else await delay(readyDelayMs);
    if (started?.port) ports.set(`${w.namespace}/${name}`, started.port);
    api.update('pods', w.namespace, name, (p) => {
      if (started?.port) p.metadata.annotations[FAKE_PORT_ANNOTATION] = String(started.port);
      p.status = {
        phase: 'Running',
        podIP: ip,
        conditions: [{ type: 'Ready', status: 'True', lastTransitionTime: k8sTime(new Date()) }],
        containerStatuses: template.spec.containers.map((c: KObject) => ({
          name: c.name,
          ready: true,
          restartCount: 0,
          state: { running: { startedAt: k8sTime(new Date()) } },
        })),
      };
    });
    updateEndpoint(w, name, { ready: true, serving: true, terminating: false });
    refreshStatus(w);
    return name;
  }

  async function terminate(w: FakeWorkload, name: string): Promise<void> {
    const pod = api.get('pods', w.namespace, name);
    if (!pod || pod.metadata.deletionTimestamp) return;
    const grace = pod.spec.terminationGracePeriodSeconds ?? w.graceSeconds ?? 30;
    // Like kube-apiserver: deletionTimestamp is when the grace period runs out.
    const deadline = new Date(Date.now() + grace * 1000);
    api.update('pods', w.namespace, name, (p) => {
      p.metadata.deletionTimestamp = k8sTime(deadline);
      p.metadata.deletionGracePeriodSeconds = grace;
    });
    refreshStatus(w);
    const endpoints = (async () => {
      await delay(endpointDelayMs);
      updateEndpoint(w, name, { ready: false, serving: true, terminating: true });
    })();
    const fakePod: FakePod = { namespace: w.namespace, name, workload: w.name };
    const killAt = new Promise<PodExit>((resolve) => {
      const t = setTimeout(() => resolve({ exitCode: 137 }), Math.max(0, deadline.getTime() - Date.now()));
      t.unref();
    });
    const exited: Promise<PodExit> = w.ignoreSigterm
      ? killAt
      : options.script?.stop
        ? Promise.race([options.script.stop(fakePod, deadline), killAt])
        : delay(exitDelayMs).then(() => ({ exitCode: 0 }));
    const { exitCode } = await exited;
    await endpoints;
    api.update('pods', w.namespace, name, (p) => {
      p.status.phase = exitCode === 0 ? 'Succeeded' : 'Failed';
      p.status.conditions = [{ type: 'Ready', status: 'False' }];
      p.status.containerStatuses = (p.status.containerStatuses ?? []).map((c: KObject) => ({
        ...c,
        ready: false,
        state: {
          terminated: {
            exitCode,
            reason: exitCode === 0 ? 'Completed' : 'Error',
            startedAt: c.state?.running?.startedAt,
            finishedAt: k8sTime(new Date()),
          },
        },
      }));
    });
    api.remove('pods', w.namespace, name);
    updateEndpoint(w, name, null);
    ports.delete(`${w.namespace}/${name}`);
    refreshStatus(w);
  }

  async function rollingUpdate(dep: KObject): Promise<void> {
    const w = workloads.get(`${dep.metadata.namespace}/${dep.metadata.name}`);
    if (!w) return;
    const hash = hashOf(dep.spec.template);
    const old = podsOf(w).filter(
      (p) => p.metadata.labels['pod-template-hash'] !== hash && !p.metadata.deletionTimestamp,
    );
    refreshStatus(w);
    const terminations: Promise<void>[] = [];
    for (const p of old) {
      await createPod(w, dep.spec.template);
      terminations.push(terminate(w, p.metadata.name));
    }
    await Promise.all(terminations);
    refreshStatus(w);
  }

  api.onTemplateChange((dep) => {
    track(rollingUpdate(dep));
  });

  return {
    async addDeployment(w) {
      workloads.set(`${w.namespace}/${w.name}`, w);
      const template = {
        metadata: { labels: { app: w.name } },
        spec: {
          terminationGracePeriodSeconds: w.graceSeconds ?? 30,
          containers: [{ name: 'app', image: 'example/app:1', ports: [{ containerPort: 8080 }] }],
        },
      };
      api.put('deployments', {
        metadata: { name: w.name, namespace: w.namespace, generation: 1 },
        spec: { replicas: w.replicas, selector: { matchLabels: { app: w.name } }, template },
        status: {},
      });
      api.put('endpointslices', {
        metadata: {
          name: sliceName(w),
          namespace: w.namespace,
          labels: { 'kubernetes.io/service-name': w.service ?? w.name },
        },
        addressType: 'IPv4',
        ports: [{ name: 'http', port: 8080, protocol: 'TCP' }],
        endpoints: [],
      });
      await Promise.all(Array.from({ length: w.replicas }, () => createPod(w, template)));
    },
    deletePod(namespace, name) {
      const w = [...workloads.values()].find(
        (x) => x.namespace === namespace && name.startsWith(`${x.name}-`),
      );
      if (!w) throw new Error(`fake cluster: no workload for pod ${name}`);
      return track(terminate(w, name));
    },
    async idle() {
      while (pending.size > 0) await Promise.all([...pending]);
    },
    portOf: (namespace, name) => ports.get(`${namespace}/${name}`),
  };
}

function isReady(p: KObject): boolean {
  return (p.status?.conditions ?? []).some((c: KObject) => c.type === 'Ready' && c.status === 'True');
}
