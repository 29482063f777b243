import { type ParseEntry, parse as parseShell } from 'shell-quote';
import type { LifecycleHandler } from './pod-spec.js';

// The one reader of preStop hooks that lint and inject share: how long an exec or `sleep` preStop
// holds SIGTERM back. shell-quote tokenises `sh -c` scripts (quotes, operators, comments,
// variables); the bounding (sleeps with GNU units, sums over sequences, `for … in $(seq N)` loops)
// is ours. Pure: no I/O.

/** What a preStop handler is known to take. */
export interface PreStopReading {
  /**
   * The longest the handler can take, in seconds, when it can be bounded; undefined when it cannot
   * (see `unknown`). Commands other than `sleep` count 0 s (`nginx -s quit` signals and returns).
   */
  readonly seconds: number | undefined;
  /** Why the duration cannot be bounded (a `while` loop, a script file, `sleep $DELAY`). */
  readonly unknown?: string;
  /**
   * The handler only waits (`sleep`s, in sequence or in a counted loop), so the agent's
   * `fixed:<seconds>` policy can stand for it.
   */
  readonly onlySleeps: boolean;
  /** `sleep` operands that GNU/busybox sleep reject (`1m30s`): the command fails at once. */
  readonly invalidSleeps: readonly string[];
}

export const SHELLS = /^(?:\/usr)?(?:\/bin\/|\/usr\/bin\/|\/usr\/local\/bin\/)?(?:sh|bash|ash|dash|zsh|ksh)$/;
const SLEEP = /^(?:\/usr)?(?:\/bin\/|\/usr\/bin\/)?sleep$/;
/** GNU sleep's operand: a number (integer or decimal) with an optional unit s, m, h or d. */
const SLEEP_OPERAND = /^(\d+(?:\.\d*)?|\.\d+)([smhd]?)$/;
const UNIT_SECONDS: Readonly<Record<string, number>> = { '': 1, s: 1, m: 60, h: 3600, d: 86_400 };
/** Words a shell treats as no-op prefixes of a simple command. */
const PREFIXES = new Set(['exec', 'command', 'builtin', 'time', 'nohup']);
/** Commands that wait for something other than time. */
const WAITING = new Set(['wait', 'read', 'tail', 'inotifywait', 'watch']);

interface Reading {
  seconds: number | undefined;
  unknown?: string;
  onlySleeps: boolean;
  invalid: string[];
}

const ZERO = (): Reading => ({ seconds: 0, onlySleeps: true, invalid: [] });
const unknownReading = (why: string): Reading => ({
  seconds: undefined,
  unknown: why,
  onlySleeps: false,
  invalid: [],
});

function seq(a: Reading, b: Reading): Reading {
  const r: Reading = {
    seconds: a.seconds === undefined || b.seconds === undefined ? undefined : a.seconds + b.seconds,
    onlySleeps: a.onlySleeps && b.onlySleeps,
    invalid: [...a.invalid, ...b.invalid],
  };
  const why = a.unknown ?? b.unknown;
  return why === undefined ? r : { ...r, unknown: why };
}

function times(r: Reading, n: number): Reading {
  return { ...r, seconds: r.seconds === undefined ? undefined : r.seconds * n };
}

/** The seconds of GNU sleep's operands (summed), or the operands sleep rejects. */
function sleepOperands(args: readonly string[]): Reading {
  if (args.length === 0) return { seconds: 0, onlySleeps: true, invalid: ['(no operand)'] };
  let total = 0;
  const invalid: string[] = [];
  for (const a of args) {
    if (/^inf(inity)?$/i.test(a)) return { ...unknownReading(`sleep ${a} never ends`), onlySleeps: true };
    const m = SLEEP_OPERAND.exec(a);
    if (!m) invalid.push(a);
    else total += Number(m[1]) * UNIT_SECONDS[m[2]!]!;
  }
  // sleep rejects its whole command line when one operand is invalid: it fails at once.
  return invalid.length > 0
    ? { seconds: 0, onlySleeps: true, invalid }
    : { seconds: total, onlySleeps: true, invalid };
}

/** A command run directly (argv, no shell between): `sleep 5`, `sh -c "…"`, `/drain.sh`. */
function readArgv(argv: readonly string[]): Reading {
  const [cmd, ...rest] = argv;
  if (cmd === undefined) return ZERO();
  if (PREFIXES.has(cmd)) return readArgv(rest);
  if (SLEEP.test(cmd)) return sleepOperands(rest);
  if (SHELLS.test(cmd)) {
    // `-c`, or `-c` among combined flags (`bash -ec`).
    const c = rest.findIndex((a) => /^-[a-z]*c[a-z]*$/.test(a));
    const flagsOk = rest.slice(0, c).every((f) => /^-[a-z]+$/.test(f));
    if (c >= 0 && flagsOk && rest[c + 1] !== undefined) return readScript(rest[c + 1]!);
    return unknownReading(`${cmd} runs a script file (${rest.join(' ') || 'stdin'})`);
  }
  if (WAITING.has(cmd.replace(/^.*\//, ''))) return unknownReading(`${cmd} waits for an event, not a time`);
  if (/\.(sh|bash)$/.test(cmd)) return unknownReading(`${cmd} is a script`);
  return { seconds: 0, onlySleeps: false, invalid: [] };
}

// ---- shell scripts -------------------------------------------------------------------------------

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
  constructor(private readonly t: readonly Token[]) {}

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
    return readArgv(words.map((w) => (typeof w === 'string' ? w : 'variable' in w ? `$${w.variable}` : '?')));
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

function readScript(script: string): Reading {
  const tokens = tokeniseShell(script);
  if (!tokens) return unknownReading('a script the reader cannot parse');
  const reader = new ScriptReader(tokens);
  try {
    const r = reader.list([]);
    return reader.atEnd() ? r : unknownReading('a script the reader cannot parse');
  } catch (err) {
    return unknownReading(`a script the reader cannot parse (${(err as Error).message})`);
  }
}

/**
 * Reads an exec or `sleep` preStop handler; undefined for an httpGet/tcpSocket handler (its
 * duration is the server's) or an empty one. Kubernetes runs an exec command without a shell
 * unless the command names one (`sh -c …`): https://kubernetes.io/docs/concepts/containers/container-lifecycle-hooks/
 */
export function readPreStop(handler: LifecycleHandler): PreStopReading | undefined {
  let r: Reading;
  if (handler.sleep?.seconds !== undefined)
    r = { seconds: handler.sleep.seconds, onlySleeps: true, invalid: [] };
  else if (handler.exec?.command && handler.exec.command.length > 0) r = readArgv(handler.exec.command);
  else return undefined;
  return {
    seconds: r.seconds,
    ...(r.unknown !== undefined ? { unknown: r.unknown } : {}),
    onlySleeps: r.onlySleeps,
    invalidSleeps: r.invalid,
  };
}
