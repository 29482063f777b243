import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { moduleGraph, narrowDependencies, packageName } from '../../scripts/image-dependencies.mjs';

// scripts/image-dependencies.mjs on a small compiled-looking tree: which packages a graph names,
// and the package.json an image build keeps (or the build failing when it cannot keep them).

const SCRIPT = fileURLToPath(new URL('../../scripts/image-dependencies.mjs', import.meta.url));

const MANIFEST = {
  name: 'app',
  version: '1.2.3',
  type: 'module',
  dependencies: { '@scope/lib': '2.0.0', cjs: '0.1.0', eager: '1.0.0', lazy: '3.1.0', unused: '9.9.9' },
  devDependencies: { vitest: '4.1.12' },
};

let dir: string;

function write(path: string, text: string): void {
  mkdirSync(join(dir, path, '..'), { recursive: true });
  writeFileSync(join(dir, path), text);
}

function runScript(entry: string) {
  return spawnSync(process.execPath, [SCRIPT, entry], { cwd: dir, encoding: 'utf8' });
}

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'drainwatch-image-deps-'));
  write('package.json', JSON.stringify(MANIFEST));
  write(
    'dist/main.js',
    [
      "import { readFileSync } from 'node:fs';",
      "import { join } from 'path';",
      "import { a } from './a.js';",
      "export { b } from './sub/b.js';",
      "// import 'commented-out';",
      "const lazy = () => import('lazy/feature');",
      "import { createRequire } from 'node:module';",
      "const file = createRequire(import.meta.url).resolve('cjs/dist/file.min.js');",
      'const require = createRequire(import.meta.url);',
      "const pkg = require('../package.json');",
      "const common = require('_http_common');",
    ].join('\n'),
  );
  write('dist/a.js', "import eager from 'eager';\nexport const a = eager;\n");
  write('dist/sub/b.js', "import { x } from '@scope/lib/deep/path.js';\nexport const b = x;\n");
});

afterEach(() => rmSync(dir, { recursive: true, force: true }));

describe('image-dependencies', () => {
  it('names scoped and unscoped packages without their subpaths', () => {
    expect(packageName('@scope/lib/deep/path.js')).toBe('@scope/lib');
    expect(packageName('lazy/feature')).toBe('lazy');
    expect(packageName('eager')).toBe('eager');
  });

  it('follows static, re-export and dynamic imports and names required packages, not built-ins', () => {
    const graph = moduleGraph(join(dir, 'dist/main.js'));
    expect(graph.packages).toEqual(['@scope/lib/deep/path.js', 'cjs', 'eager', 'lazy/feature']);
    expect(graph.modules.map((m) => m.slice(dir.length + 1))).toEqual([
      'dist/main.js',
      'dist/a.js',
      'dist/sub/b.js',
    ]);
    expect(graph.missing).toEqual([]);
    expect(graph.unfollowable).toEqual([]);
  });

  it('narrows dependencies to the imported packages, keeping the declared versions', () => {
    const { manifest, undeclared } = narrowDependencies(MANIFEST, moduleGraph(join(dir, 'dist/main.js')));
    expect(manifest.dependencies).toEqual({
      '@scope/lib': '2.0.0',
      cjs: '0.1.0',
      eager: '1.0.0',
      lazy: '3.1.0',
    });
    expect(manifest.devDependencies).toEqual(MANIFEST.devDependencies);
    expect(undeclared).toEqual([]);
  });

  it('rewrites package.json in the working directory', () => {
    const r = runScript('dist/main.js');
    expect(r.status, r.stderr).toBe(0);
    const written = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as typeof MANIFEST;
    expect(Object.keys(written.dependencies)).toEqual(['@scope/lib', 'cjs', 'eager', 'lazy']);
    expect(written.version).toBe('1.2.3');
  });

  it('fails the build on a package that is not a declared dependency, leaving package.json', () => {
    write('dist/a.js', "import eager from 'eager';\nimport 'vitest';\nimport 'transitive/x';\n");
    const r = runScript('dist/main.js');
    expect(r.status).toBe(1);
    expect(r.stderr).toContain("imports transitive, which package.json's dependencies do not declare");
    expect(r.stderr).toContain("imports vitest, which package.json's dependencies do not declare");
    expect(JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8'))).toEqual(MANIFEST);
  });

  it('fails the build on an import it cannot follow or a module that is not there', () => {
    write('dist/a.js', "import './gone.js';\nconst m = 'eager';\nawait import(m);\n");
    const r = runScript('dist/main.js');
    expect(r.status).toBe(1);
    expect(r.stderr).toContain('import with a computed specifier (cannot be followed)');
    expect(r.stderr).toMatch(/missing module: .*a\.js → \.\/gone\.js/);
  });
});
