import type { NatsConnection, NodeConnectionOptions } from '@nats-io/transport-node';
import { describe, expect, it } from 'vitest';
import { createNatsConnector } from '../../agent/index.js';
import { createManualTime } from '../helpers/manual-time.js';

// The agent's NATS connect loop with its connect() injected: how often it tries while NATS is
// down, what it hands over, and what happens when the agent stops meanwhile. (Against a real
// nats-server that starts late: test/integration/agent-nats-outage.test.ts.)

/** A stand-in connection: the connector only ever closes it. */
function connection(): NatsConnection & { closed: number } {
  const nc = {
    closed: 0,
    close: async () => {
      nc.closed += 1;
    },
  };
  return nc as unknown as NatsConnection & { closed: number };
}

function setup(outcomes: Array<'fail' | NatsConnection | Promise<NatsConnection>>) {
  const time = createManualTime();
  const attempts: number[] = [];
  const options: NodeConnectionOptions[] = [];
  const connected: NatsConnection[] = [];
  const state = { active: true };
  const connector = createNatsConnector({
    servers: 'nats://127.0.0.1:4222',
    name: 'drainwatch-agent web-1',
    onConnect: (nc) => connected.push(nc),
    active: () => state.active,
    scheduler: time.scheduler,
    connect: async (o) => {
      attempts.push(time.now - 1_700_000_000_000);
      options.push(o);
      const next = outcomes.shift() ?? 'fail';
      if (next === 'fail') throw new Error('connection refused');
      return next;
    },
  });
  return { time, attempts, options, connected, state, connector };
}

describe('agent NATS connect loop', () => {
  it('retries with a backoff from 250 ms doubling to 2 s, and hands over the first connection', async () => {
    const nc = connection();
    const s = setup(['fail', 'fail', 'fail', 'fail', 'fail', nc]);
    s.connector.start();
    await s.time.advance(10_000);
    expect(s.attempts).toEqual([0, 250, 750, 1750, 3750, 5750]);
    expect(s.connected).toEqual([nc]);
    expect(s.options[0]).toMatchObject({
      servers: ['nats://127.0.0.1:4222'],
      name: 'drainwatch-agent web-1',
      maxReconnectAttempts: -1,
    });
    await s.connector.close();
    expect(nc.closed).toBe(1);
  });

  it('stops trying once the agent stops', async () => {
    const s = setup([]);
    s.connector.start();
    await s.time.advance(1000);
    const tried = s.attempts.length;
    s.state.active = false;
    await s.time.advance(10_000);
    expect(s.attempts.length).toBe(tried);
    expect(s.time.pending).toBe(0);
    await s.connector.close();
  });

  it('closes a connection that arrives after the agent stopped, without handing it over', async () => {
    const nc = connection();
    let arrive: (c: NatsConnection) => void = () => undefined;
    const s = setup([new Promise<NatsConnection>((resolve) => (arrive = resolve))]);
    s.connector.start();
    await s.time.settle();
    s.state.active = false;
    arrive(nc);
    await s.time.settle();
    expect(s.connected).toEqual([]);
    expect(nc.closed).toBe(1);
    // Not ours to close again at the agent's stop.
    await s.connector.close();
    expect(nc.closed).toBe(1);
  });
});
