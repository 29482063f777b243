// A small reader of the Dockerfile subset manifests/images/ uses, and of .dockerignore patterns, so
// test/integration/images.test.ts can replay an image build without a Docker engine. Anything
// outside the subset throws: a Dockerfile that grows an instruction the replay cannot honour fails
// the test instead of being replayed wrongly.

export interface Instruction {
  /** Upper-case keyword: FROM, WORKDIR, COPY, RUN, ENTRYPOINT, CMD, USER, EXPOSE. */
  readonly keyword: string;
  readonly args: string;
  /** 1-based line where the instruction starts. */
  readonly line: number;
}

export interface Stage {
  readonly image: string;
  readonly name: string | undefined;
  /** Every instruction after FROM, in order. */
  readonly steps: readonly Instruction[];
}

export interface CopyArgs {
  /** The stage named by --from, or undefined for the build context. */
  readonly from: string | undefined;
  readonly sources: readonly string[];
  readonly dest: string;
}

const KNOWN = new Set(['FROM', 'WORKDIR', 'COPY', 'RUN', 'ENTRYPOINT', 'CMD', 'USER', 'EXPOSE']);

/** Joins `\` continuations, drops comments and blank lines, and splits into stages. */
export function parseDockerfile(text: string): Stage[] {
  const stages: Array<{ image: string; name: string | undefined; steps: Instruction[] }> = [];
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const start = i + 1;
    let line = lines[i]?.trim() ?? '';
    if (line === '' || line.startsWith('#')) continue;
    while (line.endsWith('\\')) {
      line = line.slice(0, -1);
      const next = lines[++i]?.trim() ?? '';
      if (!next.startsWith('#')) line += ` ${next}`;
    }
    const m = /^(\w+)\s+(.*)$/s.exec(line.trim());
    if (!m?.[1] || m[2] === undefined) throw new Error(`line ${start}: cannot read "${line}"`);
    const keyword = m[1].toUpperCase();
    const args = m[2].trim().replace(/\s+/g, ' ');
    if (!KNOWN.has(keyword)) throw new Error(`line ${start}: ${keyword} is not replayed by this test`);
    if (keyword === 'FROM') {
      // --platform picks the builder's platform; the host stands in for it either way.
      const f = /^(?:--platform=\S+\s+)?(\S+)(?:\s+AS\s+(\S+))?$/i.exec(args);
      if (!f?.[1]) throw new Error(`line ${start}: cannot read FROM ${args}`);
      stages.push({ image: f[1], name: f[2], steps: [] });
      continue;
    }
    const stage = stages.at(-1);
    if (!stage) throw new Error(`line ${start}: ${keyword} before FROM`);
    stage.steps.push({ keyword, args, line: start });
  }
  return stages;
}

/** COPY's shell form: `[--from=stage] [--chown=..] [--chmod=..] src... dest`, no wildcards. */
export function parseCopy(step: Instruction): CopyArgs {
  const words = step.args.split(' ');
  let from: string | undefined;
  while (words[0]?.startsWith('--')) {
    const flag = words.shift() ?? '';
    if (flag.startsWith('--from=')) from = flag.slice('--from='.length);
    else if (!/^--(chown|chmod)=/.test(flag)) throw new Error(`line ${step.line}: COPY ${flag} not replayed`);
  }
  const dest = words.pop();
  if (!dest || words.length === 0)
    throw new Error(`line ${step.line}: COPY needs a source and a destination`);
  for (const s of words) {
    if (/[*?[]/.test(s) || s.startsWith('['))
      throw new Error(`line ${step.line}: COPY ${s}: wildcards not replayed`);
  }
  return { from, sources: words, dest };
}

/** ENTRYPOINT and CMD in exec (JSON) form; the shell form would need a shell distroless lacks. */
export function parseExecForm(step: Instruction): string[] {
  const value: unknown = JSON.parse(step.args);
  if (!Array.isArray(value) || !value.every((v) => typeof v === 'string')) {
    throw new Error(`line ${step.line}: ${step.keyword} must be a JSON array of strings`);
  }
  return value;
}

function globToRegExp(pattern: string): RegExp {
  let out = '';
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i] ?? '';
    if (c === '*' && pattern[i + 1] === '*') {
      out += pattern[i + 2] === '/' ? '(?:.*/)?' : '.*';
      i += pattern[i + 2] === '/' ? 2 : 1;
    } else if (c === '*') out += '[^/]*';
    else if (c === '?') out += '[^/]';
    else out += c.replace(/[.+^${}()|[\]\\]/g, '\\$&');
  }
  return new RegExp(`^${out}$`);
}

/**
 * A .dockerignore as a predicate over context-relative paths (`lib/wait.ts`): true when the file
 * reaches the build. As BuildKit: the last matching pattern wins, `!` re-includes, and a pattern
 * matching a directory matches everything under it.
 */
export function dockerignoreFilter(text: string): (path: string) => boolean {
  const rules = text
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l !== '' && !l.startsWith('#'))
    .map((l) => {
      const negate = l.startsWith('!');
      const pattern = (negate ? l.slice(1) : l).replace(/^\/+/, '').replace(/\/+$/, '');
      return { negate, re: globToRegExp(pattern) };
    });
  return (path) => {
    const parts = path.split('/');
    const prefixes = parts.map((_, i) => parts.slice(0, i + 1).join('/'));
    let included = true;
    for (const r of rules) if (prefixes.some((p) => r.re.test(p))) included = r.negate;
    return included;
  };
}
