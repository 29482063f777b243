import { AGENT_SETTINGS } from '../contract/index.js';
import { tryParseHostPort } from '../lib/values.js';
import {
  AGENT_CONTAINER_NAME,
  ANNOTATIONS,
  DEFAULT_LINT_OPTIONS,
  drainBudgetSecondsOf,
  type LintOptions,
} from './config.js';
import type { ManifestSource } from './input.js';
import { ALL_RULES } from './lint-config.js';
import { lintGrpcStreamPreStop, lintMaxConnectionAge, lintServiceAppProtocol } from './lint-connections.js';
import { annotations, type Entry, lineOf, type Path, pathString, type Report } from './lint-entry.js';
import { preStopTime } from './lint-prestop.js';
import { lintIngress, lintService } from './lint-routing.js';
import { isLintRuleId, LINT_RULE_IDS, type LintRuleId, ruleById, type Severity } from './lint-rules.js';
import { isWorkload, type K8sObject, objectRef, parseManifests, servicesOf } from './manifests.js';
import { pid1Problem } from './pid1.js';
import { type ContainerSpec, podSpecOf } from './pod-spec.js';

// `drainwatch lint`: manifests in, findings out. Every finding names the object, the field (a path
// into the object) and the fix; objects in all input files are read together, so an Ingress in one
// file is checked against the Deployment in another.

export { sessionsExternal } from './lint-entry.js';

export interface Finding {
  readonly ruleId: LintRuleId;
  readonly severity: Severity;
  /** `Kind/namespace/name`. */
  readonly object: string;
  /** JSON path into the object, e.g. `spec.template.spec.containers[0].lifecycle.preStop`. */
  readonly field: string;
  readonly message: string;
  readonly fix: string;
  /** The file, and the line of the field (or of its nearest ancestor present in the file). */
  readonly source: string;
  readonly line: number;
}

export interface LintResult {
  readonly findings: Finding[];
  /**
   * What lint did not check, one line each: documents that are not Kubernetes objects (skipped),
   * unknown rule ids in a `drainwatch.dev/lint-ignore` annotation.
   */
  readonly notes: string[];
}

export interface LintRequest extends Partial<LintOptions> {
  /** The rules that run (default: every rule); see lint-config.ts. */
  readonly rules?: ReadonlySet<LintRuleId>;
}

/** Findings only (see lintSources). */
export function lintManifests(
  input: string | readonly ManifestSource[],
  options: LintRequest = {},
): Finding[] {
  return lintSources(input, options).findings;
}

/**
 * Lints every source together. Throws ManifestParseError for invalid YAML; documents that are not
 * Kubernetes objects are skipped with a note.
 */
export function lintSources(
  input: string | readonly ManifestSource[],
  options: LintRequest = {},
): LintResult {
  const { rules, ...rest } = options;
  const o: LintOptions = { ...DEFAULT_LINT_OPTIONS, ...rest };
  const sources = typeof input === 'string' ? [{ name: o.source, text: input }] : input;
  const entries: Entry[] = [];
  const notes: string[] = [];
  for (const s of sources) {
    const parsed = parseManifests(s.text, s.name);
    for (const d of parsed.docs) {
      if (d.skipped) notes.push(d.skipped);
      if (d.object)
        entries.push({ object: d.object, doc: d.doc, lineCounter: parsed.lineCounter, source: s.name });
    }
  }
  const objects = entries.map((e) => e.object);
  const findings: Finding[] = [];
  const ignored = new Map(entries.map((e) => [e, ignoredRules(e, notes)]));
  const report = (e: Entry, ruleId: LintRuleId, path: Path, message: string, severity?: Severity) => {
    if ((rules && !rules.has(ruleId)) || ignored.get(e)!.has(ruleId)) return;
    const rule = ruleById(ruleId);
    findings.push({
      ruleId,
      severity: severity ?? rule.severity,
      object: objectRef(e.object),
      field: pathString(path),
      message,
      fix: rule.fix,
      source: e.source,
      line: lineOf(e, path),
    });
  };

  for (const e of entries) {
    if (isWorkload(e.object)) lintWorkload(e, objects, o, report);
    else if (e.object.kind === 'Service') {
      lintService(e, entries, report);
      lintServiceAppProtocol(
        e,
        objects.filter((w) => isWorkload(w) && servicesOf(w, [e.object]).length > 0),
        report,
      );
    } else if (e.object.kind === 'Ingress') lintIngress(e, entries, report);
  }
  return { findings, notes };
}

