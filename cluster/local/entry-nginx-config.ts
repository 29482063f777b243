import type { BalanceStrategy } from './entrypoint.js';
import { AFFINITY_COOKIE } from './forwarding.js';
import { upstreamIdleMs } from './upstream.js';

// The nginx configuration of a rehearsal's entry point, written whole on every endpoint change and
// applied with a graceful reload, as nginx-based ingresses without dynamic upstreams do. Everything
// nginx writes (pid, logs, temp files) stays under the run's own prefix directory.

/** The access log format: what each request became upstream (`$upstream_addr` lists every try). */
export const NGINX_LOG_FORMAT =
  '$msec\\t$status\\t$upstream_addr\\t$upstream_status\\t$request_method\\t$http_upgrade';

/** Connections nginx keeps idle to the upstreams per worker (ingress-nginx's upstream-keepalive-connections is 320; a rehearsal needs far fewer). */
const KEEPALIVE_CONNECTIONS = 32;

export interface NginxConfigInput {
  /** The prefix directory (absolute, ends without /). */
  readonly dir: string;
  readonly port: number;
  /** The control server's port: it answers /generation so a reload can be seen to have happened. */
  readonly controlPort: number;
  readonly generation: number;
  readonly balance: BalanceStrategy;
  readonly endpoints: readonly {
    readonly pod: string;
    readonly port: number;
    readonly keepAliveTimeoutMs?: number | undefined;
  }[];
}

function balanceLines(balance: BalanceStrategy): string[] {
  switch (balance) {
    case 'least-connections':
      return ['least_conn;'];
    // nginx OSS cannot insert a sticky cookie: the affinity key is the INGRESSCOOKIE the client
    // sent, else this request's id, which the response then sets as INGRESSCOOKIE (the maps below).
    case 'cookie':
      return ['hash $drainwatch_affinity consistent;'];
    case 'client-ip':
      return ['ip_hash;'];
    default:
      return [];
  }
}

function cookieMaps(): string[] {
  return [
    `map $cookie_${AFFINITY_COOKIE} $drainwatch_affinity {`,
    "  '' $request_id;",
    `  default $cookie_${AFFINITY_COOKIE};`,
    '}',
    `map $cookie_${AFFINITY_COOKIE} $drainwatch_set_cookie {`,
    `  '' '${AFFINITY_COOKIE}=$request_id; Path=/; HttpOnly';`,
    "  default '';",
    '}',
  ];
}

export function renderNginxConfig(c: NginxConfigInput): string {
  const idle = Math.min(
    ...c.endpoints.map((e) => upstreamIdleMs(e.keepAliveTimeoutMs)),
    upstreamIdleMs(undefined),
  );
  const servers = c.endpoints.length
    ? c.endpoints.map((e) => `    server 127.0.0.1:${e.port}; # ${e.pod}`)
    : // nginx needs one server in an upstream block: none routable answers 502 (no live upstreams).
      ['    server 127.0.0.1:1 down; # no endpoint routable'];
  const lines = [
    `# drainwatch rehearse entry point, generation ${c.generation}`,
    `pid ${c.dir}/nginx.pid;`,
    `error_log ${c.dir}/error.log error;`,
    'worker_processes 1;',
    'events { worker_connections 1024; }',
    'http {',
    ...['client_body', 'proxy', 'fastcgi', 'uwsgi', 'scgi'].map(
      (t) => `  ${t}_temp_path ${c.dir}/${t}_temp;`,
    ),
    `  log_format drainwatch '${NGINX_LOG_FORMAT}';`,
    '  map $http_upgrade $drainwatch_connection {',
    '    default upgrade;',
    "    '' '';",
    '  }',
    ...(c.balance === 'cookie' ? cookieMaps().map((l) => `  ${l}`) : []),
    // The client address is the one the client forwarded, as the local entry point hashes it.
    ...(c.balance === 'client-ip'
      ? ['  set_real_ip_from 127.0.0.1;', '  real_ip_header X-Forwarded-For;']
      : []),
    '  upstream app {',
    ...balanceLines(c.balance).map((l) => `    ${l}`),
    ...servers,
    `    keepalive ${KEEPALIVE_CONNECTIONS};`,
    // Closes idle upstream connections before the pods would (upstream.ts upstreamIdleMs).
    `    keepalive_timeout ${idle}ms;`,
    '  }',
    '  server {',
    `    listen 127.0.0.1:${c.port};`,
    `    access_log ${c.dir}/access.log drainwatch;`,
    '    location / {',
    '      proxy_pass http://app;',
    // HTTP/1.1 with Connection "" keeps upstream connections alive; Upgrade passes WebSockets on.
    '      proxy_http_version 1.1;',
    '      proxy_set_header Host $http_host;',
    '      proxy_set_header Upgrade $http_upgrade;',
    '      proxy_set_header Connection $drainwatch_connection;',
    '      proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;',
    '      proxy_set_header X-Forwarded-Proto $scheme;',
    '      proxy_set_header X-Forwarded-Host $http_host;',
    ...(c.balance === 'cookie' ? ['      add_header Set-Cookie $drainwatch_set_cookie always;'] : []),
    '    }',
    '  }',
    '  server {',
    `    listen 127.0.0.1:${c.controlPort};`,
    '    access_log off;',
    `    location = /generation { return 200 '${c.generation}'; }`,
    '  }',
    '}',
  ];
  return `${lines.join('\n')}\n`;
}
