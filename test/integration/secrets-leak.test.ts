import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { jetstreamManager } from '@nats-io/jetstream';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createEventSequencer } from '../../contract/validate.js';
import { pollUntil } from '../../lib/wait.js';
import { type CollectorEnv, startCollectorEnv } from '../helpers/collector-harness.js';
import { waitCaughtUp } from '../helpers/collector-process.js';
import { publishAll } from '../helpers/collector-scenario.js';

// Nothing a user sends or an app answers in its credentials may leave the pod or the probe: an
// Authorization header, a Cookie, a Set-Cookie and a token in a query string go through the real
// agent and the real probe (compiled CLI processes), into NATS and the real collector; then every
// place they could end up is searched for them.

const bin = fileURLToPath(new URL('../../dist/cli/main.js', import.meta.url));

const SECRETS = {
  bearer: 'BEARERSECRET7f3a9c',
  cookie: 'COOKIESECRET51be02',
  setCookie: 'SETCOOKIESECRET9d24',
  query: 'QUERYSECRET0c6e11',
  fragment: 'FRAGMENTSECRET4a7d',
} as const;

interface CliProcess {
  readonly child: ChildProcess;
  output(): string;
  readonly exited: Promise<number | null>;
  stop(): Promise<void>;
}

function spawnCli(args: string[], env: Record<string, string>): CliProcess {
  const child = spawn(process.execPath, [bin, ...args], {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout?.on('data', (c: Buffer) => {
    out += c.toString();
  });
  child.stderr?.on('data', (c: Buffer) => {
    out += c.toString();
  });
  const exited = new Promise<number | null>((resolve) => child.once('close', (code) => resolve(code)));
  return {
    child,
    output: () => out,
    exited,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      await exited;
    },
  };
}

/** Every value stored in Redis, read by type, as text. */
async function redisDump(url: string): Promise<string[]> {
  const redis = new Redis(url, { keyPrefix: '' });
  try {
    const out: string[] = [];
    let cursor = '0';
    do {
      const [next, keys] = await redis.scan(cursor, 'COUNT', '500');
      cursor = next;
      for (const key of keys) {
        const type = await redis.type(key);
        let value: unknown;
        if (type === 'string') value = await redis.get(key);
        else if (type === 'hash') value = await redis.hgetall(key);
        else if (type === 'list') value = await redis.lrange(key, 0, -1);
        else if (type === 'set') value = await redis.smembers(key);
        else if (type === 'zset') value = await redis.zrange(key, '0', '-1', 'WITHSCORES');
        else if (type === 'stream') value = await redis.xrange(key, '-', '+');
        else throw new Error(`unexpected Redis type ${type} at ${key}`);
        out.push(`${key} ${JSON.stringify(value)}`);
      }
    } while (cursor !== '0');
    return out;
  } finally {
    redis.disconnect();
  }
}

function expectNoSecret(where: string, text: string): void {
  for (const [name, secret] of Object.entries(SECRETS)) {
    expect(text.includes(secret), `${name} secret found in ${where}`).toBe(false);
  }
}

describe('no credential leaves the pod or the probe', () => {
  let env: CollectorEnv;
  let app: Server;
  const seen: { url: string; headers: IncomingHttpHeaders }[] = [];
  const procs: CliProcess[] = [];

  beforeAll(async () => {
    env = await startCollectorEnv();
    app = createServer((req, res) => {
      seen.push({ url: req.url ?? '', headers: req.headers });
      req.resume();
      const headers = {
        'content-type': 'application/json',
        'set-cookie': [`sid=${SECRETS.cookie}; Path=/`, `pref=${SECRETS.setCookie}; Path=/`],
      };
      const path = (req.url ?? '').split('?')[0];
      res.writeHead(200, headers);
      res.end(JSON.stringify(path === '/login' ? { token: SECRETS.bearer } : { user: 'user-0' }));
    });
    await new Promise<void>((resolve) => app.listen(0, '127.0.0.1', resolve));
  });
  afterAll(async () => {
    for (const p of procs) await p.stop();
    await new Promise<void>((resolve) => app.close(() => resolve()));
    await env?.stop();
  });

  it('Authorization, Cookie, Set-Cookie and query tokens appear nowhere downstream', async () => {
    const root = env.ns.subjectRoot;
    const collector = spawnCli(['collector'], env.childEnv());
    procs.push(collector);
    const collectorUrl = await pollUntil(
      () => /listening on http:\/\/[^:]+:(\d+)/.exec(collector.output())?.[1],
      { timeoutMs: 30_000, what: 'the collector to listen' },
    ).then((port) => `http://127.0.0.1:${port}`);
    const agent = spawnCli(['agent'], {
      DRAINWATCH_LISTEN: '127.0.0.1:0',
      DRAINWATCH_ADMIN: '127.0.0.1:0',
      DRAINWATCH_UPSTREAM: `127.0.0.1:${(app.address() as AddressInfo).port}`,
      NATS_URL: env.servers.nats.url,
      DRAINWATCH_SUBJECT_ROOT: root,
      POD_NAME: 'web-1',
      DRAINWATCH_GRACE_SECONDS: '3',
      POD_NAMESPACE: 'shop',
      DRAINWATCH_WORKLOAD: 'web',
    });
    procs.push(agent);
    const [, traffic, admin] = await pollUntil(
      () => /^drainwatch agent listening traffic=(\S+) admin=(\S+)$/m.exec(agent.output()),
      { timeoutMs: 20_000, what: 'the agent to listen' },
    );

    const rollouts = createEventSequencer({ namespace: 'shop', workload: 'web', pod: null }, 'test');
    const rolloutId = 'ro-secrets';
    await publishAll(
      env.nc,
      [
        rollouts.next('rollout.started', {
          rolloutId,
          trigger: 'cli',
          replicas: 1,
          maxSurge: 1,
          maxUnavailable: 0,
        }),
      ],
      root,
    );
    // A request through the agent carrying every secret, as a browser would send it.
    const direct = await fetch(`http://${traffic}/ok?token=${SECRETS.query}#${SECRETS.fragment}`, {
      headers: {
        authorization: `Bearer ${SECRETS.bearer}`,
        cookie: `sid=${SECRETS.cookie}`,
        'x-drainwatch-probe': 'direct-1',
      },
    });
    expect(direct.status).toBe(200);
    await direct.text();

    const dir = await mkdtemp(join(tmpdir(), 'secrets-'));
    const scenario = join(dir, 'scenario.yaml');
    await writeFile(
      scenario,
      [
        'login: { method: POST, path: /login, body: { user: "{{user}}" }, session: "bearer:token", cookie: sid }',
        'identity: { path: /whoami }',
        `traffic: [ { path: "/ok?token=${SECRETS.query}#${SECRETS.fragment}", weight: 1 } ]`,
        'websocket: null',
        '',
      ].join('\n'),
    );
    const probe = spawnCli(
      [
        'probe',
        '--target',
        `http://${traffic}`,
        '--scenario',
        scenario,
        '--sessions',
        '2',
        '--rate',
        '10',
        '--duration',
        '2s',
        '--nats-url',
        env.servers.nats.url,
        '--subject-root',
        root,
        '--stream',
        env.ns.streamName,
        '--namespace',
        'shop',
        '--workload',
        'web',
      ],
      {},
    );
    procs.push(probe);
    expect(await probe.exited).toBe(0);
    await publishAll(
      env.nc,
      [rollouts.next('rollout.finished', { rolloutId, outcome: 'complete', podsReplaced: 1 })],
      root,
    );

    // The secrets did travel: the app received each of them, through the agent.
    const sent = JSON.stringify(seen);
    for (const s of [SECRETS.bearer, SECRETS.cookie, SECRETS.setCookie, SECRETS.query])
      expect(sent).toContain(s);

    // Everything the agent and the probe published is applied before looking.
    const jsm = await jetstreamManager(env.nc);
    const events: string[] = [];
    await pollUntil(
      async () => {
        const { state } = await jsm.streams.info(env.ns.streamName);
        events.length = 0;
        for (let seq = state.first_seq; seq <= state.last_seq; seq++) {
          const m = await jsm.streams.getMessage(env.ns.streamName, { seq });
          if (m) events.push(`${m.subject} ${m.string()}`);
        }
        // The agent's record of the direct request, and the probe's last event.
        return (
          events.some((e) => e.includes('"probeId":"direct-1"')) &&
          events.some((e) => e.includes('probe.summary'))
        );
      },
      { timeoutMs: 20_000, intervalMs: 200, what: 'the agent and probe events on the stream' },
    );
    await waitCaughtUp(env.nc, env.ns.streamName, 'collector-test');
    for (const e of events) expectNoSecret('a stream event', e);
    // The probe's requests are there, under their path alone.
    expect(events.some((e) => e.includes('probe.request') && e.includes('"route":"/ok"'))).toBe(true);

    const stored = await redisDump(env.servers.redis.url);
    expect(stored.some((v) => v.includes('probe.request') && v.includes('/ok'))).toBe(true);
    for (const v of stored) expectNoSecret('Redis', v);

    for (const url of [`http://${admin}/metrics`, `${collectorUrl}/metrics`]) {
      const text = await (await fetch(url)).text();
      expect(text).toContain('drainwatch_');
      expectNoSecret(url, text);
    }
    for (const path of [
      '/api/rollouts',
      `/api/rollouts/${rolloutId}`,
      '/api/pods/shop/web-1/timeline',
      '/api/dead-letters',
    ]) {
      const r = await fetch(`${collectorUrl}${path}`);
      expect(r.status, path).toBe(200);
      expectNoSecret(path, await r.text());
    }

    await probe.exited;
    await agent.stop();
    await collector.stop();
    expect(probe.output()).toContain('requests');
    for (const p of [probe, agent, collector]) expectNoSecret('process output', p.output());
  });
});
