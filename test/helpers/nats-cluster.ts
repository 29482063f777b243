import { connect, type NatsConnection } from '@nats-io/transport-node';
import { freePort, type RunningServer, startNatsServer } from '../../lib/servers.js';
import { pollUntil } from '../../lib/wait.js';

// A real nats-server cluster with JetStream on loopback for the HA tests: routes between the
// nodes, one cluster name, a server name each. Every port is a free loopback one.

export interface TestNatsCluster {
  readonly nodes: readonly RunningServer[];
  /** Every node's client URL, comma-separated: what `--nats-url` / NATS_URL is given. */
  readonly urls: string;
  /** Each node's monitoring endpoint (`http://127.0.0.1:<port>`), in the order of `nodes`. */
  readonly monitorUrls: readonly string[];
  /**
   * The indexes (into `nodes`) of the running nodes holding a client connection named `name`, read
   * from each node's `/connz`; a node that does not answer is left out.
   */
  connectedTo(name: string): Promise<number[]>;
  stop(): Promise<void>;
}

/**
 * Starts `size` nats-servers with JetStream, routed to each other as cluster `drainwatch`, each
 * with its monitoring port open, and resolves once JetStream answers through every node (its meta
 * leader is elected). A node paused and resumed comes back on the same client, route and
 * monitoring ports.
 */
export async function startNatsCluster(size = 3): Promise<TestNatsCluster> {
  const routePorts = await Promise.all(Array.from({ length: size }, () => freePort()));
  const monitorPorts = await Promise.all(Array.from({ length: size }, () => freePort()));
  const routes = routePorts.map((p) => `nats-route://127.0.0.1:${p}`).join(',');
  const nodes: RunningServer[] = [];
  try {
    const started = await Promise.all(
      routePorts.map((routePort, i) =>
        startNatsServer({
          extraArgs: () => [
            ...['--server_name', `n${i + 1}`, '--cluster_name', 'drainwatch'],
            ...['--cluster', `nats://127.0.0.1:${routePort}`, '--routes', routes],
            ...['--http_port', String(monitorPorts[i])],
          ],
        }),
      ),
    );
    nodes.push(...started);
    await Promise.all(nodes.map((n) => jetStreamAnswers(n.url)));
  } catch (err) {
    await Promise.all(nodes.map((n) => n.stop()));
    throw err;
  }
  let stopping: Promise<void> | undefined;
  const monitorUrls = monitorPorts.map((p) => `http://127.0.0.1:${p}`);
  return {
    nodes,
    urls: nodes.map((n) => n.url).join(','),
    monitorUrls,
    async connectedTo(name) {
      const holds = await Promise.all(monitorUrls.map((url) => holdsConnection(url, name)));
      return holds.flatMap((held, i) => (held ? [i] : []));
    },
    stop() {
      stopping ??= Promise.all(nodes.map((n) => n.stop())).then(() => undefined);
      return stopping;
    },
  };
}

async function holdsConnection(monitorUrl: string, name: string): Promise<boolean> {
  try {
    const res = await fetch(`${monitorUrl}/connz?limit=10000`, { signal: AbortSignal.timeout(1000) });
    const body = (await res.json()) as { connections?: { name?: string }[] };
    return (body.connections ?? []).some((c) => c.name === name);
  } catch {
    return false;
  }
}

async function jetStreamAnswers(url: string): Promise<void> {
  const { jetstreamManager } = await import('@nats-io/jetstream');
  let nc: NatsConnection | undefined;
  try {
    nc = await connect({ servers: url, name: 'drainwatch-test-cluster-check' });
    const conn = nc;
    await pollUntil(
      async () => {
        try {
          const jsm = await jetstreamManager(conn, { timeout: 2000 });
          await jsm.getAccountInfo();
          return true;
        } catch {
          return false;
        }
      },
      { timeoutMs: 60_000, intervalMs: 250, what: `JetStream through ${url}` },
    );
  } finally {
    await nc?.close();
  }
}
