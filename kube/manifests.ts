// Per-model subpaths: the package's index modules load every model of the group (hundreds of ms).
import { DaemonSet } from 'kubernetes-models/apps/v1/DaemonSet';
import { Deployment } from 'kubernetes-models/apps/v1/Deployment';
import { StatefulSet } from 'kubernetes-models/apps/v1/StatefulSet';
import { Job } from 'kubernetes-models/batch/v1/Job';
import { Ingress } from 'kubernetes-models/networking.k8s.io/v1/Ingress';
import { NetworkPolicy } from 'kubernetes-models/networking.k8s.io/v1/NetworkPolicy';
import { PodDisruptionBudget } from 'kubernetes-models/policy/v1/PodDisruptionBudget';
import { ClusterRole } from 'kubernetes-models/rbac.authorization.k8s.io/v1/ClusterRole';
import { ClusterRoleBinding } from 'kubernetes-models/rbac.authorization.k8s.io/v1/ClusterRoleBinding';
import { Role } from 'kubernetes-models/rbac.authorization.k8s.io/v1/Role';
import { RoleBinding } from 'kubernetes-models/rbac.authorization.k8s.io/v1/RoleBinding';
import { ConfigMap } from 'kubernetes-models/v1/ConfigMap';
import { Namespace } from 'kubernetes-models/v1/Namespace';
import { PersistentVolumeClaim } from 'kubernetes-models/v1/PersistentVolumeClaim';
import { Secret } from 'kubernetes-models/v1/Secret';
import { Service } from 'kubernetes-models/v1/Service';
import { ServiceAccount } from 'kubernetes-models/v1/ServiceAccount';
import { type Document, LineCounter, parseAllDocuments } from 'yaml';
import { ManifestInvalidError, ManifestParseError } from './errors.js';

// Reading manifests (multi-document YAML) into the yaml package's Documents, so inject can edit
// them in place (comments and key order kept) and lint can point at the line of a field.

export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
export type JsonObject = { [key: string]: Json };

export interface K8sObject {
  readonly apiVersion: string;
  readonly kind: string;
  readonly metadata: {
    name?: string;
    namespace?: string;
    labels?: Record<string, string>;
    annotations?: Record<string, string>;
  };
  readonly [key: string]: unknown;
}

export interface ParsedDoc {
  readonly doc: Document;
  /**
   * The document's own text, exactly as it was in the input: from the end of the previous document
   * (so a leading comment or `---` is included) to its end. The segments of all documents, in
   * order, followed by `ParsedManifests.tail`, are the input byte for byte.
   */
  readonly source: string;
  /**
   * The Kubernetes object, or null for a document that is not one: empty (a comment-only one, a
   * trailing `---`), or skipped (see `skipped`).
   */
  readonly object: K8sObject | null;
  /** Why a non-empty document is not read as a Kubernetes object (`file:line: …`), for a note. */
  readonly skipped?: string;
}

export interface ParsedManifests {
  readonly docs: readonly ParsedDoc[];
  /** Text after the last document (whitespace, comments). */
  readonly tail: string;
  readonly lineCounter: LineCounter;
  readonly sourceName: string;
}

export const WORKLOAD_KINDS = ['Deployment', 'StatefulSet', 'DaemonSet'] as const;
export type WorkloadKind = (typeof WORKLOAD_KINDS)[number];

/** Kinds of tool configuration that sit beside manifests but never reach the API server. */
const TOOL_CONFIG_KINDS: Readonly<Record<string, string>> = {
  Kustomization: 'a kustomize configuration; pipe `kustomize build` into drainwatch to read what it builds',
  Component: 'a kustomize component',
};

/** Why a parsed value is not a Kubernetes object, or undefined when it is one. */
function notAnObject(value: unknown): string | undefined {
  if (typeof value !== 'object' || value === null || Array.isArray(value))
    return 'not a Kubernetes object (a mapping with apiVersion and kind)';
  const o = value as Record<string, unknown>;
  if (typeof o['apiVersion'] !== 'string' || typeof o['kind'] !== 'string') {
    if (Array.isArray(o['groups']))
      return 'not a Kubernetes object (Prometheus rule groups, no apiVersion or kind)';
    return 'not a Kubernetes object (no apiVersion or kind)';
  }
  const tool = TOOL_CONFIG_KINDS[o['kind']];
  if (tool && o['apiVersion'].startsWith('kustomize.config.k8s.io/')) return `${o['kind']}: ${tool}`;
  return undefined;
}

/**
 * Parses multi-document YAML. Documents that are not Kubernetes objects (a kustomization, a
 * Prometheus rules file, any mapping without apiVersion and kind) come back with `object: null`
 * and a `skipped` reason instead of failing the run. Throws ManifestParseError (`file:line:`) for
 * invalid YAML and for an object without metadata.
 */
