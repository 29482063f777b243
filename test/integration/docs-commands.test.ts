import { spawn } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  markdownPages,
  REPO_ROOT,
  type RunnableBlock,
  readPage,
  runnableBlocks,
} from '../helpers/markdown.js';

// The docs' examples run as written: every ```sh block of README.md and docs/*.md marked
// `<!-- runnable -->` (optionally `exit=N`, `timeout=S`) on the line before its fence runs with
// bash -e -o pipefail in a fresh copy of the repository (dist/ and node_modules/ linked from the
// build `npm test` made first), and must exit as the marker says within its timeout.

const BLOCKS: RunnableBlock[] = markdownPages().flatMap((page) => runnableBlocks(page, readPage(page)));

/** Files a fresh clone has (plus the build); a block may write anywhere inside the copy. */
const SKIP = new Set(['node_modules', '.git', 'dist', '.tmp', 'coverage']);

let copy: string;
beforeAll(() => {
  if (!existsSync(join(REPO_ROOT, 'dist/cli/main.js')))
    throw new Error('dist/ is missing: run `npm run build` first (npm test does it in pretest)');
  copy = mkdtempSync(join(tmpdir(), 'drainwatch-docs-'));
  cpSync(REPO_ROOT, copy, {
    recursive: true,
    filter: (src) => !SKIP.has(relative(REPO_ROOT, src).split('/')[0] ?? ''),
  });
  symlinkSync(join(REPO_ROOT, 'node_modules'), join(copy, 'node_modules'));
  symlinkSync(join(REPO_ROOT, 'dist'), join(copy, 'dist'));
});
afterAll(() => {
  if (copy) rmSync(copy, { recursive: true, force: true });
});

/** Runs a script in its own process group; the whole group is killed when the timeout passes. */
function runScript(
  script: string,
  cwd: string,
  timeoutMs: number,
): Promise<{ code: number | null; timedOut: boolean; output: string }> {
  // The docs' commands use their documented defaults, not whatever the test runner's env sets.
  const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('DRAINWATCH_')));
  const child = spawn('bash', ['-e', '-o', 'pipefail', '-c', script], { cwd, env, detached: true });
  let output = '';
  child.stdout.on('data', (d: Buffer) => {
    output += d.toString();
  });
  child.stderr.on('data', (d: Buffer) => {
    output += d.toString();
  });
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    if (child.pid) process.kill(-child.pid, 'SIGKILL');
  }, timeoutMs);
  timer.unref();
  return new Promise((resolve) => {
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, timedOut, output });
    });
  });
}

describe('runnable docs', () => {
  it('README.md and docs/*.md mark blocks to run', () => {
    expect(BLOCKS.length).toBeGreaterThan(0);
  });

  it.each(BLOCKS.map((b) => [`${b.page}:${b.line}`, b] as const))(
    '%s runs as written',
    async (_where, block) => {
      const r = await runScript(block.script, copy, block.timeoutSeconds * 1000);
      const tail = r.output.split('\n').slice(-30).join('\n');
      expect(
        r.timedOut,
        `${block.page}:${block.line} did not finish within ${block.timeoutSeconds} s\n${tail}`,
      ).toBe(false);
      expect(
        r.code,
        `${block.page}:${block.line} exited ${r.code}, the docs say ${block.exit}\n${tail}`,
      ).toBe(block.exit);
    },
    120_000,
  );

  it('a failing block is noticed: the runner reports its exit code and a timeout', async () => {
    expect((await runScript('true\nfalse\ntrue', copy, 10_000)).code).toBe(1);
    expect((await runScript('exit 3', copy, 10_000)).code).toBe(3);
    const slow = await runScript('sleep 30', copy, 300);
    expect(slow.timedOut).toBe(true);
  });
});
