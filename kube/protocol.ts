import type { AgentProtocol } from '../contract/index.js';

// Which way the agent fronts a workload's port: parsing HTTP/1.x (requests, WebSockets, drain),
// tunnelling TCP byte for byte (HTTP/2, gRPC, NATS, Redis, databases: any protocol that is not
// HTTP/1.x, and those where the server speaks first), or not at all. The agent also tunnels
// non-HTTP/1.x bytes it meets on an `http` port, but only a `tcp` port never waits for the client
// to speak first: a NATS client behind an `http` agent would wait forever for the server's INFO.

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
  [50051, 'gRPC'],
]);

// Service appProtocol values (IANA names or kubernetes.io/ ones) and port-name prefixes.
const HTTP1_APP_PROTOCOLS = new Set(['http', 'kubernetes.io/ws', 'http/1.1', 'http1']);
const TCP_APP_PROTOCOL =
  /^(grpc|h2c|http2|kubernetes\.io\/h2c|https|kubernetes\.io\/wss|tls|tcp|redis|nats|mongo|mysql|postgres(ql)?|kafka|amqp|mqtt)\b/i;
const TCP_NAME = /^(grpc|h2c|http2|https|tls|tcp|redis|nats|mongo|mysql|postgres|kafka|amqp|mqtt)/i;
const HTTP_NAME = /^(http|web|ws)(-|$)/i;

export const PROTOCOL_ANNOTATION_VALUES = ['http', 'tcp', 'skip'] as const;

/**
 * The annotation if it is set (`http`, `tcp` or `skip`; anything else is reported as invalid and
 * ignored), else a Service port's `appProtocol`, else a Service or container port name
 * (`grpc-*`, `h2c-*`, `redis`, ...), else a well-known port number, else `http`.
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
    if (TCP_NAME.test(name)) return { protocol: 'tcp', reason: `${where} named ${name}`, ...invalid };
    if (HTTP_NAME.test(name)) return { protocol: 'http', reason: `${where} named ${name}`, ...invalid };
  }
  const known = WELL_KNOWN_TCP.get(facts.port);
  if (known !== undefined) {
    return { protocol: 'tcp', reason: `well-known ${known} port ${facts.port}`, ...invalid };
  }
  return { protocol: 'http', reason: 'default', ...invalid };
}
