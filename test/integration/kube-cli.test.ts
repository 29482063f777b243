import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

// `drainwatch inject` and `drainwatch lint` as users run them (the compiled bin): files and stdin,
// output formats and exit codes.
const bin = fileURLToPath(new URL('../../dist/cli/main.js', import.meta.url));
const fixtures = fileURLToPath(new URL('../fixtures/', import.meta.url));

function run(args: string[], input?: string) {
  const r = spawnSync(process.execPath, [bin, ...args], {
    encoding: 'utf8',
    timeout: 30_000,
    input,
    cwd: fixtures,
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
