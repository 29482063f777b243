import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { request } from 'undici';
import { afterEach, describe, expect, it } from 'vitest';
import WebSocket, { WebSocketServer } from 'ws';
import {
  AFFINITY_COOKIE,
  type BalanceStrategy,
  createEntry,
  createRng,
  type Entrypoint,
  HAPROXY_COOKIE,
} from '../../cluster/local/index.js';
import { freePort } from '../../lib/servers.js';
import { pollUntil } from '../../lib/wait.js';

// The real nginx and HAProxy as the rehearsal's entry point, against real upstream servers on
// loopback: endpoint changes after the propagation delay, a refused connect retried on another
// pod, a 502 passed on, WebSocket upgrades, affinity cookies.

const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function upstream(name: string, status = 200): Promise<{ name: string; port: number; server: Server }> {
  const server = createServer((_req, res) => {
    res.statusCode = status;
    res.setHeader('x-served-by', name);
    res.end(name);
  });
  const wss = new WebSocketServer({ server });
  wss.on('connection', (ws) => ws.on('message', (m) => ws.send(`${name}:${m.toString()}`)));
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  cleanups.push(async () => {
    for (const c of wss.clients) c.terminate();
    server.closeAllConnections();
    await new Promise<void>((r) => server.close(() => r()));
  });
  return { name, port: (server.address() as AddressInfo).port, server };
}

async function get(url: string, headers: Record<string, string> = {}) {
  const r = await request(url, { headers, reset: true });
  return { status: r.statusCode, body: await r.body.text(), headers: r.headers };
}

describe.each(['nginx', 'haproxy'] as const)('%s entry point', (kind) => {
  async function entry(
    balance: BalanceStrategy,
    propagationMs = 0,
  ): Promise<{ ep: Entrypoint; url: string }> {
    const ep = createEntry(kind, {
      balance,
      propagation: { minMs: propagationMs, maxMs: propagationMs },
      rng: createRng(1),
    });
    const { url } = await ep.start();
    cleanups.push(() => ep.stop());
    return { ep, url };
  }

  it('routes to a pod only once its change is applied, and stops when its removal is', async () => {
    const [a, b] = await Promise.all([upstream('a'), upstream('b')]);
    const { ep, url } = await entry('round-robin', 300);
    ep.addEndpoint('a', a.port);
    ep.addEndpoint('b', b.port);
    expect(ep.routable()).toEqual([]);
    await pollUntil(() => ep.routable().length === 2, { timeoutMs: 20_000, what: 'two routable pods' });
    const served = new Set<string>();
    for (let i = 0; i < 6; i++) served.add((await get(`${url}/`)).body);
    expect(served).toEqual(new Set(['a', 'b']));
    const propagationMs = await ep.markTerminating('a');
    // The delay drawn, plus the time the balancer took to apply it.
    expect(propagationMs).toBeGreaterThanOrEqual(300);
    const after = new Set<string>();
    for (let i = 0; i < 6; i++) after.add((await get(`${url}/`)).body);
    expect(after).toEqual(new Set(['b']));
    const activity = await ep.activity();
    expect(activity.entry).toBe(kind);
    expect(activity.version).toMatch(kind === 'nginx' ? /^nginx\/\d/ : /^HAProxy \d/);
    expect(activity.changes.map((c) => `${c.type} ${c.pod}`)).toEqual(['add a', 'add b', 'remove a']);
    expect(activity.applyMaxMs).not.toBeNull();
    expect(activity.retries).toBe(0);
  }, 60_000);

  it('sends a request whose connect was refused to another pod, and counts the retry', async () => {
    const b = await upstream('b');
    const { ep, url } = await entry('round-robin');
    ep.addEndpoint('gone', await freePort());
    ep.addEndpoint('b', b.port);
    await pollUntil(() => ep.routable().length === 2, { timeoutMs: 20_000 });
    const answers = [];
    for (let i = 0; i < 4; i++) answers.push(await get(`${url}/`));
    expect(answers.map((r) => `${r.status} ${r.body}`)).toEqual(Array(4).fill('200 b'));
    const activity = await ep.activity();
    expect(activity.retries).toBeGreaterThan(0);
    expect(activity.retriedElsewhere).toBeGreaterThan(0);
    expect(Object.keys(activity.upstreamErrors).length).toBeGreaterThan(0);
  }, 60_000);

  it('passes a 502 the pod answered on to the client: it is an answer, not a refused connect', async () => {
    const [bad, good] = await Promise.all([upstream('bad', 502), upstream('good')]);
    const { ep, url } = await entry('round-robin');
    ep.addEndpoint('bad', bad.port);
    ep.addEndpoint('good', good.port);
    await pollUntil(() => ep.routable().length === 2, { timeoutMs: 20_000 });
    const statuses = new Set<string>();
    for (let i = 0; i < 4; i++) {
      const r = await get(`${url}/`);
      statuses.add(`${r.status} ${r.body}`);
    }
    expect(statuses).toEqual(new Set(['502 bad', '200 good']));
    expect((await ep.activity()).retries).toBe(0);
  }, 60_000);

  it('proxies WebSocket upgrades', async () => {
    const a = await upstream('a');
    const { ep, url } = await entry('least-connections');
    ep.addEndpoint('a', a.port);
    await pollUntil(() => ep.routable().length === 1, { timeoutMs: 20_000 });
    const ws = new WebSocket(`${url.replace('http', 'ws')}/ws`);
    const echoed = await new Promise<string>((resolve, reject) => {
      ws.once('open', () => ws.send('hi'));
      ws.once('message', (m) => resolve(m.toString()));
      ws.once('error', reject);
    });
    ws.terminate();
    expect(echoed).toBe('a:hi');
  }, 60_000);

  it('pins a client to one pod with its affinity cookie', async () => {
    const ups = await Promise.all(['a', 'b', 'c'].map((n) => upstream(n)));
    const { ep, url } = await entry('cookie');
    for (const u of ups) ep.addEndpoint(u.name, u.port);
    await pollUntil(() => ep.routable().length === 3, { timeoutMs: 20_000 });
    const first = await get(`${url}/`);
    const name = kind === 'nginx' ? AFFINITY_COOKIE : HAPROXY_COOKIE;
    const cookie = String(first.headers['set-cookie']).split(';')[0]!;
    expect(cookie.startsWith(`${name}=`)).toBe(true);
    for (let i = 0; i < 6; i++) expect((await get(`${url}/`, { cookie })).body).toBe(first.body);
  }, 60_000);
});
