import { isAbsolute, relative, resolve, sep } from 'node:path';
import { DEFAULT_DOCS_BASE_URL, docsUrl } from '../lib/docs-url.js';
import type { Finding } from './lint.js';
import { LINT_DOCS_PAGE, LINT_RULES } from './lint-rules.js';

// The three renderings of lint findings: text for people, JSON for scripts, SARIF 2.1.0 for code
// scanning (GitHub, GitLab), which reads rules and locations from it.

export type LintFormat = 'text' | 'json' | 'sarif';
export const LINT_FORMATS: readonly LintFormat[] = ['text', 'json', 'sarif'];

/** Where SARIF's paths and links start from. */
export interface SarifContext {
  /** Artifact paths are made relative to this directory (the working directory). */
  readonly cwd: string;
  /** The docs folder URL rule help links point into (lib/docs-url.ts, DRAINWATCH_DOCS_URL). */
  readonly docsBase: string;
}

export function formatFindings(
  findings: readonly Finding[],
  format: LintFormat,
  version: string,
  context: SarifContext = { cwd: process.cwd(), docsBase: DEFAULT_DOCS_BASE_URL },
): string {
  switch (format) {
    case 'json':
      return `${JSON.stringify(findings, null, 2)}\n`;
    case 'sarif':
      return `${JSON.stringify(toSarif(findings, version, context), null, 2)}\n`;
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

/**
 * A finding's file as a SARIF artifact URI: relative to `cwd` with `/` separators and percent
 * encoding (SARIF 2.1.0 §3.4.3), even for an absolute input; standard input stays `<stdin>`.
 */
export function sarifArtifactUri(source: string, cwd: string): string {
  if (source === '<stdin>') return source;
  const rel = relative(cwd, resolve(cwd, source));
  const path = isAbsolute(rel) ? rel : rel.split(sep).join('/');
  return path.split('/').map(encodeURIComponent).join('/');
}

/** SARIF 2.1.0 with each rule's `helpUri` (its row in docs/lint.md) and relative artifact paths. */
export function toSarif(
  findings: readonly Finding[],
  version: string,
  context: SarifContext = { cwd: process.cwd(), docsBase: DEFAULT_DOCS_BASE_URL },
): object {
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
            informationUri: docsUrl(LINT_DOCS_PAGE, undefined, context.docsBase),
            rules: LINT_RULES.map((r) => ({
              id: r.id,
              name: r.id.replace(/(^|-)([a-z])/g, (_m, _d, c: string) => c.toUpperCase()),
              shortDescription: { text: r.title },
              fullDescription: { text: r.why },
              help: { text: r.fix },
              helpUri: docsUrl(LINT_DOCS_PAGE, r.id, context.docsBase),
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
                artifactLocation: { uri: sarifArtifactUri(f.source, context.cwd), uriBaseId: '%SRCROOT%' },
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
