import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CLI_BIN } from '../helpers/agent-process.js';

// The compiled agent on a Node whose internal HTTP parser "changed": a preload swaps
// `_http_common`'s HTTPParser for a copy without the kOnBody slot. The agent must refuse to start
// with a message naming the difference (exit 3), and the other commands must not care.

const PRELOAD = `
const common = require('_http_common');
class Parser extends common.HTTPParser {}
for (const key of Object.getOwnPropertyNames(common.HTTPParser)) {
  if (!['length', 'name', 'prototype'].includes(key)) Parser[key] = common.HTTPParser[key];
}
Parser.kOnBody = undefined;
common.HTTPParser = Parser;
`;

let dir: string;
let preload: string;

beforeAll(async () => {
  if (!existsSync(CLI_BIN)) throw new Error('dist/ is missing: run `npm run build` first (`npm test` does)');
  dir = await mkdtemp(join(tmpdir(), 'agent-parser-check-'));
  preload = join(dir, 'alter-parser.cjs');
  await writeFile(preload, PRELOAD);
});

afterAll(async () => {
  if (dir) await rm(dir, { recursive: true, force: true });
});

function run(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const child = spawn(process.execPath, ['--require', preload, CLI_BIN, ...args], {
    env: {
      ...process.env,
      DRAINWATCH_LISTEN: '127.0.0.1:0',
      DRAINWATCH_ADMIN: '127.0.0.1:0',
      NATS_URL: 'nats://127.0.0.1:1',
    },
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
  const timer = setTimeout(() => child.kill('SIGKILL'), 20_000);
  timer.unref();
  return new Promise((resolve) =>
    child.once('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    }),
  );
}

describe('the agent on a Node whose internal HTTP parser changed', () => {
  it('refuses to start, naming what changed, before listening', async () => {
    const r = await run(['agent']);
    expect(r.code).toBe(3);
    expect(r.stdout).not.toContain('listening');
    expect(r.stderr).toContain('internal HTTP parser (_http_common HTTPParser, DEP0199) changed');
    expect(r.stderr).toContain('HTTPParser.kOnBody is not an integer');
  }, 30_000);

  it('does not stop the other commands', async () => {
    const r = await run(['--help']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain('collector');
  }, 30_000);
});
