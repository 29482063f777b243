import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { lintSources } from '../../kube/lint.js';
import { enabledRules, parseLintConfig, parseRuleList } from '../../kube/lint-config.js';
import { toSarif } from '../../kube/lint-format.js';
import { LINT_RULES } from '../../kube/lint-rules.js';

// Adopting lint one rule at a time: rule switches (flags over the config file), the config file's
// validation, the lint-ignore annotation, the new preStop and PID 1 rules, notes for skipped
// documents, and SARIF's helpUri and relative paths.

const fixture = 'test/fixtures/lint/prestop-and-pid1.yaml';
const text = readFileSync(fixture, 'utf8');
const lint = (opts = {}) => lintSources([{ name: fixture, text }], opts);
const ids = (r: ReturnType<typeof lint>) => r.findings.map((f) => `${f.ruleId} ${f.object}`);

describe('preStop reader and PID 1 rules (lint)', () => {
  it('flags 10 × sleep 30 against a 30 s grace, a rejected sleep, an unbounded loop, shell and npm PID 1', () => {
    expect(ids(lint())).toEqual([
      'grace-shorter-than-drain Deployment/shop/loop',
      'missing-prestop Deployment/shop/bad-sleep',
      'prestop-unknown-duration Deployment/shop/waits-for-files',
      'shell-pid-1 Deployment/shop/waits-for-files',
      'shell-pid-1 Deployment/shop/npm-app',
    ]);
    const [loop, badSleep, , shell, npm] = lint().findings;
    expect(loop!.message).toMatch(/preStop takes up to 300 s .* at least 320/);
    expect(badSleep!.message).toContain('sleep rejects "1m30s"');
    expect(shell!.message).toContain('`exec node app.js`');
    expect(shell!.message).toMatch(/tini or dumb-init/);
    expect(npm!.message).toMatch(/npm start as PID 1/);
    expect(npm!.line).toBe(109);
  });

  it('counts `nginx -s quit; sleep 1m` as 60 s (grace 90 is enough) and a longer drain budget flags it', () => {
    expect(ids(lint())).not.toContain('grace-shorter-than-drain Deployment/shop/nginx-quit');
    expect(ids(lint({ drainBudgetSeconds: 31 }))).toContain(
      'grace-shorter-than-drain Deployment/shop/nginx-quit',
    );
  });
});

describe('rule switches', () => {
  const all = LINT_RULES.map((r) => r.id);

  it('every rule runs by default; flags win over the config file; an id wins over all', () => {
    expect([...enabledRules({ disable: [], enable: [] })]).toEqual(all);
    const one = enabledRules({ disable: ['all'], enable: ['missing-prestop'] });
    expect([...one]).toEqual(['missing-prestop']);
    const fromFile = enabledRules({ disable: [], enable: [] }, { disable: ['shell-pid-1'], enable: [] });
    expect(fromFile.has('shell-pid-1')).toBe(false);
    const flagOverFile = enabledRules(
      { disable: [], enable: ['shell-pid-1'] },
      { disable: ['shell-pid-1'], enable: [] },
    );
    expect(flagOverFile.has('shell-pid-1')).toBe(true);
    expect(() => enabledRules({ disable: ['shell-pid-1'], enable: ['shell-pid-1'] })).toThrow(
      /both enabled and disabled/,
    );
  });

  it('an unknown rule id is an error listing the valid ones', () => {
    expect(() => parseRuleList('--disable', ['missing-prestop,no-such-rule'])).toThrow(
      new RegExp(`--disable: unknown rule "no-such-rule"; valid rules: ${all.join(', ')}, all`),
    );
  });

  it('disabled rules and the lint-ignore annotation drop findings', () => {
    const r = lint({
      rules: enabledRules({ disable: ['shell-pid-1', 'prestop-unknown-duration'], enable: [] }),
    });
    expect(ids(r)).toEqual([
      'grace-shorter-than-drain Deployment/shop/loop',
      'missing-prestop Deployment/shop/bad-sleep',
    ]);
    // Without the annotation the `ignored` workload has two findings (yarn start, no preStop).
    const unannotated = text.replace('drainwatch.dev/lint-ignore', 'example.com/other');
    const u = lintSources([{ name: fixture, text: unannotated }]).findings.filter((f) =>
      f.object.endsWith('/ignored'),
    );
    expect(u.map((f) => f.ruleId).sort()).toEqual(['missing-prestop', 'shell-pid-1']);
  });

  it('reads the drainwatch.io/lint-ignore alias the same, with a note naming the drainwatch.dev spelling', () => {
    const aliased = text.replace('drainwatch.dev/lint-ignore', 'drainwatch.io/lint-ignore');
    expect(aliased).not.toBe(text);
    const r = lintSources([{ name: 'x.yaml', text: aliased }]);
    expect(r.findings.filter((f) => f.object.endsWith('/ignored'))).toEqual([]);
    expect(r.notes).toContainEqual(
      expect.stringMatching(
        /^x\.yaml:\d+: Deployment\/shop\/ignored: drainwatch\.io\/lint-ignore is read as drainwatch\.dev\/lint-ignore/,
      ),
    );
  });

  it('an unknown id in the annotation is a note, not a failure', () => {
    const r = lintSources([
      { name: 'x.yaml', text: text.replace('shell-pid-1, missing-prestop', 'shell-pid-one') },
    ]);
    expect(r.notes).toEqual([
      expect.stringMatching(
        /^x\.yaml:\d+: Deployment\/shop\/ignored: drainwatch\.dev\/lint-ignore names unknown rule "shell-pid-one"; valid rules: /,
      ),
    ]);
  });
});

