import type { Document, LineCounter } from 'yaml';
import { isNode } from 'yaml';
import { ANNOTATIONS } from './config.js';
import type { LintRuleId, Severity } from './lint-rules.js';
import type { K8sObject } from './manifests.js';
import { podSpecOf } from './pod-spec.js';

// What lint's rules share: an object as read from its file (for lines), how a rule reports, and the
// workload facts several rules read.

export type Path = readonly (string | number)[];

/** One Kubernetes object with the document and file it came from. */
export interface Entry {
  readonly object: K8sObject;
  readonly doc: Document;
  readonly lineCounter: LineCounter;
  readonly source: string;
}

export type Report = (e: Entry, ruleId: LintRuleId, path: Path, message: string, severity?: Severity) => void;

/** A workload's annotations: its pod template's, overridden by its own metadata's. */
export function annotations(o: K8sObject): Record<string, string> {
  const template = (o['spec'] as { template?: { metadata?: { annotations?: Record<string, string> } } })
    ?.template;
  return { ...(template?.metadata?.annotations ?? {}), ...(o.metadata.annotations ?? {}) };
}

/** Whether the workload keeps user sessions outside its pods (annotation, else a session-store env). */
export function sessionsExternal(o: K8sObject): boolean {
  const declared = annotations(o)[ANNOTATIONS.sessions];
  if (declared !== undefined) return declared === 'external';
  const spec = podSpecOf(o);
  return [...(spec?.containers ?? []), ...(spec?.initContainers ?? [])].some((c) =>
    (c.env ?? []).some(
      (v) =>
        /^(SPRING_SESSION_STORE_TYPE|SESSION_STORE|SESSION_BACKEND)$/i.test(v.name) ||
        /^(SPRING_(DATA_)?REDIS_HOST|REDIS_URL|SESSION_REDIS_URL)$/i.test(v.name) ||
        /^rediss?:\/\//.test(v.value ?? ''),
    ),
  );
}

export function pathString(path: Path): string {
  let out = '';
  for (const p of path) {
    if (typeof p === 'number') out += `[${p}]`;
    else if (/^[A-Za-z_][A-Za-z0-9_]*$/.test(p)) out += out ? `.${p}` : p;
    else out += `[${JSON.stringify(p)}]`;
  }
  return out;
}

/** Line of the field, or of the deepest part of its path present in the file. */
export function lineOf(e: Entry, path: Path): number {
  for (let n = path.length; n >= 0; n--) {
    const node = n === 0 ? e.doc.contents : e.doc.getIn(path.slice(0, n), true);
    if (isNode(node) && node.range) {
      return e.lineCounter.linePos(node.range[0]).line;
    }
  }
  return 1;
}
