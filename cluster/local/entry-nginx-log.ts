import type { EndpointCounts } from './entrypoint.js';

// nginx's own record of a run, read back: the access log (NGINX_LOG_FORMAT) lists every upstream
// a request was tried on (`$upstream_addr`, `$upstream_status`, comma-separated per try), and the
// error log names each upstream error ("connect() failed (111: Connection refused) while
// connecting to upstream"). See ngx_http_upstream_module's embedded variables.

export interface NginxLogFigures {
  /** Extra tries: entries of `$upstream_addr` beyond the first. */
  readonly retries: number;
  /** Extra tries that went to another address than the try before. */
  readonly retriedElsewhere: number;
  /** Tries, WebSockets and failed tries per pod (addresses mapped back through `podOfPort`). */
  readonly counts: ReadonlyMap<string, EndpointCounts>;
}

/** `$upstream_status` values nginx itself gives a try that got no answer: 502 error, 504 timeout. */
const NO_ANSWER = new Set(['502', '504']);

export function parseNginxAccessLog(
  text: string,
  podOfPort: (port: number) => string | undefined,
): NginxLogFigures {
  let retries = 0;
  let retriedElsewhere = 0;
  const counts = new Map<string, { requests: number; websockets: number; failed: number }>();
  for (const line of text.split('\n')) {
    const [, status, addrs, statuses] = line.split('\t');
    if (!addrs || addrs === '-') continue;
    // " : " separates internal redirects; each part is one upstream's tries.
    const tries = addrs.split(/, | : /);
    const codes = (statuses ?? '').split(/, | : /);
    retries += tries.length - 1;
    for (let i = 0; i < tries.length; i++) {
      if (i > 0 && tries[i] !== tries[i - 1]) retriedElsewhere++;
      const port = Number(tries[i]!.split(':').at(-1));
      const pod = podOfPort(port);
      if (!pod) continue;
      const c = counts.get(pod) ?? { requests: 0, websockets: 0, failed: 0 };
      const last = i === tries.length - 1;
      if (last && status === '101') c.websockets++;
      else c.requests++;
      if (NO_ANSWER.has(codes[i] ?? '')) c.failed++;
      counts.set(pod, c);
    }
  }
  return { retries, retriedElsewhere, counts };
}

const ERROR_KINDS: ReadonlyArray<readonly [RegExp, string]> = [
  [/\(111: Connection refused\) while connecting to upstream/, 'refused'],
  [/\(104: Connection reset by peer\)/, 'reset'],
  [/upstream prematurely closed connection/, 'premature-close'],
  [/upstream timed out/, 'timeout'],
  [/no live upstreams/, 'no-live-upstreams'],
];

/** Upstream errors in nginx's error log by kind; lines not about an upstream are left out. */
export function parseNginxErrorLog(text: string): Record<string, number> {
  const out: Record<string, number> = {};
  for (const line of text.split('\n')) {
    if (!line.includes('upstream')) continue;
    const kind = ERROR_KINDS.find(([re]) => re.test(line))?.[1] ?? 'other';
    out[kind] = (out[kind] ?? 0) + 1;
  }
  return out;
}
