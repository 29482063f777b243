import { realpathSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { DEFAULT_DOCS_BASE_URL, DOCS_URL_ENV } from '../../lib/docs-url.js';
import { parseUrl } from '../../lib/values.js';
import { DEFAULT_ALERTS_DIR, writeAlertRuleFiles } from './alerts.js';

// `[DRAINWATCH_DOCS_URL=<docs base>] node dist/grafana/src/generate-alerts.js [outDir]` rewrites
// the runbook URLs of manifests/alerts/drainwatch-rules.yaml and regenerates prometheusrule.yaml
// from it (into outDir when given: a team that hosts the docs elsewhere renders its own copy).

/** The docs base from the environment (http/https URL) or the project's default. Throws InvalidValueError. */
export function docsBaseFromEnv(env: NodeJS.ProcessEnv = process.env): string {
  const value = env[DOCS_URL_ENV];
  return value ? parseUrl(DOCS_URL_ENV, value, ['http', 'https']) : DEFAULT_DOCS_BASE_URL;
}

// realpath: run through a symlinked dist/ (node_modules/.bin, a linked checkout) argv[1] is the
// link, while import.meta.url is always the resolved file.
if (process.argv[1] && realpathSync(resolve(process.argv[1])) === fileURLToPath(import.meta.url)) {
  let base: string;
  try {
    base = docsBaseFromEnv();
  } catch (err) {
    process.stderr.write(`${(err as Error).message}\n`);
    process.exit(2);
  }
  const outDir = process.argv[2] ? resolve(process.argv[2]) : DEFAULT_ALERTS_DIR;
  await mkdir(outDir, { recursive: true });
  for (const path of await writeAlertRuleFiles(base, DEFAULT_ALERTS_DIR, outDir))
    process.stdout.write(`wrote ${path}\n`);
}
