import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { findBinary, freePort } from '../../lib/servers.js';
import { pollUntil } from '../../lib/wait.js';

// A real Prometheus (Debian package `prometheus`) for the dashboard and alert end-to-end tests:
// its own config and TSDB in a temp directory, loopback only, scraping every second.

export interface PromSample {
  readonly metric: Record<string, string>;
  readonly value: [number, string];
}

export interface PromResponse<T> {
  readonly status: 'success' | 'error';
  readonly data?: T;
  readonly errorType?: string;
  readonly error?: string;
}

export interface RunningPrometheus {
  readonly url: string;
  /** POST /api/v1/query; resolves with the parsed body whatever the status (errors are data here). */
  query(expr: string): Promise<PromResponse<{ resultType: string; result: PromSample[] }>>;
  /** GET any /api/v1 path, e.g. `rules` or `label/namespace/values?match[]=...`. */
  api<T>(path: string): Promise<PromResponse<T>>;
  stop(): Promise<void>;
}

export interface PrometheusOptions {
  /** Scrape jobs: job name → `host:port` targets. */
  readonly jobs: Readonly<Record<string, readonly string[]>>;
  readonly ruleFiles?: readonly string[];
  /** Extra target labels per job (what service discovery would add, e.g. `namespace`). */
  readonly jobLabels?: Readonly<Record<string, Readonly<Record<string, string>>>>;
}

export async function startPrometheus(options: PrometheusOptions): Promise<RunningPrometheus> {
  const binary = findBinary('prometheus', 'DRAINWATCH_PROMETHEUS_BIN');
  const dir = await mkdtemp(join(tmpdir(), 'drainwatch-prometheus-'));
  const config = {
    global: { scrape_interval: '1s', scrape_timeout: '900ms', evaluation_interval: '1s' },
    rule_files: options.ruleFiles ?? [],
    scrape_configs: Object.entries(options.jobs).map(([job, targets]) => ({
      job_name: job,
      static_configs: [{ targets, labels: options.jobLabels?.[job] ?? {} }],
    })),
  };
  // JSON is valid YAML, so no serializer is needed for the config file.
  await writeFile(join(dir, 'prometheus.yml'), JSON.stringify(config, null, 2));

  let child: ChildProcess | undefined;
  let port = 0;
  let stderrTail = '';
  for (let attempt = 0; attempt < 3 && !child; attempt++) {
    port = await freePort();
    const proc = spawn(
      binary,
      [
        `--config.file=${join(dir, 'prometheus.yml')}`,
        `--storage.tsdb.path=${join(dir, 'data')}`,
        `--web.listen-address=127.0.0.1:${port}`,
        '--log.level=warn',
      ],
      { stdio: ['ignore', 'ignore', 'pipe'] },
    );
    let exited = false;
    proc.once('exit', () => {
      exited = true;
    });
    proc.stderr?.on('data', (chunk: Buffer) => {
      stderrTail = (stderrTail + chunk.toString()).slice(-4000);
    });
    const ready = await pollUntil<'ready' | 'exited' | undefined>(
      async () => {
        if (exited) return 'exited';
        const res = await fetch(`http://127.0.0.1:${port}/-/ready`).catch(() => undefined);
        return res?.ok ? 'ready' : undefined;
      },
      { timeoutMs: 30_000, intervalMs: 100, what: `prometheus ready on port ${port}` },
    );
    if (ready === 'ready') child = proc;
  }
  if (!child) {
    await rm(dir, { recursive: true, force: true });
    throw new Error(`prometheus did not start: ${stderrTail.trim()}`);
  }
  const proc = child;
  // Safety net: a crashed test run must not leave a Prometheus behind.
  const killOnExit = (): void => {
    proc.kill('SIGKILL');
  };
  process.once('exit', killOnExit);
  proc.once('exit', () => process.removeListener('exit', killOnExit));
  const url = `http://127.0.0.1:${port}`;

  let stopping: Promise<void> | undefined;
  return {
    url,
    async query(expr) {
      const res = await fetch(`${url}/api/v1/query`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ query: expr }),
      });
      return (await res.json()) as PromResponse<{ resultType: string; result: PromSample[] }>;
    },
    async api<T>(path: string) {
      const res = await fetch(`${url}/api/v1/${path}`);
      return (await res.json()) as PromResponse<T>;
    },
    stop() {
      stopping ??= (async () => {
        if (proc.exitCode === null && proc.signalCode === null) {
          const gone = new Promise<void>((resolve) => proc.once('exit', () => resolve()));
          proc.kill('SIGTERM');
          const timer = setTimeout(() => proc.kill('SIGKILL'), 10_000);
          timer.unref();
          await gone;
          clearTimeout(timer);
        }
        await rm(dir, { recursive: true, force: true });
      })();
      return stopping;
    },
  };
}
