import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

// Runs the compiled CLI as users do (`npm test` builds first), so the bin, ESM output and exit
// codes are checked for real.
const bin = fileURLToPath(new URL('../../dist/cli/main.js', import.meta.url));

function run(...args: string[]) {
  const r = spawnSync(process.execPath, [bin, ...args], { encoding: 'utf8', timeout: 30_000 });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

const COMMANDS = ['agent', 'collector', 'probe', 'rehearse', 'verify', 'inject', 'lint', 'report'];

describe('drainwatch CLI', () => {
  it('lists every command in --help', () => {
    const r = run('--help');
    expect(r.code).toBe(0);
    for (const c of COMMANDS) expect(r.out).toMatch(new RegExp(`^\\s+${c}\\b`, 'm'));
  });

  it.each(COMMANDS)('%s --help describes its options and exits 0', (c) => {
    const r = run(c, '--help');
    expect(r.code).toBe(0);
    expect(r.out).toContain(`Usage: drainwatch ${c}`);
    expect(r.out).toMatch(/Options:/);
  });

  it('an unknown flag exits 2 with one line naming it', () => {
    const r = run('agent', '--no-such-flag');
    expect(r.code).toBe(2);
    expect(r.err.trim().split('\n')).toHaveLength(1);
    expect(r.err).toContain('--no-such-flag');
  });

  it('an unknown command exits 2', () => {
    const r = run('explode');
    expect(r.code).toBe(2);
    expect(r.err).toContain('explode');
  });

  it('gives every option of every command an environment variable (flag > env > default)', async () => {
    const { createProgram } = await import('../../cli/program.js');
    const { ALL_COMMANDS } = await import('../../cli/all-commands.js');
    const program = await createProgram(ALL_COMMANDS);
    const missing = program.commands.flatMap((c) =>
      c.options.filter((o) => !o.envVar && o.long !== '--help').map((o) => `${c.name()} ${o.long}`),
    );
    expect(missing).toEqual([]);
  });

  it('prints its version', () => {
    const r = run('--version');
    expect(r.code).toBe(0);
    expect(r.out.trim()).toMatch(/^\d+\.\d+\.\d+$/);
  });
});
