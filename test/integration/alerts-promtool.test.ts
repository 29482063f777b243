import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { parse, stringify } from 'yaml';
import { findBinary } from '../../lib/servers.js';

// Runs the real promtool (Debian package `prometheus`) over the rules and their unit tests, then
// proves those tests can fail: each rule is broken on purpose and promtool must notice.

const ROOT = join(import.meta.dirname, '../..');
const RULES = join(ROOT, 'manifests/alerts/drainwatch-rules.yaml');
const PROMTOOL = findBinary('promtool', 'DRAINWATCH_PROMTOOL_BIN');
const TEST_FILES = readdirSync(join(ROOT, 'test/promtool'))
  .filter((f) => f.endsWith('.yaml'))
  .map((f) => join(ROOT, 'test/promtool', f));

function promtool(...args: string[]): { code: number | null; output: string } {
  const r = spawnSync(PROMTOOL, args, { encoding: 'utf8', timeout: 60_000 });
  return { code: r.status, output: `${r.stdout}${r.stderr}` };
}

interface Rule {
  alert?: string;
  record?: string;
  expr: string;
}
type RulesDoc = { groups: { rules: Rule[] }[] };

const scratch = mkdtempSync(join(tmpdir(), 'drainwatch-promtool-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

/** Writes the promtool tests against a modified copy of the rules, runs them, returns the result. */
function runTestsAgainst(mutate: (doc: RulesDoc) => void): { code: number | null; output: string } {
  const doc = parse(readFileSync(RULES, 'utf8')) as RulesDoc;
  mutate(doc);
  const rulesPath = join(scratch, `rules-${Math.random().toString(36).slice(2)}.yaml`);
  writeFileSync(rulesPath, stringify(doc));
  const testPaths = TEST_FILES.map((file, i) => {
    const test = parse(readFileSync(file, 'utf8')) as { rule_files: string[] };
    test.rule_files = [rulesPath];
    const path = join(scratch, `test-${i}-${Math.random().toString(36).slice(2)}.yaml`);
    writeFileSync(path, stringify(test));
    return path;
  });
  return promtool('test', 'rules', ...testPaths);
}

function ruleNamed(doc: RulesDoc, name: string): Rule {
  const rule = doc.groups.flatMap((g) => g.rules).find((r) => r.alert === name || r.record === name);
  if (!rule) throw new Error(`no rule ${name}`);
  return rule;
}

function records(doc: RulesDoc): Rule[] {
  return doc.groups.flatMap((g) => g.rules).filter((r) => r.record !== undefined);
}

describe('promtool', () => {
  it('check rules accepts the rules file and the PrometheusRule spec', () => {
    const plain = promtool('check', 'rules', RULES);
    expect(plain.output).toContain('SUCCESS');
    expect(plain.code).toBe(0);
    const operator = parse(readFileSync(join(ROOT, 'manifests/alerts/prometheusrule.yaml'), 'utf8')) as {
      spec: unknown;
    };
    const extracted = join(scratch, 'prometheusrule-spec.yaml');
    writeFileSync(extracted, stringify(operator.spec));
    const fromOperator = promtool('check', 'rules', extracted);
    expect(fromOperator.output).toContain('SUCCESS');
    expect(fromOperator.code).toBe(0);
  });

  it('test rules passes: every alert fires on its input series and stays silent on the controls', () => {
    const r = promtool('test', 'rules', ...TEST_FILES);
    expect(r.output).toContain('SUCCESS');
    expect(r.code, r.output).toBe(0);
  });

  it('the tests notice when any alert can no longer fire', () => {
    const alerts = (parse(readFileSync(RULES, 'utf8')) as RulesDoc).groups
      .flatMap((g) => g.rules.map((r) => r.alert))
      .filter((a): a is string => a !== undefined);
    for (const alert of alerts) {
      const r = runTestsAgainst((doc) => {
        ruleNamed(doc, alert).expr = 'vector(0) > 1';
      });
      expect(r.code, `${alert} silenced but promtool tests still pass`).not.toBe(0);
      expect(r.output).toContain(alert);
    }
  });

  it('the tests notice a threshold dropped and a counter reset taken for a loss', () => {
    const noThreshold = runTestsAgainst((doc) => {
      const rule = ruleNamed(doc, 'DrainwatchProbeRequestsFailing');
      rule.expr = rule.expr.replace('> 0.01', '> 0');
    });
    expect(noThreshold.code).not.toBe(0);
    expect(noThreshold.output).toContain('DrainwatchProbeRequestsFailing');

    const rawCounter = runTestsAgainst((doc) => {
      const rule = ruleNamed(doc, 'DrainwatchSessionsLost');
      rule.expr = 'sum by (namespace, workload) (drainwatch_probe_sessions_lost_total) > 0';
    });
    expect(rawCounter.code).not.toBe(0);
    expect(rawCounter.output).toContain('DrainwatchSessionsLost');

    const noFor = runTestsAgainst((doc) => {
      const rule = ruleNamed(doc, 'DrainwatchTrafficSkewHigh') as Rule & { for?: string };
      delete rule.for;
    });
    expect(noFor.code).not.toBe(0);
    expect(noFor.output).toContain('DrainwatchTrafficSkewHigh');
  });

  it('the tests notice a first rollout going unseen, and old totals taken for new losses', () => {
    const plainIncrease = runTestsAgainst((doc) => {
      for (const r of records(doc)) r.expr = r.expr.replace(/\(\(.*offset 10m\)\)\s*or /s, '');
    });
    expect(plainIncrease.code).not.toBe(0);
    expect(plainIncrease.output).toContain('time: 17m');

    const unguarded = runTestsAgainst((doc) => {
      for (const r of records(doc))
        r.expr = r.expr.replace(' and on () group(drainwatch_nats_up offset 10m)', '');
    });
    expect(unguarded.code).not.toBe(0);
    expect(unguarded.output).toContain('time: 2m');
  });
});
