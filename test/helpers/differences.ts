// A short list of where two JSON values differ, for assertion messages: a report's full diff runs
// to hundreds of lines, and CI keeps only the end of its log.

/**
 * The paths at which `a` and `b` differ (`terminations.3.exitedAt: "…" ≠ "…"`), at most `limit`
 * of them, both values shown as JSON cut to 80 characters. Arrays and objects are walked; any
 * other pair is compared with Object.is.
 */
export function differences(a: unknown, b: unknown, limit = 20): string[] {
  const out: string[] = [];
  const show = (v: unknown) => (JSON.stringify(v) ?? String(v)).slice(0, 80);
  const walk = (x: unknown, y: unknown, path: string): void => {
    if (out.length >= limit) return;
    const bothObjects = x !== null && y !== null && typeof x === 'object' && typeof y === 'object';
    if (bothObjects && Array.isArray(x) === Array.isArray(y)) {
      const keys = new Set([...Object.keys(x), ...Object.keys(y)]);
      for (const k of keys) {
        walk((x as Record<string, unknown>)[k], (y as Record<string, unknown>)[k], path ? `${path}.${k}` : k);
      }
      return;
    }
    if (!Object.is(x, y)) out.push(`${path || '(root)'}: ${show(x)} ≠ ${show(y)}`);
  };
  walk(a, b, '');
  return out;
}
