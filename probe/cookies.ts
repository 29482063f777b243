// A minimal per-session cookie jar: name, value and path, with Max-Age=0 / past Expires deleting.
// Domains are ignored on purpose: a probe talks to exactly one origin, its target.

interface StoredCookie {
  readonly value: string;
  readonly path: string;
}

export interface SetCookieResult {
  readonly name: string;
  readonly deleted: boolean;
}

export interface CookieJar {
  /** Applies the Set-Cookie headers of a response to `requestPath`; returns the names it touched. */
  store(setCookie: readonly string[] | string | undefined, requestPath: string): SetCookieResult[];
  /** The `Cookie` header for a request to `requestPath`, or undefined when nothing applies. */
  header(requestPath: string): string | undefined;
  has(name: string): boolean;
  clear(): void;
  readonly size: number;
}

// RFC 6265 §5.1.4: the default path is the request path up to, not including, its last `/`.
function defaultPath(requestPath: string): string {
  const p = requestPath.split('?')[0] ?? '/';
  if (!p.startsWith('/')) return '/';
  const last = p.lastIndexOf('/');
  return last <= 0 ? '/' : p.slice(0, last);
}

function pathMatches(requestPath: string, cookiePath: string): boolean {
  const p = requestPath.split('?')[0] ?? '/';
  if (p === cookiePath) return true;
  if (!p.startsWith(cookiePath)) return false;
  return cookiePath.endsWith('/') || p[cookiePath.length] === '/';
}

export function parseSetCookie(
  line: string,
  requestPath: string,
): { name: string; value: string; path: string; deleted: boolean } | undefined {
  const [pair, ...attrs] = line.split(';');
  const eq = pair?.indexOf('=') ?? -1;
  if (!pair || eq <= 0) return undefined;
  const name = pair.slice(0, eq).trim();
  const value = pair.slice(eq + 1).trim();
  let path = defaultPath(requestPath);
  let deleted = false;
  for (const attr of attrs) {
    const [k = '', ...rest] = attr.split('=');
    const key = k.trim().toLowerCase();
    const v = rest.join('=').trim();
    if (key === 'path' && v.startsWith('/')) path = v;
    else if (key === 'max-age' && /^-?\d+$/.test(v) && Number(v) <= 0) deleted = true;
    else if (key === 'expires') {
      const t = Date.parse(v);
      if (Number.isFinite(t) && t <= Date.now()) deleted = true;
    }
  }
  return { name, value, path, deleted };
}

export function createCookieJar(): CookieJar {
  // Keyed by name + path, as a browser would keep two cookies of one name on different paths.
  const cookies = new Map<string, StoredCookie & { name: string }>();
  return {
    store(setCookie, requestPath) {
      if (!setCookie) return [];
      const lines = typeof setCookie === 'string' ? [setCookie] : setCookie;
      const touched: SetCookieResult[] = [];
      for (const line of lines) {
        const c = parseSetCookie(line, requestPath);
        if (!c) continue;
        const key = `${c.name}\u0000${c.path}`;
        if (c.deleted) cookies.delete(key);
        else cookies.set(key, { name: c.name, value: c.value, path: c.path });
        touched.push({ name: c.name, deleted: c.deleted });
      }
      return touched;
    },
    header(requestPath) {
      const parts: string[] = [];
      for (const c of cookies.values())
        if (pathMatches(requestPath, c.path)) parts.push(`${c.name}=${c.value}`);
      return parts.length ? parts.join('; ') : undefined;
    },
    has(name) {
      for (const c of cookies.values()) if (c.name === name) return true;
      return false;
    },
    clear() {
      cookies.clear();
    },
    get size() {
      return cookies.size;
    },
  };
}
