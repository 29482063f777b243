import type { NatsConnection } from '@nats-io/transport-node';
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MAX_REQUEST_BATCH_RECORDS } from '../../contract/index.js';
import { type RunningServer, startNatsServer } from '../../lib/servers.js';
import { pollUntil } from '../../lib/wait.js';
import {
  createTestStream,
  readMessages,
  startAgentUnderTest,
  startUpstreamApp,
  type UpstreamApp,
} from '../helpers/agent-harness.js';
import { natsClient, testNamespace } from '../helpers/servers.js';

// A batching agent's counts through a NATS outage that overflows its buffer, with a window open
// when it is stopped: what the drain summary says was dropped is exactly what the stream lacks, and
// no record leaves after the summary (docs/agent.md, Request batches).

let nats: RunningServer;
let app: UpstreamApp;

beforeAll(async () => {
  [nats, app] = await Promise.all([startNatsServer(), startUpstreamApp()]);
}, 60_000);

afterAll(async () => {
  await app?.close();
  await nats?.stop();
});

async function probe(url: string, id: string): Promise<void> {
  const res = await request(url, { headers: { 'x-drainwatch-probe': id } });
  await res.body.text();
}

describe('agent: request batches through a full buffer', () => {
  it('counts every dropped message in the drain summary, and sends the open window before it', async () => {
    const ns = testNamespace();
    let nc: NatsConnection = await natsClient(nats);
    await createTestStream(nc, ns);
    await nc.close();
    const a = await startAgentUnderTest({
      upstreamPort: app.port,
      natsUrl: nats.url,
      ns,
      // A window long enough to be open at the stop; a buffer the batches overflow.
      env: { DRAINWATCH_BUFFER_SIZE: '3', DRAINWATCH_REQUEST_BATCH: '1s', DRAINWATCH_SUMMARY_INTERVAL: '1h' },
    });
    const sent: string[] = [];
    try {
      await pollUntil(() => a.agent.state().events.published >= 1, {
        timeoutMs: 15_000,
        what: 'agent.started',
      });
      await nats.pause();
      // Full batches (by count) fill the buffer; the last records wait in the open window.
      const total = 4 * MAX_REQUEST_BATCH_RECORDS + 7;
      for (let i = 0; i < total; i++) {
        sent.push(`b-${i}`);
        await probe(a.trafficUrl, `b-${i}`);
      }
      // Not waiting for the app (it never exits here); the final flush waits for NATS.
      const stopping = a.agent.stop({ immediate: true });
      await nats.resume();
      await stopping;
    } finally {
      await a.agent.stop({ immediate: true });
    }
    const { published, buffered, dropped } = a.agent.state().events;
    expect(buffered).toBe(0);
    expect(dropped).toBeGreaterThan(0);
    nc = await natsClient(nats);
    try {
      const messages = await pollUntil(
        async () => {
          const m = await readMessages(nc, ns);
          return m.length === published ? m : undefined;
        },
        { timeoutMs: 20_000, what: `${published} messages stored` },
      );
      const seqs = messages.map((m) => m.seq);
      expect(seqs).toEqual([...new Set(seqs)].sort((x, y) => x - y));
      // The drops are exactly the gaps below the last seq, and the summary counts each of them.
      expect(seqs.at(-1)).toBe(published + dropped);
      const summary = messages.at(-1);
      expect(summary?.kind).toBe('drain.summary');
      expect(summary?.kind === 'drain.summary' && summary.data.eventsDropped).toBe(dropped);
      // The records stored are probes sent, each once, in the order they were sent.
      const records = messages.flatMap((m) =>
        m.kind === 'request.batch' ? m.data.records : m.kind === 'request' ? [m.data] : [],
      );
      const ids = records.map((r) => r.probeId);
      expect(ids).toEqual(sent.filter((id) => ids.includes(id)));
      expect(new Set(ids).size).toBe(ids.length);
      // Every probe ended before the stop: each message of records comes before the sigterm.
      const sigterm = messages.find((m) => m.kind === 'sigterm')!;
      const recordSeqs = messages.filter((m) => m.kind.startsWith('request')).map((m) => m.seq);
      expect(recordSeqs.length).toBeGreaterThan(0);
      expect(recordSeqs.filter((seq) => seq > sigterm.seq)).toEqual([]);
    } finally {
      await nc.close();
    }
  }, 120_000);
});
