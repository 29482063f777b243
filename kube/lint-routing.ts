import { type Entry, type Report, sessionsExternal } from './lint-entry.js';
import { isWorkload, type K8sObject, objectRef, servicesOf, templateLabels } from './manifests.js';

// The rules on how traffic reaches a workload: Service affinity and not-ready addresses, and
// ingress-nginx cookie affinity left behind once sessions are external.

const NGINX_PREFIX = 'nginx.ingress.kubernetes.io/';
const NGINX_AFFINITY = `${NGINX_PREFIX}affinity`;
const NGINX_COOKIE_PREFIX = `${NGINX_PREFIX}session-cookie-`;

function workloadsBehind(service: K8sObject, entries: readonly Entry[]): K8sObject[] {
  return entries
    .map((x) => x.object)
    .filter((w) => isWorkload(w) && servicesOf(w, [service]).length > 0)
    .filter((w) => Object.keys(templateLabels(w)).length > 0);
}

export function lintService(e: Entry, entries: readonly Entry[], report: Report): void {
  const spec = e.object['spec'] as
    | { sessionAffinity?: string; publishNotReadyAddresses?: boolean }
    | undefined;
  const workloads = workloadsBehind(e.object, entries);
  if (spec?.sessionAffinity === 'ClientIP') {
    const external = workloads.some(sessionsExternal);
    report(
      e,
      'service-client-ip-affinity',
      ['spec', 'sessionAffinity'],
      external
        ? 'sessions are already external, so ClientIP affinity only skews load and moves crowds of clients at each rollout'
        : 'ClientIP affinity hides sessions kept in pod memory; they are lost when the pod is replaced',
    );
  }
  if (spec?.publishNotReadyAddresses === true && workloads.length > 0) {
    report(
      e,
      'publish-not-ready-addresses',
      ['spec', 'publishNotReadyAddresses'],
      `routes to terminating pods of ${workloads.map(objectRef).join(', ')}`,
    );
  }
}

export function lintIngress(e: Entry, entries: readonly Entry[], report: Report): void {
  const a = e.object.metadata.annotations ?? {};
  if (a[NGINX_AFFINITY] !== 'cookie') return;
  const spec = e.object['spec'] as {
    defaultBackend?: { service?: { name?: string } };
    rules?: { http?: { paths?: { backend?: { service?: { name?: string } } }[] } }[];
  };
  const names = new Set<string>();
  if (spec?.defaultBackend?.service?.name) names.add(spec.defaultBackend.service.name);
  for (const r of spec?.rules ?? [])
    for (const p of r.http?.paths ?? []) if (p.backend?.service?.name) names.add(p.backend.service.name);
  const services = entries
    .map((x) => x.object)
    .filter(
      (s) =>
        s.kind === 'Service' &&
        names.has(s.metadata.name ?? '') &&
        (s.metadata.namespace ?? '') === (e.object.metadata.namespace ?? ''),
    );
  const external = services.flatMap((s) => workloadsBehind(s, entries)).filter(sessionsExternal);
  if (external.length === 0) return;
  const cookieAnnotations = Object.keys(a).filter((k) => k.startsWith(NGINX_COOKIE_PREFIX));
  report(
    e,
    'leftover-affinity-cookie',
    ['metadata', 'annotations', NGINX_AFFINITY],
    `cookie affinity${cookieAnnotations.length ? ` (${cookieAnnotations.map((k) => k.slice(NGINX_PREFIX.length)).join(', ')})` : ''} ` +
      `is left on ${external.map(objectRef).join(', ')}, whose sessions are external`,
  );
}
