import { afterEach, describe, expect, it } from 'vitest';
import type { AnyEvent } from '../../contract/index.js';
import { createQuoteGrpcApp, type QuoteGrpcApp, quoteProtoPath } from '../../examples/quote-grpc/index.js';
import { startNatsServer } from '../../lib/servers.js';
import { pollUntil } from '../../lib/wait.js';
import { createProbeRun, GrpcProtoError, type ProbeRun, parseScenario } from '../../probe/index.js';

import { createTestStream, readStream, startAgentUnderTest } from '../helpers/agent-harness.js';
import { natsClient } from '../helpers/servers.js';

// The probe's gRPC sessions (scenario `grpc`) against the real gRPC quote app (@grpc/grpc-js on
// both sides): identity from the metadata token on every unary reply, a server stream checked for
// sequence gaps, and what a forced shutdown (no GOAWAY) and a restart on the same port look like.

let app: QuoteGrpcApp | undefined;
let run: ProbeRun | undefined;
afterEach(async () => {
  await run?.stop();
  await app?.shutdown();
  run = undefined;
  app = undefined;
});

function scenario(extra: { expect?: Record<string, string>; resume?: boolean } = {}) {
  return parseScenario({
    grpc: {
      proto: quoteProtoPath(),
      service: 'quote.Quotes',
      unary: {
        method: 'Get',
        request: { symbol: 'ACME' },
        pod: 'pod',
        ...(extra.expect ? { expect: extra.expect } : {}),
      },
      stream: {
        method: 'Stream',
        request: { symbol: 'ACME' },
        sequence: 'seq',
        pod: 'pod',
        ...(extra.resume === false ? {} : { resume: 'fromSeq' }),
      },
    },
  });
}

async function startApp(port: number, graceful: boolean): Promise<number> {
  app = createQuoteGrpcApp({
    host: '127.0.0.1',
    port,
    pod: 'quote-grpc-0',
    graceful,
    streams: 'drained',
    streamIntervalMs: 20,
    shutdownTimeoutMs: 2000,
  });
  return (await app.start()).port;
}

function probe(port: number, s: ReturnType<typeof scenario>): ProbeRun {
  return createProbeRun({
    target: `http://127.0.0.1:${port}`,
    sessions: 2,
    websockets: 2,
    ratePerSession: 20,
    identityIntervalMs: 100,
    requestTimeoutMs: 2000,
    retryOnce: true,
    rampMs: 0,
    scenario: s,
  });
}

