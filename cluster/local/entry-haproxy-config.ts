import type { BalanceStrategy } from './entrypoint.js';

// The HAProxy configuration of a rehearsal's entry point: written once at start; endpoint changes
// then go through the runtime API (entry-haproxy.ts), as HAProxy-based ingresses apply them
// without a reload.

/** Pre-declared server slots; a pod takes a fresh one, so no slot (or cookie) is ever reused. */
export const HAPROXY_SLOTS = 64;
export const HAPROXY_BACKEND = 'app';
export const HAPROXY_SLOT_PREFIX = 'pod';
/** The affinity cookie HAProxy inserts (its documentation's own example name). */
export const HAPROXY_COOKIE = 'SERVERID';
/**
 * `retries 3`: HAProxy's own default and what its sample configurations set; `option redispatch`
 * lets the last of them go to another server (the default redispatch interval, -1). Both only
 * cover a connection that failed (`retry-on conn-failure`, the default): a 502 or a reset after
 * the request was sent is not retried.
 */
export const HAPROXY_RETRIES = 3;

export interface HaproxyConfigInput {
  readonly dir: string;
  readonly port: number;
  readonly balance: BalanceStrategy;
}

function balanceLines(balance: BalanceStrategy): string[] {
  switch (balance) {
    case 'least-connections':
      return ['balance leastconn'];
    case 'client-ip':
      // The client address is the one the client forwarded, as the local entry point hashes it.
      return [
        'balance source',
        'http-request set-src hdr(x-forwarded-for) if { req.hdr(x-forwarded-for) -m found }',
      ];
    case 'cookie':
      // Dynamic cookies: each slot's value is derived from its address, so a slot given a new pod
      // never inherits an old pod's users.
      return [
        'balance roundrobin',
        `cookie ${HAPROXY_COOKIE} insert indirect nocache dynamic`,
        'dynamic-cookie-key drainwatch-rehearsal',
      ];
    default:
      return ['balance roundrobin'];
  }
}

export function renderHaproxyConfig(c: HaproxyConfigInput): string {
  const lines = [
    '# drainwatch rehearse entry point',
    'global',
    `  stats socket ${c.dir}/admin.sock mode 600 level admin`,
    '  stats timeout 10s',
    'defaults',
    '  mode http',
    '  timeout connect 5s',
    '  timeout client 60s',
    '  timeout server 60s',
    '  timeout http-keep-alive 30s',
    // WebSockets idle between pings.
    '  timeout tunnel 1h',
    `  retries ${HAPROXY_RETRIES}`,
    '  option redispatch',
    'frontend fe',
    `  bind 127.0.0.1:${c.port}`,
    '  option forwardfor',
    `  default_backend ${HAPROXY_BACKEND}`,
    `backend ${HAPROXY_BACKEND}`,
    ...balanceLines(c.balance).map((l) => `  ${l}`),
    // No `check`: the endpoint list alone decides who is routable, as for the other entries.
    `  server-template ${HAPROXY_SLOT_PREFIX} 1-${HAPROXY_SLOTS} 127.0.0.1:1 disabled`,
  ];
  return `${lines.join('\n')}\n`;
}
