import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createCollector, loadCollectorConfig } from '../../collector/index.js';
import { SILENT_LOGGER } from '../../lib/log.js';
import { delay } from '../../lib/wait.js';
import { startFakeApiServer } from '../helpers/kube-fake-apiserver.js';
import { createFakeCluster, type FakePod, type PodScript } from '../helpers/kube-fake-cluster.js';
import { startFakeEntryPoint } from '../helpers/kube-fake-proxy.js';
import { type ScenarioApp, type SessionStore, startScenarioApp } from '../helpers/probe-targets.js';
import { startTestServers, type TestServers, testNamespace } from '../helpers/servers.js';

// `drainwatch verify` end to end, as CI runs it (the compiled CLI in a child process), against the
// fake API server: the "pods" behind it are real HTTP servers speaking the probe scenario, reached
// through an entry point that follows the fake EndpointSlices. The flawed app keeps sessions in
// its own memory and stops the moment it gets SIGTERM; the fixed one shares its session store
// (as with Redis) and keeps serving until endpoint removal has propagated.

const bin = fileURLToPath(new URL('../../dist/cli/main.js', import.meta.url));
const NS = 'shop';
const ENDPOINT_DELAY_MS = 300;

let servers: TestServers;
let tmp: string;
beforeAll(async () => {
  servers = await startTestServers();
  tmp = mkdtempSync(join(tmpdir(), 'dw-verify-'));
});
afterAll(async () => {
  await servers?.stop();
  if (tmp) rmSync(tmp, { recursive: true, force: true });
});

function appScript(flawed: boolean): { script: PodScript; stopAll(): Promise<void> } {
  const shared: SessionStore = new Map();
  const apps = new Map<string, ScenarioApp>();
  return {
    script: {
      async start(pod: FakePod) {
        const own: SessionStore = flawed ? new Map() : shared;
        const app = await startScenarioApp({ pod: pod.name, writeTo: [own], readFrom: own });
        apps.set(pod.name, app);
        return { port: app.port };
      },
      async stop(pod: FakePod) {
        // The fixed app drains until the endpoint change has reached the entry point.
        if (!flawed) await delay(ENDPOINT_DELAY_MS + 400);
        await apps.get(pod.name)?.stop();
        apps.delete(pod.name);
        return { exitCode: 0 };
      },
    },
    async stopAll() {
      await Promise.all([...apps.values()].map((a) => a.stop()));
    },
  };
}

function runCli(args: string[]): Promise<{ code: number | null; out: string; err: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [bin, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (c: Buffer) => {
      out += c.toString();
    });
    child.stderr.on('data', (c: Buffer) => {
      err += c.toString();
    });
    const timer = setTimeout(() => child.kill('SIGKILL'), 110_000);
    timer.unref();
    child.once('error', reject);
    child.once('close', (code) => {
      clearTimeout(timer);
      resolve({ code, out, err });
    });
  });
}

async function verifyAgainst(flawed: boolean, ns = testNamespace(), extra: string[] = []) {
  const api = await startFakeApiServer();
  const apps = appScript(flawed);
  const cluster = createFakeCluster(api, { endpointDelayMs: ENDPOINT_DELAY_MS, script: apps.script });
  const entry = await startFakeEntryPoint(api, NS);
  try {
    await cluster.addDeployment({ namespace: NS, name: 'web', replicas: 3, graceSeconds: 30 });
    const kubeconfig = join(tmp, `${flawed ? 'flawed' : 'fixed'}.kubeconfig`);
    writeFileSync(
      kubeconfig,
      [
        'apiVersion: v1',
        'kind: Config',
        'clusters:',
        `  - name: fake\n    cluster:\n      server: ${api.url}\n      insecure-skip-tls-verify: true`,
        'users:',
        '  - name: fake\n    user:\n      token: fake-token',
        'contexts:',
        `  - name: fake\n    context:\n      cluster: fake\n      user: fake\n      namespace: ${NS}`,
        'current-context: fake',
        '',
      ].join('\n'),
    );
    const r = await runCli([
      'verify',
      ...['--namespace', NS, '--deployment', 'web', '--target', entry.url],
      ...['--sessions', '12', '--websockets', '0', '--baseline', '2s', '--tail', '3s', '--timeout', '60s'],
      ...['--kubeconfig', kubeconfig, '--nats-url', servers.nats.url, '--redis-url', servers.redis.url],
      ...['--redis-prefix', ns.redisPrefix, '--subject-root', ns.subjectRoot, '--stream', ns.streamName],
      '--json',
      ...extra,
    ]);
    const patches = api.requests.filter((q) => q.method === 'PATCH');
    return { ...r, patches, entry };
  } finally {
    await cluster.idle();
    await entry.stop();
    await apps.stopAll();
    await api.stop();
  }
}

