import { type ParseEntry, parse as parseShell } from 'shell-quote';
import { PREFIXES, type Reading, SLEEP, seq, times, unknownReading, ZERO } from './prestop-reading.js';

// Shell scripts as the preStop reader (prestop.ts) and the PID 1 check (pid1.ts) read them:
// shell-quote tokenises (quotes, operators, comments, variables); a recursive-descent reader
// bounds how long the script takes (sums over sequences, the longest part of a pipeline or of an
// if, `for … in $(seq N)` loops). Pure: no I/O.

/** A shell token: a word, an operator (`;`, `&&`, `|`, `(`, newline as `\n`), or a `$variable`. */
export type ShellToken = string | { op: string } | { variable: string };
type Token = ShellToken;
const SEPARATORS = new Set([';', '&&', '||', '\n']);

/** Tokens of a script: shell-quote per line (newlines end commands), variables kept as markers; undefined when it cannot be tokenised. */
export function tokeniseShell(script: string): Token[] | undefined {
  const out: Token[] = [];
  for (const line of script.replace(/\\\r?\n/g, ' ').split(/\r?\n/)) {
    let entries: ParseEntry[];
    try {
      entries = parseShell(line, (name) => ({ op: 'variable', variable: name }) as unknown as string);
    } catch {
      return undefined;
    }
    for (const e of entries) {
      if (typeof e === 'string') out.push(e);
      else if ('comment' in e) continue;
      else if ('variable' in e) out.push({ variable: (e as { variable: string }).variable });
      else if (e.op === 'glob') out.push((e as { pattern: string }).pattern);
      else out.push({ op: e.op });
    }
    out.push({ op: '\n' });
  }
  return out;
}

const isOp = (t: Token | undefined, op?: string): t is { op: string } =>
  typeof t === 'object' && 'op' in t && (op === undefined || t.op === op);
const isWord = (t: Token | undefined, w: string) => t === w;

/** A recursive-descent reader over shell-quote's tokens: lists, pipelines, for/while/if, groups. */
class ScriptReader {
  private i = 0;
  constructor(
    private readonly t: readonly Token[],
    private readonly readCommand: (argv: readonly string[]) => Reading,
  ) {}

  /** A list up to one of `ends` (words such as `done`, or `)`), or the end of input. */
  list(ends: readonly string[]): Reading {
    let r = ZERO();
    for (;;) {
      while (isOp(this.t[this.i]) && SEPARATORS.has((this.t[this.i] as { op: string }).op)) this.i++;
      const next = this.t[this.i];
      if (next === undefined || (typeof next === 'string' && ends.includes(next)) || isOp(next, ')'))
        return r;
      const at = this.i;
      r = seq(r, this.pipeline());
      // A token no rule takes (`;;`, a stray `)`): give up rather than loop.
      if (this.i === at) throw new Error(`unexpected ${JSON.stringify(this.t[at])}`);
      if (isOp(this.t[this.i], '&')) {
        this.i++;
        r = seq(r, unknownReading('a command runs in the background (&)'));
      }
    }
  }

  /** Whether every token was read (a stray `)` or `esac` ends a list early). */
  atEnd(): boolean {
    return this.i >= this.t.length;
  }

  private pipeline(): Reading {
    // The commands of a pipeline run side by side: the pipeline lasts as long as its longest part.
    let r = this.command();
    while (isOp(this.t[this.i], '|') || isOp(this.t[this.i], '|&')) {
      this.i++;
      const b = this.command();
      r = {
        seconds:
          r.seconds === undefined || b.seconds === undefined ? undefined : Math.max(r.seconds, b.seconds),
        onlySleeps: false,
        invalid: [...r.invalid, ...b.invalid],
        ...((r.unknown ?? b.unknown) ? { unknown: r.unknown ?? b.unknown } : {}),
      };
    }
    return r;
  }

  private expect(word: string): void {
    while (isOp(this.t[this.i], '\n') || isOp(this.t[this.i], ';')) this.i++;
    if (!isWord(this.t[this.i], word)) throw new Error(`expected ${word}`);
    this.i++;
  }

  private command(): Reading {
    const first = this.t[this.i];
    if (first === 'for') return this.forLoop();
    if (first === 'while' || first === 'until') {
      this.i++;
      this.list(['do']);
      this.expect('do');
      this.list(['done']);
      this.expect('done');
      return unknownReading(`a ${first} loop`);
    }
    if (first === 'if') return this.ifClause();
    if (isOp(first, '(') || first === '{') {
      this.i++;
      const r = this.list(['}']);
      this.i++;
      return r;
    }
    return this.simple();
  }

