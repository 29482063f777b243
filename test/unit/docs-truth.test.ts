import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, normalize } from 'node:path';
import { parse as parseShell } from 'shell-quote';
import { beforeAll, describe, expect, it } from 'vitest';
import { ALL_COMMANDS } from '../../cli/all-commands.js';
import { createProgram } from '../../cli/program.js';
import {
  allTokens,
  codeBlocks,
  headingAnchors,
  linkTargets,
  markdownPages,
  REPO_ROOT,
  readPage,
  runnableBlocks,
} from '../helpers/markdown.js';

// The docs say only what is true: no drafting leftovers, no link to a file or heading that does not
// exist, and no `--flag` that drainwatch does not take.

const PAGES = markdownPages();

/** Phrases a finished page does not contain (drafting notes, a design file outside the repo). */
const LEFTOVERS: readonly RegExp[] = [
  /\bTODO\b/,
  /\bTBD\b/,
  /\bFIXME\b/,
  /\bXXX\b/,
  /\bto add (under|here|later)\b/i,
  /\bREADME section\b/i,
  /\bdraft\b/i,
  /\bDESIGN\.md\b/,
  /\.\.\/shared\//,
];

/**
 * Flags the docs write for tools other than drainwatch (kubectl, promtool, curl, docker, npm, node,
 * kind, helm, kustomize, k6…), allowed when they stand alone in a code span; a flag written after
 * `drainwatch <command>` must always be that command's.
 */
