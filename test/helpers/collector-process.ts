import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { jetstreamManager } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';
import { pollUntil } from '../../lib/wait.js';

// `drainwatch collector` as a real child process (the compiled CLI), for kill and restart tests.

export const CLI_BIN = fileURLToPath(new URL('../../dist/cli/main.js', import.meta.url));

export interface CollectorProcess {
  readonly child: ChildProcess;
  readonly url: string;
  kill(signal: NodeJS.Signals): Promise<void>;
}

export async function spawnCollector(env: Record<string, string>): Promise<CollectorProcess> {
  if (!existsSync(CLI_BIN)) throw new Error(`${CLI_BIN} is missing: build with \`npx tsc -p .\` first`);
  const child = spawn(process.execPath, [CLI_BIN, 'collector'], {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  child.stdout?.on('data', (c: Buffer) => {
    out += c.toString();
  });
  child.stderr?.on('data', (c: Buffer) => {
    err = (err + c.toString()).slice(-4000);
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const url = await pollUntil(
    () => {
      if (child.exitCode !== null) throw new Error(`collector exited: ${err}`);
      const m = /listening on http:\/\/[^:]+:(\d+)/.exec(out);
      return m ? `http://127.0.0.1:${m[1]}` : undefined;
    },
    // The check throws only once the process exited: that is final.
    { timeoutMs: 30_000, intervalMs: 50, what: 'the collector process to listen', fatal: () => true },
  );
  return {
    child,
    url,
    async kill(signal) {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      await exited;
    },
  };
}

/** Waits until the durable consumer has delivered everything and every delivery was acked. */
export async function waitCaughtUp(
  nc: NatsConnection,
  stream: string,
  consumer: string,
  timeoutMs = 60_000,
): Promise<void> {
  const jsm = await jetstreamManager(nc);
  await pollUntil(
    async () => {
      const info = await jsm.consumers.info(stream, consumer);
      return info.num_pending === 0 && info.num_ack_pending === 0;
    },
    { timeoutMs, intervalMs: 100, what: `consumer ${consumer} to catch up`, fatal: () => false },
  );
}

/** drainwatch_events_applied_total as the process exposes it. */
export async function appliedCount(url: string): Promise<number> {
  const text = await (await fetch(`${url}/metrics`)).text();
  const m = /^drainwatch_events_applied_total (\d+)/m.exec(text);
  return m ? Number(m[1]) : 0;
}
