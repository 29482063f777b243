import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { KubeConfig } from '@kubernetes/client-node';

// A fake Kubernetes API server: a real HTTP server on 127.0.0.1 that speaks the REST and watch
// protocol @kubernetes/client-node uses — lists carrying a resourceVersion, `?watch=true` streams of
// newline-delimited {type, object} events from a resourceVersion on (ADDED, MODIFIED, DELETED,
// BOOKMARK when allowWatchBookmarks is set), "410 Gone" for a compacted resourceVersion (as an
// ERROR event, the way kube-apiserver does it, or as an HTTP 410), and merge / strategic-merge
// PATCH of Deployments. It is not a mock of client-node: the client under test makes real HTTP
// requests and parses real streams. Tests can drop or end every open watch, and compact history.

export type Resource = 'pods' | 'endpointslices' | 'deployments';

// biome-ignore lint/suspicious/noExplicitAny: Kubernetes objects are free-form JSON here.
export type KObject = Record<string, any>;

interface WatchEvent {
  readonly rv: number;
  readonly resource: Resource;
  readonly namespace: string;
  readonly type: 'ADDED' | 'MODIFIED' | 'DELETED';
  readonly object: KObject;
}

interface OpenWatch {
  readonly resource: Resource;
  readonly namespace: string;
  readonly res: ServerResponse;
  readonly socket: Socket;
  sentRv: number;
  bookmarks: boolean;
}

export interface RequestRecord {
  readonly method: string;
  readonly path: string;
  readonly query: Record<string, string>;
  readonly contentType?: string;
}

export interface FakeApiServerOptions {
  /** How often open watches with allowWatchBookmarks get a BOOKMARK. */
  readonly bookmarkIntervalMs?: number;
  /** `event`: a 200 stream with one ERROR event (code 410), like kube-apiserver; `http`: status 410. */
  readonly goneAs?: 'event' | 'http';
}

export interface FakeApiServer {
  readonly url: string;
  /** A KubeConfig for client-node pointing at this server (plain http needs skipTLSVerify). */
  kubeConfig(namespace?: string): KubeConfig;
  get(resource: Resource, namespace: string, name: string): KObject | undefined;
  list(resource: Resource, namespace: string): KObject[];
  /** Creates or replaces an object; assigns uid, resourceVersion and creationTimestamp. */
  put(resource: Resource, object: KObject): KObject;
  /** Applies `change` to a copy of the stored object and stores it (a MODIFIED event). */
  update(resource: Resource, namespace: string, name: string, change: (o: KObject) => void): KObject;
  remove(resource: Resource, namespace: string, name: string): void;
  /** Called after a Deployment PATCH changed its pod template (the fake Deployment controller). */
  onTemplateChange(listener: (deployment: KObject) => void): void;
  /** Destroys the sockets of every open watch (the client sees an aborted stream). */
  dropWatches(): number;
  /** Ends every open watch cleanly (the client sees the stream close, as at a watch timeout). */
  endWatches(): number;
  /** Forgets history: every resourceVersion before the current one now answers 410 Gone. */
  compact(): void;
  openWatches(resource?: Resource): number;
  readonly requests: readonly RequestRecord[];
  readonly resourceVersion: number;
  stop(): Promise<void>;
}

const LIST_KIND: Record<Resource, { kind: string; apiVersion: string }> = {
  pods: { kind: 'Pod', apiVersion: 'v1' },
  endpointslices: { kind: 'EndpointSlice', apiVersion: 'discovery.k8s.io/v1' },
  deployments: { kind: 'Deployment', apiVersion: 'apps/v1' },
};

const ROUTES: readonly [RegExp, Resource][] = [
  [/^\/api\/v1\/namespaces\/([^/]+)\/pods(?:\/([^/]+))?$/, 'pods'],
  [/^\/apis\/discovery\.k8s\.io\/v1\/namespaces\/([^/]+)\/endpointslices(?:\/([^/]+))?$/, 'endpointslices'],
  [/^\/apis\/apps\/v1\/namespaces\/([^/]+)\/deployments(?:\/([^/]+))?$/, 'deployments'],
];

