import { createRequire } from 'node:module';

// The one place the agent touches Node's internal HTTP parser: `_http_common`'s HTTPParser, the
// llhttp binding Node's own `http` module uses (why the proxy parses with it: http-parser.ts).
// It is internal and documented as deprecated for outside use (DEP0199), so its shape is checked
// once, when the agent starts: if a Node upgrade renamed a callback slot, a constant or a method the
// wrapper uses, the agent refuses to start with NodeHttpParserChangedError instead of
// mis-parsing traffic. test/unit/agent-http-parser.test.ts pins the behaviour behind the shape.

export interface NativeParser {
  initialize(type: number, resource: object, maxHeaderSize: number, lenient: number): void;
  execute(chunk: Buffer): number | NativeParseError;
  finish(): undefined | NativeParseError;
  close(): void;
  [key: number]: unknown;
}

export interface NativeParseError extends Error {
  code?: string;
  bytesParsed?: number;
}

export interface NativeParserClass {
  new (): NativeParser;
  readonly REQUEST: number;
  readonly RESPONSE: number;
  readonly kOnHeaders: number;
  readonly kOnHeadersComplete: number;
  readonly kOnBody: number;
  readonly kOnMessageComplete: number;
  readonly kLenientNone: number;
}

/** What the wrapper uses of `_http_common`: the parser class and the method names by index. */
export interface ParserBinding {
  readonly HTTPParser: NativeParserClass;
  readonly methods: readonly string[];
}

/** Node's internal HTTP parser no longer has the shape the agent's proxy was written against. */
export class NodeHttpParserChangedError extends Error {
  readonly code = 'agent-node-parser-changed';
  /** Each difference found, e.g. "HTTPParser.kOnBody is not an integer". */
  readonly problems: readonly string[];
  constructor(problems: readonly string[]) {
    super(
      `Node ${process.version}'s internal HTTP parser (_http_common HTTPParser, DEP0199) changed: ` +
        `${problems.join('; ')}. This Node version is not supported by the drainwatch agent.`,
    );
    this.name = 'NodeHttpParserChangedError';
    this.problems = problems;
  }
}

const CONSTANTS = ['REQUEST', 'RESPONSE', 'kLenientNone'] as const;
const CALLBACK_SLOTS = ['kOnHeaders', 'kOnHeadersComplete', 'kOnBody', 'kOnMessageComplete'] as const;
const METHODS = ['initialize', 'execute', 'finish', 'close'] as const;

function shapeProblems(common: unknown): string[] {
  if (typeof common !== 'object' || common === null) return ['_http_common is not an object'];
  const { HTTPParser, methods } = common as Record<string, unknown>;
  const problems: string[] = [];
  if (!Array.isArray(methods) || methods.length === 0 || !methods.every((m) => typeof m === 'string')) {
    problems.push('methods is not a list of method names');
  }
  if (typeof HTTPParser !== 'function') return [...problems, 'HTTPParser is not a constructor'];
  const parser = HTTPParser as unknown as Record<string, unknown> & { prototype: unknown };
  for (const name of [...CONSTANTS, ...CALLBACK_SLOTS]) {
    if (!Number.isInteger(parser[name])) problems.push(`HTTPParser.${name} is not an integer`);
  }
  const slots = CALLBACK_SLOTS.map((name) => parser[name]);
  if (new Set(slots).size !== slots.length)
    problems.push('HTTPParser callback slots (kOn*) are not distinct');
  if (parser.REQUEST === parser.RESPONSE) problems.push('HTTPParser.REQUEST equals HTTPParser.RESPONSE');
  const proto = (parser.prototype ?? {}) as Record<string, unknown>;
  for (const name of METHODS) {
    if (typeof proto[name] !== 'function') problems.push(`HTTPParser.prototype.${name} is not a method`);
  }
  return problems;
}

/**
 * Checks that `common` (what `require('_http_common')` returned) has every constructor, constant,
 * callback slot and method the wrapper uses, and returns it typed. Throws NodeHttpParserChangedError
 * (code `agent-node-parser-changed`) listing every difference otherwise.
 */
export function checkParserBinding(common: unknown): ParserBinding {
  const problems = shapeProblems(common);
  if (problems.length > 0) throw new NodeHttpParserChangedError(problems);
  return common as ParserBinding;
}

let loaded: ParserBinding | undefined;

/**
 * Node's binding, loaded and checked on the first call (the agent's start()) and cached. Throws
 * NodeHttpParserChangedError if its shape changed.
 */
export function loadParserBinding(): ParserBinding {
  loaded ??= checkParserBinding(createRequire(import.meta.url)('_http_common'));
  return loaded;
}