export function parseManifests(text: string, sourceName: string): ParsedManifests {
  const lineCounter = new LineCounter();
  const documents = parseAllDocuments(text, { lineCounter, prettyErrors: false });
  if (!Array.isArray(documents)) return { docs: [], tail: text, lineCounter, sourceName };
  const docs: ParsedDoc[] = [];
  let previousEnd = 0;
  for (const doc of documents) {
    const err = doc.errors[0];
    if (err)
      throw new ManifestParseError(
        sourceName,
        lineCounter.linePos(err.pos[0]).line,
        err.message.split('\n')[0]!,
      );
    const value: unknown = doc.toJS();
    const [start, , end] = doc.range;
    const source = text.slice(previousEnd, end);
    previousEnd = end;
    if (value === null || value === undefined) {
      docs.push({ doc, source, object: null });
      continue;
    }
    const line = lineCounter.linePos(doc.contents?.range?.[0] ?? start).line;
    const why = notAnObject(value);
    if (why) {
      docs.push({ doc, source, object: null, skipped: `${sourceName}:${line}: skipped: ${why}` });
      continue;
    }
    const o = value as Record<string, unknown>;
    if (typeof o['metadata'] !== 'object' || o['metadata'] === null)
      throw new ManifestParseError(sourceName, line, `${o['kind']} has no metadata`);
    docs.push({ doc, source, object: o as unknown as K8sObject });
  }
  return { docs, tail: text.slice(previousEnd), lineCounter, sourceName };
}

/** `Kind/namespace/name` as findings and warnings name an object (namespace `default` when unset). */
export function objectRef(o: K8sObject): string {
  return `${o.kind}/${o.metadata.namespace ?? 'default'}/${o.metadata.name ?? '?'}`;
}

export function isWorkload(o: K8sObject | null): o is K8sObject & { kind: WorkloadKind } {
  return !!o && o.apiVersion === 'apps/v1' && (WORKLOAD_KINDS as readonly string[]).includes(o.kind);
}

export function sameNamespace(a: K8sObject, b: K8sObject): boolean {
  return (a.metadata.namespace ?? '') === (b.metadata.namespace ?? '');
}

/** Pod template labels of a workload. */
export function templateLabels(o: K8sObject): Record<string, string> {
  const spec = o['spec'] as { template?: { metadata?: { labels?: Record<string, string> } } } | undefined;
  return spec?.template?.metadata?.labels ?? {};
}

/** Services (of the same namespace) whose selector picks the workload's pods. */
export function servicesOf(workload: K8sObject, objects: readonly (K8sObject | null)[]): K8sObject[] {
  const labels = templateLabels(workload);
  return objects.filter((o): o is K8sObject => {
    if (o?.kind !== 'Service' || o.apiVersion !== 'v1' || !sameNamespace(o, workload)) return false;
    const selector = (o['spec'] as { selector?: Record<string, string> } | undefined)?.selector;
    if (!selector || Object.keys(selector).length === 0) return false;
    return Object.entries(selector).every(([k, v]) => labels[k] === v);
  });
}

interface Validatable {
  validate(): void;
}
type ModelClass = new (data: never) => Validatable;

// The kinds drainwatch reads or writes; others (CRDs such as ServiceMonitor) have no schema here.
const MODELS: Readonly<Record<string, ModelClass>> = {
  'apps/v1/Deployment': Deployment as unknown as ModelClass,
  'apps/v1/StatefulSet': StatefulSet as unknown as ModelClass,
  'apps/v1/DaemonSet': DaemonSet as unknown as ModelClass,
  'batch/v1/Job': Job as unknown as ModelClass,
  'v1/Service': Service as unknown as ModelClass,
  'v1/ConfigMap': ConfigMap as unknown as ModelClass,
  'v1/Secret': Secret as unknown as ModelClass,
  'v1/ServiceAccount': ServiceAccount as unknown as ModelClass,
  'v1/Namespace': Namespace as unknown as ModelClass,
  'v1/PersistentVolumeClaim': PersistentVolumeClaim as unknown as ModelClass,
  'networking.k8s.io/v1/Ingress': Ingress as unknown as ModelClass,
  'networking.k8s.io/v1/NetworkPolicy': NetworkPolicy as unknown as ModelClass,
  'policy/v1/PodDisruptionBudget': PodDisruptionBudget as unknown as ModelClass,
  'rbac.authorization.k8s.io/v1/Role': Role as unknown as ModelClass,
  'rbac.authorization.k8s.io/v1/RoleBinding': RoleBinding as unknown as ModelClass,
  'rbac.authorization.k8s.io/v1/ClusterRole': ClusterRole as unknown as ModelClass,
  'rbac.authorization.k8s.io/v1/ClusterRoleBinding': ClusterRoleBinding as unknown as ModelClass,
};

/**
 * Validates an object against the Kubernetes OpenAPI schema (kubernetes-models). Returns false for
 * a kind it has no schema for; throws ManifestInvalidError naming the object when the schema
 * rejects it.
 */
export function validateObject(o: K8sObject): boolean {
  const Model = MODELS[`${o.apiVersion}/${o.kind}`];
  if (!Model) return false;
  try {
    new Model(o as never).validate();
  } catch (err) {
    throw new ManifestInvalidError(objectRef(o), (err as Error).message);
  }
  return true;
}
