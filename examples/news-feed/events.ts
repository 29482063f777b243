// The feed's events in the SSE wire format (HTML Living Standard §9.2.6), and where the shared
// history keeps them in Redis.

/** How long the shared history keeps an event (s); a resume from further back misses the rest. */
export const HISTORY_TTL_S = 600;

export function historyKey(id: number): string {
  return `history:${id}`;
}

/** The event of tick `id`: the same bytes on every pod. */
export function eventAt(id: number): string {
  const data = JSON.stringify({ id, title: `Headline ${id}` });
  return `id: ${id}\nevent: headline\ndata: ${data}\n\n`;
}
