import { decodeKeyPart, encodeKeyPart } from './keys.js';

// Where the probe-id lookup finds a batched request record. A `request.batch` is stored once, in
// its pod's timeline; the lookup of a probe's record (the agent's view of a failed probe request)
// keeps a pointer to it, not a copy: re-serialising every probe's record as its own event cost the
// collector about a tenth of its CPU at the scale bench's mix, where most records are probes'
// (docs/scaling.md). An unbatched record is still stored whole, as its event's JSON.

const PREFIX = '@';

/** A record's place: its pod's timeline, the batch's score there (event time, ms), its expanded id. */
export interface RequestPointer {
  readonly pod: string;
  readonly score: number;
  /** The record's `request` event id (contract batchRecordId: `<batch id>/<index>`). */
  readonly id: string;
}

/**
 * `@<pod>|<score>|<id>`: the pod percent-encoded as in keys (encodeKeyPart: a DNS label stays as it
 * is, but a pod named outside Kubernetes may hold a `|`); the id is the rest, whatever it holds.
 */
export function encodeRequestPointer(p: RequestPointer): string {
  return `${PREFIX}${encodeKeyPart(p.pod)}|${p.score}|${p.id}`;
}

/** The pointer a stored value holds, or undefined for a stored event (JSON) or anything else. */
export function decodeRequestPointer(value: string): RequestPointer | undefined {
  if (!value.startsWith(PREFIX)) return undefined;
  const a = value.indexOf('|');
  const b = a < 0 ? -1 : value.indexOf('|', a + 1);
  if (b < 0) return undefined;
  const score = Number(value.slice(a + 1, b));
  if (!Number.isFinite(score)) return undefined;
  let pod: string;
  try {
    pod = decodeKeyPart(value.slice(PREFIX.length, a));
  } catch {
    return undefined; // not percent-encoding: no pointer the collector wrote
  }
  return { pod, score, id: value.slice(b + 1) };
}
