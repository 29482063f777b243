import { readFile } from 'node:fs/promises';
import { text } from 'node:stream/consumers';
import { ManifestReadError } from './errors.js';

export interface ManifestSource {
  /** The path, or `<stdin>`. */
  readonly name: string;
  readonly text: string;
}

/** Reads a manifest file, or standard input for `-`. */
export async function readManifestSource(
  path: string,
  stdin: NodeJS.ReadableStream = process.stdin,
): Promise<ManifestSource> {
  if (path === '-') return { name: '<stdin>', text: await text(stdin) };
  try {
    return { name: path, text: await readFile(path, 'utf8') };
  } catch (err) {
    throw new ManifestReadError(`${path}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
}