describe('.drainwatch.yaml', () => {
  it('reads lint.disable, lint.enable and lint.failOn', () => {
    expect(
      parseLintConfig('c.yaml', 'lint:\n  disable: [all]\n  enable: [missing-prestop]\n  failOn: warning\n'),
    ).toEqual({
      path: 'c.yaml',
      disable: ['all'],
      enable: ['missing-prestop'],
      failOn: 'warning',
    });
    expect(parseLintConfig('c.yaml', '# nothing yet\n')).toEqual({ path: 'c.yaml', disable: [], enable: [] });
  });

  it.each([
    [
      'lint:\n  disable: [missing-prestp]\n',
      /c\.yaml: lint\.disable: unknown rule "missing-prestp"; valid rules: missing-prestop, /,
    ],
    ['lint:\n  ignore: [x]\n', /c\.yaml: lint: unknown key "ignore"; expected disable, enable, failOn/],
    ['rules: {}\n', /c\.yaml: unknown key "rules"; expected lint/],
    ['lint:\n  failOn: info\n', /c\.yaml: lint\.failOn: expected one of error, warning, got "info"/],
    ['lint:\n  disable: missing-prestop\n', /lint\.disable: expected a list of rule ids/],
    ['lint: [\n', /c\.yaml: not valid YAML/],
  ])('rejects %j', (yamlText, message) => {
    expect(() => parseLintConfig('c.yaml', yamlText)).toThrow(message);
  });
});

describe('inputs that are not Kubernetes objects', () => {
  it('skips a kustomization, a Prometheus rules file and a list with a note each; empty documents silently', () => {
    const r = lintSources([
      {
        name: 'k/kustomization.yaml',
        text: 'apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources: [app.yaml]\n',
      },
      { name: 'k/rules.yaml', text: '# alerts\ngroups:\n  - name: a\n    rules: []\n' },
      { name: 'k/odd.yaml', text: '---\n---\n- a\n- b\n---\n' },
      { name: 'k/app.yaml', text },
    ]);
    expect(r.notes).toEqual([
      'k/kustomization.yaml:1: skipped: Kustomization: a kustomize configuration; pipe `kustomize build` into drainwatch to read what it builds',
      'k/rules.yaml:2: skipped: not a Kubernetes object (Prometheus rule groups, no apiVersion or kind)',
      'k/odd.yaml:3: skipped: not a Kubernetes object (a mapping with apiVersion and kind)',
    ]);
    expect(r.findings).toHaveLength(5);
  });
});

describe('SARIF', () => {
  it('gives every rule a helpUri under the docs base and paths relative to the working directory', () => {
    const abs = resolve(fixture);
    const { findings } = lintSources([{ name: abs, text }]);
    const sarif = toSarif(findings, '1.0.0', { cwd: process.cwd(), docsBase: 'https://docs.example/dw' }) as {
      runs: {
        tool: { driver: { rules: { id: string; helpUri: string }[] } };
        results: { locations: { physicalLocation: { artifactLocation: { uri: string } } }[] }[];
      }[];
    };
    const run = sarif.runs[0]!;
    for (const r of run.tool.driver.rules) expect(r.helpUri).toBe(`https://docs.example/dw/lint.md#${r.id}`);
    for (const res of run.results)
      expect(res.locations[0]!.physicalLocation.artifactLocation.uri).toBe(
        'test/fixtures/lint/prestop-and-pid1.yaml',
      );
  });

  it('docs/lint.md has one row per rule, with its anchor, id and severity', () => {
    const rows = readFileSync('docs/lint.md', 'utf8')
      .split('\n')
      .filter((l) => l.startsWith('| <a id="'))
      .map((l) =>
        /^\| <a id="([^"]+)"><\/a>`([^`]+)` \| (error|warning) \| .+ \| .+ \|$/.exec(l)?.slice(1, 4),
      );
    expect(rows).toEqual(LINT_RULES.map((r) => [r.id, r.id, r.severity]));
  });
});
