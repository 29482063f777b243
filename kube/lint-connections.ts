import { parseDurationMs } from '../lib/values.js';
import { AGENT_CONTAINER_NAME, ANNOTATIONS, type LintOptions } from './config.js';
import { annotations, type Entry, type Path, type Report } from './lint-entry.js';
import { preStopTime } from './lint-prestop.js';
import { type K8sObject, servicesOf } from './manifests.js';
import { type ContainerSpec, podSpecOf } from './pod-spec.js';

// The rules on long-lived connections: a maximum connection age for WebSockets, SSE and gRPC,
// a gRPC Service port's appProtocol, and a preStop long enough for the GOAWAY round trip plus the
// longest gRPC stream. docs/grpc.md and docs/lint.md say how a workload declares each.

const LONG_LIVED_PORT = /^(ws|wss|websocket|websockets|sse|grpc|h2c)(-|$)/i;
const LONG_LIVED_PROTOCOL = /^(kubernetes\.io\/(ws|wss|h2c)|grpc|h2c)$/i;
/** A port name that says gRPC or cleartext HTTP/2: `grpc`, `grpc-api`, `h2c`, `h2c-internal`. */
const GRPC_PORT_NAME = /^(grpc|h2c)(-|$)/i;
/**
 * appProtocol values that tell an L7 proxy to speak HTTP/2 to the port: `kubernetes.io/h2c` (the
 * Kubernetes standard value, Gateway API), `grpc`/`grpc-web`/`http2`/`h2c` (Istio's and Linkerd's
 * protocol selection).
 */
const GRPC_APP_PROTOCOL = /^(kubernetes\.io\/h2c|grpc|grpc-web|http2|h2c)$/i;
/** A container env var that sets a maximum connection age (`MAX_CONNECTION_AGE`, `GRPC_MAX_CONN_AGE`). */
const MAX_AGE_ENV = /MAX_CONN(ECTION)?_AGE/i;
/** The same in a command line: `--max-connection-age=5m`, grpc-js's `grpc.max_connection_age_ms`. */
const MAX_AGE_ARG = /max[-_.]conn(ection)?[-_.]age/i;
/** Pod template annotations of service meshes whose proxy balances each call (not each connection). */
const MESH_ANNOTATIONS: readonly [string, string][] = [
  ['linkerd.io/inject', 'enabled'],
  ['sidecar.istio.io/inject', 'true'],
];

/**
 * The longest the agent's two-step GOAWAY takes from the first GOAWAY to the final one, in
 * seconds: its drain PING's timeout (agent/proxy/h2-relay.ts, PING_TIMEOUT_MS), past which the
 * final GOAWAY goes anyway. A client answers the PING within one round trip.
 */
export const GOAWAY_ROUND_TRIP_SECONDS = 2;

interface ServicePort {
  readonly name?: string;
  readonly port: number;
  readonly targetPort?: number | string;
  readonly appProtocol?: string;
}

const portsOf = (s: K8sObject): readonly ServicePort[] =>
  (s['spec'] as { ports?: ServicePort[] } | undefined)?.ports ?? [];

/** The container port a Service port routes to in the workload, if any. */
function containerPortName(p: ServicePort, w: K8sObject): string | undefined {
  const target = p.targetPort ?? p.port;
  for (const c of podSpecOf(w)?.containers ?? [])
    for (const cp of c.ports ?? [])
      if (typeof target === 'string' ? cp.name === target : cp.containerPort === target) return cp.name;
  return undefined;
}

/** Why a Service port looks like gRPC (its name, or the container port it targets), or undefined. */
function grpcLook(p: ServicePort, workloads: readonly K8sObject[]): string | undefined {
  if (GRPC_PORT_NAME.test(p.name ?? '')) return `is named ${p.name}`;
  for (const w of workloads) {
    const name = containerPortName(p, w);
    if (name !== undefined && GRPC_PORT_NAME.test(name)) return `targets container port ${name}`;
  }
  return undefined;
}

/**
 * `grpc-service-no-app-protocol`: a Service port that looks like gRPC (named `grpc`/`grpc-*`/`h2c`,
 * or targeting a container port named so) whose appProtocol does not say HTTP/2. `workloads`: those
 * the Service selects.
 */
export function lintServiceAppProtocol(e: Entry, workloads: readonly K8sObject[], report: Report): void {
  portsOf(e.object).forEach((p, i) => {
    const why = grpcLook(p, workloads);
    if (why === undefined || GRPC_APP_PROTOCOL.test(p.appProtocol ?? '')) return;
    const label = p.name ?? String(p.port);
    report(
      e,
      'grpc-service-no-app-protocol',
      ['spec', 'ports', i, 'appProtocol'],
      p.appProtocol === undefined
        ? `port ${label} ${why} but has no appProtocol: ingresses, Gateways and meshes speak HTTP/1.1 to it`
        : `port ${label} ${why} but its appProtocol ${p.appProtocol} is not HTTP/2: proxies speak it to a gRPC server`,
    );
  });
}

/** The workload serves gRPC: a container port named so, or a Service port named or declared so. */
export function servesGrpc(w: K8sObject, objects: readonly K8sObject[]): boolean {
  const containers = podSpecOf(w)?.containers ?? [];
  if (containers.some((c) => (c.ports ?? []).some((p) => GRPC_PORT_NAME.test(p.name ?? '')))) return true;
  return servicesOf(w, objects).some((s) =>
    portsOf(s).some((p) => GRPC_PORT_NAME.test(p.name ?? '') || GRPC_APP_PROTOCOL.test(p.appProtocol ?? '')),
  );
}

