import { type Document, isMap, isSeq, stringify } from 'yaml';
import {
  AGENT_EXTRA_ENV,
  AGENT_SETTINGS,
  type AgentProtocol,
  formatPrestopPolicy,
  type PrestopPolicy,
} from '../contract/index.js';
import { formatDurationMs, formatHostPort } from '../lib/values.js';
import { checkAgentPorts } from './agent-ports.js';
import {
  ADMIN_PORT_NAME,
  AGENT_CONTAINER_NAME,
  AGENT_DRAIN_BUDGET_SECONDS,
  AGENT_POD_LABEL,
  AGENT_PRESTOP_MIN_SECONDS,
  ANNOTATIONS,
  drainBudgetSecondsOf,
  type InjectOptions,
  PROXY_PORT_NAME,
  resolveInjectOptions,
} from './config.js';
import { planPreStop } from './inject-prestop.js';
import type { ManifestSource } from './input.js';
import {
  isWorkload,
  type JsonObject,
  type K8sObject,
  objectRef,
  type ParsedDoc,
  type ParsedManifests,
  parseManifests,
  servicesOf,
  validateObject,
} from './manifests.js';
import { type ContainerSpec, podSpecOf } from './pod-spec.js';
import { decidePortProtocol, type ServicePortFacts } from './protocol.js';

// `drainwatch inject`: a pure YAML → YAML transformation. Untouched documents keep their text;
// edited ones keep comments and key order because the edits go through the yaml Document API.

export interface InjectRequest extends Partial<InjectOptions> {
  /** `full` (default): the input with the agent added; `patch`: kustomize strategic-merge patches only. */
  readonly mode?: 'full' | 'patch';
  /** Named in parse errors. */
  readonly sourceName?: string;
}

export interface InjectResult {
  readonly output: string;
  readonly warnings: string[];
  /** What inject decided that is not a problem: a port tunnelled as TCP, a workload skipped. */
  readonly notes: string[];
}

const POD_SPEC_PATH = ['spec', 'template', 'spec'] as const;

interface AppPort {
  readonly containerIndex: number;
  readonly port: number;
  readonly name?: string;
}

interface ServiceEdit {
  readonly docIndex: number;
  readonly service: K8sObject;
  readonly ports: { index: number; port: number; targetPort: number | string }[];
}

