import { AppsV1Api, PatchStrategy, setHeaderOptions } from '@kubernetes/client-node';
import { afterEach, describe, expect, it } from 'vitest';
import type { ClusterEvent } from '../../cluster/adapter.js';
import {
  createKubernetesAdapter,
  type KubernetesAdapter,
  KubernetesUnavailableError,
  RESTARTED_AT_ANNOTATION,
  WorkloadNotFoundError,
  waitEndpointsTerminating,
} from '../../cluster/kubernetes/index.js';
import { freePort } from '../../lib/servers.js';
import { pollUntil } from '../../lib/wait.js';
import {
  type FakeApiServer,
  type FakeApiServerOptions,
  startFakeApiServer,
} from '../helpers/kube-fake-apiserver.js';
import {
  createFakeCluster,
  type FakeCluster,
  type FakeClusterOptions,
} from '../helpers/kube-fake-cluster.js';

// The kubernetes adapter through @kubernetes/client-node against the in-repo fake API server
// (real HTTP, real watch streams), driven by the scripted controllers of kube-fake-cluster.

const NS = 'shop';
const cleanups: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!();
});

async function setup(opts: { api?: FakeApiServerOptions; cluster?: FakeClusterOptions } = {}) {
  const api = await startFakeApiServer(opts.api);
  cleanups.push(() => api.stop());
  const cluster = createFakeCluster(api, opts.cluster);
  cleanups.push(() => cluster.idle());
  const adapter = createKubernetesAdapter({
    kubeConfig: api.kubeConfig(NS),
    namespace: NS,
    watchRetryMinMs: 50,
  });
  cleanups.push(() => adapter.stop());
  const events: ClusterEvent[] = [];
  adapter.watch((e) => events.push(e));
  return { api, cluster, adapter, events };
}

const ofType = <T extends ClusterEvent['type']>(events: ClusterEvent[], type: T) =>
  events.filter((e): e is Extract<ClusterEvent, { type: T }> => e.type === type);

async function readyPods(adapter: KubernetesAdapter, name: string, n: number) {
  return pollUntil(
    async () => {
      const pods = await adapter.pods({ namespace: NS, name });
      return pods.filter((p) => p.ready).length === n && pods.length === n ? pods : undefined;
    },
    { timeoutMs: 20_000, what: `${n} ready pods of ${name}` },
  );
}

