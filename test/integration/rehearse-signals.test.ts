import { writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { QUICK, type RehearseCliResult, runRehearseCli } from '../helpers/rehearse-cli.js';
import { writeMinimalApp } from '../helpers/rehearse-minimal-app.js';
import { uniqueTag } from '../helpers/servers.js';

// `rehearse --app "sh start.sh"`, where start.sh runs the app as a child (the `npm start` / `sh -c`
// pattern). In a container the wrapper is PID 1 and gets the only SIGTERM: one that does not
// forward it leaves the app serving until the SIGKILL at the grace period. The rehearsal must show
// that, not a clean termination.

interface Termination {
  readonly killedAtGrace: boolean;
  readonly uncleanReasons: readonly string[];
}

function explain(r: RehearseCliResult): string {
  return `exit ${r.code}\nstderr:\n${r.stderr.slice(-3000)}\nstdout:\n${r.stdout.slice(0, 3000)}`;
}

function rehearseWrapper(script: string): Promise<RehearseCliResult> {
  const app = writeMinimalApp(uniqueTag());
  const wrapper = join(tmpdir(), `drainwatch-wrapper-${uniqueTag()}.sh`);
  writeFileSync(wrapper, script.replaceAll('APP', `"${process.execPath}" "${app.file}"`));
  return runRehearseCli([
    ...QUICK,
    '--app',
    `sh ${wrapper}`,
    '--scenario',
    app.scenarioFile,
    '--ready-path',
    app.readyPath,
    '--replicas',
    '2',
    '--grace',
    '4',
    '--prestop',
    'fixed:1',
    '--json',
  ]);
}

function terminationsOf(r: RehearseCliResult): readonly Termination[] {
  return (r.runs[0]?.report as { terminations?: Termination[] } | undefined)?.terminations ?? [];
}

describe('rehearse --app with a start wrapper', () => {
  it('a wrapper that keeps its app as a child and does not forward SIGTERM is killed at the grace period', async () => {
    // `; echo done` keeps the shell waiting on the app: no shell execs it.
    const r = await rehearseWrapper('APP; echo done\n');
    expect(r.code, explain(r)).toBe(0);
    const [run] = r.runs;
    expect(run!.podsReplaced).toBe(2);
    expect(run!.cleanTerminations).toBe(0);
    const terminations = terminationsOf(r);
    expect(terminations).toHaveLength(2);
    for (const t of terminations) {
      expect(t.killedAtGrace).toBe(true);
      expect(t.uncleanReasons).toContain('killed-at-grace');
    }
  }, 240_000);

  it('a wrapper that forwards SIGTERM to its app terminates cleanly', async () => {
    const r = await rehearseWrapper("APP &\npid=$!\ntrap 'kill -TERM $pid' TERM\nwait $pid\nwait $pid\n");
    expect(r.code, explain(r)).toBe(0);
    const [run] = r.runs;
    expect(run!.podsReplaced).toBe(2);
    expect(run!.cleanTerminations).toBe(1);
    for (const t of terminationsOf(r)) expect(t.killedAtGrace).toBe(false);
  }, 240_000);
});