const OTHER_TOOLS_FLAGS = new Set<string>([
  '--max-semi-space-size', // node's V8 flag (docs/agent.md, memory)
  '--cpu-prof', // node's CPU profiler flag (docs/grpc.md, benchmark)
  '--trace-gc', // node's V8 flag (docs/scaling.md, the apply path's garbage collection)
  '--enable-source-maps', // node's flag the images do not pass (docs/kubernetes.md)
  '--drain-strategy', // Envoy's flag (docs/grpc.md, GOAWAY timing)
  '--drain-time-s', // Envoy's flag (docs/grpc.md, GOAWAY timing)
  '--cluster-announce-hostname', // redis-server's option (docs/scaling.md, Redis Cluster in Kubernetes)
  // The scale bench's own options (docs/scaling.md, README), read from its parseArgs table.
  ...[...readFileSync('bench/scale.mjs', 'utf8').matchAll(/^ {6,8}'?([a-z][a-z-]*)'?: \{ type: '/gm)].map(
    (m) => `--${m[1]}`,
  ),
]);

/** Every `--flag` of each drainwatch command's --help, and of any command. */
let helpFlags: Map<string, Set<string>>;
let anyFlag: Set<string>;

beforeAll(async () => {
  const program = await createProgram(ALL_COMMANDS);
  helpFlags = new Map();
  const flagsOf = (help: string) => new Set(help.match(/--[a-z0-9][a-z0-9-]*/g) ?? []);
  for (const cmd of program.commands) {
    const flags = flagsOf(cmd.helpInformation());
    for (const sub of cmd.commands) for (const f of flagsOf(sub.helpInformation())) flags.add(f);
    flags.add('--help');
    helpFlags.set(cmd.name(), flags);
  }
  anyFlag = new Set([...helpFlags.values()].flatMap((s) => [...s]));
  for (const f of flagsOf(program.helpInformation())) anyFlag.add(f);
  // Loading every command's module (the whole CLI, through vitest's transform) takes a while.
}, 120_000);

/** One shell command line per logical line of a code block (`\` continuations joined, comments dropped). */
function shellLines(text: string): string[] {
  return text
    .replace(/\\\n/g, ' ')
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l && !l.startsWith('#'));
}

/** `[command, flags]` of every `drainwatch <command> …` in a shell line (pipes, `&&`, `;` separate). */
function drainwatchInvocations(line: string): Array<{ command: string; flags: string[] }> {
  const found: Array<{ command: string; flags: string[] }> = [];
  let current: { command: string; flags: string[] } | undefined;
  let sawDrainwatch = false;
  // shell-quote expands $VARS to '' by default; keep them as text so `--x $Y` stays two words.
  for (const token of parseShell(line, (name) => `$${name}`)) {
    if (typeof token !== 'string') {
      current = undefined;
      sawDrainwatch = false;
      continue;
    }
    if (sawDrainwatch) {
      sawDrainwatch = false;
      if (helpFlags.has(token)) {
        current = { command: token, flags: [] };
        found.push(current);
        continue;
      }
    }
    if (/(^|\/)drainwatch$|^dist\/cli\/main\.js$/.test(token)) sawDrainwatch = true;
    else if (current && /^--[a-z0-9]/.test(token)) current.flags.push(token.replace(/=.*$/, ''));
  }
  return found;
}

describe('docs', () => {
  it.each(PAGES)('%s has no drafting leftovers', (page) => {
    const text = readPage(page);
    for (const pattern of LEFTOVERS) {
      const at = text.search(pattern);
      const line = text.slice(0, at).split('\n').length;
      expect(at, `${page}:${line} matches ${pattern}`).toBe(-1);
    }
  });

  it.each(PAGES)('%s links only to files and headings that exist', (page) => {
    for (const target of linkTargets(readPage(page))) {
      if (/^[a-z]+:/i.test(target)) continue; // absolute URLs, mailto:
      const [path = '', anchor] = target.split('#');
      const file = path ? normalize(join(dirname(page), decodeURIComponent(path))) : page;
      expect(existsSync(join(REPO_ROOT, file)), `${page} links to ${target}: no ${file}`).toBe(true);
      if (anchor && file.endsWith('.md'))
        expect(headingAnchors(readPage(file)), `${page} links to ${target}: no such heading`).toContain(
          anchor,
        );
    }
  });

  it.each(PAGES)("%s: every --flag after `drainwatch <command>` is in that command's --help", (page) => {
    const md = readPage(page);
    const lines = [
      ...codeBlocks(md)
        .filter((b) => ['', 'sh', 'bash', 'shell', 'console'].includes(b.lang))
        .flatMap((b) => shellLines(b.text.replace(/^\$ /gm, ''))),
      ...allTokens(md).flatMap((t) => (t.type === 'codespan' ? [t.text] : [])),
    ];
    for (const line of lines)
      for (const { command, flags } of drainwatchInvocations(line))
        for (const flag of flags)
          expect(
            helpFlags.get(command),
            `${page}: \`${line}\` — drainwatch ${command} has no ${flag}`,
          ).toContain(flag);
  });

  it.each(PAGES)(
    '%s: every `--flag` written alone is a drainwatch flag or a listed flag of another tool',
    (page) => {
      for (const t of allTokens(readPage(page))) {
        if (t.type !== 'codespan' || !/^--[a-z0-9][a-z0-9-]*(=\S*|\s+\S+)?$/.test(t.text)) continue;
        const flag = t.text.replace(/[=\s].*$/, '');
        expect(
          anyFlag.has(flag) || OTHER_TOOLS_FLAGS.has(flag),
          `${page}: \`${t.text}\` is no drainwatch flag`,
        ).toBe(true);
      }
    },
  );

  it.each(PAGES)('%s: every runnable marker sits right before a ```sh fence and is well-formed', (page) => {
    expect(() => runnableBlocks(page, readPage(page))).not.toThrow();
  });

  it('the runnable extractor takes exit codes and timeouts, and refuses a stray or mistyped marker', () => {
    const md = [
      'Intro.',
      '<!-- runnable -->',
      '```sh',
      'echo one',
      '```',
      '',
      '<!-- runnable exit=1 timeout=5 -->',
      '```sh',
      'false',
      '```',
      '',
      '```sh',
      'not marked',
      '```',
      '- in a list:',
      '  <!-- runnable -->',
      '  ```bash',
      '  echo two',
      '  ```',
    ].join('\n');
    expect(runnableBlocks('x.md', md)).toEqual([
      { page: 'x.md', line: 3, script: 'echo one', exit: 0, timeoutSeconds: 30 },
      { page: 'x.md', line: 8, script: 'false', exit: 1, timeoutSeconds: 5 },
      { page: 'x.md', line: 17, script: 'echo two', exit: 0, timeoutSeconds: 30 },
    ]);
    expect(() => runnableBlocks('x.md', '<!-- runnable -->\n\n```sh\ntrue\n```')).toThrow(
      /line right before/,
    );
    expect(() => runnableBlocks('x.md', '<!-- runnable -->\n```yaml\na: 1\n```')).toThrow(/must be ```sh/);
    expect(() => runnableBlocks('x.md', '<!-- runnable exits=1 -->\n```sh\ntrue\n```')).toThrow(/unknown/);
  });

  it('the checks can fail: a made-up flag and a dead link are caught', () => {
    expect(drainwatchInvocations("drainwatch collector --retention 7d --listen=:0 | jq '.'")).toEqual([
      { command: 'collector', flags: ['--retention', '--listen'] },
    ]);
    expect(helpFlags.get('collector')).not.toContain('--retention');
    expect(drainwatchInvocations('kubectl apply --server-side -f x && npx drainwatch lint --help')).toEqual([
      { command: 'lint', flags: ['--help'] },
    ]);
    expect(linkTargets('see [the design](../shared/DESIGN.md) and <https://x.example>')).toEqual([
      '../shared/DESIGN.md',
      'https://x.example',
    ]);
  });
});
