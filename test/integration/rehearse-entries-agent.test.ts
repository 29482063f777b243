import type { ServerResponse } from 'node:http';
import type { NatsConnection } from '@nats-io/transport-node';
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createEntry, createRng, type Entrypoint } from '../../cluster/local/index.js';
import { pollUntil } from '../../lib/wait.js';
import {
  type AgentUnderTest,
  createTestStream,
  startAgentUnderTest,
  startUpstreamApp,
  type UpstreamApp,
} from '../helpers/agent-harness.js';
import { natsClient, startTestServers, type TestServers } from '../helpers/servers.js';

// The transparent agent in front of a pod whose app stopped listening, behind the real nginx:
// once nothing is in flight the agent stops accepting, as the bare pod would, and nginx sends the
// refused connect to the next upstream (proxy_next_upstream error, its default), so the user
// loses nothing; while a request is still in flight the agent still accepts, answers a new
// request 502 (the app refused it), and nginx passes that 502 on: it never retries an answer.

let servers: TestServers;
let nc: NatsConnection;
const cleanups: Array<() => Promise<void>> = [];

beforeAll(async () => {
  servers = await startTestServers();
  nc = await natsClient(servers.nats);
});

afterAll(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
  await nc?.close();
  await servers?.stop();
});

async function podWithAgent(): Promise<{ app: UpstreamApp; agent: AgentUnderTest }> {
  const app = await startUpstreamApp();
  app.setHandler((_req, res) => res.end('a'));
  const agent = await startAgentUnderTest({ upstreamPort: app.port, natsUrl: servers.nats.url });
  await createTestStream(nc, agent.ns);
  cleanups.push(async () => {
    await agent.agent.stop({ immediate: true });
    await app.close();
  });
  return { app, agent };
}

async function nginxOver(endpoints: Record<string, number>): Promise<{ ep: Entrypoint; url: string }> {
  const ep = createEntry('nginx', {
    balance: 'round-robin',
    propagation: { minMs: 0, maxMs: 0 },
    rng: createRng(3),
  });
  const { url } = await ep.start();
  cleanups.push(() => ep.stop());
  for (const [pod, port] of Object.entries(endpoints)) ep.addEndpoint(pod, port);
  await pollUntil(() => ep.routable().length === Object.keys(endpoints).length, { timeoutMs: 20_000 });
  return { ep, url };
}

async function answers(url: string, n: number): Promise<string[]> {
  const out: string[] = [];
  for (let i = 0; i < n; i++) {
    const r = await request(`${url}/`, { reset: true });
    const body = await r.body.text();
    // A pod's answer names the pod; an error page is only its status.
    out.push(r.statusCode === 200 ? `200 ${body}` : String(r.statusCode));
  }
  return out;
}

describe('the agent stopping to accept, behind nginx', () => {
  it('a refused connect goes to the next pod; the user sees only 200s', async () => {
    const other = await startUpstreamApp();
    other.setHandler((_req, res) => res.end('b'));
    cleanups.push(() => other.close());
    const { app, agent } = await podWithAgent();
    const { ep, url } = await nginxOver({ a: agent.trafficPort, b: other.port });
    await app.stopListening();
    await pollUntil(() => !agent.agent.state().accepting, {
      timeoutMs: 10_000,
      what: 'the agent to stop accepting',
    });
    expect(await answers(url, 4)).toEqual(Array(4).fill('200 b'));
    const activity = await ep.activity();
    expect(activity.retriedElsewhere).toBeGreaterThan(0);
    expect(activity.upstreamErrors.refused).toBeGreaterThan(0);
  }, 60_000);

  it('a 502 from an agent that still accepts is passed on, not retried', async () => {
    const other = await startUpstreamApp();
    other.setHandler((_req, res) => res.end('b'));
    cleanups.push(() => other.close());
    const { app, agent } = await podWithAgent();
    // A request in flight at the agent keeps its listener open after the app stopped listening.
    const held: ServerResponse[] = [];
    app.setHandler((_req, res) => {
      held.push(res);
    });
    const inflight = request(`${agent.trafficUrl}/slow`).then((r) => r.body.text());
    await pollUntil(() => held.length === 1, { timeoutMs: 10_000, what: 'the request held by the app' });
    await app.stopListening();
    await pollUntil(() => !agent.agent.state().upstreamListening, { timeoutMs: 10_000 });
    expect(agent.agent.state().accepting).toBe(true);
    const { ep, url } = await nginxOver({ a: agent.trafficPort, b: other.port });
    const seen = await answers(url, 2);
    for (const res of held) res.end('done');
    await inflight;
    expect(new Set(seen)).toEqual(new Set(['502', '200 b']));
    expect((await ep.activity()).retries).toBe(0);
  }, 60_000);
});
