import { createRequire } from 'node:module';
import { describe, expect, it } from 'vitest';
import { checkParserBinding, NodeHttpParserChangedError } from '../../agent/proxy/index.js';

// The proxy parses HTTP with Node's internal `_http_common` HTTPParser (DEP0199). Its shape is
// checked as the proxy loads; these feed the check Node's real binding and altered copies of it.

const real = createRequire(import.meta.url)('_http_common') as {
  HTTPParser: { prototype: object } & Record<string, unknown>;
  methods: string[];
};

/** A copy of the real binding with `change` applied to a subclass of its parser. */
function altered(change: (parser: Record<string, unknown>, proto: Record<string, unknown>) => void): unknown {
  class Parser extends (real.HTTPParser as unknown as new () => object) {}
  for (const key of Object.getOwnPropertyNames(real.HTTPParser)) {
    if (!['length', 'name', 'prototype', 'arguments', 'caller'].includes(key)) {
      Object.defineProperty(Parser, key, { value: real.HTTPParser[key], writable: true, configurable: true });
    }
  }
  change(Parser as unknown as Record<string, unknown>, Parser.prototype as Record<string, unknown>);
  return { HTTPParser: Parser, methods: [...real.methods] };
}

function problemsOf(common: unknown): readonly string[] {
  try {
    checkParserBinding(common);
  } catch (err) {
    expect(err).toBeInstanceOf(NodeHttpParserChangedError);
    expect((err as NodeHttpParserChangedError).code).toBe('agent-node-parser-changed');
    return (err as NodeHttpParserChangedError).problems;
  }
  return [];
}

describe("the agent's check of Node's internal HTTP parser", () => {
  it('accepts the binding of the running Node, and an unaltered copy of it', () => {
    expect(checkParserBinding(real).HTTPParser).toBe(real.HTTPParser);
    expect(problemsOf(altered(() => undefined))).toEqual([]);
  });

  it('names a callback slot or constant that is gone or no longer a number', () => {
    const problems = problemsOf(
      altered((parser) => {
        parser.kOnBody = undefined;
        parser.kLenientNone = '0';
      }),
    );
    expect(problems).toEqual([
      'HTTPParser.kLenientNone is not an integer',
      'HTTPParser.kOnBody is not an integer',
    ]);
  });

  it('sees callback slots that collide and REQUEST equal to RESPONSE', () => {
    const problems = problemsOf(
      altered((parser) => {
        parser.kOnMessageComplete = parser.kOnHeaders;
        parser.RESPONSE = parser.REQUEST;
      }),
    );
    expect(problems).toEqual([
      'HTTPParser callback slots (kOn*) are not distinct',
      'HTTPParser.REQUEST equals HTTPParser.RESPONSE',
    ]);
  });

  it('names a method the wrapper calls that the parser no longer has', () => {
    const problems = problemsOf(
      altered((_parser, proto) => {
        Object.defineProperty(proto, 'finish', { value: undefined });
      }),
    );
    expect(problems).toEqual(['HTTPParser.prototype.finish is not a method']);
  });

  it('refuses a module without the parser class or the method table, with a message for the operator', () => {
    expect(problemsOf({ methods: real.methods })).toEqual(['HTTPParser is not a constructor']);
    expect(problemsOf({ HTTPParser: real.HTTPParser, methods: 'GET' })).toEqual([
      'methods is not a list of method names',
    ]);
    expect(problemsOf(undefined)).toEqual(['_http_common is not an object']);
    const err = new NodeHttpParserChangedError(['HTTPParser is not a constructor']);
    expect(err.message).toContain(process.version);
    expect(err.message).toContain('DEP0199');
    expect(err.message).toContain('HTTPParser is not a constructor');
  });
});
