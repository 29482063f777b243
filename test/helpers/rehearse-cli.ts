import { spawn } from 'node:child_process';
import type { RehearsalRun } from '../../rehearse/result.js';
import { CLI_MAIN } from './rehearse-process.js';

// Runs `drainwatch rehearse` as users do: the compiled CLI in its own process (so its probes and
// collector get their own event loop), JSON on stdout.

export interface RehearseCliResult {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
  readonly runs: readonly RehearsalRun[];
}

/** Short settings every test rehearsal shares: few sessions, quick propagation, little warm-up. */
export const QUICK = ['--sessions', '12', '--propagation', '300ms-1s', '--warmup', '1s', '--seed', '17'];

/** A failed rehearsal's exit code, stderr's tail and stdout's head, for an assertion's message. */
export function explainRehearseCli(r: RehearseCliResult, stdoutChars = 2000): string {
  return `exit ${r.code}\nstderr:\n${r.stderr.slice(-3000)}\nstdout:\n${r.stdout.slice(0, stdoutChars)}`;
}

/** `env` overrides the CLI's environment (REDIS_URL to keep the run's Redis after it ends). */
export function runRehearseCli(
  args: readonly string[],
  timeoutMs = 240_000,
  env: Readonly<Record<string, string>> = {},
): Promise<RehearseCliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLI_MAIN, 'rehearse', ...args], {
      env: { ...process.env, NATS_URL: '', REDIS_URL: '', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => {
      stdout += c.toString();
    });
    child.stderr.on('data', (c: Buffer) => {
      stderr += c.toString();
    });
    const timer = setTimeout(() => child.kill('SIGINT'), timeoutMs);
    timer.unref();
    child.once('error', reject);
    child.once('exit', (code) => {
      clearTimeout(timer);
      let runs: RehearsalRun[] = [];
      if (args.includes('--json') && stdout.trim()) {
        try {
          runs = (JSON.parse(stdout) as { runs: RehearsalRun[] }).runs;
        } catch {
          // Left empty: the assertions then show stdout and stderr.
        }
      }
      resolve({ code, stdout, stderr, runs });
    });
  });
}