interface WorkloadPlan {
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

/**
 * Injects every workload of the input. Several sources are read together (a Service in one file is
 * edited for the Deployment in another) and written out in order, joined by `---`. Throws
 * ManifestParseError, ManifestInvalidError, KubeConfigError, AgentPortConflictError.
 */
export function injectManifests(
  input: string | readonly ManifestSource[],
  request: InjectRequest = {},
): InjectResult {
  const { mode = 'full', sourceName = '<stdin>', ...partial } = request;
  const options = resolveInjectOptions(partial);
  const sources = typeof input === 'string' ? [{ name: sourceName, text: input }] : input;
  const parsed = sources.map((s) => parseManifests(s.text, s.name));
  // All documents of all sources, in order; `changed` holds indexes into it.
  const docs = parsed.flatMap((p) => p.docs);
  const warnings: string[] = [];
  const notes: string[] = docs.flatMap((d) => (d.skipped ? [d.skipped] : []));
  const changed = new Set<ParsedDoc>();
  const patches: JsonObject[] = [];

  for (const entry of docs) {
    const workload = entry.object;
    if (!isWorkload(workload) || optedOut(workload) || alreadyInjected(workload)) continue;
    checkAgentPorts(workload, options);
    const plan = planWorkload(workload, docs, options, { warnings, notes });
    if (!plan) continue;
    applyPlan(entry.doc, plan, options);
    changed.add(entry);
    for (const edit of plan.services) {
      const doc = docs[edit.docIndex]!;
      for (const p of edit.ports) doc.doc.setIn(['spec', 'ports', p.index, 'targetPort'], p.targetPort);
      changed.add(doc);
    }
    patches.push(...patchesFor(workload, plan, options));
  }

  // Every object that leaves inject passes the Kubernetes schema, edited or not.
  for (const entry of docs) {
    if (entry.object) validateObject(entry.doc.toJS() as K8sObject);
  }

  if (mode === 'patch') {
    return { output: patches.map((p) => stringify(p, { lineWidth: 0 })).join('---\n'), warnings, notes };
  }
  const outputs = parsed.map((p, i) =>
    p.docs.some((d) => changed.has(d)) ? render(p, changed) : sources[i]!.text,
  );
  return { output: joinSources(outputs), warnings, notes };
}

/** Several files' YAML as one multi-document stream (linkerd inject's output for several inputs). */
function joinSources(texts: readonly string[]): string {
  if (texts.length === 1) return texts[0]!;
  return texts.map((t) => (t === '' || t.endsWith('\n') ? t : `${t}\n`)).join('---\n');
}

/**
 * The input with each changed document re-printed by the yaml Document API (comments and key order
 * kept) and every other document's text copied byte for byte.
 */
function render(parsed: ParsedManifests, changed: ReadonlySet<ParsedDoc>): string {
  const parts = parsed.docs.map((d) => {
    if (!changed.has(d)) return d.source;
    // The printed document repeats its leading comment and `---`; blank lines before them stay.
    const lead = /^\s*/.exec(d.source)![0];
    return lead + d.doc.toString({ lineWidth: 0, flowCollectionPadding: false });
  });
  return parts.join('') + parsed.tail;
}

function annotationsOf(o: K8sObject): Record<string, string> {
  const template = (o['spec'] as { template?: { metadata?: { annotations?: Record<string, string> } } })
    ?.template;
  return { ...(template?.metadata?.annotations ?? {}), ...(o.metadata.annotations ?? {}) };
}

function optedOut(o: K8sObject): boolean {
  return annotationsOf(o)[ANNOTATIONS.inject] === 'false';
}

function alreadyInjected(o: K8sObject): boolean {
  if (o.metadata.annotations?.[ANNOTATIONS.injected] !== undefined) return true;
  return (podSpecOf(o)?.initContainers ?? []).some((c) => c.name === AGENT_CONTAINER_NAME);
}

function planWorkload(
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
  const choice = decidePortProtocol({
    port: app.port,
    ...(app.name !== undefined ? { name: app.name } : {}),
    servicePorts: servicePortsTo(app, services),
    ...(annotationsOf(workload)[ANNOTATIONS.protocol] !== undefined
      ? { annotation: annotationsOf(workload)[ANNOTATIONS.protocol] }
      : {}),
  });
  if (choice.invalidAnnotation !== undefined) {
    warnings.push(
      `${ref}: annotation ${ANNOTATIONS.protocol}=${JSON.stringify(choice.invalidAnnotation)} is not http, tcp or skip; ignored`,
    );
  }
  if (choice.protocol === 'skip') {
    out.notes.push(`${ref}: port ${app.port} not fronted by the agent (${choice.reason}); not injected`);
    return undefined;
  }
  if (choice.protocol === 'tcp') {
    out.notes.push(
      `${ref}: port ${app.port} tunnelled as TCP, not parsed as HTTP (${choice.reason}); ` +
        `set ${ANNOTATIONS.protocol}: http to parse it`,
    );
  }
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
    protocol: choice.protocol,
    setGrace,
    agent: agentContainer(workload, app, { grace, prestop, drainBudget }, choice.protocol, options),
    services: serviceEdits,
  };
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

/** What inject planned for the agent's drain: grace and drain budget in seconds. */
interface AgentDrainPlan {
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

function agentContainer(
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

function preStopHook(o: InjectOptions): JsonObject {
  return { httpGet: { path: '/prestop', port: o.adminPort } };
}

function applyPlan(doc: Document, plan: WorkloadPlan, o: InjectOptions): void {
  doc.setIn(['metadata', 'annotations', ANNOTATIONS.injected], o.version);
  doc.setIn(['spec', 'template', 'metadata', 'labels', AGENT_POD_LABEL], 'true');
  const initPath = [...POD_SPEC_PATH, 'initContainers'];
  const init = doc.getIn(initPath);
  if (isSeq(init)) init.items.unshift(doc.createNode(plan.agent));
  else doc.setIn(initPath, doc.createNode([plan.agent]));
  if (plan.setPreStop) {
    const lifecyclePath = [...POD_SPEC_PATH, 'containers', plan.app.containerIndex, 'lifecycle'];
    if (!isMap(doc.getIn(lifecyclePath))) doc.setIn(lifecyclePath, doc.createNode({}));
    doc.setIn([...lifecyclePath, 'preStop'], doc.createNode(preStopHook(o)));
  }
  if (plan.setGrace) doc.setIn([...POD_SPEC_PATH, 'terminationGracePeriodSeconds'], plan.grace);
}

/** Kustomize strategic-merge patches that apply the same plan to the original objects. */
function patchesFor(workload: K8sObject, plan: WorkloadPlan, o: InjectOptions): JsonObject[] {
  const meta = (obj: K8sObject): JsonObject => ({
    name: obj.metadata.name ?? '',
    ...(obj.metadata.namespace ? { namespace: obj.metadata.namespace } : {}),
  });
  const podSpec: JsonObject = {};
  if (plan.setGrace) podSpec['terminationGracePeriodSeconds'] = plan.grace;
  podSpec['initContainers'] = [plan.agent];
  if (plan.setPreStop) {
    // `$patch: replace` so a replaced exec/sleep handler does not merge into a second handler.
    const preStop = plan.replacesPreStop ? { $patch: 'replace', ...preStopHook(o) } : preStopHook(o);
    podSpec['containers'] = [{ name: plan.appContainer, lifecycle: { preStop } }];
  }
  const workloadPatch: JsonObject = {
    apiVersion: workload.apiVersion,
    kind: workload.kind,
    metadata: { ...meta(workload), annotations: { [ANNOTATIONS.injected]: o.version } },
    spec: { template: { metadata: { labels: { [AGENT_POD_LABEL]: 'true' } }, spec: podSpec } },
  };
  const servicePatches = plan.services.map(
    (edit): JsonObject => ({
      apiVersion: 'v1',
      kind: 'Service',
      metadata: meta(edit.service),
      spec: { ports: edit.ports.map((p) => ({ port: p.port, targetPort: p.targetPort })) },
    }),
  );
  return [workloadPatch, ...servicePatches];
}
