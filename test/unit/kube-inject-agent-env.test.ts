import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';
import { AGENT_DEFAULTS, loadAgentConfig } from '../../agent/index.js';
import {
  DEFAULT_INJECT_OPTIONS,
  DEFAULT_LINT_OPTIONS,
  injectManifests,
  KubeConfigError,
} from '../../kube/index.js';

// The injected agent must drain as inject planned: its env, read by the agent's own config loader,
// gives the preStop maximum and drain budget inject budgeted into terminationGracePeriodSeconds.

const dir = fileURLToPath(new URL('../fixtures/inject/', import.meta.url));
const OPTS = { agentImage: 'ghcr.io/drainwatch/agent:0.0.0-test', version: '0.0.0-test' } as const;

interface EnvVar {
  name: string;
  value?: string;
}

/** Injects `text`, then loads the agent config from the agent container's literal env values. */
function injectedAgent(text: string, options: Parameters<typeof injectManifests>[1] = OPTS) {
  const dep = parseAllDocuments(injectManifests(text, options).output)[0]!.toJS();
  const spec = dep.spec.template.spec;
  const agent = spec.initContainers.find((c: { name: string }) => c.name === 'drainwatch-agent');
  const env: Record<string, string> = {};
  for (const v of agent.env as EnvVar[]) if (v.value !== undefined) env[v.name] = v.value;
  return { env, grace: spec.terminationGracePeriodSeconds as number, config: loadAgentConfig({}, env) };
}

const base = readFileSync(`${dir}basic-numeric-target-port.input.yaml`, 'utf8');

describe('one drain budget, and the agent drains as inject planned', () => {
  it('lint, inject and the agent share one drain budget default (the agent settings table)', () => {
    expect(DEFAULT_INJECT_OPTIONS.drainBudgetSeconds * 1000).toBe(AGENT_DEFAULTS.drainBudgetMs);
    expect(DEFAULT_LINT_OPTIONS.drainBudgetSeconds * 1000).toBe(AGENT_DEFAULTS.drainBudgetMs);
  });

  it('writes no drain env when the agent defaults already give the plan', () => {
    const { env, config } = injectedAgent(base);
    expect(env['DRAINWATCH_DRAIN_BUDGET']).toBeUndefined();
    expect(env['DRAINWATCH_PRESTOP_MAX']).toBeUndefined();
    expect(config.prestopMaxMs).toBe(DEFAULT_INJECT_OPTIONS.preStopMaxSeconds * 1000);
  });

  it('writes the preStop maximum when the pod keeps a longer grace period', () => {
    const text = base.replace('    spec:\n', '    spec:\n      terminationGracePeriodSeconds: 60\n');
    const { env, grace, config } = injectedAgent(text);
    expect(grace).toBe(60);
    expect(env['DRAINWATCH_PRESTOP_MAX']).toBe('15s');
    // Without it the agent would wait up to 60 − 20 = 40 s.
    expect(config.prestopMaxMs).toBe(15_000);
  });

  it('writes the --drain-budget and --prestop-max it planned with, and the agent reads them back', () => {
    const { env, grace, config } = injectedAgent(base, {
      ...OPTS,
      drainBudgetSeconds: 45,
      preStopMaxSeconds: 7.5,
    });
    expect(grace).toBe(53);
    expect(env['DRAINWATCH_DRAIN_BUDGET']).toBe('45s');
    expect(env['DRAINWATCH_PRESTOP_MAX']).toBe('7500ms');
    expect(config.drainBudgetMs).toBe(45_000);
    expect(config.prestopMaxMs).toBe(7_500);
    expect(grace * 1000).toBeGreaterThanOrEqual(config.prestopMaxMs + config.drainBudgetMs);
  });

  it('writes the drain-budget annotation as the agent budget', () => {
    const text = base.replace(
      '  name: web\n',
      '  name: web\n  annotations:\n    drainwatch.dev/drain-budget-seconds: 1m\n',
    );
    const { env, grace, config } = injectedAgent(text);
    expect(grace).toBe(75);
    expect(env['DRAINWATCH_DRAIN_BUDGET']).toBe('1m');
    expect(config.prestopMaxMs).toBe(15_000);
  });

  it('refuses an adaptive maximum below the agent preStop minimum before touching manifests', () => {
    expect(() => injectManifests(base, { ...OPTS, preStopMaxSeconds: 1 })).toThrow(KubeConfigError);
    expect(() => injectManifests(base, { ...OPTS, preStopMaxSeconds: 1 })).toThrow(
      /below the agent's preStop minimum of 3s/,
    );
  });
});