describe('drainwatch verify against the fake API server', () => {
  it('exits 1 when sessions live in the dying pods and the app stops at SIGTERM', async () => {
    const r = await verifyAgainst(true);
    expect(r.code, r.err).toBe(1);
    const result = JSON.parse(r.out);
    expect(result.passed).toBe(false);
    expect(result.rollout).toEqual({ outcome: 'complete', podsReplaced: 3 });
    expect(result.report.trigger).toBe('verify');
    expect(result.report.sessions.lost).toBeGreaterThan(0);
    expect(result.gate).toMatchObject({ score: 'sessionPersistence', threshold: 1, passed: false });
    expect(result.gate.value).toBeLessThan(1);
    expect(r.patches).toHaveLength(1);
    expect(r.patches[0]!.contentType).toBe('application/strategic-merge-patch+json');
  });

  it('exits 0 once sessions are shared and the app drains past endpoint propagation', async () => {
    const r = await verifyAgainst(false, undefined, [
      ...['--threshold', 'failedByCause.session-in-memory == 0'],
      ...['--threshold', 'latency.samples >= 1'],
    ]);
    expect(r.code, r.err).toBe(0);
    const result = JSON.parse(r.out);
    expect(result.passed).toBe(true);
    expect(result.thresholds.passed).toBe(true);
    expect(result.thresholds.results.map((t: { value: number }) => t.value)).toEqual([
      0,
      result.report.latency.samples,
    ]);
    expect(result.rollout).toEqual({ outcome: 'complete', podsReplaced: 3 });
    expect(result.report.sessions.active).toBeGreaterThan(0);
    expect(result.report.sessions.lost).toBe(0);
    expect(result.gate).toMatchObject({ value: 1, threshold: 1, passed: true });
  });

  it('reads the report from a running collector with --collector-url', async () => {
    const ns = testNamespace();
    const collector = createCollector(
      loadCollectorConfig(
        {},
        {
          DRAINWATCH_LISTEN: '127.0.0.1:0',
          NATS_URL: servers.nats.url,
          REDIS_URL: servers.redis.url,
          DRAINWATCH_REDIS_PREFIX: ns.redisPrefix,
          DRAINWATCH_SUBJECT_ROOT: ns.subjectRoot,
          DRAINWATCH_STREAM: ns.streamName,
          DRAINWATCH_CONSUMER: 'remote-collector',
          DRAINWATCH_API_TOKEN: 'secret-token',
        },
      ),
      { log: SILENT_LOGGER },
    );
    const { http } = await collector.start();
    try {
      const r = await verifyAgainst(false, ns, [
        '--collector-url',
        `http://127.0.0.1:${http.port}`,
        '--api-token',
        'secret-token',
        // A threshold that cannot hold: the gate passes, the threshold fails the run.
        ...['--threshold', 'latency.samples == 0'],
      ]);
      expect(r.code, r.err).toBe(1);
      const result = JSON.parse(r.out);
      expect(result.thresholds.results).toEqual([
        {
          name: 'latency.samples',
          op: '==',
          threshold: '0',
          limit: 0,
          value: result.report.latency.samples,
          passed: false,
        },
      ]);
      expect(result.report.rolloutId).toBe(result.rolloutId);
      expect(result.gate).toMatchObject({ value: 1, passed: true });
      expect(await collector.store.getReport(result.rolloutId)).toMatchObject({ trigger: 'verify' });
    } finally {
      await collector.stop();
    }
  });
});
