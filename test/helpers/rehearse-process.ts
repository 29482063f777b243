import { type ChildProcess, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { pollUntil } from '../../lib/wait.js';

// Runs compiled entry points (`npm test` builds dist/ first) as real child processes.

export const QUOTE_APP_MAIN = fileURLToPath(
  new URL('../../dist/examples/quote-app/main.js', import.meta.url),
);
export const CLI_MAIN = fileURLToPath(new URL('../../dist/cli/main.js', import.meta.url));

export interface RunningChild {
  readonly child: ChildProcess;
  readonly port: number;
  output(): string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/** Starts the quote app on a kernel-chosen port and waits for its `listening on` line. */
export async function startQuoteApp(env: Record<string, string>, args: string[] = []): Promise<RunningChild> {
  const child = spawn(process.execPath, [QUOTE_APP_MAIN, ...args], {
    env: { ...process.env, PORT: '0', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout?.on('data', (c: Buffer) => {
    out += c.toString();
  });
  child.stderr?.on('data', (c: Buffer) => {
    out += c.toString();
  });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once('exit', (code, signal) => resolve({ code, signal })),
  );
  const port = await pollUntil(
    () => {
      if (child.exitCode !== null) throw new Error(out);
      const m = /listening on [\d.]+:(\d+)/.exec(out);
      return m ? Number(m[1]) : 0;
    },
    // The check throws only once the process exited: that is final.
    { timeoutMs: 20_000, intervalMs: 20, what: 'quote-app listening', fatal: () => true },
  );
  return { child, port, output: () => out, exited };
}
