import { realpathSync } from 'node:fs';
import { mkdir, readdir, rm, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { renderDashboardFiles } from './dashboards.js';

// `node dist/grafana/src/generate.js [outDir]` rewrites grafana/dashboards/*.json from the
// generator. Stale files are removed so a renamed dashboard does not linger in provisioning.

/** grafana/dashboards of the repository this file was compiled in (dist/grafana/src → ../../../). */
export const DEFAULT_DASHBOARD_DIR = resolve(
  fileURLToPath(new URL('../../../grafana/dashboards', import.meta.url)),
);

export async function writeDashboardFiles(outDir: string = DEFAULT_DASHBOARD_DIR): Promise<string[]> {
  const files = renderDashboardFiles();
  await mkdir(outDir, { recursive: true });
  for (const existing of await readdir(outDir)) {
    if (existing.endsWith('.json') && !Object.hasOwn(files, existing)) await rm(join(outDir, existing));
  }
  const written: string[] = [];
  for (const [name, text] of Object.entries(files)) {
    const path = join(outDir, name);
    await writeFile(path, text);
    written.push(path);
  }
  return written;
}

// realpath: through a symlinked dist/, argv[1] is the link while import.meta.url is the file.
if (process.argv[1] && realpathSync(resolve(process.argv[1])) === fileURLToPath(import.meta.url)) {
  const written = await writeDashboardFiles(process.argv[2] ? resolve(process.argv[2]) : undefined);
  for (const path of written) process.stdout.write(`wrote ${path}\n`);
}
