import { describe, expect, it } from 'vitest';
import {
  createCookieJar,
  createSkewWindow,
  isAffinityCookie,
  skewRatio,
  stickyVerdict,
} from '../../probe/index.js';

describe('skew window', () => {
  it('divides busiest by quietest among the pods seen in the window only', () => {
    const w = createSkewWindow(10_000, 1000);
    for (let i = 0; i < 30; i++) w.record('a', 500);
    for (let i = 0; i < 10; i++) w.record('b', 2500);
    expect(w.ratio(3000)).toBe(3);
    // At 10.6 s the bucket of 0–1 s has left the window: only b was seen.
    expect(w.counts(10_600)).toEqual({ b: 10 });
    expect(w.ratio(10_600)).toBe(1);
    w.record('c', 11_000);
    expect(w.ratio(11_000)).toBe(10);
    expect(w.ratio(30_000)).toBeNull();
  });

  it('reuses a bucket that fell out of the window instead of adding to it', () => {
    const w = createSkewWindow(2000, 1000);
    w.record('a', 100);
    w.record('a', 2100);
    expect(w.counts(2100)).toEqual({ a: 1 });
  });

  it('skewRatio ignores pods without requests', () => {
    expect(skewRatio({ a: 6, b: 2, c: 0 })).toBe(3);
    expect(skewRatio({})).toBeNull();
  });
});

describe('sticky routing', () => {
  it('recognises affinity cookies but not the app session cookie', () => {
    for (const name of ['route', 'INGRESSCOOKIE', 'SERVERID', 'AWSALB', 'my-affinity', 'sticky_pod']) {
      expect(isAffinityCookie(name)).toBe(true);
    }
    expect(isAffinityCookie('sid')).toBe(false);
    expect(isAffinityCookie('lbpin', { extra: ['LBPIN'] })).toBe(true);
    expect(isAffinityCookie('route', { sessionCookie: 'route' })).toBe(false);
  });

  it('is detected from a cookie, or from ≥ 90% of busy sessions on one pod with ≥ 2 pods seen', () => {
    expect(stickyVerdict('route', [], 1)).toEqual({
      sticky: true,
      reason: expect.stringContaining('"route"'),
    });
    const pinned = Array.from({ length: 9 }, () => ({ answered: 12, pods: 1 }));
    expect(stickyVerdict(null, [...pinned, { answered: 12, pods: 2 }], 3).sticky).toBe(true);
    expect(
      stickyVerdict(null, [...pinned, { answered: 12, pods: 2 }, { answered: 12, pods: 2 }], 3).sticky,
    ).toBe(false);
    // One pod only: every session is on it, which is no routing choice at all.
    expect(stickyVerdict(null, pinned, 1).sticky).toBe(false);
    // Sessions with fewer than 10 requests say nothing.
    expect(stickyVerdict(null, [{ answered: 9, pods: 1 }], 2).sticky).toBe(false);
  });
});

describe('cookie jar', () => {
  it('keeps name/value/path, sends by path and honours Max-Age=0 and past Expires', () => {
    const jar = createCookieJar();
    jar.store(['sid=abc; Path=/; HttpOnly', 'route=1'], '/login');
    jar.store('scoped=x; Path=/api', '/login');
    expect(jar.header('/whoami')).toBe('sid=abc; route=1');
    expect(jar.header('/api/quote')).toBe('sid=abc; route=1; scoped=x');
    expect(jar.header('/apix')).toBe('sid=abc; route=1');
    jar.store('sid=; Max-Age=0; Path=/', '/logout');
    expect(jar.has('sid')).toBe(false);
    jar.store('route=; Expires=Thu, 01 Jan 1970 00:00:00 GMT', '/x');
    expect(jar.header('/')).toBeUndefined();
  });

  it('defaults the path to the directory of the request (RFC 6265 §5.1.4)', () => {
    const jar = createCookieJar();
    jar.store('a=1', '/app/login');
    expect(jar.header('/app/x')).toBe('a=1');
    expect(jar.header('/other')).toBeUndefined();
  });
});
