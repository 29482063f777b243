// What a request's path may say about it once it leaves the process that sent or saw it: the
// agent's request records and the probe's probe.request events both carry it (docs/architecture.md §3).

/** The longest route kept in an event, in UTF-16 code units (the contract's short-text limit is above it). */
export const MAX_ROUTE = 256;

/**
 * The path of a request target without its query string or fragment, cut at MAX_ROUTE: parameter
 * values (tokens, e-mail addresses) never leave the pod or the probe. `/ok?token=x#y` → `/ok`.
 */
export function routeOf(url: string): string {
  const q = url.search(/[?#]/);
  const path = q < 0 ? url : url.slice(0, q);
  return path.length > MAX_ROUTE ? path.slice(0, MAX_ROUTE) : path;
}
