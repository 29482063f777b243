import { readFileSync } from 'node:fs';
import { parse } from 'yaml';

// Running the containers of drainwatch's own manifests on loopback, as close to the kubelet as one
// machine allows: the configuration and scripts are read from the manifests' YAML (no copy in a
// test), `$(VAR)` in command, args and env is expanded the way the kubelet expands it, and what
// cannot hold on one machine (DNS names, the fixed container ports, volume paths) is replaced
// through explicit tables that fail when an expected token is missing, so a test notices when a
// manifest changes shape instead of silently running something else.

const ROOT = new URL('../../', import.meta.url);

/** The one object of a manifest file (path from the repository root). */
export function readManifest<T = Record<string, unknown>>(path: string): T {
  return parse(readFileSync(new URL(path, ROOT), 'utf8')) as T;
}

/** One replacement: `from` must occur exactly `count` (default 1) times in the text it applies to. */
export interface Substitution {
  readonly from: string;
  readonly to: string;
  readonly count?: number;
}

/** A token a manifest no longer holds (or holds more often than expected): the test must be revisited. */
export class SubstitutionError extends Error {
  readonly code = 'substitution-mismatch';
  constructor(what: string, from: string, expected: number, found: number) {
    super(
      `${what}: expected ${JSON.stringify(from)} ${expected} time(s), found ${found}; did the manifest change?`,
    );
    this.name = 'SubstitutionError';
  }
}

/** Applies `subs` in order, each to the text the previous ones left; throws SubstitutionError on a count mismatch. */
export function substitute(text: string, subs: readonly Substitution[], what: string): string {
  let out = text;
  for (const s of subs) {
    const parts = out.split(s.from);
    const expected = s.count ?? 1;
    if (parts.length - 1 !== expected) throw new SubstitutionError(what, s.from, expected, parts.length - 1);
    out = parts.join(s.to);
  }
  return out;
}

/**
 * The kubelet's expansion of command, args and env values (k8s.io/kubernetes third_party/forked/
 * golang/expansion): `$(NAME)` becomes the variable's value when the container defines it and stays
 * as written otherwise; `$$` becomes `$` (so `$$(NAME)` is the literal `$(NAME)`); any other `$` is
 * kept, which is how `$i` and `$host` reach the shell untouched.
 */
export function expandKubeVars(input: string, vars: Readonly<Record<string, string>>): string {
  let out = '';
  let i = 0;
  while (i < input.length) {
    const c = input[i]!;
    if (c !== '$' || i + 1 >= input.length) {
      out += c;
      i++;
      continue;
    }
    const next = input[i + 1]!;
    if (next === '$') {
      out += '$';
      i += 2;
    } else if (next === '(') {
      const close = input.indexOf(')', i + 2);
      if (close < 0) {
        out += '$(';
        i += 2;
        continue;
      }
      const name = input.slice(i + 2, close);
      out += Object.hasOwn(vars, name) ? vars[name] : `$(${name})`;
      i = close + 1;
    } else {
      out += `$${next}`;
      i += 2;
    }
  }
  return out;
}

export interface EnvVar {
  readonly name: string;
  readonly value?: string;
  readonly valueFrom?: {
    readonly fieldRef?: { readonly fieldPath: string };
    readonly secretKeyRef?: { readonly name: string; readonly key: string; readonly optional?: boolean };
  };
}

export interface Container {
  readonly name: string;
  readonly image?: string;
  readonly command?: string[];
  readonly args?: string[];
  readonly env?: EnvVar[];
  readonly ports?: { name: string; containerPort: number }[];
  readonly volumeMounts?: { name: string; mountPath: string }[];
  readonly readinessProbe?: Probe;
  readonly livenessProbe?: Probe;
  readonly lifecycle?: { preStop?: { exec?: { command: string[] } } };
}

export interface Probe {
  readonly httpGet?: { path: string; port: string | number };
  readonly exec?: { command: string[] };
}

/** The pod a container runs in, as the downward API shows it. */
export interface PodMeta {
  readonly name: string;
  readonly namespace: string;
  /** `status.podIP`; a container asking for it when it is not given throws. */
  readonly ip?: string;
}

/**
 * A container's environment as the kubelet builds it: literal values (expanded against the earlier
 * ones), `metadata.name`, `metadata.namespace` and `status.podIP` field references; an optional Secret reference is
 * left out (no Secret on loopback). Any other source throws: the test cannot emulate it honestly.
 */
export function containerEnv(c: Container, pod: PodMeta): Record<string, string> {
  const env: Record<string, string> = {};
  for (const v of c.env ?? []) {
    if (v.value !== undefined) env[v.name] = expandKubeVars(v.value, env);
    else if (v.valueFrom?.fieldRef?.fieldPath === 'metadata.name') env[v.name] = pod.name;
    else if (v.valueFrom?.fieldRef?.fieldPath === 'metadata.namespace') env[v.name] = pod.namespace;
    else if (v.valueFrom?.fieldRef?.fieldPath === 'status.podIP' && pod.ip) env[v.name] = pod.ip;
    else if (v.valueFrom?.secretKeyRef?.optional) continue;
    else throw new Error(`container ${c.name}: env ${v.name} has a source this test cannot give it`);
  }
  return env;
}

/** The containerPort of a named port; throws when the container does not declare it. */
export function namedPort(c: Container, name: string | number): number {
  if (typeof name === 'number') return name;
  const port = c.ports?.find((p) => p.name === name)?.containerPort;
  if (port === undefined) throw new Error(`container ${c.name} has no port named ${name}`);
  return port;
}

/** The mount path of the volume `volume` in container `c`; throws when it is not mounted. */
export function mountPath(c: Container, volume: string): string {
  const m = c.volumeMounts?.find((v) => v.name === volume);
  if (!m) throw new Error(`container ${c.name} does not mount volume ${volume}`);
  return m.mountPath;
}

/** One RFC 6902 operation of the two kinds drainwatch's Kustomize patches use. */
export interface JsonPatchOp {
  readonly op: 'test' | 'replace';
  readonly path: string;
  readonly value: unknown;
}

/**
 * Applies `test` and `replace` operations (RFC 6902) to a copy of `doc`, as Kustomize does with a
 * JSON patch; a failed `test` or any other operation throws, as it fails the build there.
 */
export function applyJsonPatch<T>(doc: T, ops: readonly JsonPatchOp[]): T {
  const out = structuredClone(doc) as Record<string, unknown>;
  for (const op of ops) {
    const keys = op.path
      .split('/')
      .slice(1)
      .map((k) => k.replaceAll('~1', '/').replaceAll('~0', '~'));
    const last = keys.pop()!;
    let parent: Record<string, unknown> = out;
    for (const k of keys) parent = parent[k] as Record<string, unknown>;
    if (!parent || !(last in parent)) throw new Error(`JSON patch: ${op.path} does not exist`);
    if (op.op === 'test') {
      if (JSON.stringify(parent[last]) !== JSON.stringify(op.value))
        throw new Error(`JSON patch test failed at ${op.path}: ${JSON.stringify(parent[last])}`);
    } else if (op.op === 'replace') parent[last] = op.value;
    else throw new Error(`JSON patch: operation ${String((op as { op: unknown }).op)} not supported here`);
  }
  return out as T;
}
