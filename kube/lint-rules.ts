// The lint rules: what each catches, why it loses users during a rollout, and the fix. The ids
// are stable (SARIF consumers and suppressions key on them).

export type Severity = 'error' | 'warning';

export interface LintRule {
  readonly id: string;
  readonly severity: Severity;
  readonly title: string;
  readonly why: string;
  readonly fix: string;
}

export const LINT_RULES = [
  {
    id: 'missing-prestop',
    severity: 'error',
    title: 'Serving container has no preStop hook',
    why: 'Without a preStop the app gets SIGTERM the moment the pod is deleted, while Services and ingresses still route to it for the seconds endpoint removal takes to propagate: those requests are refused.',
    fix: 'Point the preStop at the drainwatch agent (`drainwatch inject`), or add a preStop that waits longer than endpoint propagation.',
  },
  {
    id: 'missing-readiness-probe',
    severity: 'error',
    title: 'Serving container has no readiness probe',
    why: 'A pod without a readiness probe is routed to as soon as it starts, before the app listens, and a rollout counts it available before it can serve.',
    fix: 'Add a readinessProbe that answers only when the app can serve requests.',
  },
  {
    id: 'grace-shorter-than-drain',
    severity: 'error',
    title: 'terminationGracePeriodSeconds is shorter than preStop plus drain',
    why: 'The grace period covers the preStop hook and the drain after SIGTERM; when it runs out the kubelet SIGKILLs the app with requests in flight and WebSockets open.',
    fix: 'Set terminationGracePeriodSeconds to at least the preStop delay plus the drain time the app needs.',
  },
  {
    id: 'max-unavailable-drops-all',
    severity: 'error',
    title: 'maxUnavailable lets a rollout take every replica down',
    why: 'When maxUnavailable reaches the replica count, the controller may stop every old pod before a new one is ready: the service has no capacity for the length of a start-up.',
    fix: 'Set maxUnavailable to 0 (with maxSurge ≥ 1) or below the replica count.',
  },
  {
    id: 'service-client-ip-affinity',
    severity: 'error',
    title: 'Service pins clients to a pod (sessionAffinity: ClientIP)',
    why: 'ClientIP affinity keeps each client on one pod: state kept in that pod dies with it at the next rollout, and clients behind one NAT pile onto a single pod.',
    fix: 'Keep sessions in a shared store (Redis, a database) and remove sessionAffinity (or set it to None).',
  },
  {
    id: 'leftover-affinity-cookie',
    severity: 'error',
    title: 'Ingress cookie affinity left on a workload whose sessions are external',
    why: 'Once sessions live in Redis the affinity cookie no longer protects anything; it only keeps heavy users stuck to one pod, skews load and moves a whole crowd at once when that pod is replaced.',
    fix: 'Remove the nginx.ingress.kubernetes.io/affinity and session-cookie-* annotations from the Ingress.',
  },
  {
    id: 'long-lived-no-max-age',
    severity: 'warning',
    title: 'Long-lived connections with no maximum age',
    why: 'WebSockets, SSE and other long-lived connections (gRPC servers have their own rule) that never end keep their clients on old pods until termination cuts them, all at once, and keep load uneven after new pods arrive.',
    fix: 'Close long-lived connections after a maximum age (with a close frame or GOAWAY) and record it in the drainwatch.dev/max-connection-age annotation.',
  },
  {
    id: 'publish-not-ready-addresses',
    severity: 'error',
    title: 'Service publishes not-ready addresses of a draining workload',
    why: 'publishNotReadyAddresses keeps terminating and not-yet-ready pods in the Service endpoints, so traffic reaches pods that are shutting down or not listening.',
    fix: 'Remove publishNotReadyAddresses, or move peer discovery to a separate headless Service.',
  },
  {
    id: 'prestop-unknown-duration',
    severity: 'warning',
    title: 'preStop runs for a time that cannot be bounded',
    why: 'A preStop that loops (`while`, `until`), runs a script file or sleeps for a variable time may outlast terminationGracePeriodSeconds; the kubelet then SIGKILLs the app before it has drained, and lint cannot check the grace period against it.',
    fix: 'Bound the preStop (a fixed `sleep`, a counted loop, a timeout) or point it at the drainwatch agent, and set terminationGracePeriodSeconds above its longest run plus the drain time.',
  },
  {
    id: 'shell-pid-1',
    severity: 'warning',
    title: 'A shell or npm is PID 1, so SIGTERM does not reach the app',
    why: 'With `sh -c "node app.js"` (no `exec`) or `npm start`/`yarn start` as the container command, the kubelet signals the shell or npm, which do not pass SIGTERM on to the app: the app never drains and is SIGKILLed when the grace period ends.',
    fix: 'Run the app directly (`command: [node, app.js]`), start it with `exec` (`sh -c "exec node app.js"`), or put an init such as tini or dumb-init in front that forwards signals.',
  },
  {
    id: 'grpc-service-no-app-protocol',
    severity: 'warning',
    title: 'A gRPC Service port without an HTTP/2 appProtocol',
    why: 'Ingress controllers, Gateways and meshes pick the protocol they speak to a backend from its Service appProtocol; without one they speak HTTP/1.1 to a gRPC server (calls fail) or tunnel it per connection (no per-call balancing, no GOAWAY handling).',
    fix: "Set the Service port's appProtocol to kubernetes.io/h2c (the Kubernetes standard value) or grpc.",
  },
  {
    id: 'grpc-no-max-connection-age',
    severity: 'warning',
    title: 'gRPC server without a maximum connection age, clients balancing per connection',
    why: 'A gRPC client keeps one HTTP/2 connection (kube-proxy balances connections, pick_first keeps one): every call of that client goes to one pod until the connection dies, so new pods get no traffic after a rollout and every stream on an old pod is cut together at its exit.',
    fix: "Set the server's maximum connection age (grpc-go MaxConnectionAge, grpc-js grpc.max_connection_age_ms, the example's MAX_CONNECTION_AGE) and record it in drainwatch.dev/max-connection-age, or declare drainwatch.dev/grpc-balancing: per-call when a mesh balances each call.",
  },
  {
    id: 'grpc-prestop-shorter-than-stream',
    severity: 'warning',
    title: 'preStop shorter than the GOAWAY round trip plus the longest gRPC stream',
    why: 'At the preStop the agent sends GOAWAY; clients move new calls elsewhere after a round trip, but the streams already open run to their end. A preStop that ends sooner sends SIGTERM to an app that still has streams open, and one that exits on SIGTERM cuts them (clients see UNAVAILABLE).',
    fix: 'Make the preStop last at least the GOAWAY round trip (2 s) plus the drainwatch.dev/grpc-max-stream duration (agent policy fixed:N, or sleep N), and the grace period that plus the drain.',
  },
] as const satisfies readonly LintRule[];

export type LintRuleId = (typeof LINT_RULES)[number]['id'];

export function ruleById(id: LintRuleId): LintRule {
  return LINT_RULES.find((r) => r.id === id)!;
}

export const LINT_RULE_IDS: readonly LintRuleId[] = LINT_RULES.map((r) => r.id);

export function isLintRuleId(id: string): id is LintRuleId {
  return (LINT_RULE_IDS as readonly string[]).includes(id);
}

/** The docs page that lists the rules; each rule's anchor there is its id (docs/lint.md). */
export const LINT_DOCS_PAGE = 'lint';
