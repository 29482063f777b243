import { readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';

// The component boundaries, checked on every source file tsconfig.json compiles: `cli/` is the top
// of the tree, so nothing outside it imports from it; the agent (a sidecar in every pod) and the
// collector never import each other (they meet only through `contract/` and NATS).

const ROOT = fileURLToPath(new URL('../../', import.meta.url));

interface Edge {
  /** Importing file, relative to the repository root. */
  readonly from: string;
  /** Imported file (a `.js` specifier names the `.ts` source), relative to the repository root. */
  readonly to: string;
}

const RULES: ReadonlyArray<{ readonly name: string; broken(e: Edge): boolean }> = [
  { name: 'only cli/ imports cli/', broken: (e) => under(e.to, 'cli') && !under(e.from, 'cli') },
  {
    name: 'agent/ does not import collector/',
    broken: (e) => under(e.from, 'agent') && under(e.to, 'collector'),
  },
  {
    name: 'collector/ does not import agent/',
    broken: (e) => under(e.from, 'collector') && under(e.to, 'agent'),
  },
];

function under(file: string, folder: string): boolean {
  return file.startsWith(`${folder}/`);
}

function violations(edges: readonly Edge[]): string[] {
  return edges.flatMap((e) => RULES.filter((r) => r.broken(e)).map((r) => `${e.from} → ${e.to} (${r.name})`));
}

function sourceFiles(): string[] {
  const configPath = join(ROOT, 'tsconfig.json');
  const { config } = ts.readConfigFile(configPath, ts.sys.readFile);
  return ts.parseJsonConfigFileContent(config, ts.sys, ROOT, undefined, configPath).fileNames;
}

/** Relative imports, re-exports and dynamic `import()`s of every source file. */
function importEdges(): Edge[] {
  const edges: Edge[] = [];
  for (const file of sourceFiles()) {
    const { importedFiles } = ts.preProcessFile(readFileSync(file, 'utf8'), true, true);
    for (const { fileName } of importedFiles) {
      if (!fileName.startsWith('.')) continue;
      const target = resolve(dirname(file), fileName).replace(/\.js$/, '.ts');
      edges.push({ from: relative(ROOT, file), to: relative(ROOT, target) });
    }
  }
  return edges;
}

describe('import boundaries', () => {
  const edges = importEdges();

  it('sees static, re-exported and dynamic imports of the whole tree', () => {
    const has = (from: string, to: string) => edges.some((e) => e.from === from && e.to === to);
    expect(has('kube/config.ts', 'lib/version.ts')).toBe(true);
    expect(has('witness/index.ts', 'witness/witness.ts')).toBe(true);
    expect(has('cli/all-commands.ts', 'cli/commands/agent.ts')).toBe(true);
    expect(edges.filter((e) => under(e.from, 'agent')).length).toBeGreaterThan(10);
  });

  it('names an import that crosses a boundary', () => {
    expect(
      violations([
        { from: 'kube/config.ts', to: 'cli/version.ts' },
        { from: 'agent/proxy.ts', to: 'collector/index.ts' },
        { from: 'collector/apply.ts', to: 'agent/events.ts' },
        { from: 'cli/program.ts', to: 'cli/version.ts' },
        { from: 'agent/proxy.ts', to: 'contract/index.ts' },
      ]),
    ).toEqual([
      'kube/config.ts → cli/version.ts (only cli/ imports cli/)',
      'agent/proxy.ts → collector/index.ts (agent/ does not import collector/)',
      'collector/apply.ts → agent/events.ts (collector/ does not import agent/)',
    ]);
  });

  it('no source file crosses one', () => {
    expect(violations(edges)).toEqual([]);
  });
});
