import { spawnSync } from 'node:child_process';
import { existsSync, lstatSync, readdirSync, readFileSync } from 'node:fs';
import { builtinModules } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { cleanEnv } from './image-replay.js';

// The compiled modules an entrypoint can load, static and dynamic imports alike, read from the
// emitted JavaScript (tsc keeps `import('…')` as written). A lazy command or exporter the image
// lacks is found here without running the code path that loads it.

export interface ModuleGraph {
  /** Absolute paths of every relative module reached, the entrypoint first. */
  readonly modules: readonly string[];
  /** `importer → specifier` for relative imports whose target file does not exist. */
  readonly missing: readonly string[];
  /** Bare specifiers (packages, with subpaths) imported anywhere in the graph. */
  readonly packages: readonly string[];
  /** `importer: import(expr)` calls whose argument is not a string literal (cannot be followed). */
  readonly unfollowable: readonly string[];
}

const STATIC = /(?:^|[;\n}])\s*(?:import|export)\s(?:[^'";]*?\sfrom\s*)?['"]([^'"]+)['"]/g;
const DYNAMIC = /\bimport\s*\(\s*(['"]?)([^'")]*)\1\s*\)/g;
const BUILTIN = new Set(builtinModules);

function stripComments(js: string): string {
  return js.replace(/\/\*[\s\S]*?\*\//g, '').replace(/(^|[^:'"`\\])\/\/.*$/gm, '$1');
}

export function moduleGraph(entry: string): ModuleGraph {
  const seen = new Set<string>();
  const missing: string[] = [];
  const packages = new Set<string>();
  const unfollowable: string[] = [];
  const queue = [resolve(entry)];
  for (let file = queue.shift(); file !== undefined; file = queue.shift()) {
    if (seen.has(file)) continue;
    seen.add(file);
    const js = stripComments(readFileSync(file, 'utf8'));
    const specs = [...js.matchAll(STATIC)].map((m) => m[1] as string);
    for (const m of js.matchAll(DYNAMIC)) {
      if (m[1]) specs.push(m[2] as string);
      else unfollowable.push(`${file}: import(${m[2]})`);
    }
    for (const spec of specs) {
      if (spec.startsWith('.')) {
        const target = resolve(dirname(file), spec);
        if (existsSync(target)) queue.push(target);
        else missing.push(`${file} → ${spec}`);
      } else if (!spec.startsWith('node:') && !BUILTIN.has(spec)) packages.add(spec);
    }
  }
  return { modules: [...seen], missing, packages: [...packages].sort(), unfollowable };
}

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
