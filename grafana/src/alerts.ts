import { readFile, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { slug } from 'github-slugger';
import { Composer, CST, isMap, isScalar, isSeq, Parser } from 'yaml';
import { DEFAULT_DOCS_BASE_URL, docsUrl } from '../../lib/docs-url.js';

// The alert rules are written by hand in manifests/alerts/drainwatch-rules.yaml (PromQL reads best
// as YAML block scalars). Two things in them are derived and must never be edited by hand: every
// alert's `runbook_url` (an absolute link built from ONE docs base, lib/docs-url.ts, so Alertmanager
// templates and chat links work wherever they render) and the Prometheus Operator copy
// (prometheusrule.yaml, the same groups in a PrometheusRule). `renderAlertRuleFiles` derives both.

/** manifests/alerts of the repository this file was compiled in (dist/grafana/src → ../../../). */
export const DEFAULT_ALERTS_DIR = resolve(
  fileURLToPath(new URL('../../../manifests/alerts', import.meta.url)),
);

/** The hand-written plain Prometheus rules file (the source) and the derived PrometheusRule. */
export const ALERT_RULE_FILES = { rules: 'drainwatch-rules.yaml', operator: 'prometheusrule.yaml' } as const;

/** The docs page holding one `## <AlertName>` runbook section per alert. */
export const RUNBOOK_PAGE = 'alerts';

/**
 * The anchor of an alert's runbook section: GitHub's heading slug (github-slugger, the rule
 * github.com applies to `## DrainwatchSessionsLost` → `drainwatchsessionslost`).
 */
export function runbookAnchor(alert: string): string {
  return slug(alert);
}

/** Absolute runbook URL of an alert, e.g. `<base>alerts.md#drainwatchsessionslost`. */
export function runbookUrl(alert: string, docsBase: string = DEFAULT_DOCS_BASE_URL): string {
  return docsUrl(RUNBOOK_PAGE, runbookAnchor(alert), docsBase);
}

const OPERATOR_HEADER = `# The drainwatch alert rules as a Prometheus Operator PrometheusRule. GENERATED from
# drainwatch-rules.yaml (the same groups) by \`node dist/grafana/src/generate-alerts.js\`: edit that file.
# Apply: kubectl apply -n <monitoring namespace> -f manifests/alerts/prometheusrule.yaml
# Your Prometheus's ruleSelector must match the labels below (kube-prometheus-stack often wants
# \`release: <helm release name>\`; add it with kustomize).
apiVersion: monitoring.coreos.com/v1
kind: PrometheusRule
metadata:
  name: drainwatch
  labels:
    app.kubernetes.io/name: drainwatch
    app.kubernetes.io/component: alerting
    role: alert-rules
spec:
`;

/** Raised when the source rules file lacks what the generator derives from. Stable `code`. */
export class AlertRulesSourceError extends Error {
  readonly code = 'ALERT_RULES_SOURCE';
  constructor(message: string) {
    super(`${ALERT_RULE_FILES.rules}: ${message}`);
    this.name = 'AlertRulesSourceError';
  }
}

/**
 * Both rule files' text from the source rules file's text, every alert's `annotations.runbook_url`
 * set to {@link runbookUrl} under `docsBase` (an absolute URL of the docs folder). Everything else
 * of the source is kept byte for byte (the values are edited in yaml's concrete syntax tree); the
 * PrometheusRule carries the source's `groups:` block indented under `spec:`.
 * Throws {@link AlertRulesSourceError} when there is no top-level `groups` list or an alert has no
 * `annotations.runbook_url` to set (write any placeholder; the generator fills it).
 */
export function renderAlertRuleFiles(
  rulesText: string,
  docsBase: string = DEFAULT_DOCS_BASE_URL,
): Readonly<Record<(typeof ALERT_RULE_FILES)[keyof typeof ALERT_RULE_FILES], string>> {
  const tokens = [...new Parser().parse(rulesText)];
  const [doc, ...more] = [...new Composer({ keepSourceTokens: true }).compose(tokens)];
  if (!doc || more.length > 0 || doc.errors.length > 0)
    throw new AlertRulesSourceError(doc?.errors[0]?.message ?? 'expected exactly one YAML document');
  const groups = doc.get('groups', true);
  if (!isSeq(groups)) throw new AlertRulesSourceError('expected a top-level "groups" list');
  for (const group of groups.items) {
    const rules = isMap(group) ? group.get('rules', true) : undefined;
    for (const rule of isSeq(rules) ? rules.items : []) {
      const alert = isMap(rule) ? rule.get('alert') : undefined;
      if (typeof alert !== 'string' || !isMap(rule)) continue;
      const url = rule.getIn(['annotations', 'runbook_url'], true);
      if (!isScalar(url) || !url.srcToken)
        throw new AlertRulesSourceError(`alert ${alert} has no annotations.runbook_url to set`);
      CST.setScalarValue(url.srcToken, runbookUrl(alert, docsBase));
    }
  }
  const rendered = tokens.map((t) => CST.stringify(t)).join('');
  const groupsKey = isMap(doc.contents)
    ? doc.contents.items.find((p) => isScalar(p.key) && p.key.value === 'groups')
    : undefined;
  const groupsAt = groupsKey && isScalar(groupsKey.key) ? groupsKey.key.range?.[0] : undefined;
  if (groupsAt === undefined) throw new AlertRulesSourceError('expected "groups:" at the top level');
  // Indenting every line of a block mapping keeps its meaning (block scalars are relative).
  const indented = rendered
    .slice(groupsAt)
    .split('\n')
    .map((line) => (line === '' ? line : `  ${line}`))
    .join('\n');
  return { [ALERT_RULE_FILES.rules]: rendered, [ALERT_RULE_FILES.operator]: `${OPERATOR_HEADER}${indented}` };
}

/**
 * Rewrites both rule files in `dir` (default {@link DEFAULT_ALERTS_DIR}) with runbook URLs under
 * `docsBase`; `outDir` (default `dir`) receives them. Returns the paths written.
 */
export async function writeAlertRuleFiles(
  docsBase: string = DEFAULT_DOCS_BASE_URL,
  dir: string = DEFAULT_ALERTS_DIR,
  outDir: string = dir,
): Promise<string[]> {
  const files = renderAlertRuleFiles(await readFile(join(dir, ALERT_RULE_FILES.rules), 'utf8'), docsBase);
  const written: string[] = [];
  for (const [name, text] of Object.entries(files)) {
    const path = join(outDir, name);
    await writeFile(path, text);
    written.push(path);
  }
  return written;
}
