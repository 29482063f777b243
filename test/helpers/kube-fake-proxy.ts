import { Agent, createServer, request as httpRequest, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { FakeApiServer, KObject } from './kube-fake-apiserver.js';
import { FAKE_PORT_ANNOTATION } from './kube-fake-cluster.js';

// The fake cluster's entry point, in the role of kube-proxy plus a sticky ingress: it routes each
// request to a pod whose EndpointSlice endpoint is ready (read from the fake API server, so it
// follows the endpoint-propagation delay the fake controllers script), pinning each session (its
// `sid` cookie or bearer token) to one pod while that pod stays ready.

export interface FakeEntryPoint {
  readonly url: string;
  /** Requests that found no ready endpoint, or a pod that refused them (answered 502/503). */
  readonly failed: number;
  stop(): Promise<void>;
}

function sessionOf(req: IncomingMessage): string | undefined {
  const bearer = /^Bearer (.+)$/.exec(req.headers.authorization ?? '')?.[1];
  if (bearer) return bearer;
  for (const part of (req.headers.cookie ?? '').split(';')) {
    const [k, ...v] = part.trim().split('=');
    if (k === 'sid') return v.join('=');
  }
  return undefined;
}

export async function startFakeEntryPoint(api: FakeApiServer, namespace: string): Promise<FakeEntryPoint> {
  const agent = new Agent({ keepAlive: true });
  const pins = new Map<string, string>();
  let next = 0;
  let failed = 0;

  const readyPods = (): { name: string; port: number }[] => {
    const out: { name: string; port: number }[] = [];
    for (const slice of api.list('endpointslices', namespace)) {
      for (const e of (slice.endpoints ?? []) as KObject[]) {
        if (e.conditions?.ready !== true) continue;
        const pod = api.get('pods', namespace, e.targetRef?.name);
        const port = Number(pod?.metadata.annotations?.[FAKE_PORT_ANNOTATION]);
        if (pod && port) out.push({ name: pod.metadata.name, port });
      }
    }
    return out.sort((a, b) => a.name.localeCompare(b.name));
  };

  const server: Server = createServer((req, res) => {
    const ready = readyPods();
    const session = sessionOf(req);
    let target = session ? ready.find((p) => p.name === pins.get(session)) : undefined;
    if (!target && ready.length > 0) {
      target = ready[next++ % ready.length]!;
      if (session) pins.set(session, target.name);
    }
    if (!target) {
      failed++;
      res.writeHead(503).end();
      return;
    }
    const upstream = httpRequest(
      {
        host: '127.0.0.1',
        port: target.port,
        path: req.url,
        method: req.method,
        headers: req.headers,
        agent,
      },
      (up) => {
        // A login pins the new session to the pod that issued it, as an affinity cookie would.
        for (const c of up.headers['set-cookie'] ?? []) {
          const sid = /^sid=([^;]+)/.exec(c)?.[1];
          if (sid) pins.set(sid, target.name);
        }
        res.writeHead(up.statusCode ?? 502, up.headers);
        up.pipe(res);
      },
    );
    upstream.once('error', () => {
      failed++;
      if (!res.headersSent) res.writeHead(502);
      res.end();
    });
    req.pipe(upstream);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  let stopping: Promise<void> | undefined;
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    get failed() {
      return failed;
    },
    stop() {
      stopping ??= new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
        agent.destroy();
      });
      return stopping;
    },
  };
}