describe('kubernetes adapter against the fake API server', () => {
  it('lists pods of a Deployment with readiness and IPs', async () => {
    const { cluster, adapter, api } = await setup();
    await cluster.addDeployment({ namespace: NS, name: 'web', replicas: 3 });
    await adapter.start();
    const pods = await readyPods(adapter, 'web', 3);
    expect(
      pods.every((p) => p.phase === 'running' && p.workload === 'web' && p.ip?.startsWith('10.0.0.')),
    ).toBe(true);
    expect(pods.every((p) => !p.endpointsTerminating && p.terminatingSince === undefined)).toBe(true);
    const watchQueries = api.requests.filter((r) => r.query['watch'] === 'true');
    expect(watchQueries.length).toBeGreaterThanOrEqual(3);
    expect(
      watchQueries.every((r) => r.query['allowWatchBookmarks'] === 'true' && r.query['resourceVersion']),
    ).toBe(true);
  });

  it('rolloutRestart patches restartedAt like kubectl and follows the rollout to completion', async () => {
    const { cluster, adapter, api, events } = await setup({ cluster: { endpointDelayMs: 150 } });
    await cluster.addDeployment({ namespace: NS, name: 'web', replicas: 3 });
    await adapter.start();
    const before = (await readyPods(adapter, 'web', 3)).map((p) => p.name);

    const result = await adapter.rolloutRestart(
      { namespace: NS, name: 'web' },
      { rolloutId: 'r1', timeoutMs: 60_000 },
    );
    expect(result).toMatchObject({ rolloutId: 'r1', outcome: 'complete', podsReplaced: 3 });
    const patch = api.requests.find((r) => r.method === 'PATCH');
    expect(patch?.contentType).toBe('application/strategic-merge-patch+json');
    expect(
      api.get('deployments', NS, 'web')?.spec.template.metadata.annotations[RESTARTED_AT_ANNOTATION],
    ).toBe(result.startedAt.toISOString());

    const after = await adapter.pods({ namespace: NS, name: 'web' });
    expect(after).toHaveLength(3);
    expect(after.some((p) => before.includes(p.name))).toBe(false);

    for (const name of before) {
      const mine = events.filter((e) => 'pod' in e && e.pod.name === name).map((e) => e.type);
      // The termination sequence, in order, for every replaced pod.
      expect(mine.filter((t) => t !== 'pod-added' && t !== 'pod-ready')).toEqual([
        'pod-terminating',
        'endpoints-terminating',
        'container-exited',
        'pod-deleted',
      ]);
      const prop = ofType(events, 'endpoints-terminating').find((e) => e.pod.name === name)!;
      expect(prop.propagationMs).toBeGreaterThanOrEqual(0);
      expect(prop.pod.workload).toBe('web');
      const exit = ofType(events, 'container-exited').find((e) => e.pod.name === name)!;
      expect(exit).toMatchObject({ container: 'app', exitCode: 0, killedAtGrace: false });
    }
    const progress = ofType(events, 'rollout-progress').at(-1)!;
    expect(progress).toMatchObject({ updated: 3, ready: 3, desired: 3 });
    expect(ofType(events, 'pod-ready').filter((e) => !before.includes(e.pod.name))).toHaveLength(3);
  });

  it('reports exit 137 at the grace period as killed at grace', async () => {
    const { cluster, adapter, events } = await setup();
    await cluster.addDeployment({
      namespace: NS,
      name: 'stubborn',
      replicas: 1,
      graceSeconds: 1,
      ignoreSigterm: true,
    });
    await adapter.start();
    const [pod] = await readyPods(adapter, 'stubborn', 1);
    await cluster.deletePod(NS, pod!.name);
    const exit = await pollUntil(
      () => ofType(events, 'container-exited').find((e) => e.pod.name === pod!.name),
      {
        timeoutMs: 20_000,
        what: 'the container exit',
      },
    );
    expect(exit).toMatchObject({ exitCode: 137, signal: 'SIGKILL', killedAtGrace: true });
  });

  it('re-opens a watch the server dropped, resuming from its resourceVersion', async () => {
    // The victim's app exits only when the test says: the pods' and the EndpointSlices' watches
    // re-open each on its own schedule, and a pod deleted before the slices' watch is back has no
    // state left to attach the endpoint's change to (its endpoints-terminating is then not
    // reported, rather than reported late with an inflated propagation time).
    let release: (() => void) | undefined;
    const released = new Promise<void>((resolve) => {
      release = resolve;
    });
    const { cluster, adapter, api, events } = await setup({
      cluster: { script: { stop: () => released.then(() => ({ exitCode: 0 })) } },
    });
    await cluster.addDeployment({ namespace: NS, name: 'web', replicas: 2 });
    await adapter.start();
    const [victim] = await readyPods(adapter, 'web', 2);
    const listsBefore = api.requests.filter((r) => r.query['watch'] !== 'true').length;
    const typesOfVictim = () =>
      events.filter((e) => 'pod' in e && e.pod.name === victim!.name).map((e) => e.type);

    expect(api.dropWatches()).toBe(3);
    const deleted = cluster.deletePod(NS, victim!.name);
    await pollUntil(
      () => typesOfVictim().includes('pod-terminating') && typesOfVictim().includes('endpoints-terminating'),
      { timeoutMs: 20_000, what: 'the termination seen through the re-opened watches' },
    );
    release!();
    await deleted;
    await pollUntil(() => typesOfVictim().includes('pod-deleted'), {
      timeoutMs: 20_000,
      what: 'the deletion seen through the re-opened watch',
    });
    expect(adapter.stats().watchReopens).toBeGreaterThanOrEqual(3);
    // Resumed, not relisted: no new list request.
    expect(api.requests.filter((r) => r.query['watch'] !== 'true').length).toBe(listsBefore);
  });

  it('resumes after the server ends a stream cleanly (watch timeout)', async () => {
    const { cluster, adapter, api, events } = await setup();
    await cluster.addDeployment({ namespace: NS, name: 'web', replicas: 1 });
    await adapter.start();
    const [victim] = await readyPods(adapter, 'web', 1);
    api.endWatches();
    await cluster.deletePod(NS, victim!.name);
    await pollUntil(() => ofType(events, 'pod-deleted').some((e) => e.pod.name === victim!.name), {
      timeoutMs: 20_000,
      what: 'the deletion after a clean end of stream',
    });
  });

  it.each(['event', 'http'] as const)('relists after 410 Gone (as %s)', async (goneAs) => {
    const { cluster, adapter, api, events } = await setup({ api: { goneAs } });
    await cluster.addDeployment({ namespace: NS, name: 'web', replicas: 2 });
    await adapter.start();
    const [victim] = await readyPods(adapter, 'web', 2);
    const podLists = () =>
      api.requests.filter((r) => r.path.endsWith('/pods') && r.query['watch'] !== 'true').length;
    const listsBefore = podLists();

    // While the watches are down the pod disappears and history is compacted past the client.
    api.dropWatches();
    api.remove('pods', NS, victim!.name);
    const mark = api.requests.length;
    const compactedAt = api.resourceVersion;
    api.compact();
    await pollUntil(() => ofType(events, 'pod-deleted').some((e) => e.pod.name === victim!.name), {
      timeoutMs: 20_000,
      what: 'the deletion seen through a relist',
    });
    expect(podLists()).toBeGreaterThan(listsBefore);
    // The client asked to resume from a compacted version (answered 410), then listed again.
    const later = api.requests.slice(mark).filter((r) => r.path.endsWith('/pods'));
    const tooOld = later.findIndex(
      (r) => r.query['watch'] === 'true' && Number(r.query['resourceVersion']) < compactedAt,
    );
    expect(tooOld).toBeGreaterThanOrEqual(0);
    expect(later.slice(tooOld + 1).some((r) => r.query['watch'] !== 'true')).toBe(true);
    expect((await adapter.pods({ namespace: NS, name: 'web' })).map((p) => p.name)).not.toContain(
      victim!.name,
    );
  });

  it('the fake applies merge and strategic-merge patches; an unknown Deployment is not found', async () => {
    const { cluster, adapter, api } = await setup();
    await cluster.addDeployment({ namespace: NS, name: 'web', replicas: 1 });
    const appsApi = api.kubeConfig(NS).makeApiClient(AppsV1Api);
    await appsApi.patchNamespacedDeployment(
      { name: 'web', namespace: NS, body: { metadata: { labels: { team: 'shop' } } } },
      setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
    );
    expect(api.get('deployments', NS, 'web')?.metadata.labels).toEqual({ team: 'shop' });
    await expect(
      adapter.rolloutRestart({ namespace: NS, name: 'nope' }, { rolloutId: 'x', timeoutMs: 5_000 }),
    ).rejects.toBeInstanceOf(WorkloadNotFoundError);
  });

  it('fails fast when the API server is unreachable', async () => {
    const port = await freePort();
    const api = await startFakeApiServer();
    const kc = api.kubeConfig(NS);
    await api.stop();
    kc.clusters[0] = { ...kc.clusters[0]!, server: `http://127.0.0.1:${port}` };
    const adapter = createKubernetesAdapter({ kubeConfig: kc, namespace: NS });
    await expect(adapter.start()).rejects.toBeInstanceOf(KubernetesUnavailableError);
    await adapter.stop();
  });
});