describe('probe gRPC sessions', () => {
  it('unary calls hold the identity on every reply; the stream arrives without gaps', async () => {
    const port = await startApp(0, true);
    run = probe(port, scenario());
    await run.start();
    await pollUntil(
      () => run!.snapshot().websockets.messagesReceived >= 40 && run!.snapshot().requests >= 20,
      {
        timeoutMs: 20_000,
        what: 'calls and stream messages',
      },
    );
    const s = await run.stop();
    expect(s.failed).toBe(0);
    expect(s.sessionsStarted).toBe(2);
    expect(s.sessionsLost).toBe(0);
    expect(s.perPod).toEqual({ 'quote-grpc-0': s.requests });
    expect(s.websockets.messagesLost).toBe(0);
    expect(s.websockets.messagesDuplicated).toBe(0);
    expect(s.latency.samples).toBe(s.requests);
  });

  it('a reply naming another user is an identity mismatch; the session never starts', async () => {
    const port = await startApp(0, true);
    run = probe(port, scenario({ expect: { user: 'someone-else' } }));
    await run.start();
    await pollUntil(() => run!.snapshot().requests >= 5, { timeoutMs: 20_000, what: 'calls' });
    const s = await run.stop();
    expect(s.errorsByKind['identity-mismatch']).toBe(s.failed);
    expect(s.sessionsStarted).toBe(0);
  });

  it('a forced shutdown cuts the streams (UNAVAILABLE); after a restart they resume with no gap', async () => {
    const port = await startApp(0, false);
    run = probe(port, scenario());
    await run.start();
    await pollUntil(() => run!.snapshot().websockets.messagesReceived >= 20, {
      timeoutMs: 20_000,
      what: 'stream',
    });
    await app!.shutdown();
    await pollUntil(() => (run!.snapshot().websockets.streamEnds.cut ?? 0) >= 2, {
      timeoutMs: 10_000,
      what: 'cuts',
    });
    await startApp(port, false);
    const before = run.snapshot().websockets.messagesReceived;
    await pollUntil(() => run!.snapshot().websockets.messagesReceived >= before + 20, {
      timeoutMs: 20_000,
      what: 'streams to resume',
    });
    const s = await run.stop();
    expect(s.websockets.streamEnds).toEqual({ cut: 2 });
    expect(s.websockets.messagesLost).toBe(0);
    expect(s.websockets.messagesDuplicated).toBe(0);
    // Unary calls fail only if one was sent while the app was down and grpc-js's transparent retry
    // (on since the gRPC rehearsal) did not carry it over: when any failed, it is a reset.
    const otherErrors = Object.entries(s.errorsByKind).filter(
      ([kind, n]) => kind !== 'reset' && (n ?? 0) > 0,
    );
    expect(otherErrors).toEqual([]);
  });

  it('refuses a scenario whose proto does not define the service', async () => {
    const bad = parseScenario({
      grpc: { proto: quoteProtoPath(), service: 'quote.Nope', unary: { method: 'Get' } },
    });
    run = createProbeRun({ target: 'http://127.0.0.1:1', sessions: 1, scenario: bad });
    await expect(run.start()).rejects.toBeInstanceOf(GrpcProtoError);
    run = undefined;
  });
});

describe('probe gRPC sessions through the agent', () => {
  it("every probe call is one of the agent's h2 request events, joined by probe id, with the same status", async () => {
    const nats = await startNatsServer();
    const nc = await natsClient(nats);
    const port = await startApp(0, true);
    const agent = await startAgentUnderTest({ upstreamPort: port, natsUrl: nats.url });
    try {
      await createTestStream(nc, agent.ns);
      run = createProbeRun(
        {
          target: `http://127.0.0.1:${agent.trafficPort}`,
          sessions: 2,
          websockets: 1,
          ratePerSession: 20,
          requestTimeoutMs: 2000,
          rampMs: 0,
          scenario: scenario(),
          subjectRoot: agent.ns.subjectRoot,
        },
        { nats: nc },
      );
      await run.start();
      await pollUntil(
        () => run!.snapshot().requests >= 10 && run!.snapshot().websockets.messagesReceived >= 10,
        {
          timeoutMs: 20_000,
          what: 'calls through the agent',
        },
      );
      const summary = await run.stop();
      run = undefined;
      expect(summary.failed).toBe(0);
      const events = await pollUntil(
        async () => {
          const all = await readStream(nc, agent.ns);
          const n = all.filter((e) => e.kind === 'request' && e.data.route === '/quote.Quotes/Get').length;
          return n >= summary.requests ? all : undefined;
        },
        { timeoutMs: 10_000, what: 'the agent request events' },
      );
      const agentCalls = new Map<string, Extract<AnyEvent, { kind: 'request' }>['data']>();
      for (const e of events)
        if (e.kind === 'request' && e.data.probeId && e.data.route === '/quote.Quotes/Get')
          agentCalls.set(e.data.probeId, e.data);
      const probeCalls = events.filter((e) => e.kind === 'probe.request');
      expect(probeCalls.length).toBe(summary.requests);
      for (const e of probeCalls) {
        if (e.kind !== 'probe.request') continue;
        expect(e.data.grpcStatus).toBe(0);
        expect(e.data.route).toBe('/quote.Quotes/Get');
        const seen = agentCalls.get(e.data.probeId);
        expect(seen).toMatchObject({ protocol: 'h2', grpcStatus: 0, outcome: 'ok' });
      }
    } finally {
      await run?.stop();
      run = undefined;
      await app?.shutdown();
      app = undefined;
      await agent.agent.stop({ immediate: true });
      await nc.close();
      await nats.stop();
    }
  });
});
