import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { LINT_RULES, lintManifests, ManifestParseError, toSarif } from '../../kube/index.js';

const dir = fileURLToPath(new URL('../fixtures/lint/', import.meta.url));
const source = (f: string) => ({
  name: `test/fixtures/lint/${f}.yaml`,
  text: readFileSync(`${dir}${f}.yaml`, 'utf8'),
});
const brief = (f: string) =>
  lintManifests([source(f)]).map((x) => [x.severity, x.ruleId, x.object, x.field, x.line] as const);

describe('lint on the misconfigurations of the reading', () => {
  it('rider API after moving sessions to Redis: leftover affinity cookie, grace < preStop sleep + drain', () => {
    expect(brief('rider-api-leftover-stickiness')).toEqual([
      [
        'error',
        'grace-shorter-than-drain',
        'Deployment/rides/rider-api',
        'spec.template.spec.terminationGracePeriodSeconds',
        23,
      ],
      [
        'error',
        'leftover-affinity-cookie',
        'Ingress/rides/rider-api',
        'metadata.annotations["nginx.ingress.kubernetes.io/affinity"]',
        61,
      ],
    ]);
    const [grace, cookie] = lintManifests([source('rider-api-leftover-stickiness')]);
    expect(grace!.message).toContain('set it to at least 30');
    expect(cookie!.message).toContain('session-cookie-name');
    expect(cookie!.fix).toMatch(/Remove the nginx\.ingress\.kubernetes\.io\/affinity/);
  });

  it('cart with in-memory sessions: no preStop, no readiness probe, maxUnavailable 100%, ClientIP affinity', () => {
    expect(brief('cart-client-ip-affinity')).toEqual([
      [
        'error',
        'missing-prestop',
        'Deployment/shop/cart',
        'spec.template.spec.containers[0].lifecycle.preStop',
        22,
      ],
      [
        'error',
        'missing-readiness-probe',
        'Deployment/shop/cart',
        'spec.template.spec.containers[0].readinessProbe',
        22,
      ],
      [
        'error',
        'max-unavailable-drops-all',
        'Deployment/shop/cart',
        'spec.strategy.rollingUpdate.maxUnavailable',
        12,
      ],
      ['error', 'service-client-ip-affinity', 'Service/shop/cart', 'spec.sessionAffinity', 35],
    ]);
  });

  it('WebSocket chat: no max connection age, publishNotReadyAddresses, maxUnavailable = replicas', () => {
    expect(brief('chat-long-lived')).toEqual([
      [
        'error',
        'max-unavailable-drops-all',
        'StatefulSet/chat/chat',
        'spec.updateStrategy.rollingUpdate.maxUnavailable',
        13,
      ],
      [
        'warning',
        'long-lived-no-max-age',
        'StatefulSet/chat/chat',
        'metadata.annotations["drainwatch.dev/max-connection-age"]',
        6,
      ],
      ['error', 'publish-not-ready-addresses', 'Service/chat/chat', 'spec.publishNotReadyAddresses', 45],
    ]);
  });

  it('gRPC pricing: Service port without appProtocol, no max connection age, preStop shorter than a stream', () => {
    expect(brief('grpc-pricing')).toEqual([
      [
        'warning',
        'grpc-no-max-connection-age',
        'Deployment/shop/pricing',
        'metadata.annotations["drainwatch.dev/max-connection-age"]',
        9,
      ],
      [
        'warning',
        'grpc-prestop-shorter-than-stream',
        'Deployment/shop/pricing',
        'spec.template.spec.containers[0].lifecycle.preStop',
        29,
      ],
      ['warning', 'grpc-service-no-app-protocol', 'Service/shop/pricing', 'spec.ports[0].appProtocol', 44],
    ]);
    const findings = lintManifests([source('grpc-pricing')]);
    expect(findings.find((f) => f.ruleId === 'grpc-prestop-shorter-than-stream')!.message).toContain(
      'may end after 10 s, but the GOAWAY round trip (2 s) plus the longest stream (30 s) take 32 s',
    );
    expect(findings.find((f) => f.ruleId === 'grpc-service-no-app-protocol')!.message).toContain(
      'targets container port grpc',
    );
    // The gRPC rule takes the workload: no second, generic max-age finding.
    expect(findings.map((f) => f.ruleId)).not.toContain('long-lived-no-max-age');
  });

  it('gRPC drained right (agent fixed preStop, MAX_CONNECTION_AGE, h2c appProtocol, a mesh): no findings', () => {
    expect(brief('grpc-drained')).toEqual([]);
  });

  it('gRPC rules read the agent policy, the declared age and balancing, and other appProtocols', () => {
    const text = source('grpc-drained').text;
    const ids = (t: string) => lintManifests(t).map((f) => `${f.ruleId} ${f.object}`);
    // The adaptive agent preStop may end at its minimum (3 s), before 2 s + 20 s.
    expect(ids(text.replace('fixed:22', 'adaptive'))).toEqual([
      'grpc-prestop-shorter-than-stream Deployment/quotes/quote-grpc',
    ]);
    expect(ids(text.replace('fixed:22', 'fixed:21'))).toEqual([
      'grpc-prestop-shorter-than-stream Deployment/quotes/quote-grpc',
    ]);
    // Without the env, the age must be declared; the annotation must be a duration.
    const noEnv = text.replace(/ {10}env:\n {12}- name: MAX_CONNECTION_AGE\n {14}value: 5m\n/, '');
    expect(ids(noEnv)).toEqual(['grpc-no-max-connection-age Deployment/quotes/quote-grpc']);
    const declared = noEnv.replace(
      '    drainwatch.dev/grpc-max-stream: 20s',
      '    drainwatch.dev/grpc-max-stream: 20s\n    drainwatch.dev/max-connection-age: ',
    );
    expect(ids(declared.replace('max-connection-age: ', 'max-connection-age: 10m'))).toEqual([]);
    const bad = lintManifests(declared.replace('max-connection-age: ', 'max-connection-age: soon'));
    expect(bad.map((f) => f.message)).toEqual([expect.stringContaining('is not a duration')]);
    expect(ids(text.replace('grpc-max-stream: 20s', 'grpc-max-stream: 20 seconds'))).toEqual([
      'grpc-prestop-shorter-than-stream Deployment/quotes/quote-grpc',
    ]);
    // Without its mesh, the neighbour's clients balance per connection; declaring per-call is the same.
    const unmeshed = text.replace('linkerd.io/inject: enabled', 'example.com/team: ledger');
    expect(ids(unmeshed)).toEqual(['grpc-no-max-connection-age Deployment/quotes/ledger']);
    expect(
      ids(unmeshed.replace('example.com/team: ledger', 'drainwatch.dev/grpc-balancing: per-call')),
    ).toEqual([]);
    // appProtocol http on a gRPC port is as wrong as none.
    expect(ids(text.replace('appProtocol: grpc', 'appProtocol: http'))).toEqual([
      'grpc-service-no-app-protocol Service/quotes/ledger',
    ]);
  });

  it('the fixed configuration has no findings', () => {
    expect(lintManifests([source('clean')])).toEqual([]);
  });

  it('reads objects across files together (Ingress in one file, Deployment in another)', () => {
    const text = source('rider-api-leftover-stickiness').text;
    const [workloadAndService, ingress] = [
      text.slice(0, text.lastIndexOf('---')),
      text.slice(text.lastIndexOf('---')),
    ];
    const findings = lintManifests([
      { name: 'app.yaml', text: workloadAndService },
      { name: 'ingress.yaml', text: ingress },
    ]);
    expect(findings.map((f) => `${f.source}:${f.ruleId}`)).toEqual([
      'app.yaml:grace-shorter-than-drain',
      'ingress.yaml:leftover-affinity-cookie',
    ]);
    // Alone, the Ingress cannot tell where sessions live: no finding.
    expect(lintManifests([{ name: 'ingress.yaml', text: ingress }])).toEqual([]);
  });

  it('every workload that inject produced passes the drain rules', () => {
    const injectDir = fileURLToPath(new URL('../fixtures/inject/', import.meta.url));
    for (const f of readdirSync(injectDir).filter((x) => x.endsWith('.expected.yaml'))) {
      const text = readFileSync(injectDir + f, 'utf8');
      if (!text.includes('drainwatch.dev/injected')) continue;
      const rules = lintManifests(text).map((x) => x.ruleId);
      expect(rules, f).not.toContain('missing-prestop');
      expect(rules, f).not.toContain('grace-shorter-than-drain');
    }
  });

  it('refuses invalid YAML naming the file and line', () => {
    expect(() => lintManifests([source('not-yaml')])).toThrow(ManifestParseError);
    expect(() => lintManifests([source('not-yaml')])).toThrow(/^test\/fixtures\/lint\/not-yaml\.yaml:\d+: /);
  });
});

describe('SARIF output', () => {
  it('is SARIF 2.1.0 with every rule and a location per result', () => {
    const findings = lintManifests([source('cart-client-ip-affinity')]);
    const sarif = toSarif(findings, '9.9.9') as {
      version: string;
      runs: {
        tool: { driver: { name: string; rules: { id: string }[] } };
        results: {
          ruleId: string;
          ruleIndex: number;
          level: string;
          locations: {
            physicalLocation: { artifactLocation: { uri: string }; region: { startLine: number } };
          }[];
        }[];
      }[];
    };
    expect(sarif.version).toBe('2.1.0');
    const run = sarif.runs[0]!;
    expect(run.tool.driver.rules.map((r) => r.id)).toEqual(LINT_RULES.map((r) => r.id));
    expect(run.results).toHaveLength(4);
    for (const r of run.results) {
      expect(run.tool.driver.rules[r.ruleIndex]!.id).toBe(r.ruleId);
      expect(r.level).toBe('error');
      expect(r.locations[0]!.physicalLocation.artifactLocation.uri).toBe(
        'test/fixtures/lint/cart-client-ip-affinity.yaml',
      );
      expect(r.locations[0]!.physicalLocation.region.startLine).toBeGreaterThan(0);
    }
  });
});
