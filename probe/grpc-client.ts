import { performance } from 'node:perf_hooks';
import {
  type Client,
  type ClientReadableStream,
  type ClientUnaryCall,
  connectivityState,
  credentials,
  loadPackageDefinition,
  Metadata,
  type ServiceError,
  status,
} from '@grpc/grpc-js';
import { loadSync } from '@grpc/proto-loader';
import type { ProbeError } from '../contract/index.js';
import { GrpcProtoError } from './errors.js';
import type { GrpcScenario } from './scenario.js';

// One gRPC channel (one HTTP/2 connection) per session, as an application's client stub holds:
// the connection, not the call, picks the pod, so a rollout shows who stays on an old pod.

/** The outcome of one unary call; `code` is the gRPC status (0 OK … 16 UNAUTHENTICATED). */
export interface GrpcUnaryResult {
  readonly code: number;
  readonly reply?: unknown;
  readonly connection: 'new' | 'reused';
  readonly durationMs: number;
  readonly detail?: string;
}

export interface GrpcSessionClient {
  unary(
    request: unknown,
    metadata: Readonly<Record<string, string>>,
    probeId: string,
  ): Promise<GrpcUnaryResult>;
  /** Opens the scenario's server stream. */
  stream(
    request: unknown,
    metadata: Readonly<Record<string, string>>,
    probeId: string,
  ): ClientReadableStream<unknown>;
  /** `/package.Service/Method` of a method, as the agent reports it. */
  route(method: string): string;
  close(): void;
}

type ClientCtor = new (
  address: string,
  creds: ReturnType<typeof credentials.createInsecure>,
  options?: object,
) => Client;

/**
 * Loads the scenario's service; throws GrpcProtoError when the file cannot be read or does not
 * define the service and its methods.
 */
export function loadGrpcService(grpc: GrpcScenario): ClientCtor {
  let pkg: ReturnType<typeof loadPackageDefinition>;
  try {
    pkg = loadPackageDefinition(loadSync(grpc.proto, { keepCase: false, longs: Number, defaults: true }));
  } catch (err) {
    throw new GrpcProtoError(`cannot load ${grpc.proto}: ${(err as Error).message.split('\n')[0]}`);
  }
  const ctor = grpc.service.split('.').reduce<unknown>((o, k) => (o as Record<string, unknown>)?.[k], pkg) as
    | (ClientCtor & { service?: Record<string, unknown> })
    | undefined;
  if (typeof ctor !== 'function' || !ctor.service)
    throw new GrpcProtoError(`${grpc.proto} defines no service ${grpc.service}`);
  for (const m of [grpc.unary.method, grpc.stream?.method])
    if (m !== undefined && !(m in ctor.service))
      throw new GrpcProtoError(`${grpc.service} has no method ${m}`);
  return ctor;
}

/** A transport-level gRPC status as the probe's error kinds (docs/grpc.md, "probe"). */
export function grpcProbeError(code: number): ProbeError | undefined {
  switch (code) {
    case status.OK:
      return undefined;
    case status.UNAVAILABLE:
    case status.CANCELLED:
      return 'reset';
    case status.DEADLINE_EXCEEDED:
      return 'timeout';
    case status.UNAUTHENTICATED:
    case status.PERMISSION_DENIED:
      return 'unauthorized';
    case status.UNKNOWN:
    case status.INTERNAL:
    case status.UNIMPLEMENTED:
    case status.DATA_LOSS:
      return '5xx';
    default:
      return 'other';
  }
}

function toMetadata(values: Readonly<Record<string, string>>, probeId: string): Metadata {
  const md = new Metadata();
  for (const [k, v] of Object.entries(values)) md.set(k, v);
  md.set('x-drainwatch-probe', probeId);
  return md;
}

/** `target` is the probe's http:// URL; the channel speaks h2c to its host:port. */
export function createGrpcSessionClient(
  ctor: ClientCtor,
  grpc: GrpcScenario,
  target: URL,
  timeoutMs: number,
): GrpcSessionClient {
  const url = target;
  // No retry policy (no service config): the probe counts what a call met, not what a library hid.
  // grpc-js's transparent retry stays on, as in every client by default (gRFC A6): it repeats only
  // a call that never left the client, or that the server's HTTP/2 layer refused before any app
  // saw it (REFUSED_STREAM, above a GOAWAY's last stream id). Off, a call racing a graceful
  // GOAWAY failed UNAVAILABLE where no real client would have.
  const client = new ctor(`${url.hostname}:${url.port || 80}`, credentials.createInsecure());
  const call = client as unknown as Record<string, (...args: unknown[]) => unknown>;
  const unaryName = grpc.unary.method;
  return {
    unary(request, metadata, probeId) {
      const connection =
        client.getChannel().getConnectivityState(false) === connectivityState.READY ? 'reused' : 'new';
      const started = performance.now();
      return new Promise((resolve) => {
        const deadline = new Date(Date.now() + timeoutMs);
        const cb = (err: ServiceError | null, reply?: unknown): void => {
          const durationMs = performance.now() - started;
          if (err) resolve({ code: err.code, connection, durationMs, detail: err.details });
          else resolve({ code: status.OK, reply, connection, durationMs });
        };
        (call[unaryName] as (...a: unknown[]) => ClientUnaryCall).call(
          client,
          request,
          toMetadata(metadata, probeId),
          { deadline },
          cb,
        );
      });
    },
    stream(request, metadata, probeId) {
      const name = grpc.stream!.method;
      return (call[name] as (...a: unknown[]) => ClientReadableStream<unknown>).call(
        client,
        request,
        toMetadata(metadata, probeId),
      );
    },
    route: (method) => `/${grpc.service}/${method}`,
    close: () => client.close(),
  };
}
