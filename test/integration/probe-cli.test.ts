import { execFile } from 'node:child_process';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { jetstreamManager } from '@nats-io/jetstream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort, type RunningServer, startNatsServer } from '../../lib/servers.js';
import { type ScenarioApp, type SessionStore, startScenarioApp } from '../helpers/probe-targets.js';
import { natsClient, testNamespace } from '../helpers/servers.js';

// `drainwatch probe` as users run it: the compiled bin (`npm test` builds first), in a child process
// so the in-test target keeps serving while it runs.
const bin = fileURLToPath(new URL('../../dist/cli/main.js', import.meta.url));

function run(args: string[], env: Record<string, string> = {}) {
  return new Promise<{ code: number | null; out: string; err: string }>((resolve) => {
    execFile(
      process.execPath,
      [bin, 'probe', ...args],
      { encoding: 'utf8', timeout: 60_000, env: { ...process.env, NATS_URL: '', ...env } },
      (error, stdout, stderr) => {
        const code = error ? ((error as { code?: unknown }).code as number | null) : 0;
        resolve({ code: typeof code === 'number' ? code : null, out: stdout, err: stderr });
      },
    );
  });
}

describe('drainwatch probe', () => {
  let app: ScenarioApp;
  let nats: RunningServer;
  beforeAll(async () => {
    const s: SessionStore = new Map();
    app = await startScenarioApp({ pod: 'cli-pod', writeTo: [s], readFrom: s });
    nats = await startNatsServer();
  });
  afterAll(async () => {
    await app?.stop();
    await nats?.stop();
  });

  it('exits 3 naming the address when the target is unreachable at start', async () => {
    const port = await freePort();
    const r = await run(['--target', `http://127.0.0.1:${port}`, '--duration', '1s']);
    expect(r.code).toBe(3);
    expect(r.err.trim().split('\n')).toHaveLength(1);
    expect(r.err).toContain(`127.0.0.1:${port}`);
  });

  it('exits 2 naming the field of a bad scenario file', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'probe-cli-'));
    const file = join(dir, 'bad.yaml');
    await writeFile(file, 'login:\n  method: FETCH\n');
    const r = await run(['--target', app.url, '--scenario', file]);
    expect(r.code).toBe(2);
    expect(r.err.trim().split('\n')).toHaveLength(1);
    expect(r.err).toContain('scenario.login.method: expected one of GET, POST');
  });

  it('exits 2 without a target', async () => {
    const r = await run([], { DRAINWATCH_TARGET: '' });
    expect(r.code).toBe(2);
    expect(r.err).toContain('--target');
  });

  it('runs for the duration, prints a JSON summary and publishes to NATS', async () => {
    const ns = testNamespace();
    const r = await run(
      [
        '--sessions',
        '6',
        '--duration',
        '2s',
        '--websockets',
        '2',
        '--rate',
        '5',
        '--json',
        '--subject-root',
        ns.subjectRoot,
        '--stream',
        ns.streamName,
        '--workload',
        'quote',
      ],
      { DRAINWATCH_TARGET: app.url, NATS_URL: nats.url },
    );
    expect(r.code).toBe(0);
    const summary = JSON.parse(r.out);
    expect(summary.sessionsStarted).toBe(6);
    expect(summary.requests).toBeGreaterThan(10);
    expect(summary.failed).toBe(0);
    expect(summary.perPod).toEqual({ 'cli-pod': summary.requests });
    expect(summary.websockets.sessions).toBe(2);
    expect(summary.websockets.messagesAcked).toBe(summary.websockets.messagesSent);
    expect(summary.eventsDropped).toBe(0);
    const nc = await natsClient(nats);
    try {
      const info = await (await jetstreamManager(nc)).streams.info(ns.streamName);
      expect(info.state.messages).toBe(summary.eventsPublished);
    } finally {
      await nc.close();
    }
  });
});
