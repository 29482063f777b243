import { describe, expect, it } from 'vitest';
import { createAgentCommand } from '../../cli/commands/agent.js';
import {
  AGENT_PORTS,
  AGENT_SETTINGS,
  agentSettingDefault,
  agentSettingHelp,
  formatPrestopPolicy,
  parsePrestopPolicy,
} from '../../contract/index.js';
import { DEFAULT_INJECT_OPTIONS } from '../../kube/index.js';
import { InvalidValueError } from '../../lib/values.js';
import { planRuns, RehearseConfigError, resolveRehearseConfig } from '../../rehearse/index.js';

// The agent's settings table: one preStop grammar, the ports named once, and the consumers
// (`drainwatch agent`, inject, the rehearsal) reading it rather than retyping it.

function expectRefused(fn: () => unknown, setting: string, value: string): void {
  let err: unknown;
  try {
    fn();
  } catch (e) {
    err = e;
  }
  expect(err).toBeInstanceOf(InvalidValueError);
  expect((err as InvalidValueError).setting).toBe(setting);
  expect((err as Error).message).toBe(
    `${setting}: expected adaptive or fixed:<seconds>, got ${JSON.stringify(value)}`,
  );
}

describe('the agent settings contract', () => {
  it('reads and writes the preStop policy with one grammar', () => {
    expect(parsePrestopPolicy('p', 'adaptive')).toEqual({ mode: 'adaptive' });
    expect(parsePrestopPolicy('p', 'fixed:10')).toEqual({ mode: 'fixed', seconds: 10 });
    expect(parsePrestopPolicy('p', 'fixed:2.5')).toEqual({ mode: 'fixed', seconds: 2.5 });
    expect(parsePrestopPolicy('p', 'fixed:500ms')).toEqual({ mode: 'fixed', seconds: 0.5 });
    for (const text of ['adaptive', 'fixed:10', 'fixed:0.3', 'fixed:0'])
      expect(formatPrestopPolicy(parsePrestopPolicy('p', text))).toBe(text);
    for (const value of ['sometimes', 'fixed:', 'fixed:soon', 'auto'])
      expectRefused(() => parsePrestopPolicy('DRAINWATCH_PRESTOP', value), 'DRAINWATCH_PRESTOP', value);
  });

  it('names the ports once: the agent defaults and inject use them', () => {
    expect(AGENT_PORTS).toEqual({ traffic: 15080, admin: 15021 });
    expect(AGENT_SETTINGS.listen.default).toBe(`0.0.0.0:${AGENT_PORTS.traffic}`);
    expect(AGENT_SETTINGS.admin.default).toBe(`0.0.0.0:${AGENT_PORTS.admin}`);
    expect(DEFAULT_INJECT_OPTIONS.proxyPort).toBe(AGENT_PORTS.traffic);
    expect(DEFAULT_INJECT_OPTIONS.adminPort).toBe(AGENT_PORTS.admin);
  });

  it('`drainwatch agent` has exactly the options of the table, each with its env var', () => {
    const options = createAgentCommand().options.map((o) => [o.flags, o.envVar]);
    expect(options).toEqual(Object.values(AGENT_SETTINGS).map((s) => [s.flag, s.env]));
  });

  it('rehearse parses --prestop once into the typed policy that every run carries', () => {
    const config = resolveRehearseConfig({ prestop: 'fixed:500ms' });
    expect(config.prestopPolicy).toEqual({ mode: 'fixed', seconds: 0.5 });
    expect(config.prestop).toBe('fixed:0.5');
    const [naive, drained] = planRuns(config, undefined);
    expect(naive!.prestopPolicy).toEqual({ mode: 'fixed', seconds: 0 });
    expect(drained!.prestopPolicy).toEqual({ mode: 'fixed', seconds: 0.5 });
    expect(() => resolveRehearseConfig({ prestop: 'fixed:soon' })).toThrow(RehearseConfigError);
  });

  it('every setting has a distinct env var and flag, and its default as help shows it', () => {
    const all = Object.values(AGENT_SETTINGS);
    expect(new Set(all.map((s) => s.env)).size).toBe(all.length);
    expect(new Set(all.map((s) => s.flag.split(' ')[0])).size).toBe(all.length);
    expect(agentSettingHelp('prestopMin')).not.toContain('default');
    expect(agentSettingDefault('prestopMin')).toBe('3s');
  });
});