const clone = <T>(o: T): T => structuredClone(o);

export async function startFakeApiServer(options: FakeApiServerOptions = {}): Promise<FakeApiServer> {
  const bookmarkIntervalMs = options.bookmarkIntervalMs ?? 250;
  const goneAs = options.goneAs ?? 'event';
  const store = new Map<string, KObject>();
  const history: WatchEvent[] = [];
  const watches = new Set<OpenWatch>();
  const requests: RequestRecord[] = [];
  const templateListeners: ((d: KObject) => void)[] = [];
  let rv = 100;
  let compactedBefore = 0;
  let uid = 0;

  const key = (r: Resource, ns: string, name: string) => `${r}/${ns}/${name}`;

  function emit(resource: Resource, type: WatchEvent['type'], object: KObject): void {
    const event: WatchEvent = {
      rv,
      resource,
      namespace: object.metadata.namespace,
      type,
      object: clone(object),
    };
    history.push(event);
    for (const w of watches) {
      if (w.resource === resource && w.namespace === event.namespace) send(w, event);
    }
  }

  function send(w: OpenWatch, e: WatchEvent): void {
    if (e.rv <= w.sentRv) return;
    w.res.write(`${JSON.stringify({ type: e.type, object: e.object })}\n`);
    w.sentRv = e.rv;
  }

  function put(resource: Resource, object: KObject): KObject {
    const o = clone(object);
    const { kind, apiVersion } = LIST_KIND[resource];
    o.kind ??= kind;
    o.apiVersion ??= apiVersion;
    o.metadata ??= {};
    o.metadata.namespace ??= 'default';
    const k = key(resource, o.metadata.namespace, o.metadata.name);
    const existing = store.get(k);
    o.metadata.uid = existing?.metadata.uid ?? o.metadata.uid ?? `uid-${++uid}`;
    o.metadata.creationTimestamp = existing?.metadata.creationTimestamp ?? new Date().toISOString();
    o.metadata.resourceVersion = String(++rv);
    store.set(k, o);
    emit(resource, existing ? 'MODIFIED' : 'ADDED', o);
    return clone(o);
  }

  function update(
    resource: Resource,
    namespace: string,
    name: string,
    change: (o: KObject) => void,
  ): KObject {
    const existing = store.get(key(resource, namespace, name));
    if (!existing) throw new Error(`fake apiserver: no ${resource} ${namespace}/${name}`);
    const o = clone(existing);
    change(o);
    return put(resource, o);
  }

  function remove(resource: Resource, namespace: string, name: string): void {
    const k = key(resource, namespace, name);
    const existing = store.get(k);
    if (!existing) return;
    store.delete(k);
    const o = clone(existing);
    o.metadata.resourceVersion = String(++rv);
    emit(resource, 'DELETED', o);
  }

  function list(resource: Resource, namespace: string): KObject[] {
    return [...store.entries()]
      .filter(([k]) => k.startsWith(`${resource}/${namespace}/`))
      .map(([, o]) => clone(o));
  }

  const server: Server = createServer((req, res) => {
    handle(req, res).catch((err: Error) => {
      if (!res.headersSent) status(res, 500, 'InternalError', err.message);
    });
  });

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://fake');
    const query = Object.fromEntries(url.searchParams);
    requests.push({
      method: req.method ?? 'GET',
      path: url.pathname,
      query,
      ...(req.headers['content-type'] ? { contentType: req.headers['content-type'] } : {}),
    });
    const route = ROUTES.map(([re, r]) => [re.exec(url.pathname), r] as const).find(([m]) => m);
    if (!route) return status(res, 404, 'NotFound', `no route for ${url.pathname}`);
    const [m, resource] = route as [RegExpExecArray, Resource];
    const namespace = decodeURIComponent(m[1]!);
    const name = m[2] ? decodeURIComponent(m[2]) : undefined;

    if (req.method === 'GET' && name) {
      const o = store.get(key(resource, namespace, name));
      return o ? json(res, 200, o) : status(res, 404, 'NotFound', `${resource} "${name}" not found`);
    }
    if (req.method === 'GET' && query['watch'] === 'true') return watch(req, res, resource, namespace, query);
    if (req.method === 'GET') {
      const { kind, apiVersion } = LIST_KIND[resource];
      return json(res, 200, {
        kind: `${kind}List`,
        apiVersion,
        metadata: { resourceVersion: String(rv) },
        items: list(resource, namespace),
      });
    }
    if (req.method === 'PATCH' && resource === 'deployments' && name) {
      const body = JSON.parse(await readBody(req)) as KObject;
      const type = (req.headers['content-type'] ?? '').split(';')[0];
      const existing = store.get(key(resource, namespace, name));
      if (!existing) return status(res, 404, 'NotFound', `deployments.apps "${name}" not found`);
      let patched: KObject;
      if (type === 'application/merge-patch+json') patched = mergePatch(clone(existing), body);
      else if (type === 'application/strategic-merge-patch+json')
        patched = strategicMerge(clone(existing), body);
      else
        return status(
          res,
          415,
          'UnsupportedMediaType',
          `the fake supports merge and strategic-merge patches, not ${type}`,
        );
      const templateChanged =
        JSON.stringify(patched.spec?.template) !== JSON.stringify(existing.spec?.template);
      if (JSON.stringify(patched.spec) !== JSON.stringify(existing.spec)) {
        patched.metadata.generation = (existing.metadata.generation ?? 1) + 1;
      }
      const stored = put('deployments', patched);
      json(res, 200, stored);
      if (templateChanged) for (const l of templateListeners) l(clone(stored));
      return;
    }
    return status(res, 405, 'MethodNotAllowed', `${req.method} is not supported by the fake`);
  }

  function watch(
    req: IncomingMessage,
    res: ServerResponse,
    resource: Resource,
    namespace: string,
    query: Record<string, string>,
  ): void {
    const from = query['resourceVersion'] ? Number(query['resourceVersion']) : undefined;
    if (from !== undefined && from !== 0 && from < compactedBefore) {
      if (goneAs === 'http') {
        status(res, 410, 'Expired', `too old resource version: ${from} (${rv})`);
        return;
      }
      res.writeHead(200, { 'content-type': 'application/json' });
      const gone = status410(from);
      res.end(`${JSON.stringify({ type: 'ERROR', object: gone })}\n`);
      return;
    }
    res.writeHead(200, { 'content-type': 'application/json', 'transfer-encoding': 'chunked' });
    res.flushHeaders();
    const w: OpenWatch = {
      resource,
      namespace,
      res,
      socket: req.socket,
      sentRv: from ?? 0,
      bookmarks: query['allowWatchBookmarks'] === 'true',
    };
    if (!from) {
      // No resourceVersion: the current state as synthetic ADDED events, then changes.
      for (const o of list(resource, namespace)) {
        res.write(`${JSON.stringify({ type: 'ADDED', object: o })}\n`);
      }
      w.sentRv = rv;
    } else {
      for (const e of history) if (e.resource === resource && e.namespace === namespace) send(w, e);
    }
    watches.add(w);
    const forget = () => watches.delete(w);
    res.on('close', forget);
    req.socket.on('close', forget);
  }

  function status410(from: number): KObject {
    return {
      kind: 'Status',
      apiVersion: 'v1',
      metadata: {},
      status: 'Failure',
      message: `too old resource version: ${from} (${rv})`,
      reason: 'Expired',
      code: 410,
    };
  }

  const bookmarkTimer = setInterval(() => {
    for (const w of watches) {
      if (!w.bookmarks) continue;
      const { kind, apiVersion } = LIST_KIND[w.resource];
      // Every event up to rv has been sent to this watcher, so rv is a safe point to resume from.
      w.res.write(
        `${JSON.stringify({ type: 'BOOKMARK', object: { kind, apiVersion, metadata: { resourceVersion: String(rv) } } })}\n`,
      );
      w.sentRv = rv;
    }
  }, bookmarkIntervalMs);
  bookmarkTimer.unref();

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  const url = `http://127.0.0.1:${port}`;
  let stopping: Promise<void> | undefined;

  return {
    url,
    kubeConfig(namespace = 'default') {
      const kc = new KubeConfig();
      kc.loadFromOptions({
        clusters: [{ name: 'fake', server: url, skipTLSVerify: true }],
        users: [{ name: 'fake', token: 'fake-token' }],
        contexts: [{ name: 'fake', cluster: 'fake', user: 'fake', namespace }],
        currentContext: 'fake',
      });
      return kc;
    },
    get: (resource, namespace, name) => {
      const o = store.get(key(resource, namespace, name));
      return o ? clone(o) : undefined;
    },
    list,
    put,
    update,
    remove,
    onTemplateChange: (l) => {
      templateListeners.push(l);
    },
    dropWatches() {
      const n = watches.size;
      for (const w of [...watches]) w.socket.destroy();
      watches.clear();
      return n;
    },
    endWatches() {
      const n = watches.size;
      for (const w of [...watches]) w.res.end();
      watches.clear();
      return n;
    },
    compact() {
      compactedBefore = rv;
      history.length = 0;
    },
    openWatches: (resource) => [...watches].filter((w) => !resource || w.resource === resource).length,
    requests,
    get resourceVersion() {
      return rv;
    },
    stop() {
      stopping ??= new Promise<void>((resolve) => {
        clearInterval(bookmarkTimer);
        for (const w of watches) w.socket.destroy();
        watches.clear();
        server.close(() => resolve());
        server.closeAllConnections();
      });
      return stopping;
    },
  };
}

