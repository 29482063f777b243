import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { AGENT_METRICS, DRAIN_METRICS, HEALTH_METRICS } from '../../contract/index.js';

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
        'DrainwatchCollectorDown',
        'DrainwatchCollectorLagging',
        'DrainwatchCollectorDependencyDown',
      ].sort(),
    );
    expect(rules.find((r) => r.alert === 'DrainwatchTrafficSkewHigh')?.for).toBe('15m');
  });

  it('gives every alert a severity, summary, description and a runbook anchor that exists in docs/alerts.md', () => {
    const headings = new Set(
      [...runbook.matchAll(/^##\s+(\S+)\s*$/gm)].map((m) => (m[1] as string).toLowerCase()),
    );
    for (const r of rules) {
      expect(['critical', 'warning'], r.alert).toContain(r.labels?.severity);
      expect(r.annotations?.summary, r.alert).toBeTruthy();
      expect(r.annotations?.description, r.alert).toBeTruthy();
      expect(r.annotations?.runbook_url, r.alert).toBe(`docs/alerts.md#${r.alert.toLowerCase()}`);
      expect(headings.has(r.alert.toLowerCase()), `docs/alerts.md has no "## ${r.alert}" section`).toBe(true);
    }
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
