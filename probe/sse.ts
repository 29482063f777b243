import { EventSource, type FetchLike, type FetchLikeResponse } from 'eventsource';
import { fetch } from 'undici';
import type { StreamEnd } from '../contract/index.js';
import { bump, type ProbeContext, recordPush } from './context.js';
import type { SseScenario } from './scenario.js';
import type { ProbeSocket, ProbeSocketOptions } from './websocket.js';
import { createSequenceTracker } from './ws-patterns.js';

// A session's Server-Sent Events stream, through the `eventsource` client (HTML Living Standard
// §9.2: it reconnects by itself and sends `Last-Event-ID`). Every event's id is the session's
// sequence number: a jump is a gap (the ids skipped are lost), an id at or below the highest seen
// a duplicate. How a stream the probe did not close ended is read from its body: the response's
// proper end (`server-closed`) or a break mid-body (`cut`, as when the process exits).

/** An HTTP refusal (non-200, wrong type) makes EventSource give up; the probe starts a new one after this. */
const RESTART_MS = 200;

export function createProbeStream(
  ctx: ProbeContext,
  sse: SseScenario,
  options: ProbeSocketOptions,
): ProbeSocket {
  const { config, counters } = ctx;
  const url = new URL(sse.path, config.target);
  const sequence = createSequenceTracker('');
  const base = { runId: config.runId, sessionId: options.sessionId, transport: 'sse' as const };
  let es: EventSource | undefined;
  let restartTimer: NodeJS.Timeout | undefined;
  let connSeq = 0;
  let counted = false;
  let closed = false;
  /** The connection receiving now, and the pod the latest event came from (where a gap began). */
  let current: { id: string; pod: string | undefined } | undefined;
  let pushPod: string | undefined;
  const now = (): string => new Date(ctx.clock.now()).toISOString();

  const ended = (connectionId: string, pod: string | undefined, end: StreamEnd | 'aborted'): void => {
    counters.wsOpen -= 1;
    // An abort is the probe's own close (stop): not an end to count.
    if (closed || end === 'aborted') return;
    bump(counters.streamEnds, end);
    ctx.emit('probe.websocket', {
      ...base,
      connectionId,
      event: 'stream-ended',
      end,
      ...(pod ? { pod } : {}),
      at: now(),
    });
  };

  /** Reads the body through, noting how it ended, and hands the same bytes on to EventSource. */
  const watched = (
    res: FetchLikeResponse & { body: ReadableStream<Uint8Array> },
    connectionId: string,
    pod: string | undefined,
  ): ReadableStream<Uint8Array> => {
    const reader = res.body.getReader();
    return new ReadableStream<Uint8Array>({
      async pull(controller) {
        try {
          const { done, value } = await reader.read();
          if (done) {
            ended(connectionId, pod, 'server-closed');
            controller.close();
          } else controller.enqueue(value);
        } catch (err) {
          ended(connectionId, pod, (err as Error).name === 'AbortError' ? 'aborted' : 'cut');
          controller.error(err);
        }
      },
      cancel: (reason) => reader.cancel(reason),
    });
  };

  const fetchLike: FetchLike = async (target, init) => {
    connSeq += 1;
    const connectionId = `${options.sessionId}.e${connSeq}`;
    const headers: Record<string, string> = {
      ...init.headers,
      'x-drainwatch-probe': connectionId,
      ...options.credentials(sse.path),
    };
    // A new EventSource (after an HTTP refusal) starts without the id: the session still has it.
    if (!headers['Last-Event-ID'] && sequence.lastId) headers['Last-Event-ID'] = sequence.lastId;
    let res: Awaited<ReturnType<typeof fetch>>;
    try {
      res = await fetch(target, {
        headers,
        signal: init.signal,
        redirect: 'manual',
        cache: 'no-store',
      });
    } catch (err) {
      if ((err as Error).name !== 'AbortError') counters.wsConnectFailures += 1;
      throw err;
    }
    const pod = res.headers.get('x-drainwatch-pod')?.slice(0, 256) ?? undefined;
    const usable =
      res.status === 200 && (res.headers.get('content-type') ?? '').startsWith('text/event-stream');
    if (!usable || !res.body) {
      counters.wsConnectFailures += 1;
      return res as unknown as FetchLikeResponse;
    }
    counters.wsConnections += 1;
    counters.wsOpen += 1;
    current = { id: connectionId, pod };
    ctx.emit('probe.websocket', {
      ...base,
      connectionId,
      event: 'opened',
      ...(pod ? { pod } : {}),
      at: now(),
    });
    const body = watched(res as never, connectionId, pod);
    return { body, url: res.url, status: res.status, redirected: res.redirected, headers: res.headers };
  };

  const onEvent = (e: MessageEvent): void => {
    const verdict = sequence.pushValue(e.lastEventId);
    if (!verdict) return;
    const connPod = current?.pod;
    const previousPod = pushPod;
    pushPod = connPod;
    const connectionId = current?.id ?? `${options.sessionId}.e${connSeq}`;
    recordPush(ctx, base, connectionId, verdict, { previousPod, pod: connPod });
  };

  function open(): void {
    if (closed) return;
    const source = new EventSource(url, { fetch: fetchLike });
    es = source;
    for (const type of sse.events) source.addEventListener(type, onEvent as (e: Event) => void);
    source.addEventListener('error', () => {
      // CLOSED: refused for good by this EventSource (non-200); a user's page would retry.
      if (source.readyState !== source.CLOSED || closed || es !== source) return;
      es = undefined;
      restartTimer = setTimeout(() => {
        restartTimer = undefined;
        open();
      }, RESTART_MS);
      restartTimer.unref();
    });
  }

  return {
    ensure() {
      if (!counted) {
        counted = true;
        counters.wsSessions += 1;
      }
      if (!es && !restartTimer) open();
    },
    sweep: () => undefined,
    async stop() {
      closed = true;
      if (restartTimer) clearTimeout(restartTimer);
      es?.close();
      es = undefined;
    },
  };
}