describe('waitEndpointsTerminating (the agent adaptive-preStop seam)', () => {
  async function withPod(): Promise<{ api: FakeApiServer; cluster: FakeCluster; pod: string }> {
    const api = await startFakeApiServer();
    cleanups.push(() => api.stop());
    const cluster = createFakeCluster(api, { endpointDelayMs: 300 });
    cleanups.push(() => cluster.idle());
    await cluster.addDeployment({ namespace: NS, name: 'web', replicas: 1 });
    return { api, cluster, pod: api.list('pods', NS)[0]!.metadata.name };
  }

  it('resolves once every slice marks the pod terminating, not before', async () => {
    const { api, cluster, pod } = await withPod();
    let resolved = false;
    const waiting = waitEndpointsTerminating(api.kubeConfig(NS), NS, pod, AbortSignal.timeout(30_000)).then(
      () => {
        resolved = true;
      },
    );
    await pollUntil(() => api.openWatches('endpointslices') === 1, {
      timeoutMs: 10_000,
      what: 'the slice watch',
    });
    expect(resolved).toBe(false);
    const deleting = cluster.deletePod(NS, pod);
    await waiting;
    const slice = api.list('endpointslices', NS)[0]!;
    const endpoint = slice.endpoints.find((e: { targetRef: { name: string } }) => e.targetRef.name === pod);
    // Resolved by the terminating condition (or, under heavy load, by the endpoint's removal).
    expect(endpoint === undefined || endpoint.conditions.terminating === true).toBe(true);
    await deleting;
  });

  it('resolves at once for a pod no slice lists, and rejects when aborted', async () => {
    const { api, pod } = await withPod();
    await waitEndpointsTerminating(api.kubeConfig(NS), NS, 'not-a-pod', AbortSignal.timeout(30_000));
    const ac = new AbortController();
    const waiting = waitEndpointsTerminating(api.kubeConfig(NS), NS, pod, ac.signal);
    ac.abort(new Error('preStop deadline'));
    await expect(waiting).rejects.toThrow('preStop deadline');
  });
});
