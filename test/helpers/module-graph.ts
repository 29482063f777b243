import { spawnSync } from 'node:child_process';
import { existsSync, lstatSync, readdirSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { ModuleGraph } from '../../scripts/image-dependencies.mjs';
import { cleanEnv } from './image-replay.js';

export { type ModuleGraph, moduleGraph, packageName } from '../../scripts/image-dependencies.mjs';

// The module graph of a compiled entrypoint comes from scripts/image-dependencies.mjs, the same
// reading the image builds use to choose their packages.

/**
 * Imports every module of the graph but the entrypoint (which would run the CLI) and every package
 * it names, with `node` from the image's working directory, so packages resolve from the image's
 * node_modules only. Returns the failures (empty when all loaded).
 */
export function loadEveryModule(workdir: string, graph: ModuleGraph): string[] {
  const targets = [...graph.modules.slice(1).map((m) => pathToFileURL(m).href), ...graph.packages];
  const script = `
    const failures = [];
    for (const t of ${JSON.stringify(targets)}) {
      try { await import(t); } catch (err) { failures.push(t + ': ' + (err?.code ?? '') + ' ' + String(err?.message).split('\\n')[0]); }
    }
    process.stdout.write(JSON.stringify(failures));
    process.exit(0);`;
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], {
    cwd: workdir,
    env: cleanEnv(),
    encoding: 'utf8',
    timeout: 120_000,
  });
  if (r.status !== 0) return [`node exited ${r.status}: ${r.stderr}`];
  return JSON.parse(r.stdout) as string[];
}

/** Apparent size in bytes of the files under `dir` (symlinks counted as links). */
export function treeBytes(dir: string): number {
  let total = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true, recursive: true })) {
    const stat = lstatSync(join(entry.parentPath, entry.name));
    if (!stat.isDirectory()) total += stat.size;
  }
  return total;
}

/** Directories named node_modules in `dir` or above it, which Node's resolution would also search. */
export function ancestorNodeModules(dir: string): string[] {
  const found: string[] = [];
  for (let d = resolve(dir); ; d = dirname(d)) {
    if (existsSync(join(d, 'node_modules'))) found.push(join(d, 'node_modules'));
    if (dirname(d) === d) return found;
  }
}
