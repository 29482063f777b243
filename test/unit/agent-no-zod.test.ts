import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CLI_BIN, spawnAgent } from '../helpers/agent-process.js';

// The agent is a sidecar in every pod with an RSS target of 80 MB; zod alone costs ~14 MB. This
// runs the compiled CLI's agent (`npm test` builds dist/ first) as a real process with a module
// hook that logs every module it loads, drives it through its event paths, stops it, and checks
// that zod is not among them, nor (tracing off) the OTLP exporters with gRPC and protobuf, which
// cost ~15 MB and were once loaded by every agent through its settings. A second child, which imports the validating envelope, shows the
// hook does see zod when it is loaded.

const ENVELOPE_JS = fileURLToPath(new URL('../../dist/contract/envelope.js', import.meta.url));

// Runs in the hooks thread: every ESM module (and CommonJS module imported from ESM) passes here.
const HOOK = `
import { appendFileSync } from 'node:fs';
let log;
export function initialize(data) { log = data.log; }
export async function load(url, context, next) {
  appendFileSync(log, 'load ' + url + '\\n');
  return next(url, context);
}
`;

// Preloaded with --import: registers the hook, and at exit adds every CommonJS module that
// require() loaded (Node 20's hooks do not see those) from the require cache.
const PRELOAD = `
import { appendFileSync } from 'node:fs';
import { createRequire, register } from 'node:module';
import { pathToFileURL } from 'node:url';
const log = process.env.DRAINWATCH_TEST_MODULE_LOG;
register('./hook.mjs', import.meta.url, { data: { log } });
process.on('exit', () => {
  const files = Object.keys(createRequire(import.meta.url).cache);
  appendFileSync(log, files.map((f) => 'require ' + pathToFileURL(f).href + '\\n').join(''));
});
`;

const ZOD = /[/\\]node_modules[/\\]zod[/\\]/;
const OTLP_EXPORTERS =
  /node_modules\/(@opentelemetry\/exporter-|@grpc\/|protobufjs\/)|\/dist\/lib\/otlp-exporter\.js$/;

let dir: string;
let preload: string;

beforeAll(async () => {
  if (!existsSync(CLI_BIN) || !existsSync(ENVELOPE_JS)) {
    throw new Error('dist/ is missing or stale: run `npm run build` first (`npm test` does)');
  }
  dir = await mkdtemp(join(tmpdir(), 'agent-no-zod-'));
  await writeFile(join(dir, 'hook.mjs'), HOOK);
  preload = join(dir, 'preload.mjs');
  await writeFile(preload, PRELOAD);
});

afterAll(async () => {
  if (dir) await rm(dir, { recursive: true, force: true });
});

function hookEnv(log: string): Record<string, string> {
  return {
    NODE_OPTIONS: `--import=${pathToFileURL(preload).href}`,
    DRAINWATCH_TEST_MODULE_LOG: log,
  };
}

async function loaded(log: string): Promise<string[]> {
  return (await readFile(log, 'utf8')).split('\n').filter((l) => l !== '');
}

describe('the agent process does not load zod', () => {
  it('the hook sees zod when a module that uses it is imported (control)', async () => {
    const log = join(dir, 'control.log');
    const child = spawn(
      process.execPath,
      ['--input-type=module', '-e', `await import(${JSON.stringify(pathToFileURL(ENVELOPE_JS).href)});`],
      { env: { ...process.env, ...hookEnv(log) }, stdio: ['ignore', 'ignore', 'pipe'] },
    );
    let stderr = '';
    child.stderr.on('data', (c: Buffer) => {
      stderr += c.toString();
    });
    const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
    expect(code, stderr).toBe(0);
    expect((await loaded(log)).filter((l) => ZOD.test(l)).length).toBeGreaterThan(0);
  });

  it('the running agent, through start, traffic, an app-exit report and SIGTERM, loads no zod', async () => {
    const log = join(dir, 'agent.log');
    // Nothing listens on port 1: the app is "down" (requests get a 502) and NATS is unreachable.
    const agent = await spawnAgent(
      // A short grace period: the final flush tries NATS until 1 s before its end.
      {
        ...hookEnv(log),
        DRAINWATCH_UPSTREAM: '127.0.0.1:1',
        NATS_URL: 'nats://127.0.0.1:1',
        DRAINWATCH_GRACE_SECONDS: '3',
      },
      10_000,
    );
    try {
      // Each of these makes an event through the agent's sequencer (request, app.exited).
      const res = await fetch(`${agent.trafficUrl}/no-zod?x=1`, { headers: { 'x-drainwatch-probe': 'p1' } });
      expect(res.status).toBe(502);
      await res.arrayBuffer();
      const exited = await fetch(`${agent.adminUrl}/lifecycle/app-exited`, {
        method: 'POST',
        body: JSON.stringify({ code: 0, signal: null }),
      });
      expect(exited.status).toBe(200);
      const state = (await (await fetch(`${agent.adminUrl}/state`)).json()) as { appExited: boolean };
      expect(state.appExited).toBe(true);
      // SIGTERM: sigterm, traffic.summary and drain.summary are made, the flush gives up on NATS.
      agent.child.kill('SIGTERM');
      const end = await agent.exited;
      expect(end.code, end.stderr).toBe(0);
    } finally {
      agent.kill();
    }
    const lines = await loaded(log);
    // The log is the real one: it holds the agent's own modules, including the event builder.
    expect(lines.some((l) => l.endsWith('/dist/agent/agent.js'))).toBe(true);
    expect(lines.some((l) => l.endsWith('/dist/contract/event-builder.js'))).toBe(true);
    expect(lines.filter((l) => ZOD.test(l))).toEqual([]);
    // The contract modules that import zod are not loaded either.
    expect(lines.filter((l) => /\/dist\/contract\/(events|envelope)\.js$/.test(l))).toEqual([]);
    // Nor, without an OTLP endpoint, the trace exporters with gRPC and protobuf (about 15 MB of RSS).
    expect(lines.filter((l) => OTLP_EXPORTERS.test(l))).toEqual([]);
  }, 30_000);
});
