import { readFileSync } from 'node:fs';
import { ROLLOUT_FIELDS } from './keys.js';

// The Lua scripts live in collector/lua/ and are read next to this module: from the sources under
// vitest, from dist/collector/lua/ once built (the build script copies them there).

export type ScriptName = 'apply' | 'sweep' | 'lease';

/** Where apply.lua receives the rollout field names (keys.ts stays their one definition). */
const FIELDS_PLACEHOLDER = '--[[ROLLOUT_FIELDS]]';

function read(file: string): string {
  return readFileSync(new URL(`./lua/${file}`, import.meta.url), 'utf8');
}

/**
 * A script's source, apply.lua with ROLLOUT_FIELDS written in (names are plain words: no quoting
 * needed). Throws the fs error (ENOENT) when the build did not copy the scripts.
 */
export function loadScript(name: ScriptName): string {
  const source = read(`${name}.lua`);
  if (name !== 'apply') return source;
  return source.replace(FIELDS_PLACEHOLDER, ROLLOUT_FIELDS.map((f) => `'${f}'`).join(', '));
}