function json(res: ServerResponse, code: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(code, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

function status(res: ServerResponse, code: number, reason: string, message: string): void {
  json(res, code, {
    kind: 'Status',
    apiVersion: 'v1',
    metadata: {},
    status: 'Failure',
    message,
    reason,
    code,
  });
}

async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of req) chunks.push(c as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

/** RFC 7386 JSON merge patch. */
export function mergePatch(target: KObject, patch: KObject): KObject {
  for (const [k, v] of Object.entries(patch)) {
    if (v === null) delete target[k];
    else if (
      typeof v === 'object' &&
      !Array.isArray(v) &&
      typeof target[k] === 'object' &&
      target[k] !== null &&
      !Array.isArray(target[k])
    )
      target[k] = mergePatch(target[k], v);
    else target[k] = clone(v);
  }
  return target;
}

/**
 * Strategic merge patch for the fields the Deployment's pod template has: maps merge, `null`
 * deletes, lists of objects with a `name` merge by name (containers, env, ports), other lists are
 * replaced, and `$patch: replace` replaces a map.
 */
export function strategicMerge(target: KObject, patch: KObject): KObject {
  if (patch['$patch'] === 'replace') {
    const { $patch: _, ...rest } = patch;
    return clone(rest);
  }
  for (const [k, v] of Object.entries(patch)) {
    if (k.startsWith('$')) continue;
    const cur = target[k];
    if (v === null) delete target[k];
    else if (
      Array.isArray(v) &&
      Array.isArray(cur) &&
      v.every((x) => x && typeof x === 'object' && 'name' in x)
    ) {
      const merged = [...cur];
      for (const item of v) {
        const i = merged.findIndex((x) => x?.name === item.name);
        if (i >= 0) merged[i] = strategicMerge(clone(merged[i]), item);
        else merged.push(clone(item));
      }
      target[k] = merged;
    } else if (
      typeof v === 'object' &&
      !Array.isArray(v) &&
      cur &&
      typeof cur === 'object' &&
      !Array.isArray(cur)
    )
      target[k] = strategicMerge(cur, v);
    else target[k] = clone(v);
  }
  return target;
}
