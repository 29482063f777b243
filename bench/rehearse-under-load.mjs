// The drained example rehearsal on a machine whose cores are all busy: two busy-loop processes
// hog both cores while `drainwatch rehearse --json --variants drained --seed N` runs for N seeds.
// A correctly drained app must show 0 failed requests and 100 % session persistence, or the run
// must be declared inconclusive / unreliable (the probe's own lag check): never a failure the
// rollout did not cause. Prints one line per seed and a summary; exits 1 when a seed failed.
// The busy loops are killed at the end, by their pids.
//
//   npm run build && node bench/rehearse-under-load.mjs [--seeds 5] [--first-seed 1] [--busy 2] [--json] [-- <rehearse flags>]
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const CLI = fileURLToPath(new URL('../dist/cli/main.js', import.meta.url));
const argv = process.argv.slice(2);
const dashdash = argv.indexOf('--');
const own = dashdash >= 0 ? argv.slice(0, dashdash) : argv;
const extra = dashdash >= 0 ? argv.slice(dashdash + 1) : [];
const arg = (name, fallback) => {
  const i = own.indexOf(`--${name}`);
  return i >= 0 ? own[i + 1] : fallback;
};
const seeds = Number(arg('seeds', '5'));
const firstSeed = Number(arg('first-seed', '1'));
const busyCount = Number(arg('busy', '2'));
const json = own.includes('--json');
const say = (line) => (json ? process.stderr : process.stdout).write(`${line}\n`);

const busy = Array.from({ length: busyCount }, () =>
  spawn(process.execPath, ['-e', 'for (;;) {}'], { stdio: 'ignore' }),
);
const killBusy = () => {
  for (const b of busy) if (b.exitCode === null && b.signalCode === null) b.kill('SIGKILL');
};
process.once('exit', killBusy);
for (const sig of ['SIGINT', 'SIGTERM'])
  process.once(sig, () => {
    killBusy();
    process.exit(130);
  });

function rehearse(seed) {
  return new Promise((resolve) => {
    const child = spawn(
      process.execPath,
      [CLI, 'rehearse', '--json', '--variants', 'drained', '--seed', String(seed), ...extra],
      { env: { ...process.env, NATS_URL: '', REDIS_URL: '' }, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c) => {
      stdout += c;
    });
    child.stderr.on('data', (c) => {
      stderr += c;
    });
    child.once('exit', (code) => {
      let run;
      try {
        run = JSON.parse(stdout).runs?.[0];
      } catch {
        run = undefined;
      }
      resolve({ code, run, stderr });
    });
  });
}

/** A run the rehearsal itself declared not to be judged: inconclusive, or its probe unreliable. */
function notJudged(run) {
  if (run.inconclusive === true || run.outcome === 'inconclusive' || run.verdict === 'inconclusive')
    return 'inconclusive';
  return run.unreliable ? `unreliable (${run.unreliable})` : undefined;
}

const results = [];
try {
  say(
    `${busyCount} busy loops (pids ${busy.map((b) => b.pid).join(', ')}); ${seeds} seeds from ${firstSeed}`,
  );
  for (let seed = firstSeed; seed < firstSeed + seeds; seed++) {
    const started = Date.now();
    const { code, run, stderr } = await rehearse(seed);
    const seconds = Math.round((Date.now() - started) / 1000);
    if (!run) {
      results.push({ seed, verdict: 'error', code, error: stderr.trim().split('\n').slice(-3).join(' | ') });
      say(`seed ${seed}: error (exit ${code}): ${results.at(-1).error}`);
      continue;
    }
    const failed = run.probeRequests.failed;
    const persistence = run.sessionPersistence;
    const skipped = notJudged(run);
    const clean = failed === 0 && persistence === 1;
    const verdict = clean ? 'ok' : skipped ? 'not-judged' : 'failed';
    results.push({
      seed,
      verdict,
      failed,
      requests: run.probeRequests.total,
      persistence,
      unreliable: run.unreliable ?? null,
      inconclusive: skipped === 'inconclusive',
      causes: run.failedByCause,
      seconds,
    });
    const pct = persistence === null ? '-' : `${(persistence * 100).toFixed(1)}%`;
    const causes = Object.entries(run.failedByCause ?? {})
      .filter(([, n]) => n > 0)
      .map(([c, n]) => `${c}×${n}`)
      .join(', ');
    say(
      `seed ${seed}: failed ${failed}/${run.probeRequests.total}, persistence ${pct}, ${skipped ?? 'judged'}${causes ? `, causes ${causes}` : ''} → ${verdict} (${seconds} s)`,
    );
  }
} finally {
  killBusy();
}
const count = (v) => results.filter((r) => r.verdict === v).length;
say(
  `summary: ${count('ok')} of ${results.length} seeds with 0 failed and 100 % persistence; ${count('not-judged')} not judged (inconclusive/unreliable); ${count('failed')} failed; ${count('error')} errors`,
);
if (json) process.stdout.write(`${JSON.stringify({ busy: busyCount, results })}\n`);
process.exitCode = count('failed') + count('error') > 0 ? 1 : 0;
