import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { slug } from 'github-slugger';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { AGENT_METRICS, DRAIN_METRICS, HEALTH_METRICS } from '../../contract/index.js';
import {
  ALERT_RULE_FILES,
  docsBaseFromEnv,
  renderAlertRuleFiles,
  runbookUrl,
} from '../../grafana/src/index.js';
import { DEFAULT_DOCS_BASE_URL } from '../../lib/docs-url.js';
import { headingAnchors } from '../helpers/markdown.js';

const ROOT = join(import.meta.dirname, '../..');
const read = (path: string): string => readFileSync(join(ROOT, path), 'utf8');

interface Rule {
  alert?: string;
  record?: string;
  expr: string;
  for?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
}
interface Group {
  name: string;
  rules: Rule[];
}

const rulesFile = parse(read('manifests/alerts/drainwatch-rules.yaml')) as { groups: Group[] };
const prometheusRule = parse(read('manifests/alerts/prometheusrule.yaml')) as {
  apiVersion: string;
  kind: string;
  metadata: { name: string };
  spec: { groups: Group[] };
};
type AlertRule = Rule & { alert: string };
const rules = rulesFile.groups.flatMap((g) => g.rules).filter((r): r is AlertRule => r.alert !== undefined);
const records = rulesFile.groups.flatMap((g) => g.rules).filter((r) => r.record !== undefined);
const runbook = read('docs/alerts.md');

const KNOWN_SERIES = new Set([
  ...[
    ...Object.values(DRAIN_METRICS),
    ...Object.values(HEALTH_METRICS),
    ...Object.values(AGENT_METRICS),
  ].flatMap((m) =>
    m.type === 'histogram' ? [`${m.name}_bucket`, `${m.name}_sum`, `${m.name}_count`] : [m.name],
  ),
]);

