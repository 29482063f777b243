import {
  AGENT_EXTRA_ENV,
  AGENT_SETTINGS,
  type AgentProtocol,
  formatPrestopPolicy,
  type PrestopPolicy,
} from '../contract/index.js';
import { formatDurationMs, formatHostPort } from '../lib/values.js';
import {
  ADMIN_PORT_NAME,
  AGENT_CONTAINER_NAME,
  AGENT_DRAIN_BUDGET_SECONDS,
  AGENT_PRESTOP_MIN_SECONDS,
  type InjectOptions,
  PROXY_PORT_NAME,
} from './config.js';
import type { AppPort } from './inject-plan.js';
import type { JsonObject, K8sObject } from './manifests.js';

// The agent container inject adds, and the preStop hook that points at it: ports, probes, security
// context and the environment that carries inject's plan to the agent (agent/config.ts reads it).

/** What inject planned for the agent's drain: grace and drain budget in seconds. */
export interface AgentDrainPlan {
  readonly grace: number;
  readonly prestop: PrestopPolicy;
  readonly drainBudget: number;
}

/**
 * The drain settings inject planned that the agent would not derive by itself (agent/config.ts:
 * drain budget default from the settings table; adaptive maximum = max(min, grace − budget)), as
 * env entries; none when the agent's defaults already give the plan.
 */
export function plannedDrainEnv(plan: AgentDrainPlan, o: InjectOptions): JsonObject[] {
  const S = AGENT_SETTINGS;
  const env: JsonObject[] = [];
  if (plan.drainBudget !== AGENT_DRAIN_BUDGET_SECONDS)
    env.push({ name: S.drainBudget.env, value: formatDurationMs(plan.drainBudget * 1000) });
  if (plan.prestop.mode === 'adaptive') {
    const agentMax = Math.max(AGENT_PRESTOP_MIN_SECONDS, plan.grace - plan.drainBudget);
    if (agentMax !== o.preStopMaxSeconds)
      env.push({ name: S.prestopMax.env, value: formatDurationMs(o.preStopMaxSeconds * 1000) });
  }
  return env;
}

/** The agent as a native sidecar (an init container with restartPolicy Always) fronting `app`. */
export function agentContainer(
  workload: K8sObject,
  app: AppPort,
  plan: AgentDrainPlan,
  protocol: AgentProtocol,
  o: InjectOptions,
): JsonObject {
  const { grace, prestop } = plan;
  const S = AGENT_SETTINGS;
  const fieldEnv = (name: string, fieldPath: string): JsonObject => ({
    name,
    valueFrom: { fieldRef: { fieldPath } },
  });
  const probe = (path: string, extra: JsonObject): JsonObject => ({
    httpGet: { path, port: ADMIN_PORT_NAME },
    ...extra,
  });
  return {
    name: AGENT_CONTAINER_NAME,
    image: o.agentImage,
    // A native sidecar: started before the app, stopped only after the app has exited.
    restartPolicy: 'Always',
    args: ['agent'],
    ports: [
      { name: PROXY_PORT_NAME, containerPort: o.proxyPort, protocol: 'TCP' },
      { name: ADMIN_PORT_NAME, containerPort: o.adminPort, protocol: 'TCP' },
    ],
    env: [
      { name: S.listen.env, value: formatHostPort({ host: '0.0.0.0', port: o.proxyPort }) },
      { name: S.upstream.env, value: formatHostPort({ host: '127.0.0.1', port: app.port }) },
      { name: S.admin.env, value: formatHostPort({ host: '0.0.0.0', port: o.adminPort }) },
      { name: S.natsUrl.env, value: o.natsUrl },
      fieldEnv(S.podName.env, 'metadata.name'),
      fieldEnv(S.namespace.env, 'metadata.namespace'),
      fieldEnv(AGENT_EXTRA_ENV.podIp, 'status.podIP'),
      fieldEnv(AGENT_EXTRA_ENV.nodeName, 'spec.nodeName'),
      { name: S.workload.env, value: workload.metadata.name ?? '' },
      { name: S.grace.env, value: String(grace) },
      { name: S.prestop.env, value: formatPrestopPolicy(prestop) },
      ...plannedDrainEnv(plan, o),
      // Only a tcp port says so: the agent's default is http.
      ...(protocol === 'tcp' ? [{ name: S.protocol.env, value: protocol }] : []),
    ],
    resources: { requests: { ...o.resources.requests }, limits: { ...o.resources.limits } },
    startupProbe: probe('/healthz', { periodSeconds: 1, failureThreshold: 30 }),
    readinessProbe: probe('/readyz', { periodSeconds: 2 }),
    livenessProbe: probe('/healthz', { periodSeconds: 10 }),
    securityContext: {
      runAsNonRoot: true,
      allowPrivilegeEscalation: false,
      readOnlyRootFilesystem: true,
      capabilities: { drop: ['ALL'] },
    },
  };
}

/** The app container's preStop: the agent's /prestop on its admin port. */
export function preStopHook(o: InjectOptions): JsonObject {
  return { httpGet: { path: '/prestop', port: o.adminPort } };
}
