import { type ChildProcess, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { type Client, credentials, Metadata, type ServiceError, status } from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadQuoteProto } from '../../examples/quote-grpc/index.js';
import { type RunningServer, startNatsServer } from '../../lib/servers.js';
import { pollUntil } from '../../lib/wait.js';
import { type AgentUnderTest, startAgentUnderTest } from '../helpers/agent-harness.js';

// The gRPC quote app (examples/quote-grpc, compiled) behind the agent, with a real gRPC client
// (@grpc/grpc-js): unary calls with a token identity, a server stream with sequence numbers, and
// what becomes of an open stream when the app gets SIGTERM, with and without a graceful shutdown.

const MAIN = fileURLToPath(new URL('../../dist/examples/quote-grpc/main.js', import.meta.url));

interface QuoteClient extends Client {
  Get(req: object, md: Metadata, cb: (err: ServiceError | null, res: Quote) => void): void;
  Stream(req: object): NodeJS.EventEmitter & { cancel(): void };
}
interface Quote {
  symbol: string;
  seq: number;
  pod: string;
  user: string;
}

let nats: RunningServer;
beforeAll(async () => {
  nats = await startNatsServer();
});
afterAll(async () => {
  await nats?.stop();
});

async function startApp(args: string[]): Promise<{ child: ChildProcess; port: number }> {
  const child = spawn(process.execPath, [MAIN, ...args], {
    env: { ...process.env, PORT: '0', POD_NAME: 'quote-grpc-0', STREAM_INTERVAL: '20' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout?.on('data', (c: Buffer) => {
    out += c.toString();
  });
  child.stderr?.on('data', (c: Buffer) => {
    out += c.toString();
  });
  const port = await pollUntil(
    () => {
      if (child.exitCode !== null) throw new Error(`quote-grpc exited: ${out}`);
      const m = /listening on [\d.]+:(\d+)/.exec(out);
      return m ? Number(m[1]) : undefined;
    },
    { timeoutMs: 15_000, what: 'quote-grpc to listen' },
  );
  return { child, port };
}

async function withAppAndAgent<T>(
  args: string[],
  run: (ctx: { client: QuoteClient; agent: AgentUnderTest; child: ChildProcess }) => Promise<T>,
): Promise<T> {
  const { child, port } = await startApp(args);
  const agent = await startAgentUnderTest({
    upstreamPort: port,
    natsUrl: nats.url,
    env: { DRAINWATCH_GRACE_SECONDS: '5' },
  });
  const Quotes = (loadQuoteProto().quote as unknown as { Quotes: new (a: string, c: unknown) => QuoteClient })
    .Quotes;
  const client = new Quotes(`127.0.0.1:${agent.trafficPort}`, credentials.createInsecure());
  try {
    return await run({ client, agent, child });
  } finally {
    client.close();
    // The app goes first: the agent's stop waits (up to the grace period) for the app to exit.
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    await agent.agent.stop({ immediate: true });
  }
}

const token = (user: string) => {
  const md = new Metadata();
  md.set('authorization', `Bearer ${user}`);
  return md;
};

function get(client: QuoteClient, md: Metadata): Promise<Quote | ServiceError> {
  return new Promise((resolve) => client.Get({ symbol: 'ACME' }, md, (err, res) => resolve(err ?? res)));
}

/** Reads a server stream to its end: the sequence numbers seen and the final status. */
function readStream(client: QuoteClient, count: number): { seqs: number[]; done: Promise<number> } {
  const seqs: number[] = [];
  const call = client.Stream({ symbol: 'ACME', fromSeq: 0, count });
  call.on('data', (q: Quote) => seqs.push(q.seq));
  const done = new Promise<number>((resolve) => {
    call.on('error', (err: ServiceError) => resolve(err.code));
    call.on('status', (s: { code: number }) => resolve(s.code));
  });
  return { seqs, done };
}

describe('gRPC quote app through the agent', () => {
  it('unary calls keep the identity of the token; a server stream arrives whole; each call is counted', async () => {
    await withAppAndAgent([], async ({ client, agent }) => {
      const ok = (await get(client, token('user-17'))) as Quote;
      expect(ok).toMatchObject({ symbol: 'ACME', user: 'user-17', pod: 'quote-grpc-0' });
      const denied = (await get(client, new Metadata())) as ServiceError;
      expect(denied.code).toBe(status.UNAUTHENTICATED);
      const s = readStream(client, 20);
      expect(await s.done).toBe(status.OK);
      expect(s.seqs).toEqual(Array.from({ length: 20 }, (_, i) => i));
      await pollUntil(() => agent.agent.state().requests.requests.serving === 3, {
        timeoutMs: 5000,
        what: 'three calls counted',
      });
      // UNAUTHENTICATED is an answer about the call, not the server failing.
      expect(agent.agent.state().requests.failed.serving).toBe(0);
    });
  });

  for (const [name, args, expected] of [
    ['no graceful shutdown: the open stream is cut (UNAVAILABLE), counted cut', ['--graceful', 'off'], 'cut'],
    [
      'graceful, streams drained: the stream ends OK before the exit',
      ['--graceful', 'on', '--streams', 'drained'],
      'ok',
    ],
  ] as const) {
    it(`SIGTERM to the app, ${name}`, async () => {
      await withAppAndAgent([...args], async ({ client, agent, child }) => {
        const s = readStream(client, 0);
        await pollUntil(() => s.seqs.length >= 3, { timeoutMs: 5000, what: 'a few stream messages' });
        child.kill('SIGTERM');
        const code = await s.done;
        await pollUntil(() => agent.agent.state().inFlight === 0, { timeoutMs: 5000, what: 'no call open' });
        const { requests, failed } = agent.agent.state().requests;
        if (expected === 'cut') {
          expect(code).toBe(status.UNAVAILABLE);
          expect(agent.agent.state().requests.failed.serving).toBe(1);
        } else {
          expect(code).toBe(status.OK);
          expect(failed.serving).toBe(0);
          expect(requests.serving).toBe(1);
        }
        // grpc-js's tryShutdown() says GOAWAY; an app killed by SIGTERM says nothing.
        const goaway = await agent.registry.getSingleMetricAsString('drainwatch_agent_h2_goaway_total');
        if (expected === 'cut') expect(goaway).not.toMatch(/sender="app"/);
        else expect(goaway).toMatch(/sender="app",code="0"} [1-9]/);
      });
    });
  }
});
