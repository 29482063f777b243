import { describe, expect, it } from 'vitest';
import { RehearseConfigError, resolveRehearseConfig } from '../../rehearse/index.js';

describe('rehearse config', () => {
  it('with nothing given, compares the naive and the drained example app', () => {
    const c = resolveRehearseConfig({});
    expect(c.app).toBeUndefined();
    expect(c.variants).toEqual(['naive', 'drained']);
    expect(c.replicas).toBe(3);
    expect(c.propagation).toEqual({ minMs: 1000, maxMs: 5000 });
    expect(c.prestop).toBe('adaptive');
    expect(c.gate).toBeUndefined();
    expect(c.sidecar).toBe('agent');
    expect(c.balance).toBeUndefined();
  });

  it('parses every option', () => {
    const c = resolveRehearseConfig({
      app: 'node server.js',
      replicas: '2',
      sessions: '12',
      balance: 'cookie',
      propagation: '200ms-1s',
      grace: '10',
      prestop: 'fixed:10',
      gate: '95%',
      userMix: 'skewed',
      json: true,
      seed: '9',
      natsUrl: 'nats://127.0.0.1:4222',
    });
    expect(c).toMatchObject({
      app: 'node server.js',
      replicas: 2,
      sessions: 12,
      balance: 'cookie',
      propagation: { minMs: 200, maxMs: 1000 },
      graceSeconds: 10,
      prestop: 'fixed:10',
      gate: 0.95,
      userMix: 'skewed',
      json: true,
      seed: 9,
      natsUrl: 'nats://127.0.0.1:4222',
    });
  });

  it.each([
    [{ balance: 'random' }, 'balance'],
    [{ replicas: '0' }, 'replicas'],
    [{ prestop: 'sometimes' }, 'prestop'],
    [{ gate: '1.5' }, 'gate'],
    [{ propagation: 'later' }, 'propagation'],
    [{ maxSurge: '0', maxUnavailable: '0' }, 'max-surge'],
    [{ replicas: '1', maxSurge: '0', maxUnavailable: '1' }, 'max-unavailable'],
    [{ variants: 'naive,clever' }, 'variants'],
    [{ redisUrl: 'http://x' }, 'redis-url'],
    [{ prestop: 'fixed:40', grace: '30' }, 'prestop'],
  ])('rejects %j naming %s', (input, setting) => {
    expect(() => resolveRehearseConfig(input)).toThrow(RehearseConfigError);
    expect(() => resolveRehearseConfig(input)).toThrow(new RegExp(`^${setting}:`));
  });
});
