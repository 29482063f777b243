import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

// Every command checks every option before it starts anything, and names every bad one at once
// (ENV (--flag): reason), exit 2. The compiled CLI, as users run it (`npm test` builds first).
const bin = fileURLToPath(new URL('../../dist/cli/main.js', import.meta.url));

function run(args: readonly string[], env: Record<string, string> = {}) {
  const r = spawnSync(process.execPath, [bin, ...args], {
    encoding: 'utf8',
    timeout: 30_000,
    env: { ...process.env, NATS_URL: '', REDIS_URL: '', ...env },
  });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

/** The settings an error message names, in order. */
function named(stderr: string): string[] {
  const lines = stderr.trimEnd().split('\n');
  return lines.slice(1).map((l) => l.trim().replace(/\): .*$/, ')'));
}

/** One invocation: exit 2, nothing on stdout, `N invalid settings:` then `settings` in order. */
function expectAllNamed(args: readonly string[], settings: readonly string[]): void {
  const r = run(args);
  expect(r.code, r.err).toBe(2);
  expect(r.out).toBe('');
  expect(r.err.split('\n')[0]).toBe(`drainwatch ${args[0]}: ${settings.length} invalid settings:`);
  expect(named(r.err)).toEqual(settings);
}

describe('every bad option at once, before anything starts', () => {
  it.each([
    [
      'rehearse',
      ['rehearse', '--balance', 'foo', '--rate', 'x', '--prestop', 'fixed:40', '--grace', '20'],
      ['DRAINWATCH_PROBE_RATE (--rate)', 'DRAINWATCH_BALANCE (--balance)', 'DRAINWATCH_PRESTOP (--prestop)'],
    ],
    [
      'probe',
      ['probe', '--sessions', '0', '--duration', 'soon', '--websockets', 'many'],
      [
        'DRAINWATCH_SESSIONS (--sessions)',
        'DRAINWATCH_DURATION (--duration)',
        'DRAINWATCH_TARGET (--target)',
        'DRAINWATCH_WEBSOCKETS (--websockets)',
      ],
    ],
    [
      'verify',
      ['verify', '--baseline', '3x', '--collector-url', 'http://127.0.0.1:1', '--gate-from-history', 'top'],
      [
        'DRAINWATCH_BASELINE (--baseline)',
        'DRAINWATCH_NAMESPACE (--namespace)',
        'DRAINWATCH_DEPLOYMENT (--deployment)',
        'DRAINWATCH_TARGET (--target)',
        'DRAINWATCH_COLLECTOR_URL (--collector-url)',
        'DRAINWATCH_GATE_FROM_HISTORY (--gate-from-history)',
      ],
    ],
    [
      'report',
      ['report', '--gate', '2', '--redis-url', 'http://x'],
      ['REDIS_URL (--redis-url)', 'DRAINWATCH_GATE (--gate)'],
    ],
    [
      // Named with the rest before anything starts, not after a kubeconfig was found.
      'verify',
      [
        ...['verify', '--baseline', '3x', '--redis-url', 'redis://127.0.0.1:1'],
        ...['--redis-cluster', '127.0.0.1:2'],
      ],
      [
        'DRAINWATCH_BASELINE (--baseline)',
        'DRAINWATCH_NAMESPACE (--namespace)',
        'DRAINWATCH_DEPLOYMENT (--deployment)',
        'DRAINWATCH_TARGET (--target)',
        'REDIS_CLUSTER_NODES (--redis-cluster)',
      ],
    ],
    [
      'agent',
      ['agent', '--listen', 'nowhere', '--grace', '20', '--prestop', 'fixed:40'],
      ['DRAINWATCH_LISTEN (--listen)', 'DRAINWATCH_PRESTOP (--prestop)'],
    ],
    [
      'collector',
      ['collector', '--listen', 'x', '--gate', '2', '--ack-wait', '1ms'],
      ['DRAINWATCH_LISTEN (--listen)', 'DRAINWATCH_GATE (--gate)', 'DRAINWATCH_ACK_WAIT (--ack-wait)'],
    ],
    [
      'lint',
      ['lint', '--format', 'xml', '--drain-budget', 'x'],
      ['DRAINWATCH_LINT_FORMAT (--format)', 'DRAINWATCH_DRAIN_BUDGET (--drain-budget)'],
    ],
  ])('%s names every bad option, exit 2, nothing on stdout', (_name, args, settings) =>
    expectAllNamed(args, settings),
  );

  it('names the environment variable and the flag when the value came from the environment', () => {
    const r = run(['rehearse'], { DRAINWATCH_BALANCE: 'random' });
    expect(r.code).toBe(2);
    expect(r.err.trim()).toBe(
      'drainwatch rehearse: DRAINWATCH_BALANCE (--balance): expected one of round-robin, least-connections, cookie, client-ip, got "random"',
    );
  });

  it('refuses a fixed preStop above the grace period before starting any server', () => {
    const r = run(['rehearse', '--app', 'node -e 0', '--prestop', 'fixed:40']);
    expect(r.code).toBe(2);
    expect(r.err.trim()).toBe(
      'drainwatch rehearse: DRAINWATCH_PRESTOP (--prestop): fixed wait 40s is above the grace period of 30s (--grace)',
    );
  });
});

