import { DaemonSet, Deployment, StatefulSet } from 'kubernetes-models/apps/v1';
import {
  ConfigMap,
  Namespace,
  PersistentVolumeClaim,
  Secret,
  Service,
  ServiceAccount,
} from 'kubernetes-models/v1';
import { Ingress, NetworkPolicy } from 'kubernetes-models/networking.k8s.io/v1';
import { PodDisruptionBudget } from 'kubernetes-models/policy/v1';
import {
  ClusterRole,
  ClusterRoleBinding,
  Role,
  RoleBinding,
} from 'kubernetes-models/rbac.authorization.k8s.io/v1';
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
  /** The document's own text, exactly as it was in the input. */
  readonly source: string;
  /** null for an empty document (a comment-only one, or a trailing `---`). */
  readonly object: K8sObject | null;
}

export interface ParsedManifests {
  readonly docs: readonly ParsedDoc[];
  readonly lineCounter: LineCounter;
  readonly sourceName: string;
}

export const WORKLOAD_KINDS = ['Deployment', 'StatefulSet', 'DaemonSet'] as const;
export type WorkloadKind = (typeof WORKLOAD_KINDS)[number];

export function parseManifests(text: string, sourceName: string): ParsedManifests {
  const lineCounter = new LineCounter();
  const documents = parseAllDocuments(text, { lineCounter, prettyErrors: false });
  if (!Array.isArray(documents)) return { docs: [], lineCounter, sourceName };
  const docs: ParsedDoc[] = [];
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
    const source = text.slice(start, end);
    if (value === null || value === undefined) {
      docs.push({ doc, source, object: null });
      continue;
    }
    const line = lineCounter.linePos(doc.contents?.range?.[0] ?? start).line;
    if (typeof value !== 'object' || Array.isArray(value))
      throw new ManifestParseError(sourceName, line, 'expected a Kubernetes object (a mapping)');
    const o = value as Record<string, unknown>;
    if (typeof o['apiVersion'] !== 'string' || typeof o['kind'] !== 'string')
      throw new ManifestParseError(sourceName, line, 'a Kubernetes object needs apiVersion and kind');
    if (typeof o['metadata'] !== 'object' || o['metadata'] === null)
      throw new ManifestParseError(sourceName, line, `${o['kind']} has no metadata`);
    docs.push({ doc, source, object: o as unknown as K8sObject });
  }
  return { docs, lineCounter, sourceName };
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
