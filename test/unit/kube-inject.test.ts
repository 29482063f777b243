import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Deployment } from 'kubernetes-models/apps/v1';
import { describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';
import {
  AgentPortConflictError,
  injectManifests,
  KubeConfigError,
  ManifestParseError,
} from '../../kube/index.js';

const dir = fileURLToPath(new URL('../fixtures/inject/', import.meta.url));
const read = (name: string) => readFileSync(dir + name, 'utf8');
// Pinned so the goldens do not change with the package version.
const OPTS = { agentImage: 'ghcr.io/drainwatch/agent:0.0.0-test', version: '0.0.0-test' } as const;
const cases = readdirSync(dir)
  .filter((f) => f.endsWith('.input.yaml'))
  .map((f) => f.replace('.input.yaml', ''))
  .sort();

describe('inject golden files', () => {
  it('covers the cases the issue asks for (at least 12)', () => {
    expect(cases.length).toBeGreaterThanOrEqual(12);
    for (const required of [
      'already-injected',
      'basic-numeric-target-port',
      'named-target-port',
      'exec-prestop-sleep',
      'exec-prestop-custom',
      'statefulset',
      'daemonset',
      'several-containers',
      'opt-out',
      'service-missing',
    ]) {
      expect(cases).toContain(required);
    }
  });

  it.each(cases)('%s: output and warnings match the golden files', (c) => {
    const r = injectManifests(read(`${c}.input.yaml`), OPTS);
    expect(r.output).toBe(read(`${c}.expected.yaml`));
    expect(r.warnings.map((w) => `${w}\n`).join('')).toBe(read(`${c}.warnings.txt`));
    // Notes (a port tunnelled as TCP, a workload skipped) are golden where a case has them.
    const notes = existsSync(`${dir}${c}.notes.txt`) ? read(`${c}.notes.txt`) : '';
    expect(r.notes.map((n) => `${n}\n`).join('')).toBe(notes);
  });

  it.each(cases)('%s: re-injecting the expected output changes nothing, byte for byte', (c) => {
    const expected = read(`${c}.expected.yaml`);
    expect(injectManifests(expected, OPTS).output).toBe(expected);
    expect(injectManifests(expected, { ...OPTS, mode: 'patch' }).output).toBe('');
  });

  it.each(['exec-prestop-sleep', 'named-target-port'])(
    '%s: --patch emits the golden kustomize patch',
    (c) => {
      const r = injectManifests(read(`${c}.input.yaml`), { ...OPTS, mode: 'patch' });
      expect(r.output).toBe(read(`${c}.patch.yaml`));
    },
  );
});

describe('inject semantics', () => {
  const injectedDeployment = (c: string) => {
    const docs = parseAllDocuments(read(`${c}.expected.yaml`)).map((d) => d.toJS());
    return { docs, dep: docs.find((d) => d.kind !== 'Service' && d.kind !== 'ConfigMap') };
  };

  it('adds a native sidecar with downward-API identity, ports, probes and resources', () => {
    const { dep } = injectedDeployment('basic-numeric-target-port');
    new Deployment(dep).validate();
    const agent = dep.spec.template.spec.initContainers[0];
    expect(agent.restartPolicy).toBe('Always');
    const env = Object.fromEntries(
      agent.env.map(
        (e: { name: string; value?: string; valueFrom?: { fieldRef: { fieldPath: string } } }) => [
          e.name,
          e.value ?? e.valueFrom?.fieldRef.fieldPath,
        ],
      ),
    );
    expect(env).toMatchObject({
      DRAINWATCH_UPSTREAM: '127.0.0.1:8080',
      POD_NAME: 'metadata.name',
      POD_NAMESPACE: 'metadata.namespace',
      POD_IP: 'status.podIP',
      NODE_NAME: 'spec.nodeName',
      DRAINWATCH_WORKLOAD: 'web',
      DRAINWATCH_PRESTOP: 'adaptive',
    });
    expect(agent.resources.requests).toBeDefined();
    expect(agent.resources.limits).toBeDefined();
    expect(agent.readinessProbe.httpGet.path).toBe('/readyz');
    expect(dep.spec.template.spec.containers[0].lifecycle.preStop).toEqual({
      httpGet: { path: '/prestop', port: 15021 },
    });
  });

  it('keeps a sleep preStop as the agent fixed delay, and grace ≥ preStop + drain budget everywhere', () => {
    const { dep } = injectedDeployment('exec-prestop-sleep');
    const env = dep.spec.template.spec.initContainers[0].env;
    expect(env.find((e: { name: string }) => e.name === 'DRAINWATCH_PRESTOP').value).toBe('fixed:10');
    for (const c of cases) {
      for (const d of parseAllDocuments(read(`${c}.expected.yaml`)).map((x) => x.toJS())) {
        const spec = d?.spec?.template?.spec;
        const agent = spec?.initContainers?.find((x: { name: string }) => x.name === 'drainwatch-agent');
        if (!agent) continue;
        const prestop = agent.env.find((e: { name: string }) => e.name === 'DRAINWATCH_PRESTOP')
          .value as string;
        const preStopSeconds = prestop.startsWith('fixed:') ? Number(prestop.slice(6)) : 15;
        expect(spec.terminationGracePeriodSeconds, c).toBeGreaterThanOrEqual(preStopSeconds + 20);
      }
    }
  });

  it('fronts the container the Service targets when there are several', () => {
    const { dep } = injectedDeployment('several-containers');
    const env = dep.spec.template.spec.initContainers[0].env;
    expect(env.find((e: { name: string }) => e.name === 'DRAINWATCH_UPSTREAM').value).toBe('127.0.0.1:8080');
    expect(dep.spec.template.spec.containers[0].lifecycle).toBeUndefined();
    expect(dep.spec.template.spec.containers[1].lifecycle.preStop.httpGet.path).toBe('/prestop');
  });

  it('leaves opted-out and port-less workloads byte-identical', () => {
    expect(read('opt-out.expected.yaml')).toBe(read('opt-out.input.yaml'));
    expect(read('no-ports.expected.yaml')).toBe(read('no-ports.input.yaml'));
  });

  it('refuses YAML it cannot parse, naming the line', () => {
    const bad = 'apiVersion: v1\nkind: Service\nmetadata:\n  name: x\n  labels: [a\n';
    expect(() => injectManifests(bad, { sourceName: 'svc.yaml' })).toThrow(ManifestParseError);
    try {
      injectManifests(bad, { sourceName: 'svc.yaml' });
    } catch (err) {
      expect((err as ManifestParseError).message).toMatch(/^svc\.yaml:\d+: /);
    }
  });

  it('refuses an injected object the Kubernetes schema rejects', () => {
    const bad = read('service-missing.input.yaml').replace('replicas: 2', 'replicas: two');
    expect(() => injectManifests(bad, OPTS)).toThrow(/Deployment\/shop\/search: .*replicas/);
  });

  it('checks its options once, naming the setting', () => {
    expect(() => injectManifests('', { preStop: 'sometimes' })).toThrow(KubeConfigError);
    expect(() => injectManifests('', { adminPort: 15080 })).toThrow(/admin port and proxy port/);
  });
});

describe('inject on real repos', () => {
  const base = read('basic-numeric-target-port.input.yaml');

  it.each([
    [
      'a containerPort',
      base.replace('containerPort: 8080', 'containerPort: 8080\n            - containerPort: 15080'),
      /container web already uses port 15080 \(containerPort\), the agent's proxy port; give the agent another with --proxy-port/,
    ],
    [
      'an env value',
      base.replace(
        'containerPort: 8080',
        'containerPort: 8080\n          env:\n            - name: ADMIN_ADDR\n              value: "0.0.0.0:15021"',
      ),
      /port 15021 \(env ADMIN_ADDR=0\.0\.0\.0:15021\), the agent's admin port; .*--admin-port/,
    ],
    [
      'an arg',
      base.replace('containerPort: 8080', 'containerPort: 8080\n          args: ["--metrics-port=15021"]'),
      /port 15021 \(args "--metrics-port=15021"\)/,
    ],
  ])('refuses a pod that already uses an agent port in %s, in one line', (_what, text, message) => {
    expect(() => injectManifests(text, OPTS)).toThrow(AgentPortConflictError);
    expect(() => injectManifests(text, OPTS)).toThrow(message);
    try {
      injectManifests(text, OPTS);
    } catch (err) {
      expect((err as Error).message).not.toContain('\n');
      expect((err as AgentPortConflictError).exitCode).toBe(2);
    }
  });

  it('injects such a pod when told other agent ports', () => {
    const text = base.replace(
      'containerPort: 8080',
      'containerPort: 8080\n            - containerPort: 15080',
    );
    const r = injectManifests(text, { ...OPTS, proxyPort: 16080, adminPort: 16021 });
    expect(r.output).toContain('containerPort: 16080');
    expect(r.output).toContain('port: 16021');
  });

  it('reads several sources together and writes them in order, untouched ones byte for byte', () => {
    const text = read('basic-numeric-target-port.input.yaml');
    const cut = text.indexOf('---\napiVersion: v1\nkind: Service');
    expect(cut).toBeGreaterThan(0);
    const [deployment, service] = [text.slice(0, cut), text.slice(cut + 4)];
    const untouched = read('opt-out.input.yaml');
    const r = injectManifests(
      [
        { name: 'opt-out.yaml', text: untouched },
        { name: 'deploy.yaml', text: deployment },
        { name: 'svc.yaml', text: service },
      ],
      OPTS,
    );
    // The Service in another file was found: no "no Service in the input" warning, its targetPort moved.
    expect(r.warnings).toEqual(injectManifests(text, OPTS).warnings);
    expect(r.output.startsWith(untouched)).toBe(true);
    expect(r.output).toContain('targetPort: 15080');
    expect(parseAllDocuments(r.output).filter((d) => d.toJS() !== null)).toHaveLength(
      parseAllDocuments(untouched).filter((d) => d.toJS() !== null).length + 2,
    );
  });

  it('does not set a 35 s grace around a 300 s preStop loop', () => {
    const { dep } = (() => {
      const docs = parseAllDocuments(read('prestop-loop-300s.expected.yaml')).map((d) => d.toJS());
      return { dep: docs[0] };
    })();
    expect(dep.spec.template.spec.terminationGracePeriodSeconds).toBe(320);
    const env = dep.spec.template.spec.initContainers[0].env;
    expect(env.find((e: { name: string }) => e.name === 'DRAINWATCH_PRESTOP').value).toBe('fixed:300');
  });

  it('reads the drain-budget annotation with the duration grammar', () => {
    const text = base.replace(
      '  name: web\n',
      '  name: web\n  annotations:\n    drainwatch.dev/drain-budget-seconds: 1m\n',
    );
    const dep = parseAllDocuments(injectManifests(text, OPTS).output)[0]!.toJS();
    expect(dep.spec.template.spec.terminationGracePeriodSeconds).toBe(75);
  });
});
