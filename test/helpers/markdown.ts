import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import GithubSlugger from 'github-slugger';
import { marked, type Token, type Tokens } from 'marked';

// Reading the project's Markdown the way GitHub renders it: marked's lexer (CommonMark/GFM) finds
// headings, fenced blocks, HTML comments and links; github-slugger gives the anchors github.com
// derives from headings. No regular expressions over Markdown structure.

export const REPO_ROOT = join(import.meta.dirname, '../..');

/** README.md and every docs/*.md, as paths relative to the repository root. */
export function markdownPages(root: string = REPO_ROOT): string[] {
  return [
    'README.md',
    ...readdirSync(join(root, 'docs'))
      .filter((f) => f.endsWith('.md'))
      .sort()
      .map((f) => `docs/${f}`),
  ];
}

export function readPage(page: string, root: string = REPO_ROOT): string {
  return readFileSync(join(root, page), 'utf8');
}

/** Every token of a page, depth first (block tokens, then their inline children, list items…). */
export function allTokens(markdown: string): Token[] {
  const out: Token[] = [];
  marked.walkTokens(marked.lexer(markdown), (t) => {
    out.push(t);
  });
  return out;
}

/** The rendered plain text of inline tokens (code spans and link texts included, markup dropped). */
function plainText(tokens: readonly Token[] | undefined): string {
  return (tokens ?? [])
    .map((t) => {
      if ('tokens' in t && Array.isArray(t.tokens) && t.tokens.length > 0) return plainText(t.tokens);
      if (t.type === 'html') return '';
      return 'text' in t && typeof t.text === 'string' ? t.text : '';
    })
    .join('');
}

/** The anchors github.com gives a page's headings, in document order (repeats get -1, -2 …). */
export function headingAnchors(markdown: string): string[] {
  const slugger = new GithubSlugger();
  return marked
    .lexer(markdown)
    .filter((t): t is Tokens.Heading => t.type === 'heading')
    .map((t) => slugger.slug(plainText(t.tokens)));
}

/** A fenced code block with the 1-based line its fence opens on. */
export interface CodeBlock {
  readonly lang: string;
  readonly text: string;
  readonly line: number;
  /** The HTML comment on the line right before the fence, e.g. `<!-- runnable exit=1 -->`, if any. */
  readonly marker?: string;
}

/** Every fenced code block of a page (top level and inside lists/quotes) with its marker comment. */
export function codeBlocks(markdown: string): CodeBlock[] {
  const lines = markdown.split('\n');
  const blocks: CodeBlock[] = [];
  // marked gives raw text but no positions: find each block's opening fence line in order, from
  // where the previous block ended (list items hand marked their text de-indented, so compare
  // trimmed lines), so repeated blocks map to their own lines.
  let cursor = 0;
  for (const t of allTokens(markdown)) {
    if (t.type !== 'code' || (t as Tokens.Code).codeBlockStyle === 'indented') continue;
    const rawLines = t.raw.trimEnd().split('\n');
    const fence = (rawLines[0] ?? '').trim();
    let i = cursor;
    while (i < lines.length && (lines[i] ?? '').trim() !== fence) i++;
    if (i >= lines.length) continue;
    cursor = i + rawLines.length;
    const previous = (lines[i - 1] ?? '').trim();
    const marker = /^<!--.*-->$/.test(previous) ? previous : undefined;
    blocks.push({ lang: (t as Tokens.Code).lang ?? '', text: (t as Tokens.Code).text, line: i + 1, marker });
  }
  return blocks;
}

/** Targets of every Markdown link and image of a page (`[x](target)`), as written. */
export function linkTargets(markdown: string): string[] {
  return allTokens(markdown)
    .filter((t): t is Tokens.Link | Tokens.Image => t.type === 'link' || t.type === 'image')
    .map((t) => t.href);
}

/** The marker that makes the next ```sh block a command the tests run (docs/architecture.md §7). */
export const RUNNABLE_MARKER = /^<!--\s*runnable\b(?<attrs>[^>]*?)\s*-->$/;

/** A command block the docs promise runs as written, with what it must exit with. */
export interface RunnableBlock {
  readonly page: string;
  readonly line: number;
  readonly script: string;
  /** `exit=N` in the marker; default 0. */
  readonly exit: number;
  /** `timeout=N` seconds in the marker; default 30. */
  readonly timeoutSeconds: number;
}

/** Raised for a marker that is not right before a ```sh fence or has an unknown attribute. */
export class RunnableMarkerError extends Error {
  readonly code = 'RUNNABLE_MARKER';
}

/**
 * Every block of `markdown` marked `<!-- runnable [exit=N] [timeout=S] -->` on the line right
 * before its ```sh (or ```bash) fence. Throws {@link RunnableMarkerError} for a marker anywhere else
 * or with an attribute it does not know, so a mistyped marker is never silently skipped.
 */
export function runnableBlocks(page: string, markdown: string): RunnableBlock[] {
  const blocks: RunnableBlock[] = [];
  const marked = new Set<number>();
  for (const b of codeBlocks(markdown)) {
    const m = b.marker?.match(RUNNABLE_MARKER);
    if (!m) continue;
    if (b.lang !== 'sh' && b.lang !== 'bash')
      throw new RunnableMarkerError(`${page}:${b.line}: a runnable block must be \`\`\`sh, not "${b.lang}"`);
    let exit = 0;
    let timeoutSeconds = 30;
    for (const attr of (m.groups?.attrs ?? '').trim().split(/\s+/).filter(Boolean)) {
      const [key, value = ''] = attr.split('=');
      if (key === 'exit' && /^\d{1,3}$/.test(value)) exit = Number(value);
      else if (key === 'timeout' && /^\d{1,3}$/.test(value)) timeoutSeconds = Number(value);
      else throw new RunnableMarkerError(`${page}:${b.line - 1}: unknown runnable attribute "${attr}"`);
    }
    marked.add(b.line - 1);
    blocks.push({ page, line: b.line, script: b.text, exit, timeoutSeconds });
  }
  markdown.split('\n').forEach((text, i) => {
    if (RUNNABLE_MARKER.test(text.trim()) && !marked.has(i + 1))
      throw new RunnableMarkerError(
        `${page}:${i + 1}: a runnable marker must be the line right before a \`\`\`sh fence`,
      );
  });
  return blocks;
}
