import type { RequestOutcome } from '../../contract/index.js';
import type { RequestRecord, Traffic } from '../traffic.js';
import { isHealthCheckAgent, PROBE_HEADER } from './forwarding.js';
import type { HeaderField } from './hpack.js';

// The streams of one HTTP/2 connection as the relay sees them pass: each client-initiated stream
// is one request record (method, path as the route: the gRPC method for gRPC), ended once with
// the outcome its frames show. Header values other than method, path, user-agent, the probe id,
// :status and grpc-status are never kept.

// gRPC status codes that are the server's failure rather than an answer about the call, as 5xx
// are for HTTP (the gRPC status-code doc's HTTP mapping): UNKNOWN, DEADLINE_EXCEEDED,
// UNIMPLEMENTED, INTERNAL, UNAVAILABLE, DATA_LOSS.
const GRPC_SERVER_FAULTS = new Set([2, 4, 12, 13, 14, 15]);

export interface H2Stream {
  readonly id: number;
  readonly record: RequestRecord;
  clientEnded: boolean;
  appEnded: boolean;
  status: number | undefined;
  grpcStatus: number | undefined;
}

/** How a stream ended, for the request event (RFC 9113 §7 error code of a RST_STREAM). */
export interface StreamEnd {
  readonly outcome: RequestOutcome;
  readonly rstCode?: number;
  readonly goaway?: boolean;
}

export interface H2Streams {
  readonly open: number;
  /** Highest client stream id seen (the real last stream id of the final GOAWAY). */
  readonly maxClientId: number;
  /**
   * Stream 1 of a connection upgraded from HTTP/1.1 (`Upgrade: h2c`, RFC 7540 §3.2): the upgrade
   * request, already counted as `record`, whose response comes as HTTP/2. The client's half is closed.
   */
  upgraded(record: RequestRecord): void;
  /** A client header block (request headers or trailers) on `id`. */
  clientHeaders(id: number, fields: HeaderField[], endStream: boolean): void;
  appHeaders(id: number, fields: HeaderField[], endStream: boolean): void;
  clientEnd(id: number): void;
  appEnd(id: number): void;
  reset(id: number, by: 'client' | 'app', code: number): void;
  /** The app's GOAWAY: streams above `lastId` were not processed (RFC 9113 §6.8). */
  appGoaway(lastId: number): void;
  /**
   * The connection is gone: what is still open ends with `outcome`; `goaway` says whether the client
   * had been sent a GOAWAY first (the collector's `no-goaway` evidence).
   */
  closeAll(outcome: RequestOutcome, goaway: boolean): void;
  /** The end of a read: streams both of whose halves ended in it are settled now. */
  flush(): void;
}

function field(fields: HeaderField[], name: string): string | undefined {
  for (const f of fields) if (f.name === name) return f.value;
  return undefined;
}

function intOf(v: string | undefined): number | undefined {
  if (v === undefined || !/^\d{1,9}$/.test(v)) return undefined;
  return Number(v);
}

/** `quietWindow`: whether a stream starting now restarts the adaptive preStop's quiet window (Traffic.begin). */
export function createH2Streams(
  traffic: Traffic,
  onIdle: () => void,
  quietWindow: () => boolean = () => true,
): H2Streams {
  const streams = new Map<number, H2Stream>();
  let maxClientId = 0;
  let begun = 0;

  const settle = (s: H2Stream, end: StreamEnd) => {
    if (!streams.delete(s.id)) return;
    traffic.end(s.record, end.outcome, s.status, {
      ...(s.grpcStatus !== undefined ? { grpcStatus: s.grpcStatus } : {}),
      ...(end.rstCode !== undefined ? { rstCode: end.rstCode } : {}),
      ...(end.goaway !== undefined ? { goaway: end.goaway } : {}),
    });
    if (streams.size === 0) onIdle();
  };
  // A stream whose halves both ended waits for the end of the read: an app that ends its
  // response and resets the stream at once (Node's stream.close(code)) sends END_STREAM and
  // RST_STREAM together, and the client reports the reset.
  let completing: H2Stream[] = [];
  const maybeDone = (s: H2Stream) => {
    if (s.clientEnded && s.appEnded) completing.push(s);
  };
  const complete = (s: H2Stream) => {
    const fault =
      (s.status !== undefined && s.status >= 500) ||
      (s.grpcStatus !== undefined && GRPC_SERVER_FAULTS.has(s.grpcStatus));
    settle(s, { outcome: fault ? 'http-error' : 'ok' });
  };

  const flush = () => {
    if (completing.length === 0) return;
    const done = completing;
    completing = [];
    for (const s of done) complete(s);
  };

  return {
    get open() {
      return streams.size;
    },
    get maxClientId() {
      return maxClientId;
    },
    upgraded(record) {
      maxClientId = 1;
      begun = 1;
      streams.set(1, {
        id: 1,
        record,
        clientEnded: true,
        appEnded: false,
        status: undefined,
        grpcStatus: undefined,
      });
    },
    clientHeaders(id, fields, endStream) {
      let s = streams.get(id);
      if (s === undefined) {
        // Only odd ids are the client's; a header block on an old, closed stream starts nothing.
        if (id % 2 === 0 || id <= maxClientId) return;
        maxClientId = id;
        begun += 1;
        const probeId = field(fields, PROBE_HEADER);
        const record = traffic.begin({
          method: field(fields, ':method') ?? 'POST',
          url: field(fields, ':path') ?? '',
          probeId: probeId === undefined || probeId === '' ? undefined : probeId.slice(0, 256),
          healthCheck: isHealthCheckAgent(field(fields, 'user-agent') ?? ''),
          reused: begun > 1,
          protocol: 'h2',
          ...(quietWindow() ? {} : { quietWindow: false }),
        });
        s = { id, record, clientEnded: false, appEnded: false, status: undefined, grpcStatus: undefined };
        streams.set(id, s);
      }
      if (endStream) {
        s.clientEnded = true;
        maybeDone(s);
      }
    },
    appHeaders(id, fields, endStream) {
      const s = streams.get(id);
      if (s === undefined) return;
      const status = intOf(field(fields, ':status'));
      // An interim (1xx) head is followed by the real one.
      if (status !== undefined && status >= 200) s.status = status;
      const grpc = intOf(field(fields, 'grpc-status'));
      if (grpc !== undefined) s.grpcStatus = grpc;
      if (endStream) {
        s.appEnded = true;
        maybeDone(s);
      }
    },
    clientEnd(id) {
      const s = streams.get(id);
      if (s === undefined) return;
      s.clientEnded = true;
      maybeDone(s);
    },
    appEnd(id) {
      const s = streams.get(id);
      if (s === undefined) return;
      s.appEnded = true;
      maybeDone(s);
    },
    reset(id, by, code) {
      const s = streams.get(id);
      if (s === undefined) return;
      // An app's RST_STREAM NO_ERROR after its whole response only stops the upload (RFC 9113 §8.1).
      if (by === 'app' && code === 0 && s.appEnded) {
        if (!s.clientEnded) {
          s.clientEnded = true;
          maybeDone(s);
        }
        return;
      }
      const outcome: RequestOutcome =
        by === 'client' ? 'client-aborted' : code === 7 ? 'upstream-refused' : 'upstream-reset';
      settle(s, { outcome, rstCode: code });
    },
    appGoaway(lastId) {
      for (const s of [...streams.values()]) if (s.id > lastId) settle(s, { outcome: 'upstream-refused' });
    },
    closeAll(outcome, goaway) {
      flush();
      for (const s of [...streams.values()]) settle(s, { outcome, goaway });
    },
    flush,
  };
}
