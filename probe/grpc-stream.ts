import type { ClientReadableStream, StatusObject } from '@grpc/grpc-js';
import type { StreamEnd } from '../contract/index.js';
import { bump, type ProbeContext, recordPush } from './context.js';
import type { GrpcSessionClient } from './grpc-client.js';
import { fieldAt, fillTemplate, type GrpcScenario } from './scenario.js';
import type { ProbeSocket } from './websocket.js';
import { createSequenceTracker } from './ws-patterns.js';

// A session's gRPC server stream (scenario `grpc.stream`), counted like a WebSocket subscription:
// every message's sequence number goes through the same tracker (a jump is a gap, a number at or
// below the highest seen a duplicate). A stream that ends is reopened at once, asking for the next
// number (`resume`), as a client resuming after a server drain does. How it ended is its status:
// OK is `server-closed` (a drain), anything else `cut` (UNAVAILABLE when the connection went).

/** Pause before reopening a stream that ended, so a refused open does not spin. */
const REOPEN_MS = 100;

export interface GrpcStreamOptions {
  readonly sessionId: string;
  readonly user: string;
  readonly metadata: Readonly<Record<string, string>>;
}

export function createProbeGrpcStream(
  ctx: ProbeContext,
  grpc: GrpcScenario,
  client: GrpcSessionClient,
  options: GrpcStreamOptions,
): ProbeSocket {
  const { config, counters } = ctx;
  const spec = grpc.stream!;
  const sequence = createSequenceTracker('');
  const base = { runId: config.runId, sessionId: options.sessionId, transport: 'grpc' as const };
  let call: ClientReadableStream<unknown> | undefined;
  let reopenTimer: NodeJS.Timeout | undefined;
  let connSeq = 0;
  let counted = false;
  let closed = false;
  let pushPod: string | undefined;
  const now = (): string => new Date(ctx.clock.now()).toISOString();

  function open(): void {
    if (closed || call) return;
    connSeq += 1;
    const connectionId = `${options.sessionId}.g${connSeq}`;
    const request = fillTemplate(spec.request, options.user) as Record<string, unknown>;
    if (spec.resume && sequence.lastId !== undefined) request[spec.resume] = Number(sequence.lastId) + 1;
    const current = client.stream(request, options.metadata, connectionId);
    call = current;
    let pod: string | undefined;
    let opened = false;
    counters.wsConnections += 1;
    counters.wsOpen += 1;
    current.on('data', (msg: unknown) => {
      const p = spec.pod ? fieldAt(msg, spec.pod) : undefined;
      if (typeof p === 'string' && p) pod = p.slice(0, 256);
      if (!opened) {
        opened = true;
        ctx.emit('probe.websocket', {
          ...base,
          connectionId,
          event: 'opened',
          ...(pod ? { pod } : {}),
          at: now(),
        });
      }
      const verdict = sequence.pushValue(fieldAt(msg, spec.sequence));
      if (!verdict) return;
      const previousPod = pushPod;
      pushPod = pod;
      recordPush(ctx, base, connectionId, verdict, { previousPod, pod });
    });
    // grpc-js emits 'error' as well for a non-OK status; 'status' alone says how every call ended.
    current.on('error', () => undefined);
    current.on('status', (s: StatusObject) => {
      if (call === current) call = undefined;
      counters.wsOpen -= 1;
      if (closed) return;
      if (!opened) counters.wsConnectFailures += 1;
      const end: StreamEnd = s.code === 0 ? 'server-closed' : 'cut';
      if (opened) {
        bump(counters.streamEnds, end);
        ctx.emit('probe.websocket', {
          ...base,
          connectionId,
          event: 'stream-ended',
          end,
          ...(pod ? { pod } : {}),
          reason: `grpc-status ${s.code}`,
          at: now(),
        });
      }
      reopenTimer = setTimeout(() => {
        reopenTimer = undefined;
        open();
      }, REOPEN_MS);
      reopenTimer.unref();
    });
  }

  return {
    ensure() {
      if (!counted) {
        counted = true;
        counters.wsSessions += 1;
      }
      if (!call && !reopenTimer) open();
    },
    sweep: () => undefined,
    async stop() {
      closed = true;
      if (reopenTimer) clearTimeout(reopenTimer);
      call?.cancel();
      call = undefined;
    },
  };
}
