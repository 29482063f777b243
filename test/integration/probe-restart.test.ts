import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { canConnect } from '../../lib/servers.js';
import { delay, pollUntil } from '../../lib/wait.js';
import {
  type AppLogEntry,
  type ScenarioApp,
  type SessionStore,
  startScenarioApp,
} from '../helpers/probe-targets.js';

// The target restarting under a running `drainwatch probe` (one pod, or `kubectl port-forward`
// reconnecting): for a while every connection is refused. The probe must count that as failures,
// keep going, print its summary and exit 0 (docs/probe.md), never die silently mid-run.

const bin = fileURLToPath(new URL('../../dist/cli/main.js', import.meta.url));

interface ProbeProcess {
  readonly done: Promise<{ code: number | null; signal: NodeJS.Signals | null; out: string; err: string }>;
  kill(): void;
}

function startProbe(args: string[]): ProbeProcess {
  const child = spawn(process.execPath, [bin, 'probe', ...args], {
    env: { ...process.env, NATS_URL: '', DRAINWATCH_TARGET: '' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  child.stdout.on('data', (c: Buffer) => {
    out += c.toString();
  });
  child.stderr.on('data', (c: Buffer) => {
    err += c.toString();
  });
  const done = new Promise<{ code: number | null; signal: NodeJS.Signals | null; out: string; err: string }>(
    (resolve) => child.once('close', (code, signal) => resolve({ code, signal, out, err })),
  );
  return {
    done,
    kill: () => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    },
  };
}

describe('drainwatch probe while the target restarts', () => {
  const apps: ScenarioApp[] = [];
  const probes: ProbeProcess[] = [];
  afterEach(async () => {
    for (const p of probes.splice(0)) p.kill();
    for (const a of apps.splice(0)) await a.stop();
  });

  for (const websockets of [0, 2]) {
    it(`counts refused and reset requests, prints its summary and exits 0 (${websockets} WebSockets)`, async () => {
      // One store across both lives of the app: sessions survive the restart, as with a shared store.
      const store: SessionStore = new Map();
      const log: AppLogEntry[] = [];
      const first = await startScenarioApp({ pod: 'before', writeTo: [store], readFrom: store, log });
      apps.push(first);
      const probe = startProbe([
        '--target',
        first.url,
        '--sessions',
        '4',
        '--rate',
        '10',
        '--websockets',
        String(websockets),
        '--duration',
        '8s',
        '--json',
      ]);
      probes.push(probe);
      let exitedEarly = false;
      void probe.done.then(() => {
        exitedEarly = true;
      });
      await pollUntil(
        () => log.filter((e) => e.kind === 'auth').length >= 8 && first.wsConnections >= websockets,
        {
          timeoutMs: 15_000,
          what: 'the probe to be running against the first app',
        },
      );
      // The restart: every connection reset at once, then nothing listening on the port.
      await first.stop();
      expect(await canConnect(first.port)).toBe(false);
      // The outage itself is what is being tested: it lasts 1.5 s whatever the probe does.
      await delay(1500);
      expect(exitedEarly).toBe(false);
      const second = await startScenarioApp({
        pod: 'after',
        writeTo: [store],
        readFrom: store,
        log,
        port: first.port,
      });
      apps.push(second);
      const r = await probe.done;
      expect(r.err).not.toMatch(/unsettled|Error:/);
      expect(r.code).toBe(0);
      const summary = JSON.parse(r.out);
      expect(summary.failed).toBeGreaterThan(0);
      expect((summary.errorsByKind.refused ?? 0) + (summary.errorsByKind.reset ?? 0)).toBeGreaterThan(0);
      // It went on after the outage: the second app answered too.
      expect(summary.perPod.after).toBeGreaterThan(0);
      expect(summary.perPod.before).toBeGreaterThan(0);
      if (websockets > 0) {
        expect(summary.websockets.sessions).toBe(websockets);
        expect(second.wsConnections).toBeGreaterThan(0);
      }
    });
  }
});
