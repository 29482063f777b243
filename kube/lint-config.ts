import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { isMap, isScalar, isSeq, parseDocument } from 'yaml';
import { parseChoice } from '../lib/values.js';
import { KubeConfigError } from './errors.js';
import { LINT_RULE_IDS, type LintRuleId, type Severity } from './lint-rules.js';

// Which lint rules run and what fails the run: `--disable`/`--enable`, the `lint:` section of a
// `.drainwatch.yaml` config file, and the `drainwatch.dev/lint-ignore` annotation on an object.
// Layers, strongest first: flags, the config file, the default (every rule on). Within a layer a
// rule's own id wins over `all`, so `disable: [all]` + `enable: [missing-prestop]` adopts one rule.

/** The config file looked up in the working directory when `--config` names none. */
export const LINT_CONFIG_FILE = '.drainwatch.yaml';

/** `all` stands for every rule in a disable/enable list. */
export const ALL_RULES = 'all';

export const FAIL_ON = ['error', 'warning'] as const satisfies readonly Severity[];
export type FailOn = (typeof FAIL_ON)[number];

/** One layer's rule switches: ids (or `all`) to switch off and on. */
export interface RuleSwitches {
  readonly disable: readonly (LintRuleId | typeof ALL_RULES)[];
  readonly enable: readonly (LintRuleId | typeof ALL_RULES)[];
}

export interface LintConfigFile extends RuleSwitches {
  /** The path the file was read from. */
  readonly path: string;
  readonly failOn?: FailOn;
}

const NO_SWITCHES: RuleSwitches = { disable: [], enable: [] };

function unknownRule(where: string, id: string): KubeConfigError {
  return new KubeConfigError(
    `${where}: unknown rule ${JSON.stringify(id)}; valid rules: ${[...LINT_RULE_IDS, ALL_RULES].join(', ')}`,
  );
}

/**
 * `a,b` (a flag's value) or a YAML list into rule ids. Throws KubeConfigError naming `where` and
 * every valid id when one is unknown.
 */
export function parseRuleList(where: string, ids: readonly string[]): (LintRuleId | typeof ALL_RULES)[] {
  const out: (LintRuleId | typeof ALL_RULES)[] = [];
  for (const raw of ids.flatMap((x) => x.split(','))) {
    const id = raw.trim();
    if (id === '') continue;
    if (id !== ALL_RULES && !(LINT_RULE_IDS as readonly string[]).includes(id)) throw unknownRule(where, id);
    out.push(id as LintRuleId | typeof ALL_RULES);
  }
  return out;
}

function layerSays(layer: RuleSwitches, id: LintRuleId, where: string): boolean | undefined {
  const on = layer.enable.includes(id);
  const off = layer.disable.includes(id);
  if (on && off) throw new KubeConfigError(`${where}: rule ${id} is both enabled and disabled`);
  if (on || off) return on;
  if (layer.enable.includes(ALL_RULES)) return true;
  if (layer.disable.includes(ALL_RULES)) return false;
  return undefined;
}

/** The rules that run, from the flags' layer over the config file's. Throws KubeConfigError. */
export function enabledRules(flags: RuleSwitches, file: RuleSwitches = NO_SWITCHES): ReadonlySet<LintRuleId> {
  const out = new Set<LintRuleId>();
  for (const id of LINT_RULE_IDS) {
    const on = layerSays(flags, id, '--enable/--disable') ?? layerSays(file, id, LINT_CONFIG_FILE) ?? true;
    if (on) out.add(id);
  }
  return out;
}

/**
 * Reads and validates a config file's `lint:` section (`disable`, `enable`: lists of rule ids;
 * `failOn`: error or warning). Throws KubeConfigError naming the file for a missing file (only when
 * `required`), invalid YAML, an unknown key, or an unknown rule id. Returns undefined when an
 * optional file does not exist.
 */
export async function readLintConfig(path: string, required: boolean): Promise<LintConfigFile | undefined> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' && !required) return undefined;
    throw new KubeConfigError(
      `${path}: ${code === 'ENOENT' ? 'no such config file' : code === 'EISDIR' ? 'is a directory, not a config file' : (code ?? String(err))}`,
    );
  }
  return parseLintConfig(path, text);
}

/** The config file's text into its lint settings (see readLintConfig). */
export function parseLintConfig(path: string, text: string): LintConfigFile {
  const doc = parseDocument(text, { prettyErrors: false });
  if (doc.errors[0])
    throw new KubeConfigError(`${path}: not valid YAML (${doc.errors[0].message.split('\n')[0]})`);
  const root = doc.contents;
  if (root === null || (isScalar(root) && root.value === null)) return { path, ...NO_SWITCHES };
  if (!isMap(root)) throw new KubeConfigError(`${path}: expected a mapping with a lint: section`);
  const top = root.toJSON() as Record<string, unknown>;
  for (const k of Object.keys(top))
    if (k !== 'lint') throw new KubeConfigError(`${path}: unknown key ${JSON.stringify(k)}; expected lint`);
  const lintNode = root.get('lint', true);
  if (lintNode === undefined || (isScalar(lintNode) && lintNode.value === null))
    return { path, ...NO_SWITCHES };
  if (!isMap(lintNode)) throw new KubeConfigError(`${path}: lint: expected a mapping`);
  const lint = lintNode.toJSON() as Record<string, unknown>;
  const keys = ['disable', 'enable', 'failOn'];
  for (const k of Object.keys(lint))
    if (!keys.includes(k))
      throw new KubeConfigError(
        `${path}: lint: unknown key ${JSON.stringify(k)}; expected ${keys.join(', ')}`,
      );
  const list = (key: 'disable' | 'enable') => {
    const node = lintNode.get(key, true);
    if (node === undefined) return [];
    if (!isSeq(node) || node.items.some((i) => !isScalar(i) || typeof i.value !== 'string'))
      throw new KubeConfigError(`${path}: lint.${key}: expected a list of rule ids`);
    return parseRuleList(
      `${path}: lint.${key}`,
      node.items.map((i) => String((i as { value: string }).value)),
    );
  };
  const failOn = lint['failOn'];
  return {
    path,
    disable: list('disable'),
    enable: list('enable'),
    ...(failOn === undefined ? {} : { failOn: parseChoice(`${path}: lint.failOn`, String(failOn), FAIL_ON) }),
  };
}

/** `--config PATH` (which must exist), else `.drainwatch.yaml` in `cwd` when there is one. */
export async function findLintConfig(
  configPath: string | undefined,
  cwd: string,
): Promise<LintConfigFile | undefined> {
  if (configPath !== undefined) return readLintConfig(configPath, true);
  return readLintConfig(join(cwd, LINT_CONFIG_FILE), false);
}
