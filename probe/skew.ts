// Traffic distribution per pod over sliding windows, and the two signs of sticky routing.

export interface SkewWindow {
  /** Counts one answered request from `pod` at time `now` (ms). */
  record(pod: string, now: number): void;
  /** Busiest ÷ quietest among pods seen in the window ending at `now`; null before any request. */
  ratio(now: number): number | null;
  /** Requests per pod in the window ending at `now`. */
  counts(now: number): Record<string, number>;
}

/** A ring of fixed buckets covering `windowMs`; a bucket older than the window is reused. */
export function createSkewWindow(
  windowMs: number,
  bucketMs = Math.max(10, Math.min(1000, windowMs / 10)),
): SkewWindow {
  const n = Math.ceil(windowMs / bucketMs);
  const starts = new Array<number>(n).fill(-1);
  const buckets: Map<string, number>[] = Array.from({ length: n }, () => new Map());

  const counts = (now: number): Record<string, number> => {
    const out: Record<string, number> = {};
    const oldest = Math.floor(now / bucketMs) - n + 1;
    for (let i = 0; i < n; i++) {
      if (starts[i]! < oldest) continue;
      for (const [pod, c] of buckets[i]!) out[pod] = (out[pod] ?? 0) + c;
    }
    return out;
  };
  return {
    record(pod, now) {
      const b = Math.floor(now / bucketMs);
      const i = b % n;
      if (starts[i] !== b) {
        starts[i] = b;
        buckets[i]!.clear();
      }
      buckets[i]!.set(pod, (buckets[i]!.get(pod) ?? 0) + 1);
    },
    ratio(now) {
      return skewRatio(counts(now));
    },
    counts,
  };
}

/** A run's routing evidence: the sliding window and its peak, and the first affinity cookie seen. */
export interface SkewTracker {
  /** Counts one answered request from `pod`, now. */
  record(pod: string): void;
  /** Looks for an affinity cookie among the names a response set, until one is found. */
  cookiesSet(names: readonly string[]): void;
  /** Takes the latest window into the peak once the run (`elapsedMs`) covers a full window. */
  evaluate(elapsedMs: number): void;
  /** Busiest ÷ quietest over the latest window; null before any request in it. */
  ratio(): number | null;
  /** The largest full-window ratio so far; null before the first full window. */
  readonly max: number | null;
  /** stickyVerdict() with the affinity cookie seen so far. */
  verdict(sessions: Iterable<SessionPods>, podsSeen: number): StickyVerdict;
}

/** `cookies`: the scenario's extra affinity cookie names, and its session cookie (never affinity). */
export function createSkewTracker(
  windowMs: number,
  clock: { now(): number },
  cookies: { readonly extra?: readonly string[]; readonly sessionCookie?: string },
): SkewTracker {
  const window = createSkewWindow(windowMs);
  let affinityCookie: string | null = null;
  let max: number | null = null;
  return {
    record(pod) {
      window.record(pod, clock.now());
    },
    cookiesSet(names) {
      if (affinityCookie) return;
      affinityCookie = names.find((n) => isAffinityCookie(n, cookies)) ?? null;
    },
    evaluate(elapsedMs) {
      // Only full windows count toward the peak: a half-empty first window is noise, not skew.
      if (elapsedMs < windowMs) return;
      const r = window.ratio(clock.now());
      if (r !== null && (max === null || r > max)) max = r;
    },
    ratio: () => window.ratio(clock.now()),
    get max() {
      return max;
    },
    verdict: (sessions, podsSeen) => stickyVerdict(affinityCookie, sessions, podsSeen),
  };
}

/** Busiest ÷ quietest of a per-pod count; null when no pod answered. */
export function skewRatio(perPod: Readonly<Record<string, number>>): number | null {
  const values = Object.values(perPod).filter((v) => v > 0);
  if (values.length === 0) return null;
  return Math.max(...values) / Math.min(...values);
}

// Names that ingress controllers and load balancers give their affinity cookies.
const AFFINITY_PATTERNS = [
  /affinity/i,
  /sticky/i,
  /^route$/i,
  /^ingresscookie$/i,
  /^serverid$/i,
  /^awsalb/i,
  /^gclb$/i,
];

/** True when a Set-Cookie name looks like an entry point's affinity cookie rather than the app's. */
export function isAffinityCookie(
  name: string,
  options: { readonly extra?: readonly string[]; readonly sessionCookie?: string } = {},
): boolean {
  const lower = name.toLowerCase();
  if (options.sessionCookie && lower === options.sessionCookie.toLowerCase()) return false;
  if (options.extra?.some((c) => c.toLowerCase() === lower)) return true;
  return AFFINITY_PATTERNS.some((re) => re.test(name));
}

export interface SessionPods {
  /** Requests of the session that carried a pod header. */
  readonly answered: number;
  /** Distinct pods that answered it. */
  readonly pods: number;
}

export const STICKY_MIN_REQUESTS = 10;
export const STICKY_SESSION_SHARE = 0.9;

export interface StickyVerdict {
  readonly sticky: boolean;
  readonly reason: string | null;
}

/**
 * Sticky when an affinity cookie was seen, or when ≥ 90% of the sessions with ≥ 10 answered
 * requests were answered by one pod only while at least two pods answered the run.
 */
export function stickyVerdict(
  affinityCookie: string | null,
  sessions: Iterable<SessionPods>,
  podsSeen: number,
): StickyVerdict {
  if (affinityCookie)
    return { sticky: true, reason: `affinity cookie "${affinityCookie}" set by the entry point` };
  let eligible = 0;
  let pinned = 0;
  for (const s of sessions) {
    if (s.answered < STICKY_MIN_REQUESTS) continue;
    eligible += 1;
    if (s.pods === 1) pinned += 1;
  }
  if (podsSeen >= 2 && eligible > 0 && pinned / eligible >= STICKY_SESSION_SHARE) {
    const pct = Math.round((100 * pinned) / eligible);
    return {
      sticky: true,
      reason: `${pct}% of ${eligible} sessions with ≥ ${STICKY_MIN_REQUESTS} requests were always answered by the same pod (${podsSeen} pods seen)`,
    };
  }
  return { sticky: false, reason: null };
}
