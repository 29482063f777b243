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
