import { describe, expect, it } from 'vitest';
import { InvalidSettingsError } from '../../lib/values.js';
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
    [{ balance: 'random' }, 'DRAINWATCH_BALANCE (--balance)'],
    [{ replicas: '0' }, 'DRAINWATCH_REPLICAS (--replicas)'],
    [{ prestop: 'sometimes' }, 'DRAINWATCH_PRESTOP (--prestop)'],
    [{ gate: '1.5' }, 'DRAINWATCH_GATE (--gate)'],
    [{ propagation: 'later' }, 'DRAINWATCH_PROPAGATION (--propagation)'],
    [{ maxSurge: '0', maxUnavailable: '0' }, 'DRAINWATCH_MAX_SURGE (--max-surge)'],
    [{ replicas: '1', maxSurge: '0', maxUnavailable: '1' }, 'DRAINWATCH_MAX_UNAVAILABLE (--max-unavailable)'],
    [{ variants: 'naive,clever' }, 'DRAINWATCH_VARIANTS (--variants)'],
    [{ redisUrl: 'http://x' }, 'REDIS_URL (--redis-url)'],
    [{ prestop: 'fixed:40', grace: '30' }, 'DRAINWATCH_PRESTOP (--prestop)'],
    [{ websockets: 'many' }, 'DRAINWATCH_WEBSOCKETS (--websockets)'],
    [{ warmup: '10 seconds' }, 'DRAINWATCH_WARMUP (--warmup)'],
  ])('rejects %j naming %s (env and flag)', (input, setting) => {
    expect(() => resolveRehearseConfig(input)).toThrow(RehearseConfigError);
    const escaped = setting.replace(/[()]/g, '\\$&');
    expect(() => resolveRehearseConfig(input)).toThrow(new RegExp(`^${escaped}:`));
  });

  it('names every bad setting at once, one line each', () => {
    let err: unknown;
    try {
      resolveRehearseConfig({ balance: 'random', rate: 'fast', prestop: 'fixed:40', grace: '20' });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(InvalidSettingsError);
    const lines = (err as Error).message.split('\n');
    expect(lines[0]).toBe('3 invalid settings:');
    expect(lines.slice(1).map((l) => l.trim().split(':')[0])).toEqual([
      'DRAINWATCH_PROBE_RATE (--rate)',
      'DRAINWATCH_BALANCE (--balance)',
      'DRAINWATCH_PRESTOP (--prestop)',
    ]);
    expect((err as InvalidSettingsError).code).toBe('config-invalid-settings');
  });

  it('skips a cross-field rule over a bad value rather than guessing it', () => {
    expect(() => resolveRehearseConfig({ prestop: 'fixed:40', grace: 'soon' })).toThrow(
      /^DRAINWATCH_GRACE_SECONDS \(--grace\): expected a number > 0/,
    );
  });
});
