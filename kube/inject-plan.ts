import type { AgentProtocol } from '../contract/index.js';
import { ANNOTATIONS, drainBudgetSecondsOf, type InjectOptions, PROXY_PORT_NAME } from './config.js';
import { agentContainer } from './inject-agent.js';
import { planPreStop } from './inject-prestop.js';
import { type JsonObject, type K8sObject, objectRef, type ParsedDoc, servicesOf } from './manifests.js';
import { type ContainerSpec, podSpecOf } from './pod-spec.js';
import { decidePortProtocol, type ServicePortFacts } from './protocol.js';

// inject's plan for one workload, before any document is edited: which container port the agent
// fronts and how (protocol.ts), the preStop and grace period (inject-prestop.ts), the agent
// container (inject-agent.ts) and the Service ports that move to the agent.

export interface AppPort {
  readonly containerIndex: number;
  readonly port: number;
  readonly name?: string;
}

export interface ServiceEdit {
  readonly docIndex: number;
  readonly service: K8sObject;
  readonly ports: { index: number; port: number; targetPort: number | string }[];
}

export interface WorkloadPlan {
  readonly app: AppPort;
  readonly appContainer: string;
  /** Replace the app container's preStop (false: an exec or httpGet of the app's own is kept). */
  readonly setPreStop: boolean;
  /** The app container had a preStop that is being replaced. */
  readonly replacesPreStop: boolean;
  readonly grace: number;
  /** How the agent fronts the app port. */
  readonly protocol: AgentProtocol;
  /** Set terminationGracePeriodSeconds (absent, or too short). */
  readonly setGrace: boolean;
  readonly agent: JsonObject;
  readonly services: ServiceEdit[];
}

/** A workload's annotations: its pod template's, overridden by its own metadata's. */
export function annotationsOf(o: K8sObject): Record<string, string> {
  const template = (o['spec'] as { template?: { metadata?: { annotations?: Record<string, string> } } })
    ?.template;
  return { ...(template?.metadata?.annotations ?? {}), ...(o.metadata.annotations ?? {}) };
}

/**
 * What inject does to one workload: the app port the agent fronts and how, the preStop and grace
 * period, the agent container and the Service ports to move; undefined (with a warning or a note
 * in `out`) when the workload is not injected.
 */
export function planWorkload(
  workload: K8sObject,
  docs: readonly ParsedDoc[],
  options: InjectOptions,
  out: { warnings: string[]; notes: string[] },
): WorkloadPlan | undefined {
  const { warnings } = out;
  const ref = objectRef(workload);
  const pod = podSpecOf(workload);
  const containers = pod?.containers ?? [];
  if (!pod || containers.length === 0) {
    warnings.push(`${ref}: no containers in spec.template.spec; not injected`);
    return undefined;
  }
  const services = servicesOf(
    workload,
    docs.map((d) => d.object),
  );
  const app = appPortOf(workload, containers, services);
  if (!app) {
    warnings.push(
      `${ref}: no container port to front; set annotation ${ANNOTATIONS.appPort} to the app's port; not injected`,
    );
    return undefined;
  }
  const protocol = choosePortProtocol(workload, app, services, out);
  if (protocol === undefined) return undefined;
  const appContainer = containers[app.containerIndex]!;
  const drainBudget = drainBudgetSecondsOf(annotationsOf(workload), options.drainBudgetSeconds);
  const { prestop, keepsOwnPreStop, replacesPreStop, grace, setGrace } = planPreStop(
    ref,
    appContainer,
    pod.terminationGracePeriodSeconds,
    drainBudget,
    options,
    warnings,
  );

  const serviceEdits = serviceEditsFor(app, services, docs, options);
  if (serviceEdits.length === 0) {
    warnings.push(
      `${ref}: no Service in the input routes to port ${app.port}; set its Service's targetPort to ${options.proxyPort} ` +
        `(port name ${PROXY_PORT_NAME}) or traffic bypasses the agent`,
    );
  }

  return {
    app,
    appContainer: appContainer.name,
    setPreStop: !keepsOwnPreStop,
    replacesPreStop,
    grace,
    protocol,
    setGrace,
    agent: agentContainer(workload, app, { grace, prestop, drainBudget }, protocol, options),
    services: serviceEdits,
  };
}

/**
 * How the agent fronts the app port (protocol.ts), with inject's note when it is not plain HTTP/1.x;
 * undefined (and a note) when the annotation says skip.
 */
