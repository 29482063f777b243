import { describe, expect, it } from 'vitest';
import {
  parseNginxAccessLog,
  parseNginxErrorLog,
  parseShowStat,
  renderHaproxyConfig,
  renderNginxConfig,
  summarizeChanges,
} from '../../cluster/local/index.js';
import { planRuns, RehearseConfigError, resolveRehearseConfig } from '../../rehearse/index.js';

describe('entry point settings', () => {
  it('--entry defaults to local; --compare-entries lists two or more, not with --entry', () => {
    expect(resolveRehearseConfig({}).entries).toEqual(['local']);
    expect(resolveRehearseConfig({ entry: 'haproxy' }).entries).toEqual(['haproxy']);
    expect(resolveRehearseConfig({ compareEntries: 'local,nginx' }).entries).toEqual(['local', 'nginx']);
    expect(() => resolveRehearseConfig({ entry: 'envoy' })).toThrow(RehearseConfigError);
    expect(() => resolveRehearseConfig({ compareEntries: 'nginx' })).toThrow(/compare-entries/);
    expect(() => resolveRehearseConfig({ compareEntries: 'nginx,nginx' })).toThrow(/compare-entries/);
    expect(() => resolveRehearseConfig({ entry: 'nginx', compareEntries: 'local,nginx' })).toThrow(
      /not both/,
    );
  });

  it('--compare-entries plans each variant through each entry, labelled variant/entry', () => {
    const runs = planRuns(resolveRehearseConfig({ compareEntries: 'local,nginx', gate: '1' }), undefined);
    expect(runs.map((r) => `${r.label} ${r.entry} ${r.gate ?? '-'}`)).toEqual([
      'naive/local local -',
      'naive/nginx nginx -',
      'drained/local local 1',
      'drained/nginx nginx 1',
    ]);
    // Each run keeps its own sessions in Redis.
    expect(new Set(runs.map((r) => r.appEnv.QUOTE_REDIS_PREFIX)).size).toBe(4);
    const app = planRuns(
      resolveRehearseConfig({ app: './server', compareEntries: 'haproxy,local' }),
      undefined,
    );
    expect(app.map((r) => r.label)).toEqual(['app/haproxy', 'app/local']);
    expect(planRuns(resolveRehearseConfig({ entry: 'nginx' }), undefined).map((r) => r.label)).toEqual([
      'naive',
      'drained',
    ]);
  });
});

describe('nginx entry config and logs', () => {
  const base = { dir: '/tmp/d', port: 8080, controlPort: 8081, generation: 2 };
  const eps = [{ pod: 'p1', port: 9001, keepAliveTimeoutMs: 5000 }];
  it('maps each balance to its nginx directive', () => {
    expect(renderNginxConfig({ ...base, balance: 'least-connections', endpoints: eps })).toContain(
      'least_conn;',
    );
    expect(renderNginxConfig({ ...base, balance: 'client-ip', endpoints: eps })).toMatch(
      /ip_hash;[\s\S]*server 127\.0\.0\.1:9001; # p1/,
    );
    const cookie = renderNginxConfig({ ...base, balance: 'cookie', endpoints: eps });
    expect(cookie).toContain('hash $drainwatch_affinity consistent;');
    expect(cookie).toContain('add_header Set-Cookie $drainwatch_set_cookie always;');
    const rr = renderNginxConfig({ ...base, balance: 'round-robin', endpoints: eps });
    expect(rr).not.toMatch(/least_conn|hash|ip_hash/);
    expect(rr).toContain('keepalive_timeout 2500ms;');
    expect(rr).toContain("location = /generation { return 200 '2'; }");
    // No endpoint routable: one server marked down, so nginx answers 502 without a try.
    expect(renderNginxConfig({ ...base, balance: 'round-robin', endpoints: [] })).toContain(
      'server 127.0.0.1:1 down;',
    );
  });

  it('counts extra tries in $upstream_addr as retries, and upstream errors by kind', () => {
    const pods = new Map([
      [9001, 'a'],
      [9002, 'b'],
    ]);
    const log = [
      '1.0\t200\t127.0.0.1:9001\t200\tGET\t-',
      '1.1\t200\t127.0.0.1:9001, 127.0.0.1:9002\t502, 200\tPOST\t-',
      '1.2\t101\t127.0.0.1:9002\t101\tGET\twebsocket',
      '1.3\t502\tapp\t502\tGET\t-',
      '1.4\t200\t-\t-\tGET\t-',
      '',
    ].join('\n');
    const f = parseNginxAccessLog(log, (p) => pods.get(p));
    expect(f.retries).toBe(1);
    expect(f.retriedElsewhere).toBe(1);
    expect(Object.fromEntries(f.counts)).toEqual({
      a: { requests: 2, websockets: 0, failed: 1 },
      b: { requests: 1, websockets: 1, failed: 0 },
    });
    const errors = parseNginxErrorLog(
      [
        '2026/11/30 17:15:30 [error] 1#1: *15 connect() failed (111: Connection refused) while connecting to upstream, client: 127.0.0.1',
        '2026/11/30 17:15:31 [error] 1#1: *16 upstream prematurely closed connection while reading response header from upstream',
        '2026/11/30 17:15:32 [error] 1#1: *17 no live upstreams while connecting to upstream',
        '2026/11/30 17:15:33 [error] 1#1: *18 open() "/x" failed (2: No such file or directory)',
      ].join('\n'),
    );
    expect(errors).toEqual({ refused: 1, 'premature-close': 1, 'no-live-upstreams': 1 });
  });
});

describe('HAProxy entry config and stats', () => {
  it('maps each balance to its HAProxy lines, with retries 3 and option redispatch', () => {
    const cfg = (balance: 'cookie' | 'client-ip' | 'least-connections' | 'round-robin') =>
      renderHaproxyConfig({ dir: '/tmp/h', port: 8080, balance });
    expect(cfg('cookie')).toContain('cookie SERVERID insert indirect nocache dynamic');
    expect(cfg('client-ip')).toContain('balance source');
    expect(cfg('least-connections')).toContain('balance leastconn');
    expect(cfg('round-robin')).toMatch(/retries 3\n {2}option redispatch[\s\S]*balance roundrobin/);
    expect(cfg('round-robin')).toContain('stats socket /tmp/h/admin.sock mode 600 level admin');
  });

  it('reads show stat CSV by its header', () => {
    const rows = parseShowStat('# pxname,svname,wretr,wredis\napp,pod1,2,1\napp,BACKEND,2,1\n\n');
    expect(rows).toEqual([
      { pxname: 'app', svname: 'pod1', wretr: '2', wredis: '1' },
      { pxname: 'app', svname: 'BACKEND', wretr: '2', wredis: '1' },
    ]);
  });

  it('summarises apply times as median and max', () => {
    const c = (applyMs: number) => ({ type: 'add' as const, pod: 'p', delayMs: 0, applyMs });
    expect(summarizeChanges([])).toEqual({ applyP50Ms: null, applyMaxMs: null });
    expect(summarizeChanges([c(30), c(10), c(20), c(400)])).toEqual({ applyP50Ms: 20, applyMaxMs: 400 });
  });
});
