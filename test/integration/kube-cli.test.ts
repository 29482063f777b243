import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

// `drainwatch inject` and `drainwatch lint` as users run them (the compiled bin): files and stdin,
// output formats and exit codes.
const bin = fileURLToPath(new URL('../../dist/cli/main.js', import.meta.url));
const fixtures = fileURLToPath(new URL('../fixtures/', import.meta.url));

function run(args: string[], input?: string, opts: { cwd?: string; env?: Record<string, string> } = {}) {
  const r = spawnSync(process.execPath, [bin, ...args], {
    encoding: 'utf8',
    timeout: 30_000,
    input,
    cwd: opts.cwd ?? fixtures,
    env: { ...process.env, ...opts.env },
  });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

describe('drainwatch inject (CLI)', () => {
  it('reads a file or stdin and writes the injected manifest, warnings on stderr', () => {
    const input = readFileSync(`${fixtures}inject/service-missing.input.yaml`, 'utf8');
    const fromFile = run(['inject', 'inject/service-missing.input.yaml', '--image', 'x/agent:1']);
    const fromStdin = run(['inject', '-', '--image', 'x/agent:1'], input);
    expect(fromFile.code).toBe(0);
    expect(fromFile.out).toContain('image: x/agent:1');
    expect(fromFile.out).toContain('restartPolicy: Always');
    expect(fromStdin.out).toBe(fromFile.out);
    expect(fromFile.err).toMatch(/warning: Deployment\/shop\/search: no Service in the input/);
  });

  it('--patch emits a kustomize patch; a bad option or file exits 2 with one line', () => {
    const r = run(['inject', '--patch', 'inject/named-target-port.input.yaml']);
    expect(r.code).toBe(0);
    expect(r.out).toContain('kind: Service');
    expect(r.out).toContain('targetPort: dw-proxy');
    const bad = run(['inject', '--prestop', 'whenever', 'inject/opt-out.input.yaml']);
    expect(bad.code).toBe(2);
    expect(bad.err.trim().split('\n')).toHaveLength(1);
    expect(run(['inject', 'no/such/file.yaml']).code).toBe(2);
  });

  it('takes several inputs and directories, writing one stream to stdout', () => {
    const r = run(['inject', 'inject/opt-out.input.yaml', 'inject/service-missing.input.yaml']);
    expect(r.code).toBe(0);
    const optOut = readFileSync(`${fixtures}inject/opt-out.input.yaml`, 'utf8');
    expect(r.out.startsWith(`${optOut}---\n`)).toBe(true);
    expect(r.out).toContain('drainwatch.dev/injected');
    const dir = run(['inject', '../../examples/k8s']);
    expect(dir.code).toBe(0);
    expect(dir.err).toMatch(/note: \.\.\/\.\.\/examples\/k8s\/kustomization\.yaml:1: skipped: Kustomization/);
  });

  it('refuses a pod already using the agent port with one line and exit 2, unless given other ports', () => {
    const input = readFileSync(`${fixtures}inject/basic-numeric-target-port.input.yaml`, 'utf8').replace(
      'containerPort: 8080',
      'containerPort: 8080\n            - containerPort: 15080',
    );
    const r = run(['inject', '-'], input);
    expect(r.code).toBe(2);
    expect(r.err).toMatch(
      /^drainwatch inject: Deployment\/shop\/web: container web already uses port 15080 .*--proxy-port/,
    );
    expect(r.err.trim().split('\n')).toHaveLength(1);
    expect(r.out).toBe('');
    expect(run(['inject', '--proxy-port', '16080', '-'], input).code).toBe(0);
  });

  it('reads --drain-budget and DRAINWATCH_DRAIN_BUDGET as durations', () => {
    const viaEnv = run(['inject', 'inject/service-missing.input.yaml'], undefined, {
      env: { DRAINWATCH_DRAIN_BUDGET: '1m' },
    });
    expect(viaEnv.code).toBe(0);
    expect(viaEnv.out).toContain('terminationGracePeriodSeconds: 75');
    expect(run(['inject', '--drain-budget', '30s', 'inject/service-missing.input.yaml']).out).toContain(
      'terminationGracePeriodSeconds: 45',
    );
    const bad = run(['inject', '--drain-budget', 'soon', 'inject/service-missing.input.yaml']);
    expect(bad.code).toBe(2);
    expect(bad.err).toMatch(/--drain-budget/);
  });
});

describe('drainwatch lint (CLI)', () => {
  it('exits 1 on errors, 0 when clean, 2 on invalid YAML naming file and line', () => {
    const bad = run(['lint', 'lint/cart-client-ip-affinity.yaml']);
    expect(bad.code).toBe(1);
    expect(bad.out).toContain(
      'lint/cart-client-ip-affinity.yaml:35: error [service-client-ip-affinity] Service/shop/cart',
    );
    expect(run(['lint', 'lint/clean.yaml']).code).toBe(0);
    const broken = run(['lint', 'lint/not-yaml.yaml']);
    expect(broken.code).toBe(2);
    expect(broken.err).toMatch(/lint\/not-yaml\.yaml:\d+:/);
  });

  it('warnings alone exit 0; json and sarif formats parse', () => {
    const warnOnly = readFileSync(`${fixtures}lint/chat-long-lived.yaml`, 'utf8')
      .replace('publishNotReadyAddresses: true', 'publishNotReadyAddresses: false')
      .replace('maxUnavailable: 2', 'maxUnavailable: 1');
    const r = run(['lint', '--format', 'json', '-'], warnOnly);
    expect(r.code).toBe(0);
    expect(JSON.parse(r.out).map((f: { ruleId: string }) => f.ruleId)).toEqual(['long-lived-no-max-age']);
    const s = run(['lint', '--format', 'sarif', 'lint/rider-api-leftover-stickiness.yaml']);
    expect(s.code).toBe(1);
    expect(JSON.parse(s.out).runs[0].results).toHaveLength(2);
    expect(run(['lint', '--format', 'xml', 'lint/clean.yaml']).code).toBe(2);
  });
});

describe('drainwatch lint on real repos (CLI)', () => {
  it('reads a directory recursively, skipping kustomizations and Prometheus rules with a note', () => {
    const r = run(['lint', 'manifests/'], undefined, { cwd: join(fixtures, '../..') });
    expect(r.err).toMatch(/note: manifests\/kustomization\.yaml:\d+: skipped: Kustomization/);
    expect(r.err).toMatch(
      /note: manifests\/alerts\/drainwatch-rules\.yaml:\d+: skipped: not a Kubernetes object \(Prometheus rule groups/,
    );
    expect(r.out).toBe('no findings\n');
    expect(r.code).toBe(0);
  });

  it('turns a missing path or a directory without manifests into one line, exit 2', () => {
    const missing = run(['lint', 'k8s/']);
    expect(missing.code).toBe(2);
    expect(missing.err).toBe('drainwatch lint: k8s/: no such file or directory\n');
    const empty = mkdtempSync(join(tmpdir(), 'dw-lint-'));
    try {
      const r = run(['lint', empty]);
      expect(r.code).toBe(2);
      expect(r.err).toBe(`drainwatch lint: ${empty}: no *.yaml or *.yml file in this directory\n`);
    } finally {
      rmSync(empty, { recursive: true });
    }
  });

  it('reads kustomize/helm output piped in (comments, empty documents, several objects)', () => {
    const built = readFileSync(`${fixtures}inject/untouched-docs-byte-identical.input.yaml`, 'utf8');
    const r = run(['lint', '--format', 'json', '-'], built);
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/note: <stdin>:\d+: skipped: not a Kubernetes object \(Prometheus rule groups/);
    expect(JSON.parse(r.out).map((f: { ruleId: string }) => f.ruleId)).toEqual(['missing-prestop']);
  });

  it('--disable, --enable, --fail-on and a .drainwatch.yaml in the working directory', () => {
    const fixture = 'lint/prestop-and-pid1.yaml';
    expect(run(['lint', fixture]).code).toBe(1);
    expect(run(['lint', '--disable', 'grace-shorter-than-drain,missing-prestop', fixture]).code).toBe(0);
    expect(
      run([
        'lint',
        '--disable',
        'grace-shorter-than-drain',
        '--disable',
        'missing-prestop',
        '--fail-on',
        'warning',
        fixture,
      ]).code,
    ).toBe(1);
    const one = run(['lint', '--format', 'json', '--disable', 'all', '--enable', 'shell-pid-1', fixture]);
    expect(new Set(JSON.parse(one.out).map((f: { ruleId: string }) => f.ruleId))).toEqual(
      new Set(['shell-pid-1']),
    );
    const bad = run(['lint', '--disable', 'missing-prestp', fixture]);
    expect(bad.code).toBe(2);
    expect(bad.err).toMatch(
      /^drainwatch lint: --disable: unknown rule "missing-prestp"; valid rules: missing-prestop, .*shell-pid-1, .*grpc-prestop-shorter-than-stream, all\n$/,
    );

    const dir = mkdtempSync(join(tmpdir(), 'dw-lint-config-'));
    try {
      mkdirSync(join(dir, 'k8s'));
      writeFileSync(join(dir, 'k8s', 'app.yaml'), readFileSync(`${fixtures}${fixture}`, 'utf8'));
      writeFileSync(
        join(dir, '.drainwatch.yaml'),
        'lint:\n  disable: [all]\n  enable: [shell-pid-1]\n  failOn: warning\n',
      );
      const viaFile = run(['lint', 'k8s'], undefined, { cwd: dir });
      expect(viaFile.code).toBe(1);
      expect(viaFile.out).toMatch(/\[shell-pid-1\]/);
      expect(viaFile.out).not.toMatch(/\[missing-prestop\]/);
      // The flag wins over the file.
      expect(run(['lint', '--fail-on', 'error', 'k8s'], undefined, { cwd: dir }).code).toBe(0);
      writeFileSync(join(dir, 'other.yaml'), 'lint:\n  disable: [shell-pid-one]\n');
      const badFile = run(['lint', '--config', 'other.yaml', 'k8s'], undefined, { cwd: dir });
      expect(badFile.code).toBe(2);
      expect(badFile.err).toMatch(/other\.yaml: lint\.disable: unknown rule "shell-pid-one"; valid rules: /);
      expect(run(['lint', '--config', 'none.yaml', 'k8s'], undefined, { cwd: dir }).err).toMatch(
        /none\.yaml: no such config file/,
      );
    } finally {
      rmSync(dir, { recursive: true });
    }
  });

  it('SARIF: helpUri under DRAINWATCH_DOCS_URL and paths relative to the working directory for absolute inputs', () => {
    const abs = `${fixtures}lint/rider-api-leftover-stickiness.yaml`;
    const r = run(['lint', '--format', 'sarif', abs], undefined, {
      env: { DRAINWATCH_DOCS_URL: 'https://docs.example/v1/' },
    });
    const sarif = JSON.parse(r.out);
    expect(sarif.runs[0].tool.driver.rules[0].helpUri).toBe(
      'https://docs.example/v1/lint.md#missing-prestop',
    );
    for (const res of sarif.runs[0].results)
      expect(res.locations[0].physicalLocation.artifactLocation.uri).toBe(
        'lint/rider-api-leftover-stickiness.yaml',
      );
  });
});
