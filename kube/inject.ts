import { type Document, isMap, isSeq, stringify } from 'yaml';
import { checkAgentPorts } from './agent-ports.js';
import {
  AGENT_CONTAINER_NAME,
  AGENT_POD_LABEL,
  ANNOTATIONS,
  type InjectOptions,
  resolveInjectOptions,
} from './config.js';
import { preStopHook } from './inject-agent.js';
import { annotationsOf, planWorkload, type WorkloadPlan } from './inject-plan.js';
import type { ManifestSource } from './input.js';
import {
  isWorkload,
  type JsonObject,
  type K8sObject,
  type ParsedDoc,
  type ParsedManifests,
  parseManifests,
  validateObject,
} from './manifests.js';
import { podSpecOf } from './pod-spec.js';

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

function optedOut(o: K8sObject): boolean {
  return annotationsOf(o)[ANNOTATIONS.inject] === 'false';
}

function alreadyInjected(o: K8sObject): boolean {
  if (o.metadata.annotations?.[ANNOTATIONS.injected] !== undefined) return true;
  return (podSpecOf(o)?.initContainers ?? []).some((c) => c.name === AGENT_CONTAINER_NAME);
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
