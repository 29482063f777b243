import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { type K8sObject, lintManifests, parseManifests, validateObject } from '../../kube/index.js';

// The shipped manifests: every object passes the Kubernetes schema, the kustomizations list files
// that exist, RBAC is least privilege, the NetworkPolicy keeps the admin port closed, the
// Dockerfiles are multi-stage and non-root, and drainwatch's own lint finds no error in them.

const root = fileURLToPath(new URL('../../manifests/', import.meta.url));

function yamlFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((f) => {
    const p = join(dir, f);
    if (statSync(p).isDirectory()) return f === 'alerts' ? [] : yamlFiles(p);
    return f.endsWith('.yaml') && f !== 'kustomization.yaml' ? [p] : [];
  });
}

const files = yamlFiles(root);
const objects: K8sObject[] = files.flatMap((f) =>
  parseManifests(readFileSync(f, 'utf8'), f)
    .docs.map((d) => d.object)
    .filter((o): o is K8sObject => o !== null),
);
// biome-ignore lint/suspicious/noExplicitAny: manifests are free-form JSON here.
type Spec = K8sObject & { spec: any };
const find = (kind: string, name: string) =>
  objects.find((o) => o.kind === kind && o.metadata.name === name)!;

describe('manifests/', () => {
  it('every object passes the Kubernetes schema; only CRD kinds go unvalidated', () => {
    const unvalidated = objects.filter((o) => !validateObject(o)).map((o) => o.kind);
    expect(unvalidated).toEqual(['ServiceMonitor']);
    expect(objects.length).toBeGreaterThanOrEqual(15);
  });

  it.each([
    'kustomization.yaml',
    'agent/kustomization.yaml',
    'redis-cluster/kustomization.yaml',
    'redis-sentinel/kustomization.yaml',
  ])('%s lists files that exist, and all of them', (k) => {
    const dir = join(root, k, '..');
    const kustomization = parse(readFileSync(join(root, k), 'utf8')) as { resources: string[] };
    for (const r of kustomization.resources) expect(existsSync(join(dir, r)), r).toBe(true);
    const listed = new Set(kustomization.resources.map((r) => join(dir, r)));
    // agent/ and the Redis HA components are applied apart from the main kustomization.
    const apart = ['/agent/', '/redis-cluster/', '/redis-sentinel/'];
    const owned = files.filter(
      (f) => f.startsWith(dir) && (k !== 'kustomization.yaml' || !apart.some((a) => f.includes(a))),
    );
    expect(owned.filter((f) => !listed.has(f))).toEqual([]);
    // The alerts work's PrometheusRule is part of the main kustomization.
    if (k === 'kustomization.yaml') expect(kustomization.resources).toContain('alerts/prometheusrule.yaml');
  });

  it('has the collector Deployment, Service and ServiceMonitor wired to each other', () => {
    const dep = find('Deployment', 'drainwatch-collector') as Spec;
    const svc = find('Service', 'drainwatch-collector') as Spec;
    const sm = find('ServiceMonitor', 'drainwatch-collector') as Spec;
    expect(dep.spec.template.metadata.labels).toMatchObject(svc.spec.selector);
    expect(svc.metadata.labels).toMatchObject(sm.spec.selector.matchLabels);
    expect(svc.spec.ports.map((p: { name: string }) => p.name)).toContain(sm.spec.endpoints[0].port);
    // The collector's series carry the observed workloads' namespace label (see grafana-e2e).
    expect(sm.spec.endpoints[0].honorLabels).toBe(true);
    const env = dep.spec.template.spec.containers[0].env.map((e: { name: string }) => e.name);
    expect(env).toEqual(
      expect.arrayContaining(['DRAINWATCH_LISTEN', 'NATS_URL', 'REDIS_URL', 'DRAINWATCH_API_TOKEN']),
    );
  });

  it('runs NATS with JetStream on a persistent volume, and Redis with persistence', () => {
    const nats = find('StatefulSet', 'nats') as Spec;
    expect(nats.spec.volumeClaimTemplates[0].metadata.name).toBe('data');
    expect(find('ConfigMap', 'nats-config')['data']).toMatchObject({
      'nats.conf': expect.stringContaining('jetstream'),
    });
    const redis = find('StatefulSet', 'redis') as Spec;
    expect(redis.spec.template.spec.containers[0].args).toContain('--appendonly');
    expect(redis.spec.volumeClaimTemplates).toHaveLength(1);
  });

  it('runs NATS as a 3-node cluster with an R3 stream, and 2 collectors under PodDisruptionBudgets', () => {
    const nats = find('StatefulSet', 'nats') as Spec;
    const replicas: number = nats.spec.replicas;
    expect(replicas).toBe(3);
    const conf = (find('ConfigMap', 'nats-config') as K8sObject & { data: Record<string, string> }).data[
      'nats.conf'
    ]!;
    for (let i = 0; i < replicas; i++) expect(conf).toContain(`nats://nats-${i}.nats-cluster:6222`);
    const dep = find('Deployment', 'drainwatch-collector') as Spec;
    expect(dep.spec.replicas).toBe(2);
    const env = new Map<string, string>(
      dep.spec.template.spec.containers[0].env.map((e: { name: string; value?: string }) => [
        e.name,
        e.value,
      ]),
    );
    // The collector knows every NATS node and asks for as many stream replicas as there are nodes.
    expect(env.get('NATS_URL')!.split(',')).toHaveLength(replicas);
    expect(Number(env.get('DRAINWATCH_STREAM_REPLICAS'))).toBe(replicas);
    for (const [name, target] of [
      ['drainwatch-collector', dep],
      ['nats', nats],
    ] as const) {
      const pdb = find('PodDisruptionBudget', name) as Spec;
      expect(target.spec.template.metadata.labels, name).toMatchObject(pdb.spec.selector.matchLabels);
    }
  });

  it('offers a Redis Cluster (6 nodes, 3 masters + 3 replicas) as a component that rewires the collector', () => {
    type Component = { kind: string; patches: { patch: string; target?: { name: string } }[] };
    const component = parse(
      readFileSync(join(root, 'redis-cluster/kustomization.yaml'), 'utf8'),
    ) as Component;
    expect(component.kind).toBe('Component');
    const sts = find('StatefulSet', 'redis-cluster') as Spec;
    expect(sts.spec.replicas).toBe(6);
    expect(sts.spec.serviceName).toBe('redis-cluster');
    const cmData = (find('ConfigMap', 'redis-cluster-config') as K8sObject & { data: Record<string, string> })
      .data;
    const conf = cmData['redis.conf']!;
    expect(conf).toMatch(/^cluster-enabled yes$/m);
    expect(conf).toMatch(/^appendonly yes$/m);
    // Other pods are remote clients: a Redis built with protected mode on would refuse them.
    expect(conf).toMatch(/^protected-mode no$/m);
    // The container runs the ConfigMap's start.sh (new pod IPs, docs/scaling.md) with its pod IP,
    // still announcing the pod's DNS name.
    const redis = sts.spec.template.spec.containers[0];
    expect(cmData['start.sh']).toContain('exec redis-server "$@"');
    expect(redis.args[0]).toMatch(
      /^exec sh \/etc\/redis\/start\.sh \/etc\/redis\/redis\.conf --cluster-announce-hostname /,
    );
    expect(redis.env).toContainEqual({
      name: 'POD_IP',
      valueFrom: { fieldRef: { fieldPath: 'status.podIP' } },
    });
    expect(sts.spec.volumeClaimTemplates).toHaveLength(1);
    const pdb = find('PodDisruptionBudget', 'redis-cluster') as Spec;
    expect(sts.spec.template.metadata.labels).toMatchObject(pdb.spec.selector.matchLabels);
    const svc = find('Service', 'redis-cluster') as Spec;
    expect(svc.spec.clusterIP).toBe('None');
    // The init Job names every node of the StatefulSet and asks for one replica per master.
    const job = find('Job', 'redis-cluster-init') as Spec;
    const script: string = job.spec.template.spec.containers[0].args.join('\n');
    expect(script).toContain('--cluster-replicas 1');
    expect(script).toContain(`for i in ${[...Array(sts.spec.replicas).keys()].join(' ')};`);
    // The collector loses REDIS_URL (one of the two is an error) and gets seed nodes of the cluster.
    const patch = component.patches.find((p) => p.target?.name === 'drainwatch-collector')!;
    const ops = parse(patch.patch) as { op: string; value: { name: string; value: string } | string }[];
    expect(ops[0]).toMatchObject({ op: 'test', value: 'REDIS_URL' });
    const env = ops[1]!.value as { name: string; value: string };
    expect(env.name).toBe('REDIS_CLUSTER_NODES');
    for (const seed of env.value.split(','))
      expect(seed).toMatch(/^redis-cluster-[0-5]\.redis-cluster:6379$/);
    const dep = find('Deployment', 'drainwatch-collector') as Spec;
    expect(dep.spec.template.spec.containers[0].env[3].name).toBe('REDIS_URL');
    // The single Redis of the base is deleted by the component.
    for (const kind of ['StatefulSet', 'Service'])
      expect(
        component.patches.some(
          (p) => p.patch.includes('$patch: delete') && p.patch.includes(`kind: ${kind}`),
        ),
      ).toBe(true);
  });

  it('grants least privilege: read pods/endpointslices/deployments; patch deployments only for verify', () => {
    type Rule = { apiGroups: string[]; resources: string[]; verbs: string[] };
    const rules = (kind: string, name: string) =>
      ((find(kind, name) as K8sObject & { rules: Rule[] }).rules ?? []).flatMap((r) =>
        r.resources.flatMap((res) => r.verbs.map((v) => `${r.apiGroups[0]}/${res}:${v}`)),
      );
    const read = ['get', 'list', 'watch'];
    const watch = [
      ...read.map((v) => `/pods:${v}`),
      ...read.map((v) => `discovery.k8s.io/endpointslices:${v}`),
      ...read.map((v) => `apps/deployments:${v}`),
    ];
    expect(rules('ClusterRole', 'drainwatch-watch').sort()).toEqual([...watch].sort());
    expect(rules('ClusterRole', 'drainwatch-verify').sort()).toEqual(
      [...watch, 'apps/deployments:patch'].sort(),
    );
    expect(rules('Role', 'drainwatch-agent').sort()).toEqual(
      ['/pods:get', ...read.map((v) => `discovery.k8s.io/endpointslices:${v}`)].sort(),
    );
    // Granted per namespace, never cluster-wide.
    expect(objects.filter((o) => o.kind === 'ClusterRoleBinding')).toEqual([]);
  });

  it('keeps the agent admin port (15021) out of the NetworkPolicy ingress, other ports open', () => {
    const np = find('NetworkPolicy', 'drainwatch-agent-admin') as Spec;
    expect(np.spec.podSelector.matchLabels).toEqual({ 'drainwatch.dev/agent': 'true' });
    const ranges = np.spec.ingress.flatMap(
      (r: { ports: { protocol: string; port: number; endPort?: number }[] }) => r.ports,
    );
    const open = (port: number, protocol = 'TCP') =>
      ranges.some(
        (p: { protocol: string; port: number; endPort?: number }) =>
          p.protocol === protocol && port >= p.port && port <= (p.endPort ?? p.port),
      );
    expect(open(15021)).toBe(false);
    for (const port of [80, 8080, 15020, 15022, 15080, 65535]) expect(open(port), String(port)).toBe(true);
  });

  it('passes drainwatch lint without errors', () => {
    const findings = lintManifests(files.map((f) => ({ name: f, text: readFileSync(f, 'utf8') })));
    expect(findings.filter((f) => f.severity === 'error')).toEqual([]);
  });

  it.each(['agent', 'collector'])('%s.Dockerfile is multi-stage, runs non-root on a small base', (name) => {
    const text = readFileSync(join(root, 'images', `${name}.Dockerfile`), 'utf8');
    expect(text.match(/^FROM /gm)!.length).toBeGreaterThanOrEqual(2);
    expect(text).toMatch(/^FROM gcr\.io\/distroless\/nodejs20-debian12:nonroot$/m);
    expect(text).toMatch(/^USER nonroot$/m);
    expect(text).toContain(`CMD ["${name}"]`);
    expect(existsSync(join(root, 'images', `${name}.Dockerfile.dockerignore`))).toBe(true);
  });
});