function choosePortProtocol(
  workload: K8sObject,
  app: AppPort,
  services: K8sObject[],
  out: { warnings: string[]; notes: string[] },
): AgentProtocol | undefined {
  const ref = objectRef(workload);
  const choice = decidePortProtocol({
    port: app.port,
    ...(app.name !== undefined ? { name: app.name } : {}),
    servicePorts: servicePortsTo(app, services),
    ...(annotationsOf(workload)[ANNOTATIONS.protocol] !== undefined
      ? { annotation: annotationsOf(workload)[ANNOTATIONS.protocol] }
      : {}),
  });
  if (choice.invalidAnnotation !== undefined) {
    out.warnings.push(
      `${ref}: annotation ${ANNOTATIONS.protocol}=${JSON.stringify(choice.invalidAnnotation)} is not http, tcp or skip; ignored`,
    );
  }
  if (choice.protocol === 'skip') {
    out.notes.push(`${ref}: port ${app.port} not fronted by the agent (${choice.reason}); not injected`);
    return undefined;
  }
  if (choice.http2) {
    out.notes.push(
      `${ref}: port ${app.port} relayed as HTTP/2 (gRPC, h2c) by the agent, each stream counted (${choice.reason}); ` +
        `set ${ANNOTATIONS.protocol}: tcp to tunnel it uncounted`,
    );
  }
  if (choice.protocol === 'tcp') {
    out.notes.push(
      `${ref}: port ${app.port} tunnelled as TCP, not parsed as HTTP (${choice.reason}); ` +
        `set ${ANNOTATIONS.protocol}: http to parse it`,
    );
  }
  return choice.protocol;
}

/** The Service ports that route to the app port, each moved to the agent's proxy port. */
function serviceEditsFor(
  app: AppPort,
  services: K8sObject[],
  docs: readonly ParsedDoc[],
  options: InjectOptions,
): ServiceEdit[] {
  const serviceEdits: ServiceEdit[] = [];
  for (const svc of services) {
    const docIndex = docs.findIndex((d) => d.object === svc);
    const ports = ((svc['spec'] as { ports?: { port: number; targetPort?: number | string }[] }).ports ?? [])
      .map((p, index) => ({ p, index }))
      .filter(({ p }) => targetsApp(p, app))
      .map(({ p, index }) => ({
        index,
        port: p.port,
        targetPort: typeof p.targetPort === 'string' ? PROXY_PORT_NAME : options.proxyPort,
      }));
    if (ports.length > 0) serviceEdits.push({ docIndex, service: svc, ports });
  }
  return serviceEdits;
}

function servicePortsTo(app: AppPort, services: K8sObject[]): ServicePortFacts[] {
  const out: ServicePortFacts[] = [];
  for (const svc of services) {
    const ports =
      (
        svc['spec'] as {
          ports?: { name?: string; port: number; targetPort?: number | string; appProtocol?: string }[];
        }
      ).ports ?? [];
    for (const p of ports) {
      if (!targetsApp(p, app)) continue;
      out.push({
        service: svc.metadata.name ?? '',
        ...(p.name !== undefined ? { name: p.name } : {}),
        ...(p.appProtocol !== undefined ? { appProtocol: p.appProtocol } : {}),
      });
    }
  }
  return out;
}

function targetsApp(p: { port: number; targetPort?: number | string }, app: AppPort): boolean {
  const target = p.targetPort ?? p.port;
  return typeof target === 'string' ? target === app.name : target === app.port;
}

/** The annotation, else the container port a Service targets, else the first declared port. */
function appPortOf(
  workload: K8sObject,
  containers: readonly ContainerSpec[],
  services: K8sObject[],
): AppPort | undefined {
  const byTarget = (target: number | string): AppPort | undefined => {
    for (const [containerIndex, c] of containers.entries()) {
      for (const p of c.ports ?? []) {
        if (typeof target === 'string' ? p.name === target : p.containerPort === target)
          return { containerIndex, port: p.containerPort, ...(p.name ? { name: p.name } : {}) };
      }
    }
    return undefined;
  };
  const annotated = annotationsOf(workload)[ANNOTATIONS.appPort];
  if (annotated !== undefined) {
    const target = /^\d+$/.test(annotated) ? Number(annotated) : annotated;
    return byTarget(target) ?? (typeof target === 'number' ? { containerIndex: 0, port: target } : undefined);
  }
  for (const svc of services) {
    for (const p of (svc['spec'] as { ports?: { port: number; targetPort?: number | string }[] }).ports ??
      []) {
      const found = byTarget(p.targetPort ?? p.port);
      if (found) return found;
    }
  }
  for (const [containerIndex, c] of containers.entries()) {
    const p = c.ports?.[0];
    if (p) return { containerIndex, port: p.containerPort, ...(p.name ? { name: p.name } : {}) };
  }
  return undefined;
}
