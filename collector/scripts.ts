import { readFileSync } from 'node:fs';

// The Lua scripts live in collector/lua/ and are read next to this module: from the sources under
// vitest, from dist/collector/lua/ once built (the build script copies them there).

export type ScriptName = 'apply' | 'sweep' | 'lease';

function read(file: string): string {
  return readFileSync(new URL(`./lua/${file}`, import.meta.url), 'utf8');
}

/** A script's source. Throws the fs error (ENOENT) when the build did not copy the scripts. */
export function loadScript(name: ScriptName): string {
  return read(`${name}.lua`);
}
