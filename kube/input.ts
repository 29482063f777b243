import { readdir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { text } from 'node:stream/consumers';
import { ManifestReadError } from './errors.js';

// What lint and inject read: files, directories (recursively, *.yaml and *.yml, as `kubectl apply
// -R -f` and `linkerd inject` take them) and standard input (`-`), which is where the multi-document
// output of `kustomize build` or `helm template` arrives.

export interface ManifestSource {
  /** The path as given (a directory's files joined to it), or `<stdin>`. */
  readonly name: string;
  readonly text: string;
}

const MANIFEST_FILE = /\.ya?ml$/i;

/** Why a path cannot be read, in words instead of an errno code. */
function describeFsError(path: string, err: unknown): ManifestReadError {
  const code = (err as NodeJS.ErrnoException).code;
  const why =
    code === 'ENOENT'
      ? 'no such file or directory'
      : code === 'EACCES' || code === 'EPERM'
        ? 'permission denied'
        : code === 'EISDIR'
          ? 'is a directory'
          : code === 'ENOTDIR'
            ? 'a part of the path is not a directory'
            : ((err as Error).message ?? String(err));
  return new ManifestReadError(`${path}: ${why}`);
}

/** The *.yaml/*.yml files under `dir`, depth first in name order; dot-directories (.git) are skipped. */
async function manifestFilesUnder(dir: string): Promise<string[]> {
  let entries: import('node:fs').Dirent[];
  try {
    entries = await readdir(dir, { withFileTypes: true });
  } catch (err) {
    throw describeFsError(dir, err);
  }
  const out: string[] = [];
  for (const e of entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))) {
    const path = join(dir, e.name);
    if (e.isDirectory()) {
      if (!e.name.startsWith('.')) out.push(...(await manifestFilesUnder(path)));
    } else if (MANIFEST_FILE.test(e.name) && (e.isFile() || e.isSymbolicLink())) {
      out.push(path);
    }
  }
  return out;
}

/**
 * Reads one path: a file, every manifest file under a directory, or standard input for `-`.
 * Throws ManifestReadError (one line naming the path) when it is missing, unreadable, or a
 * directory with no *.yaml/*.yml file.
 */
export async function readManifestSources(
  path: string,
  stdin: NodeJS.ReadableStream = process.stdin,
): Promise<ManifestSource[]> {
  if (path === '-') return [{ name: '<stdin>', text: await text(stdin) }];
  let isDir: boolean;
  try {
    isDir = (await stat(path)).isDirectory();
  } catch (err) {
    throw describeFsError(path, err);
  }
  const files = isDir ? await manifestFilesUnder(path) : [path];
  if (isDir && files.length === 0)
    throw new ManifestReadError(`${path}: no *.yaml or *.yml file in this directory`);
  const out: ManifestSource[] = [];
  for (const f of files) {
    try {
      out.push({ name: f, text: await readFile(f, 'utf8') });
    } catch (err) {
      throw describeFsError(f, err);
    }
  }
  return out;
}

/** Every path in order (`-` for stdin when none is given); stdin may be named once. */
export async function readManifestInputs(
  paths: readonly string[],
  stdin: NodeJS.ReadableStream = process.stdin,
): Promise<ManifestSource[]> {
  const list = paths.length > 0 ? paths : ['-'];
  if (list.filter((p) => p === '-').length > 1)
    throw new ManifestReadError('-: standard input can be read only once');
  const out: ManifestSource[] = [];
  for (const p of list) out.push(...(await readManifestSources(p, stdin)));
  return out;
}

/** One manifest file, or standard input for `-` (a directory is an error here). */
export async function readManifestSource(
  path: string,
  stdin: NodeJS.ReadableStream = process.stdin,
): Promise<ManifestSource> {
  const [first, ...rest] = await readManifestSources(path, stdin);
  if (!first || rest.length > 0) throw new ManifestReadError(`${path}: expected one file, got a directory`);
  return first;
}
