import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { builtinModules } from 'node:module';
import { dirname, relative, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';

// An image's build stage narrows package.json's `dependencies` to the packages its entrypoint's
// compiled module graph imports, then `npm prune --omit=dev` removes every other package (npm's
// "extraneous": reachable from no dependency left). Prune installs nothing, so what stays is at
// the lockfile's versions. Plain JavaScript because the build stage runs it with node alone:
//   node scripts/image-dependencies.mjs dist/cli/agent-main.js && npm prune --omit=dev
// The graph is read from the emitted JavaScript, static and dynamic imports alike (tsc keeps
// `import('…')` as written), so a lazily loaded command or exporter counts like a static import.
// test/integration/images.test.ts loads every module and package of the graph from the image.
// Types: image-dependencies.d.mts.

const STATIC = /(?:^|[;\n}])\s*(?:import|export)\s(?:[^'";]*?\sfrom\s*)?['"]([^'"]+)['"]/g;
const DYNAMIC = /\bimport\s*\(\s*(['"]?)([^'")]*)\1\s*\)/g;
// require('…') and createRequire(…)('…'), and their .resolve: a package a module reaches through
// CommonJS (a file path inside it, say) must be in the image too. Only its name counts.
const REQUIRE = /(?:\brequire|\bcreateRequire\([^()]*\))(?:\.resolve)?\s*\(\s*['"]([^'"]+)['"]\s*\)/g;
const BUILTIN = new Set(builtinModules);

function isPackage(spec) {
  return !spec.startsWith('.') && !spec.startsWith('/') && !spec.startsWith('node:') && !BUILTIN.has(spec);
}

function stripComments(js) {
  return js.replace(/\/\*[\s\S]*?\*\//g, '').replace(/(^|[^:'"`\\])\/\/.*$/gm, '$1');
}

export function moduleGraph(entry) {
  const seen = new Set();
  const missing = [];
  const packages = new Set();
  const unfollowable = [];
  const queue = [resolve(entry)];
  for (let file = queue.shift(); file !== undefined; file = queue.shift()) {
    if (seen.has(file)) continue;
    seen.add(file);
    const js = stripComments(readFileSync(file, 'utf8'));
    const specs = [...js.matchAll(STATIC)].map((m) => m[1]);
    for (const m of js.matchAll(DYNAMIC)) {
      if (m[1]) specs.push(m[2]);
      else unfollowable.push(`${file}: import(${m[2]})`);
    }
    for (const spec of specs) {
      if (spec.startsWith('.')) {
        const target = resolve(dirname(file), spec);
        if (existsSync(target)) queue.push(target);
        else missing.push(`${file} → ${spec}`);
      } else if (isPackage(spec)) packages.add(spec);
    }
    for (const m of js.matchAll(REQUIRE)) if (isPackage(m[1])) packages.add(packageName(m[1]));
  }
  return { modules: [...seen], missing, packages: [...packages].sort(), unfollowable };
}

export function packageName(specifier) {
  const parts = specifier.split('/');
  return (specifier.startsWith('@') ? parts.slice(0, 2) : parts.slice(0, 1)).join('/');
}

export function narrowDependencies(manifest, graph) {
  const names = [...new Set(graph.packages.map(packageName))].sort();
  const declared = manifest.dependencies ?? {};
  const undeclared = names.filter((n) => !Object.hasOwn(declared, n));
  const dependencies = Object.fromEntries(
    names.filter((n) => !undeclared.includes(n)).map((n) => [n, declared[n]]),
  );
  return { manifest: { ...manifest, dependencies }, undeclared };
}

function main(entry) {
  const graph = moduleGraph(entry);
  const manifest = JSON.parse(readFileSync('package.json', 'utf8'));
  const narrowed = narrowDependencies(manifest, graph);
  const problems = [
    ...graph.missing.map((m) => `missing module: ${m}`),
    ...graph.unfollowable.map((u) => `import with a computed specifier (cannot be followed): ${u}`),
    ...narrowed.undeclared.map((n) => `imports ${n}, which package.json's dependencies do not declare`),
  ];
  if (problems.length > 0) {
    process.stderr.write(`${relative('.', entry)}:\n  ${problems.join('\n  ')}\n`);
    process.exit(1);
  }
  writeFileSync('package.json', `${JSON.stringify(narrowed.manifest, null, 2)}\n`);
  const kept = Object.keys(narrowed.manifest.dependencies);
  process.stdout.write(`${relative('.', entry)} imports ${kept.length} packages: ${kept.join(' ')}\n`);
}

if (process.argv[1] && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) {
  if (process.argv.length !== 3) {
    process.stderr.write('usage: node scripts/image-dependencies.mjs <compiled entrypoint.js>\n');
    process.exit(2);
  }
  main(process.argv[2]);
}
