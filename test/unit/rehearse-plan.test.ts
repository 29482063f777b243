import { describe, expect, it } from 'vitest';
import { planRuns, resolveRehearseConfig } from '../../rehearse/index.js';

describe('rehearse plan', () => {
  it('with no app: naive then drained, differing only in the flaw switches and the preStop', () => {
    const [naive, drained] = planRuns(resolveRehearseConfig({ gate: '1', seed: '5' }), undefined);
    expect(naive).toMatchObject({
      label: 'naive',
      prestop: 'none',
      balance: 'cookie',
      appEnv: { QUOTE_SESSIONS: 'memory', QUOTE_GRACEFUL: 'off', QUOTE_WS_CLOSE: 'none' },
      websockets: '0.3',
      seed: 5,
    });
    expect(drained).toMatchObject({
      label: 'drained',
      prestop: 'adaptive',
      balance: 'cookie',
      appEnv: { QUOTE_SESSIONS: 'redis', QUOTE_GRACEFUL: 'on', QUOTE_WS_CLOSE: '1001' },
      seed: 5,
    });
    expect(naive!.command).toBe(drained!.command);
    expect(naive!.command).toMatch(/examples\/quote-app\/main\.js'$/);
    // The gate judges the drained run only: the naive one is there to show the losses.
    expect(naive!.gate).toBeUndefined();
    expect(drained!.gate).toBe(1);
  });

  it('with --app: one run of that command, round-robin unless told, the given preStop and gate', () => {
    const runs = planRuns(
      resolveRehearseConfig({ app: './server', prestop: 'fixed:10', gate: '0.9' }),
      undefined,
    );
    expect(runs).toHaveLength(1);
    expect(runs[0]).toMatchObject({
      label: 'app',
      command: './server',
      appEnv: {},
      prestop: 'fixed:10',
      balance: 'round-robin',
      gate: 0.9,
    });
  });

  it('a scenario without a WebSocket gets none unless asked for', () => {
    const scenario = {
      login: { method: 'POST', path: '/in', body: {}, session: 'cookie' },
      identity: { path: '/me', expect: {} },
      traffic: [{ path: '/', method: 'GET', weight: 1 }],
      websocket: null,
      sticky: { cookies: [] },
    } as unknown as Parameters<typeof planRuns>[1];
    expect(planRuns(resolveRehearseConfig({ app: 'x' }), scenario)[0]!.websockets).toBeUndefined();
    expect(planRuns(resolveRehearseConfig({ app: 'x', websockets: '2' }), scenario)[0]!.websockets).toBe('2');
  });
});

describe('rehearse plan, --protocol grpc', () => {
  it('naive (no preStop hook, no GOAWAY) then drained, the gRPC example, round-robin per connection, its own scenario', () => {
    const [naive, drained] = planRuns(resolveRehearseConfig({ protocol: 'grpc', seed: '5' }), undefined);
    expect(naive).toMatchObject({
      label: 'naive',
      protocol: 'grpc',
      prestop: 'no hook',
      prestopHook: false,
      balance: 'round-robin',
      appEnv: { GRACEFUL: 'off' },
      websockets: '0.3',
    });
    expect(drained).toMatchObject({
      label: 'drained',
      // The plain adaptive preStop: the agent's GOAWAY waits for the end of its wait on new connections.
      prestop: 'adaptive',
      prestopHook: true,
      appEnv: { GRACEFUL: 'on', GRPC_STREAMS: 'drained' },
    });
    expect(naive!.command).toMatch(/examples\/quote-grpc\/main\.js'$/);
    expect(naive!.scenario?.grpc).toMatchObject({ service: 'quote.Quotes', stream: { resume: 'fromSeq' } });
  });

  it('http stays the default; grpc refuses HTTP-only balances and entries other than local, naming each', () => {
    expect(resolveRehearseConfig({}).protocol).toBe('http');
    expect(() => resolveRehearseConfig({ protocol: 'h3' })).toThrow(/DRAINWATCH_PROTOCOL \(--protocol\)/);
    expect(() => resolveRehearseConfig({ protocol: 'grpc', balance: 'cookie', entry: 'haproxy' })).toThrow(
      /cookie needs HTTP[\s\S]*local entry point only/,
    );
    expect(resolveRehearseConfig({ protocol: 'grpc', balance: 'least-connections' }).balance).toBe(
      'least-connections',
    );
  });
});
