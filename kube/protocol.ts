import type { AgentProtocol } from '../contract/index.js';

// Which way the agent fronts a workload's port: its HTTP path (HTTP/1.x requests, WebSockets, and
// cleartext HTTP/2 — gRPC — relayed frame by frame with per-stream accounting and the GOAWAY
// drain), tunnelling TCP byte for byte (TLS, NATS, Redis, databases: protocols that are neither,
// and those where the server speaks first), or not at all. The agent also tunnels bytes it cannot
// read on an `http` port, but only a `tcp` port never waits for the client to speak first: a NATS
// client behind an `http` agent would wait forever for the server's INFO.

export type PortDecision = AgentProtocol | 'skip';

/** A Service port that routes to the fronted container port. */
export interface ServicePortFacts {
  readonly service: string;
  readonly name?: string;
  readonly appProtocol?: string;
}

export interface PortFacts {
  readonly port: number;
  /** The container port's name. */
  readonly name?: string;
  readonly servicePorts: readonly ServicePortFacts[];
  /** The workload's `drainwatch.dev/protocol` annotation. */
  readonly annotation?: string;
}

export interface ProtocolChoice {
  readonly protocol: PortDecision;
  /** The port speaks gRPC or cleartext HTTP/2 (it goes the `http` way, to the agent's HTTP/2 relay). */
  readonly http2?: true;
  /** Why, in words for inject's note: `Service nats port client: well-known NATS port 4222`. */
  readonly reason: string;
}

/** Well-known ports of protocols that are not HTTP/1.x (several speak first). */
const WELL_KNOWN_TCP: ReadonlyMap<number, string> = new Map([
  [4222, 'NATS'],
  [6222, 'NATS cluster'],
  [6379, 'Redis'],
  [26379, 'Redis Sentinel'],
  [5432, 'PostgreSQL'],
  [3306, 'MySQL'],
  [27017, 'MongoDB'],
  [9092, 'Kafka'],
  [11211, 'memcached'],
  [5672, 'AMQP'],
  [2379, 'etcd'],
  [9042, 'Cassandra'],
  [1883, 'MQTT'],
  [25, 'SMTP'],
]);
/** The gRPC port of grpc.io's examples and many servers' default: cleartext HTTP/2. */
const WELL_KNOWN_GRPC_PORT = 50051;

// Service appProtocol values (IANA names or kubernetes.io/ ones) and port-name prefixes.
const HTTP1_APP_PROTOCOLS = new Set(['http', 'kubernetes.io/ws', 'http/1.1', 'http1']);
// Cleartext HTTP/2: the agent's HTTP path relays it (the HTTP/2 preface is sniffed per connection).
const H2_APP_PROTOCOL = /^(grpc|grpc-web|h2c|http2|kubernetes\.io\/h2c)$/i;
const H2_NAME = /^(grpc|h2c|http2)/i;
const TCP_APP_PROTOCOL =
  /^(https|kubernetes\.io\/wss|tls|tcp|redis|nats|mongo|mysql|postgres(ql)?|kafka|amqp|mqtt)\b/i;
const TCP_NAME = /^(https|tls|tcp|redis|nats|mongo|mysql|postgres|kafka|amqp|mqtt)/i;
const HTTP_NAME = /^(http|web|ws)(-|$)/i;

export const PROTOCOL_ANNOTATION_VALUES = ['http', 'tcp', 'skip'] as const;

/**
 * The annotation if it is set (`http`, `tcp` or `skip`; anything else is reported as invalid and
 * ignored), else a Service port's `appProtocol`, else a Service or container port name
 * (`redis`, `grpc-*`, ...), else a well-known port number, else `http`. gRPC and h2c
 * (`appProtocol: grpc` or `kubernetes.io/h2c`, a port named `grpc*`/`h2c*`/`http2*`, port 50051)
 * are `http` with `http2` set: the agent relays HTTP/2 per stream.
 */
export function decidePortProtocol(facts: PortFacts): ProtocolChoice & { invalidAnnotation?: string } {
  const a = facts.annotation?.trim().toLowerCase();
  if (a === 'http' || a === 'tcp' || a === 'skip') return { protocol: a, reason: `annotation ${a}` };
  const invalid = facts.annotation !== undefined ? { invalidAnnotation: facts.annotation } : {};
  for (const sp of facts.servicePorts) {
    const where = `Service ${sp.service} port ${sp.name ?? '(unnamed)'}`;
    if (sp.appProtocol === undefined) continue;
    if (HTTP1_APP_PROTOCOLS.has(sp.appProtocol.toLowerCase())) {
      return { protocol: 'http', reason: `${where}: appProtocol ${sp.appProtocol}`, ...invalid };
    }
    if (H2_APP_PROTOCOL.test(sp.appProtocol)) {
      return { protocol: 'http', http2: true, reason: `${where}: appProtocol ${sp.appProtocol}`, ...invalid };
    }
    if (TCP_APP_PROTOCOL.test(sp.appProtocol)) {
      return { protocol: 'tcp', reason: `${where}: appProtocol ${sp.appProtocol}`, ...invalid };
    }
  }
  const names = [
    ...facts.servicePorts.map((sp) => ({ name: sp.name, where: `Service ${sp.service} port` })),
    { name: facts.name, where: 'container port' },
  ];
  for (const { name, where } of names) {
    if (name === undefined) continue;
    if (H2_NAME.test(name))
      return { protocol: 'http', http2: true, reason: `${where} named ${name}`, ...invalid };
    if (TCP_NAME.test(name)) return { protocol: 'tcp', reason: `${where} named ${name}`, ...invalid };
    if (HTTP_NAME.test(name)) return { protocol: 'http', reason: `${where} named ${name}`, ...invalid };
  }
  if (facts.port === WELL_KNOWN_GRPC_PORT)
    return { protocol: 'http', http2: true, reason: `well-known gRPC port ${facts.port}`, ...invalid };
  const known = WELL_KNOWN_TCP.get(facts.port);
  if (known !== undefined) {
    return { protocol: 'tcp', reason: `well-known ${known} port ${facts.port}`, ...invalid };
  }
  return { protocol: 'http', reason: 'default', ...invalid };
}