  private forLoop(): Reading {
    this.i++; // for
    const name = this.t[this.i++];
    if (typeof name !== 'string') return unknownReading('a for loop');
    let count: number | undefined;
    if (isWord(this.t[this.i], 'in')) {
      this.i++;
      count = this.wordCount();
    }
    this.expect('do');
    const body = this.list(['done']);
    this.expect('done');
    if (count === undefined)
      return { ...body, seconds: undefined, unknown: 'a for loop over a list it cannot count' };
    return times(body, count);
  }

  /** How many words a `for … in` list has: literal words, and `$(seq …)` with literal numbers. */
  private wordCount(): number | undefined {
    let n = 0;
    let countable = true;
    while (this.t[this.i] !== undefined && !isOp(this.t[this.i], ';') && !isOp(this.t[this.i], '\n')) {
      const t = this.t[this.i]!;
      if (typeof t === 'object' && 'variable' in t && t.variable === '' && isOp(this.t[this.i + 1], '(')) {
        this.i += 2;
        const inner: string[] = [];
        while (this.t[this.i] !== undefined && !isOp(this.t[this.i], ')')) {
          const w = this.t[this.i++]!;
          inner.push(typeof w === 'string' ? w : '?');
        }
        this.i++;
        const c = seqCount(inner);
        if (c === undefined) countable = false;
        else n += c;
        continue;
      }
      if (typeof t !== 'string' || /[{}*?[]/.test(t)) countable = false;
      n++;
      this.i++;
    }
    return countable ? n : undefined;
  }

  private ifClause(): Reading {
    this.i++; // if
    let r = this.list(['then']);
    const branches: Reading[] = [];
    this.expect('then');
    branches.push(this.list(['elif', 'else', 'fi']));
    while (isWord(this.t[this.i], 'elif')) {
      this.i++;
      r = seq(r, this.list(['then']));
      this.expect('then');
      branches.push(this.list(['elif', 'else', 'fi']));
    }
    if (isWord(this.t[this.i], 'else')) {
      this.i++;
      branches.push(this.list(['fi']));
    }
    this.expect('fi');
    // Conditions all run in the worst case; then the longest branch.
    const longest = branches.reduce((a, b) =>
      a.seconds === undefined ? a : b.seconds === undefined ? b : a.seconds >= b.seconds ? a : b,
    );
    return { ...seq(r, longest), onlySleeps: false };
  }

  private simple(): Reading {
    const words: Token[] = [];
    while (this.t[this.i] !== undefined && !isOp(this.t[this.i])) {
      words.push(this.t[this.i]!);
      this.i++;
    }
    // Redirections (`> /dev/null 2>&1`) take the next word; they change no duration.
    while (isOp(this.t[this.i]) && /^[<>]|^&>|^>&/.test((this.t[this.i] as { op: string }).op)) {
      this.i += 2;
    }
    // Leading assignments (`A=1 cmd`) only set the environment.
    while (typeof words[0] === 'string' && /^[A-Za-z_][A-Za-z0-9_]*=/.test(words[0])) words.shift();
    if (words.length === 0) return ZERO();
    const variable = words.find((w): w is { variable: string } => typeof w === 'object');
    const head = words[0];
    if (typeof head !== 'string') return unknownReading('a command named by a variable');
    const cmd = PREFIXES.has(head) ? words[1] : head;
    if (variable !== undefined && typeof cmd === 'string' && SLEEP.test(cmd))
      return { ...unknownReading(`sleep $${variable.variable}`), onlySleeps: true };
    return this.readCommand(
      words.map((w) => (typeof w === 'string' ? w : 'variable' in w ? `$${w.variable}` : '?')),
    );
  }
}

/** Numbers `seq` prints for literal operands (`seq N`, `seq A B`, `seq A STEP B`). */
function seqCount(argv: readonly string[]): number | undefined {
  if (argv[0] !== 'seq') return undefined;
  const n = argv.slice(1).map(Number);
  if (n.length === 0 || n.length > 3 || n.some((x) => !Number.isFinite(x))) return undefined;
  const [first, step, last] =
    n.length === 1 ? [1, 1, n[0]!] : n.length === 2 ? [n[0]!, 1, n[1]!] : [n[0]!, n[1]!, n[2]!];
  if (step === 0) return undefined;
  return Math.max(0, Math.floor((last - first) / step) + 1);
}

/**
 * How long an `sh -c` script takes; each simple command in it is read by `readCommand` (its words,
 * a `$variable` as `$name`). A script the reader cannot parse is unknown.
 */
export function readScript(script: string, readCommand: (argv: readonly string[]) => Reading): Reading {
  const tokens = tokeniseShell(script);
  if (!tokens) return unknownReading('a script the reader cannot parse');
  const reader = new ScriptReader(tokens, readCommand);
  try {
    const r = reader.list([]);
    return reader.atEnd() ? r : unknownReading('a script the reader cannot parse');
  } catch (err) {
    return unknownReading(`a script the reader cannot parse (${(err as Error).message})`);
  }
}
