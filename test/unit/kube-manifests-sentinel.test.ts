import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { type K8sObject, lintManifests, parseManifests, validateObject } from '../../kube/index.js';
import { findBinary } from '../../lib/servers.js';

// manifests/redis-sentinel/, the Sentinel form of the Redis HA option: its objects pass the
// Kubernetes schema and drainwatch lint, they are wired to each other (Service ports, PDB selector,
// Secret, volumes, the script's mount) and to the collector (the component's JSON patch), and
// `kubectl kustomize` builds both HA overlays when kubectl is installed. What start.sh does is
// tested on loopback by test/integration/redis-sentinel-manifests.test.ts.

const root = fileURLToPath(new URL('../../', import.meta.url));
const dir = join(root, 'manifests/redis-sentinel');
const files = ['configmap.yaml', 'service.yaml', 'statefulset.yaml', 'pdb.yaml'].map((f) => join(dir, f));
const objects: K8sObject[] = files.flatMap((f) =>
  parseManifests(readFileSync(f, 'utf8'), f)
    .docs.map((d) => d.object)
    .filter((o): o is K8sObject => o !== null),
);
// biome-ignore lint/suspicious/noExplicitAny: manifests are free-form JSON here.
type Spec = K8sObject & { spec: any };
const find = (kind: string) => objects.find((o) => o.kind === kind)! as Spec;
const configMap = objects.find((o) => o.kind === 'ConfigMap') as K8sObject & { data: Record<string, string> };
type EnvVar = { name: string; value?: string; valueFrom?: { secretKeyRef?: Record<string, unknown> } };
type Container = {
  name: string;
  image: string;
  command: string[];
  env: EnvVar[];
  ports: { name: string; containerPort: number }[];
  volumeMounts: { name: string; mountPath: string }[];
};
type Op = { op: string; path: string; value: unknown };
type Component = {
  kind: string;
  resources: string[];
  patches: { patch: string; target?: { name: string } }[];
};

const component = parse(readFileSync(join(dir, 'kustomization.yaml'), 'utf8')) as Component;
const collectorOps = parse(
  component.patches.find((p) => p.target?.name === 'drainwatch-collector')!.patch,
) as Op[];
const sts = find('StatefulSet');
const containers: Container[] = sts.spec.template.spec.containers;
const container = (name: string) => containers.find((c) => c.name === name)!;
const kubectl = (() => {
  try {
    return findBinary('kubectl');
  } catch {
    return undefined;
  }
})();