function servesLongLived(w: K8sObject, objects: readonly K8sObject[]): boolean {
  if (annotations(w)[ANNOTATIONS.longLived] === 'true') return true;
  const containers = podSpecOf(w)?.containers ?? [];
  if (containers.some((c) => (c.ports ?? []).some((p) => LONG_LIVED_PORT.test(p.name ?? '')))) return true;
  return servicesOf(w, objects).some((s) =>
    portsOf(s).some(
      (p) => LONG_LIVED_PROTOCOL.test(p.appProtocol ?? '') || LONG_LIVED_PORT.test(p.name ?? ''),
    ),
  );
}

/** Clients reach each pod per call (a mesh proxy, or the annotation), not per connection. */
function balancedPerCall(w: K8sObject): boolean {
  const a = annotations(w);
  const declared = a[ANNOTATIONS.grpcBalancing];
  if (declared !== undefined) return declared.trim() === 'per-call';
  return MESH_ANNOTATIONS.some(([k, v]) => a[k] === v);
}

/** A maximum connection age set in a container's env or command line. */
function maxAgeInContainers(containers: readonly ContainerSpec[]): boolean {
  return containers.some(
    (c) =>
      (c.env ?? []).some((v) => MAX_AGE_ENV.test(v.name)) ||
      [...(c.command ?? []), ...(c.args ?? [])].some((x) => MAX_AGE_ARG.test(x)),
  );
}

/** A duration annotation in seconds; `invalid` when it is set but not in the duration grammar. */
function durationAnnotation(w: K8sObject, key: string): number | 'invalid' | undefined {
  const text = annotations(w)[key];
  if (text === undefined) return undefined;
  try {
    return parseDurationMs(key, text, 's') / 1000;
  } catch {
    return 'invalid';
  }
}

/**
 * `long-lived-no-max-age` (WebSocket, SSE) and `grpc-no-max-connection-age` (a gRPC server whose
 * clients balance per connection): no maximum connection age declared.
 */
export function lintMaxConnectionAge(e: Entry, objects: readonly K8sObject[], report: Report): void {
  const w = e.object;
  const grpc = servesGrpc(w, objects);
  if (!grpc && !servesLongLived(w, objects)) return;
  if (grpc && balancedPerCall(w)) return;
  const path: Path = ['metadata', 'annotations', ANNOTATIONS.maxConnectionAge];
  const age = durationAnnotation(w, ANNOTATIONS.maxConnectionAge);
  if (age === 'invalid') {
    report(
      e,
      grpc ? 'grpc-no-max-connection-age' : 'long-lived-no-max-age',
      path,
      `${ANNOTATIONS.maxConnectionAge} is not a duration (\`10m\`, \`90s\`; a bare number is seconds)`,
    );
    return;
  }
  if (age !== undefined || maxAgeInContainers(podSpecOf(w)?.containers ?? [])) return;
  if (grpc)
    report(
      e,
      'grpc-no-max-connection-age',
      path,
      'serves gRPC to clients that balance per connection (kube-proxy, pick_first) with no maximum connection age: ' +
        'each client stays on one pod, and new pods get no calls until old ones die',
    );
  else
    report(
      e,
      'long-lived-no-max-age',
      path,
      'serves long-lived connections (WebSocket, SSE) with no maximum connection age',
    );
}

/**
 * `grpc-prestop-shorter-than-stream`: a workload that declares its longest gRPC stream
 * (`drainwatch.dev/grpc-max-stream`) and a serving container whose preStop is sure to end before
 * the GOAWAY round trip plus that stream: the app gets SIGTERM with streams still open.
 * `serving`: the containers that receive traffic, with their index.
 */
export function lintGrpcStreamPreStop(
  e: Entry,
  serving: readonly [ContainerSpec, number][],
  o: LintOptions,
  report: Report,
): void {
  const w = e.object;
  const stream = durationAnnotation(w, ANNOTATIONS.grpcMaxStream);
  if (stream === undefined) return;
  if (stream === 'invalid') {
    report(
      e,
      'grpc-prestop-shorter-than-stream',
      ['metadata', 'annotations', ANNOTATIONS.grpcMaxStream],
      `${ANNOTATIONS.grpcMaxStream} is not a duration (\`30s\`, \`2m\`; a bare number is seconds)`,
    );
    return;
  }
  const agent = (podSpecOf(w)?.initContainers ?? []).find((c) => c.name === AGENT_CONTAINER_NAME);
  const needed = GOAWAY_ROUND_TRIP_SECONDS + stream;
  for (const [c, i] of serving) {
    const preStop = c.lifecycle?.preStop;
    // No preStop is missing-prestop's, an unbounded one prestop-unknown-duration's.
    if (!preStop) continue;
    const floor = preStopTime(preStop, agent, o).floorSeconds;
    if (floor === undefined || floor >= needed) continue;
    report(
      e,
      'grpc-prestop-shorter-than-stream',
      ['spec', 'template', 'spec', 'containers', i, 'lifecycle', 'preStop'],
      `container ${c.name}'s preStop may end after ${floor} s, but the GOAWAY round trip (${GOAWAY_ROUND_TRIP_SECONDS} s) ` +
        `plus the longest stream (${stream} s) take ${needed} s: make it last at least ${Math.ceil(needed)} s`,
    );
  }
}