describe('a bad --threshold is named with every other bad option, in one message', () => {
  const T = 'DRAINWATCH_THRESHOLDS (--threshold)';
  it.each([
    [
      'rehearse',
      ['rehearse', '--rate', 'x', '--threshold', 'nope > 1', '--prestop', 'fixed:40', '--grace', '20'],
      ['DRAINWATCH_PROBE_RATE (--rate)', 'DRAINWATCH_PRESTOP (--prestop)', T],
    ],
    [
      'probe',
      ['probe', '--sessions', '0', '--threshold', 'latency.p99Ms < soon'],
      ['DRAINWATCH_SESSIONS (--sessions)', 'DRAINWATCH_TARGET (--target)', T],
    ],
    [
      'verify',
      [
        ...['verify', '--namespace', 'shop', '--deployment', 'cart', '--target', 'http://127.0.0.1:1'],
        ...['--baseline', '3x', '--threshold', 'latency.p98Ms < 1s', '--threshold', 'sessionPersistence'],
      ],
      ['DRAINWATCH_BASELINE (--baseline)', T, T],
    ],
    ['report', ['report', '--gate', '2', '--threshold', 'nope == 1'], ['DRAINWATCH_GATE (--gate)', T]],
  ])('%s: exit 2, the thresholds after the other options', (_name, args, settings) =>
    expectAllNamed(args, settings),
  );

  it('each threshold line gives its own reason; DRAINWATCH_THRESHOLDS counts like the flag', () => {
    const r = run(['report', '--redis-url', 'http://x'], {
      DRAINWATCH_THRESHOLDS: 'latency.p99Ms < soon; scores.requestSuccess >= 99.5%; nope == 1',
    });
    expect(r.code).toBe(2);
    const lines = r.err.trimEnd().split('\n');
    expect(lines.slice(0, 3)).toEqual([
      'drainwatch report: 3 invalid settings:',
      '  REDIS_URL (--redis-url): expected a redis or rediss URL, got "http://x"',
      `  ${T}: "latency.p99Ms < soon": expected a duration like 3s, 500ms or 2m, got "soon"`,
    ]);
    expect(lines[3]).toMatch(
      /^ {2}DRAINWATCH_THRESHOLDS \(--threshold\): unknown figure "nope" of the rollout report; valid names: /,
    );
    expect(lines).toHaveLength(4);
  });
});

describe('help shows every default in one format, durations in their grammar', () => {
  const COMMANDS = ['agent', 'collector', 'probe', 'rehearse', 'verify', 'report'];

  it.each(COMMANDS)('%s --help: `(default: X, env: Y)`, never quoted nor twice', (c) => {
    const r = run([c, '--help']);
    expect(r.code).toBe(0);
    const help = r.out.replace(/\s+/g, ' ');
    expect(help).not.toMatch(/default: "/);
    expect(help).not.toMatch(/\(default [^:]/);
    expect(help).toContain('a bare number is seconds');
    for (const option of help.split(/ (?=--[a-z])/).slice(1)) {
      expect(option.match(/default:/g)?.length ?? 0, option).toBeLessThanOrEqual(1);
    }
  });

  it('shows duration defaults as durations: verify --baseline 10s, probe --duration 30s, collector --rollout-quiet 5m', () => {
    expect(run(['verify', '--help']).out.replace(/\s+/g, ' ')).toMatch(/--baseline <d> .*\(default: 10s,/);
    expect(run(['probe', '--help']).out.replace(/\s+/g, ' ')).toMatch(
      /--duration <duration> .*\(default: 30s,/,
    );
    expect(run(['collector', '--help']).out.replace(/\s+/g, ' ')).toMatch(
      /--rollout-quiet <duration> .*\(default: 5m,/,
    );
  });
});

describe('verify without a kubeconfig', () => {
  const ARGS = ['verify', '--namespace', 'shop', '--deployment', 'cart', '--target', 'http://127.0.0.1:1'];
  const bare = (extra: Record<string, string>) => {
    const env: Record<string, string> = {};
    for (const [k, v] of Object.entries(process.env))
      if (v !== undefined && !/^(KUBECONFIG|KUBERNETES_SERVICE_|HOME$)/.test(k)) env[k] = v;
    const r = spawnSync(process.execPath, [bin, ...ARGS], {
      encoding: 'utf8',
      timeout: 60_000,
      env: { ...env, NATS_URL: '', REDIS_URL: '', HOME: '/nonexistent-home', ...extra },
    });
    return { code: r.status, err: r.stderr.trim() };
  };

  it('says none was found and where it looked, exit 2, before starting anything', () => {
    const r = bare({});
    expect(r.code).toBe(2);
    expect(r.err).toBe(
      'drainwatch verify: no kubeconfig found; looked at KUBECONFIG (not set), /nonexistent-home/.kube/config (missing), in-cluster service account (KUBERNETES_SERVICE_HOST not set); give one with --kubeconfig',
    );
  });

  it('names every KUBECONFIG path it tried', () => {
    const r = bare({ KUBECONFIG: '/nope/a:/nope/b' });
    expect(r.code).toBe(2);
    expect(r.err).toContain('looked at KUBECONFIG (/nope/a: missing, /nope/b: missing)');
  });
});
