#!/usr/bin/env node
// Runs the benchmarks one after another (never in parallel: each measures ratios on a quiet machine).
//   npm run bench              all of them
//   npm run bench -- agent     only bench/agent.mjs
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const ALL = ['agent', 'collector', 'probe', 'timeline', 'scale', 'arrivals'];
const wanted = process.argv.slice(2).length ? process.argv.slice(2) : ALL;
let failed = 0;
for (const name of wanted) {
  const file = join(here, `${name}.mjs`);
  if (!ALL.includes(name) || !existsSync(file)) {
    console.error(`bench: no benchmark named ${JSON.stringify(name)} (have: ${ALL.join(', ')})`);
    process.exitCode = 2;
    continue;
  }
  console.log(`\n=== bench/${name}.mjs`);
  const r = spawnSync(process.execPath, [file], { stdio: 'inherit', timeout: 5 * 60_000 });
  if (r.status !== 0) {
    failed++;
    console.error(`bench/${name}.mjs exited with ${r.status ?? r.signal}`);
  }
}
if (failed) process.exitCode = 1;
