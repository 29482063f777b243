import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { parseAppExitedReport } from '../../agent/admin.js';

// The admin port checks POST /lifecycle/app-exited by hand, since the agent does not load zod; it
// must accept and refuse exactly what the zod schema it replaced did, and return the same report.
const previousSchema = z.object({
  code: z.number().int().nullable().optional(),
  signal: z.string().max(32).nullable().optional(),
  killedAtGrace: z.boolean().optional(),
});

const bodies: unknown[] = [
  {},
  { code: 0 },
  { code: 137, signal: 'SIGKILL', killedAtGrace: true },
  { code: null, signal: null },
  { code: -1, extra: 'ignored' },
  { signal: 'S'.repeat(32) },
  { signal: 'S'.repeat(33) },
  { code: 1.5 },
  { code: '1' },
  { code: 2 ** 60 },
  { signal: 9 },
  { killedAtGrace: 'yes' },
  { killedAtGrace: null },
  null,
  [],
  [1],
  'text',
  42,
  true,
];

describe('app-exited report', () => {
  it.each(bodies.map((b) => [JSON.stringify(b), b]))(
    '%s: same verdict and report as the zod schema',
    (_, body) => {
      const expected = previousSchema.safeParse(body);
      let actual: unknown;
      let threw = false;
      try {
        actual = parseAppExitedReport(body);
      } catch {
        threw = true;
      }
      expect(threw).toBe(!expected.success);
      if (expected.success) expect(actual).toEqual(expected.data);
    },
  );

  it('names the field at fault', () => {
    expect(() => parseAppExitedReport({ code: 'x' })).toThrow(/^code:/);
    expect(() => parseAppExitedReport({ signal: 'S'.repeat(40) })).toThrow(/^signal:/);
    expect(() => parseAppExitedReport({ killedAtGrace: 1 })).toThrow(/^killedAtGrace:/);
  });
});