describe('alert rules', () => {
  it('the PrometheusRule carries exactly the rules file groups', () => {
    expect(prometheusRule.apiVersion).toBe('monitoring.coreos.com/v1');
    expect(prometheusRule.kind).toBe('PrometheusRule');
    expect(prometheusRule.metadata.name).toBe('drainwatch');
    expect(prometheusRule.spec.groups).toEqual(rulesFile.groups);
  });

  it('covers every alert the issue asks for', () => {
    expect(rules.map((r) => r.alert).sort()).toEqual(
      [
        'DrainwatchSessionsLost',
        'DrainwatchProbeRequestsFailing',
        'DrainwatchInflightRequestsCut',
        'DrainwatchLateArrivals',
        'DrainwatchPodsKilledAtGrace',
        'DrainwatchWebSocketsClosedWithoutCloseFrame',
        'DrainwatchTrafficSkewHigh',
        'DrainwatchAgentEventsDropped',
        'DrainwatchHttp2StreamsCut',
        'DrainwatchGrpcUnavailableDuringRollout',
        'DrainwatchCollectorDown',
        'DrainwatchCollectorLagging',
        'DrainwatchCollectorDependencyDown',
      ].sort(),
    );
    expect(rules.find((r) => r.alert === 'DrainwatchTrafficSkewHigh')?.for).toBe('15m');
  });

  it('gives every alert a severity, summary, description and an absolute runbook URL whose anchor is a heading of docs/alerts.md', () => {
    const anchors = headingAnchors(runbook);
    for (const r of rules) {
      expect(['critical', 'warning'], r.alert).toContain(r.labels?.severity);
      expect(r.annotations?.summary, r.alert).toBeTruthy();
      expect(r.annotations?.description, r.alert).toBeTruthy();
      const url = new URL(r.annotations?.runbook_url ?? '');
      expect(`${url.origin}${url.pathname}`, r.alert).toBe(`${DEFAULT_DOCS_BASE_URL}alerts.md`);
      expect(anchors, `docs/alerts.md has no heading with anchor ${url.hash}`).toContain(url.hash.slice(1));
      expect(url.hash, `${r.alert}: its section is "## ${r.alert}"`).toBe(`#${slug(r.alert)}`);
    }
  });

  it('the committed rule files are what the generator writes (run node dist/grafana/src/generate-alerts.js)', () => {
    const rendered = renderAlertRuleFiles(read('manifests/alerts/drainwatch-rules.yaml'));
    expect(rendered[ALERT_RULE_FILES.rules]).toBe(read('manifests/alerts/drainwatch-rules.yaml'));
    expect(rendered[ALERT_RULE_FILES.operator]).toBe(read('manifests/alerts/prometheusrule.yaml'));
  });

  it('the docs base comes from DRAINWATCH_DOCS_URL (an http(s) URL) or defaults to the project docs', () => {
    expect(docsBaseFromEnv({})).toBe(DEFAULT_DOCS_BASE_URL);
    expect(docsBaseFromEnv({ DRAINWATCH_DOCS_URL: 'https://docs.example.com/dw' })).toBe(
      'https://docs.example.com/dw',
    );
    expect(runbookUrl('DrainwatchSessionsLost', 'https://docs.example.com/dw')).toBe(
      'https://docs.example.com/dw/alerts.md#drainwatchsessionslost',
    );
    expect(() => docsBaseFromEnv({ DRAINWATCH_DOCS_URL: 'docs/' })).toThrow(/DRAINWATCH_DOCS_URL/);
    expect(() => docsBaseFromEnv({ DRAINWATCH_DOCS_URL: 'ftp://x.example/' })).toThrow(/DRAINWATCH_DOCS_URL/);
  });

  it('another docs base changes every runbook URL and nothing else', () => {
    const base = 'https://docs.example.com/drainwatch/v1.2/';
    const rendered = renderAlertRuleFiles(read('manifests/alerts/drainwatch-rules.yaml'), base);
    const mirrored = parse(rendered[ALERT_RULE_FILES.rules]) as { groups: Group[] };
    const urls = mirrored.groups
      .flatMap((g) => g.rules)
      .flatMap((r) => (r.alert ? [r.annotations?.runbook_url] : []));
    expect(urls).toEqual(rules.map((r) => `${base}alerts.md#${slug(r.alert)}`));
    expect(urls[0]).toBe(runbookUrl(rules[0]!.alert, base));
    const strip = (groups: Group[]) =>
      groups.map((g) => ({
        ...g,
        rules: g.rules.map((r) => ({ ...r, annotations: { ...r.annotations, runbook_url: '' } })),
      }));
    expect(strip(mirrored.groups)).toEqual(strip(rulesFile.groups));
    expect(rendered[ALERT_RULE_FILES.operator]).not.toContain(DEFAULT_DOCS_BASE_URL);
    expect(() =>
      renderAlertRuleFiles('groups:\n  - name: g\n    rules:\n      - alert: A\n        expr: up\n'),
    ).toThrow(/alert A has no annotations.runbook_url/);
  });

  it('names only catalogue metrics, Prometheus `up` and its own recording rules', () => {
    const recorded = new Set(records.map((r) => r.record));
    for (const r of [...rules, ...records]) {
      const where = r.alert ?? r.record;
      const series = r.expr.match(/(?<![\w:])(drainwatch_[a-z0-9_]+|up)(?![\w:])/g) ?? [];
      for (const n of series) if (n !== 'up') expect(KNOWN_SERIES.has(n), `${where}: ${n}`).toBe(true);
      for (const n of r.expr.match(/[a-z_]+:[a-z0-9_]+:[a-z0-9_]+/g) ?? [])
        expect(recorded.has(n), `${where}: ${n} is not recorded`).toBe(true);
      expect(
        series.length + (r.expr.match(/[a-z_]+:[a-z0-9_]+:[a-z0-9_]+/g) ?? []).length,
        where,
      ).toBeGreaterThan(0);
    }
  });

  it('records follow level:metric:operations, are used by an alert and evaluated before it', () => {
    for (const g of rulesFile.groups) {
      g.rules.forEach((r, i) => {
        if (!r.record) return;
        expect(r.record).toMatch(/^[a-z_]+:drainwatch_[a-z0-9_]+:increase10m$/);
        const users = g.rules
          .map((u, j) => ({ u, j }))
          .filter(({ u }) => u.alert && u.expr.includes(r.record!));
        expect(users.length, `${r.record} is not used`).toBeGreaterThan(0);
        for (const { j } of users) expect(j, `${r.record} must come before its alert`).toBeGreaterThan(i);
      });
    }
  });

  it('has at least one promtool case where each alert fires', () => {
    const tests = readdirSync(join(ROOT, 'test/promtool'))
      .filter((f) => f.endsWith('.yaml'))
      .flatMap(
        (f) =>
          (
            parse(read(`test/promtool/${f}`)) as {
              tests: { alert_rule_test?: { alertname: string; exp_alerts: unknown[] }[] }[];
            }
          ).tests,
      );
    const firing = new Set(
      tests.flatMap((t) =>
        (t.alert_rule_test ?? []).filter((a) => a.exp_alerts.length > 0).map((a) => a.alertname),
      ),
    );
    for (const r of rules) expect(firing.has(r.alert), `${r.alert} never fires in test/promtool`).toBe(true);
  });
});
