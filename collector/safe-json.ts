import type { Response } from 'express';

// Stored events are wire JSON kept as they arrived. The contract refuses events nested deeper than
// MAX_EVENT_DEPTH, but data stored before that rule, or written by another tool, may still be
// deeper than JSON.stringify can walk (a RangeError at a few thousand levels). An API answer must
// never fail on stored data, so such a body is sent with the too-deep parts replaced.

/** Levels kept when a body cannot be serialised whole; deeper values become NESTED_TOO_DEEP. */
const KEEP_DEPTH = 64;
export const NESTED_TOO_DEEP = '[nested too deep]';

function prune(value: unknown, depth: number): unknown {
  if (typeof value !== 'object' || value === null) return value;
  if (depth <= 0) return NESTED_TOO_DEEP;
  if (Array.isArray(value)) return value.map((v) => prune(v, depth - 1));
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) out[k] = prune(v, depth - 1);
  return out;
}

/** JSON text of `body`; values nested past 64 levels are replaced when the whole cannot be serialised. */
export function safeStringify(body: unknown): string {
  try {
    return JSON.stringify(body);
  } catch (err) {
    if (!(err instanceof RangeError)) throw err;
    return JSON.stringify(prune(body, KEEP_DEPTH));
  }
}

/** Sends `body` as JSON with `status` (safeStringify). */
export function sendJson(res: Response, status: number, body: unknown): void {
  res.status(status).type('application/json').send(safeStringify(body));
}
