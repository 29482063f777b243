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
  // marked gives raw text but no positions: find each block's raw text in order, from where the
  // previous one ended, so repeated blocks map to their own lines.
  let from = 0;
  for (const t of allTokens(markdown)) {
    if (t.type !== 'code' || (t as Tokens.Code).codeBlockStyle === 'indented') continue;
    const raw = t.raw.trimEnd();
    const at = markdown.indexOf(raw.trimStart(), from);
    if (at < 0) continue;
    from = at + raw.length;
    const line = markdown.slice(0, at).split('\n').length;
    const previous = (lines[line - 2] ?? '').trim();
    const marker = /^<!--.*-->$/.test(previous) ? previous : undefined;
    blocks.push({ lang: (t as Tokens.Code).lang ?? '', text: (t as Tokens.Code).text, line, marker });
  }
  return blocks;
}

/** Targets of every Markdown link and image of a page (`[x](target)`), as written. */
export function linkTargets(markdown: string): string[] {
  return allTokens(markdown)
    .filter((t): t is Tokens.Link | Tokens.Image => t.type === 'link' || t.type === 'image')
    .map((t) => t.href);
}