/**
 * The rules an object's `drainwatch.dev/lint-ignore` annotation (or its alias `drainwatch.io/lint-ignore`,
 * the name issue 17 used, with a note) switches off: on its metadata, and
 * for a workload on its pod template's metadata too. Unknown ids are noted and ignored.
 */
/** Accepted for `drainwatch.dev/lint-ignore`: the spelling issue 17 first gave it. */
const LINT_IGNORE_ALIAS = 'drainwatch.io/lint-ignore';

function ignoredRules(e: Entry, notes: string[]): ReadonlySet<LintRuleId> {
  const out = new Set<LintRuleId>();
  const all = isWorkload(e.object) ? annotations(e.object) : (e.object.metadata.annotations ?? {});
  for (const key of [ANNOTATIONS.lintIgnore, LINT_IGNORE_ALIAS]) {
    const text = all[key];
    if (text === undefined) continue;
    const where = `${e.source}:${lineOf(e, ['metadata', 'annotations', key])}: ${objectRef(e.object)}: `;
    if (key === LINT_IGNORE_ALIAS)
      notes.push(
        `${where}${key} is read as ${ANNOTATIONS.lintIgnore}, the prefix of every drainwatch annotation`,
      );
    for (const raw of text.split(',')) {
      const id = raw.trim();
      if (id === '') continue;
      if (id === ALL_RULES) for (const r of LINT_RULE_IDS) out.add(r);
      else if (isLintRuleId(id)) out.add(id);
      else
        notes.push(
          `${where}${key} names unknown rule ${JSON.stringify(id)}; valid rules: ${[...LINT_RULE_IDS, ALL_RULES].join(', ')}`,
        );
    }
  }
  return out;
}

/**
 * Containers that receive traffic: those whose ports a Service in the input targets, else those
 * declaring ports (the first container when none does).
 */
function servingContainers(w: K8sObject, objects: readonly K8sObject[]): [ContainerSpec, number][] {
  const indexed = (podSpecOf(w)?.containers ?? []).map((c, i) => [c, i] as [ContainerSpec, number]);
  const targets = servicesOf(w, objects).flatMap((s) =>
    ((s['spec'] as { ports?: { port: number; targetPort?: number | string }[] }).ports ?? []).map(
      (p) => p.targetPort ?? p.port,
    ),
  );
  // An injected pod's Service targets the agent, which forwards to the app port.
  const agent = (podSpecOf(w)?.initContainers ?? []).find((c) => c.name === AGENT_CONTAINER_NAME);
  const upstream = agent?.env?.find((v) => v.name === AGENT_SETTINGS.upstream.env)?.value;
  const upstreamPort = upstream === undefined ? undefined : tryParseHostPort(upstream)?.port;
  if (upstreamPort !== undefined) targets.push(upstreamPort);
  const targeted = indexed.filter(([c]) =>
    (c.ports ?? []).some(
      (p) => targets.includes(p.containerPort) || (p.name !== undefined && targets.includes(p.name)),
    ),
  );
  if (targeted.length > 0) return targeted;
  const withPorts = indexed.filter(([c]) => (c.ports ?? []).length > 0);
  return withPorts.length > 0 ? withPorts : indexed.slice(0, 1);
}