describe('manifests/redis-sentinel', () => {
  it('is a Component of a ConfigMap, a headless Service, a StatefulSet and a PDB, all valid and lint-clean', () => {
    expect(component.kind).toBe('Component');
    expect(objects.map((o) => o.kind).sort()).toEqual(
      ['ConfigMap', 'PodDisruptionBudget', 'Service', 'StatefulSet'].sort(),
    );
    for (const o of objects) expect(validateObject(o), o.kind).toBe(true);
    const findings = lintManifests(files.map((f) => ({ name: f, text: readFileSync(f, 'utf8') })));
    expect(findings.filter((f) => f.severity === 'error')).toEqual([]);
    // The single Redis of the base is deleted.
    for (const kind of ['StatefulSet', 'Service'])
      expect(
        component.patches.some(
          (p) =>
            p.patch.includes('$patch: delete') &&
            p.patch.includes(`kind: ${kind}`) &&
            / name: redis$/m.test(p.patch),
        ),
        kind,
      ).toBe(true);
  });

  it('runs 3 pods of a Redis and its sentinel, from the ConfigMap script, AOF on a volume, one down at a time', () => {
    expect(sts.spec.replicas).toBe(3);
    expect(containers.map((c) => c.name)).toEqual(['redis', 'sentinel']);
    for (const c of containers) {
      expect(c.image).toBe('redis:7.2-alpine');
      // Both run start.sh from the ConfigMap's mount.
      const script = c.command[1]!;
      const mount = c.volumeMounts.find((m) => script.startsWith(`${m.mountPath}/`))!;
      const volume = sts.spec.template.spec.volumes.find((v: { name: string }) => v.name === mount.name);
      expect(volume.configMap.name).toBe(configMap.metadata.name);
      expect(Object.keys(configMap.data)).toContain(script.slice(mount.mountPath.length + 1));
      expect(c.command).toEqual(['sh', script, c.name]);
      // start.sh's defaults: config in /conf (writable), data in /data.
      expect(c.volumeMounts.map((m) => m.mountPath)).toContain('/conf');
    }
    expect(container('redis').volumeMounts).toContainEqual({
      name: sts.spec.volumeClaimTemplates[0].metadata.name,
      mountPath: '/data',
    });
    const script = configMap.data['start.sh']!;
    expect(script).toContain('line "appendonly yes"');
    expect(script).toMatch(/^MIN_REPLICAS_TO_WRITE=\$\{MIN_REPLICAS_TO_WRITE:-1\}$/m);
    const pdb = find('PodDisruptionBudget');
    expect(pdb.spec.maxUnavailable).toBe(1);
    expect(sts.spec.template.metadata.labels).toMatchObject(pdb.spec.selector.matchLabels);
  });

  it('has a headless Service named as the StatefulSet says, with 6379 and 26379 on the right containers', () => {
    const svc = find('Service');
    expect(svc.metadata.name).toBe(sts.spec.serviceName);
    expect(svc.spec.clusterIP).toBe('None');
    expect(sts.spec.template.metadata.labels).toMatchObject(svc.spec.selector);
    const ports = svc.spec.ports as { port: number; targetPort: string }[];
    expect(ports.map((p) => p.port)).toEqual([6379, 26379]);
    for (const [port, name] of [
      [6379, 'redis'],
      [26379, 'sentinel'],
    ] as const) {
      const target = ports.find((p) => p.port === port)!.targetPort;
      expect(container(name).ports).toEqual([{ name: target, containerPort: port }]);
    }
    // start.sh derives the names the nodes announce from HEADLESS_SERVICE, and asks REPLICAS pods.
    for (const c of containers) {
      expect(c.env.find((e) => e.name === 'HEADLESS_SERVICE')?.value).toBe(svc.metadata.name);
      expect(c.env.find((e) => e.name === 'REPLICAS')?.value).toBe(String(sts.spec.replicas));
    }
  });

  it('takes every password from one Secret key, for the Redis servers, the sentinels and the collector', () => {
    const refs = [
      ...containers.flatMap((c) => c.env),
      ...collectorOps.filter((o) => o.op === 'add').map((o) => o.value as EnvVar),
    ].filter((e) => e.valueFrom?.secretKeyRef);
    expect(refs.map((e) => e.name)).toEqual([
      'REDIS_PASSWORD',
      'REDIS_PASSWORD',
      'REDIS_PASSWORD',
      'REDIS_SENTINEL_PASSWORD',
    ]);
    // Not optional: without the Secret the pods wait, instead of running without a password.
    for (const e of refs) expect(e.valueFrom!.secretKeyRef).toEqual({ name: 'redis-auth', key: 'password' });
    // No password in the manifests themselves.
    expect(objects.some((o) => o.kind === 'Secret')).toBe(false);
  });

  it('points the collector at the 3 sentinels, by name and group, in place of REDIS_URL', () => {
    const base = parse(readFileSync(join(root, 'manifests/collector/deployment.yaml'), 'utf8')) as Spec;
    const baseEnv: EnvVar[] = base.spec.template.spec.containers[0].env;
    expect(collectorOps[0]).toMatchObject({
      op: 'test',
      path: expect.stringMatching(/env\/3\/name$/),
      value: 'REDIS_URL',
    });
    expect(baseEnv[3]!.name).toBe('REDIS_URL');
    expect(collectorOps[1]).toMatchObject({
      op: 'replace',
      path: collectorOps[0]!.path.replace(/\/name$/, ''),
    });
    const nodes = collectorOps[1]!.value as EnvVar;
    expect(nodes.name).toBe('REDIS_SENTINEL_NODES');
    const svc = find('Service');
    expect(nodes.value!.split(',')).toEqual(
      [0, 1, 2].map((i) => `${sts.metadata.name}-${i}.${svc.metadata.name}:26379`),
    );
    const added = collectorOps.slice(2).map((o) => o.value as EnvVar);
    const group = added.find((e) => e.name === 'REDIS_SENTINEL_NAME')!.value;
    for (const c of containers) expect(c.env.find((e) => e.name === 'MASTER_NAME')?.value).toBe(group);
    expect(added.map((e) => e.name)).toEqual([
      'REDIS_SENTINEL_NAME',
      'REDIS_PASSWORD',
      'REDIS_SENTINEL_PASSWORD',
    ]);
  });

  it.skipIf(!kubectl).each(['redis-sentinel', 'redis-cluster'])(
    'kubectl kustomize examples/%s builds, every object valid, the collector rewired',
    (overlay) => {
      const text = execFileSync(kubectl!, ['kustomize', join(root, 'examples', overlay)], {
        encoding: 'utf8',
        timeout: 30_000,
      });
      const built = parseManifests(text, overlay)
        .docs.map((d) => d.object)
        .filter((o): o is K8sObject => o !== null);
      const unvalidated = built.filter((o) => !validateObject(o)).map((o) => o.kind);
      expect(unvalidated.sort()).toEqual(['PrometheusRule', 'ServiceMonitor']);
      // The component's objects too: the base's namespace and labels do not reach them by themselves.
      const clusterWide = ['Namespace', 'ClusterRole'];
      const misplaced = built.filter(
        (o) => !clusterWide.includes(o.kind) && o.metadata.namespace !== 'drainwatch',
      );
      expect(misplaced.map((o) => `${o.kind}/${o.metadata.name}`)).toEqual([]);
      expect(built.filter((o) => o.metadata.labels?.['app.kubernetes.io/part-of'] !== 'drainwatch')).toEqual(
        [],
      );
      expect(built.filter((o) => o.metadata.name === 'redis')).toEqual([]);
      const dep = built.find(
        (o) => o.kind === 'Deployment' && o.metadata.name === 'drainwatch-collector',
      ) as Spec;
      const env = (dep.spec.template.spec.containers[0].env as EnvVar[]).map((e) => e.name);
      expect(env).not.toContain('REDIS_URL');
      expect(env).toEqual(
        expect.arrayContaining(
          overlay === 'redis-sentinel'
            ? ['REDIS_SENTINEL_NODES', 'REDIS_SENTINEL_NAME', 'REDIS_PASSWORD', 'REDIS_SENTINEL_PASSWORD']
            : ['REDIS_CLUSTER_NODES'],
        ),
      );
      const findings = lintManifests([{ name: overlay, text }]);
      expect(findings.filter((f) => f.severity === 'error')).toEqual([]);
    },
  );
});
