import type { Finding } from './lint.js';
import { LINT_RULES } from './lint-rules.js';

// The three renderings of lint findings: text for people, JSON for scripts, SARIF 2.1.0 for code
// scanning (GitHub, GitLab), which reads rules and locations from it.

export type LintFormat = 'text' | 'json' | 'sarif';
export const LINT_FORMATS: readonly LintFormat[] = ['text', 'json', 'sarif'];

export function formatFindings(findings: readonly Finding[], format: LintFormat, version: string): string {
  switch (format) {
    case 'json':
      return `${JSON.stringify(findings, null, 2)}\n`;
    case 'sarif':
      return `${JSON.stringify(toSarif(findings, version), null, 2)}\n`;
    case 'text':
      return toText(findings);
  }
}

function toText(findings: readonly Finding[]): string {
  if (findings.length === 0) return 'no findings\n';
  const lines = findings.map(
    (f) =>
      `${f.source}:${f.line}: ${f.severity} [${f.ruleId}] ${f.object} ${f.field}\n  ${f.message}\n  fix: ${f.fix}\n`,
  );
  const errors = findings.filter((f) => f.severity === 'error').length;
  return `${lines.join('')}${errors} error(s), ${findings.length - errors} warning(s)\n`;
}

export function toSarif(findings: readonly Finding[], version: string): object {
  const ruleIndex = new Map<string, number>(LINT_RULES.map((r, i) => [r.id, i]));
  return {
    $schema: 'https://json.schemastore.org/sarif-2.1.0.json',
    version: '2.1.0',
    runs: [
      {
        tool: {
          driver: {
            name: 'drainwatch',
            version,
            rules: LINT_RULES.map((r) => ({
              id: r.id,
              name: r.id.replace(/(^|-)([a-z])/g, (_m, _d, c: string) => c.toUpperCase()),
              shortDescription: { text: r.title },
              fullDescription: { text: r.why },
              help: { text: r.fix },
              defaultConfiguration: { level: r.severity },
            })),
          },
        },
        results: findings.map((f) => ({
          ruleId: f.ruleId,
          ruleIndex: ruleIndex.get(f.ruleId),
          level: f.severity,
          message: { text: `${f.object} ${f.field}: ${f.message}. Fix: ${f.fix}` },
          locations: [
            {
              physicalLocation: {
                artifactLocation: { uri: f.source },
                region: { startLine: f.line },
              },
              logicalLocations: [{ fullyQualifiedName: `${f.object}/${f.field}`, kind: 'object' }],
            },
          ],
        })),
      },
    ],
  };
}