function lintWorkload(e: Entry, objects: readonly K8sObject[], o: LintOptions, report: Report): void {
  const w = e.object;
  const spec = podSpecOf(w);
  if (!spec) return;
  const base = ['spec', 'template', 'spec'];
  const agent = (spec.initContainers ?? []).find((c) => c.name === AGENT_CONTAINER_NAME);
  let longestPreStop = 0;
  const serving = servingContainers(w, objects);
  for (const [c, i] of serving) {
    const at = [...base, 'containers', i];
    const preStop = c.lifecycle?.preStop;
    if (!preStop) {
      report(
        e,
        'missing-prestop',
        [...at, 'lifecycle', 'preStop'],
        `container ${c.name} gets SIGTERM as soon as the pod is deleted, before endpoint removal has propagated`,
      );
    } else {
      const t = preStopTime(preStop, agent, o);
      longestPreStop = Math.max(longestPreStop, t.seconds);
      if (t.invalidSleeps.length > 0) {
        report(
          e,
          'missing-prestop',
          [...at, 'lifecycle', 'preStop'],
          `container ${c.name}'s preStop fails at once: sleep rejects ${t.invalidSleeps.map((x) => JSON.stringify(x)).join(', ')} ` +
            '(write `sleep 1m 30s` or `sleep 90`), so the app gets SIGTERM before endpoint removal has propagated',
        );
      }
      if (t.unknown !== undefined) {
        report(
          e,
          'prestop-unknown-duration',
          [...at, 'lifecycle', 'preStop'],
          `container ${c.name}'s preStop runs for an unknown duration (${t.unknown}); lint cannot check terminationGracePeriodSeconds against it`,
        );
      }
    }
    if (!c.readinessProbe) {
      report(
        e,
        'missing-readiness-probe',
        [...at, 'readinessProbe'],
        `container ${c.name} has no readinessProbe`,
      );
    }
  }
  lintPid1(e, spec.containers ?? [], report);

  const drain = drainBudgetSecondsOf(annotations(w), o.drainBudgetSeconds);
  const grace = spec.terminationGracePeriodSeconds ?? o.defaultGraceSeconds;
  if (grace < longestPreStop + drain) {
    report(
      e,
      'grace-shorter-than-drain',
      [...base, 'terminationGracePeriodSeconds'],
      `terminationGracePeriodSeconds is ${grace}${spec.terminationGracePeriodSeconds === undefined ? ' (the default)' : ''} ` +
        `but preStop takes up to ${longestPreStop} s and the app needs ${drain} s to drain: set it to at least ${Math.ceil(longestPreStop + drain)}`,
    );
  }

  lintMaxUnavailable(e, report);

  lintMaxConnectionAge(e, objects, report);
  lintGrpcStreamPreStop(e, serving, o, report);
}

function lintPid1(e: Entry, containers: readonly ContainerSpec[], report: Report): void {
  containers.forEach((c, i) => {
    const p = pid1Problem(c);
    if (!p) return;
    const field = c.command ? 'command' : 'args';
    const fix = p.app
      ? `start it with \`exec ${p.app}\`, run it directly (command: [${p.app.split(' ').join(', ')}]), or put tini or dumb-init in front`
      : 'run the app directly (e.g. command: [node, server.js]) instead of through npm or yarn, or put tini or dumb-init in front';
    report(
      e,
      'shell-pid-1',
      ['spec', 'template', 'spec', 'containers', i, field],
      `container ${c.name} runs ${p.pid1} as PID 1, which does not pass SIGTERM on to the app: ${fix}`,
    );
  });
}

function lintMaxUnavailable(e: Entry, report: Report): void {
  const w = e.object;
  const spec = w['spec'] as {
    replicas?: number;
    strategy?: { type?: string; rollingUpdate?: { maxUnavailable?: number | string } };
    updateStrategy?: { rollingUpdate?: { maxUnavailable?: number | string } };
  };
  const replicas = spec.replicas ?? 1;
  let path: Path;
  let value: number | string | undefined;
  if (w.kind === 'Deployment') {
    if (spec.strategy?.type === 'Recreate') return;
    path = ['spec', 'strategy', 'rollingUpdate', 'maxUnavailable'];
    value = spec.strategy?.rollingUpdate?.maxUnavailable;
  } else if (w.kind === 'StatefulSet') {
    path = ['spec', 'updateStrategy', 'rollingUpdate', 'maxUnavailable'];
    value = spec.updateStrategy?.rollingUpdate?.maxUnavailable;
  } else {
    return;
  }
  if (value === undefined || replicas < 1) return;
  // Kubernetes rounds a percentage of maxUnavailable down.
  const unavailable =
    typeof value === 'string' && value.endsWith('%')
      ? Math.floor((replicas * Number(value.slice(0, -1))) / 100)
      : Number(value);
  if (unavailable >= replicas) {
    report(
      e,
      'max-unavailable-drops-all',
      path,
      `maxUnavailable ${value} with ${replicas} replica${replicas === 1 ? '' : 's'} lets the rollout stop every pod at once`,
    );
  }
}
