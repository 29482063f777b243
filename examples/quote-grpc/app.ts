import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  loadPackageDefinition,
  Server,
  ServerCredentials,
  type ServerUnaryCall,
  type ServerWritableStream,
  type sendUnaryData,
  status,
} from '@grpc/grpc-js';
import { loadSync } from '@grpc/proto-loader';
import { QuoteProtoMissingError } from './errors.js';

// The gRPC quote service: the HTTP quote app's flaws as switches, for gRPC. `graceful`: at
// shutdown grpc-js's tryShutdown() sends GOAWAY and lets calls finish, or the process just goes
// (streams cut, no GOAWAY). `streams`: at a graceful shutdown open server streams are `drained`
// (ended with OK after the message in hand, so the client resumes elsewhere from the next
// sequence number) or left to be `cut` when the shutdown deadline passes.

export const STREAM_MODES = ['drained', 'cut'] as const;
export type StreamMode = (typeof STREAM_MODES)[number];

export interface QuoteGrpcConfig {
  readonly host: string;
  /** 0 lets the kernel choose (tests). */
  readonly port: number;
  /** The pod name each reply carries (the probe's identity and skew checks). */
  readonly pod: string;
  readonly graceful: boolean;
  readonly streams: StreamMode;
  /** Time between two messages of a server stream, in ms. */
  readonly streamIntervalMs: number;
  /** The longest a graceful shutdown waits for calls before it cuts them, in ms. */
  readonly shutdownTimeoutMs: number;
  /**
   * grpc-js's `grpc.max_connection_age_ms`: after this long (ms) the server sends GOAWAY on a
   * connection, so clients that balance per connection reconnect and spread over new pods. Unset:
   * connections live for ever (the flaw lint's grpc-no-max-connection-age reports).
   */
  readonly maxConnectionAgeMs?: number;
}

export interface QuoteGrpcApp {
  start(): Promise<{ host: string; port: number }>;
  /** Graceful: GOAWAY, drain or cut streams, wait for calls (bounded). Otherwise: cut everything. */
  shutdown(): Promise<void>;
}

/** The proto file: beside this module in the sources, or in examples/ seen from dist/. */
export function quoteProtoPath(): string {
  const here = dirname(fileURLToPath(import.meta.url));
  const candidates = [join(here, 'quote.proto'), join(here, '../../../examples/quote-grpc/quote.proto')];
  const found = candidates.find((p) => existsSync(p));
  if (found === undefined)
    throw new QuoteProtoMissingError(`quote.proto not found in ${candidates.join(', ')}`);
  return found;
}

/** The `quote` package's definitions (for the app, the probe and tests). */
export function loadQuoteProto(): ReturnType<typeof loadPackageDefinition> {
  const def = loadSync(quoteProtoPath(), { keepCase: false, longs: Number, defaults: true });
  return loadPackageDefinition(def);
}

// A price that moves with the sequence number, so two pods agree on message `seq`.
const priceAt = (symbol: string, seq: number) => 100 + ((symbol.length * 7 + seq * 13) % 50) / 10;

export function createQuoteGrpcApp(config: QuoteGrpcConfig): QuoteGrpcApp {
  const server = new Server(
    config.maxConnectionAgeMs !== undefined
      ? { 'grpc.max_connection_age_ms': config.maxConnectionAgeMs }
      : {},
  );
  const streams = new Set<{ end: () => void }>();
  let shuttingDown = false;
  const quote = loadQuoteProto().quote as unknown as {
    Quotes: { service: Parameters<Server['addService']>[0] };
  };
  const userOf = (call: ServerUnaryCall<unknown, unknown>) => {
    const token = String(call.metadata.get('authorization')[0] ?? '');
    return token.startsWith('Bearer user-') ? token.slice('Bearer '.length) : '';
  };
  server.addService(quote.Quotes.service, {
    Get(call: ServerUnaryCall<{ symbol: string }, unknown>, done: sendUnaryData<unknown>) {
      const user = userOf(call);
      if (user === '') {
        done({ code: status.UNAUTHENTICATED, details: 'no token' });
        return;
      }
      const symbol = call.request.symbol || 'ACME';
      done(null, { symbol, price: priceAt(symbol, 0), seq: 0, pod: config.pod, user });
    },
    Stream(call: ServerWritableStream<{ symbol: string; fromSeq: number; count: number }, unknown>) {
      const symbol = call.request.symbol || 'ACME';
      let seq = call.request.fromSeq;
      const last = call.request.count > 0 ? seq + call.request.count : Number.POSITIVE_INFINITY;
      const entry: { end: () => void } = { end: () => undefined };
      const timer = setInterval(() => {
        if (seq >= last) {
          stop();
          call.end();
          return;
        }
        call.write({ symbol, price: priceAt(symbol, seq), seq, pod: config.pod, user: '' });
        seq += 1;
      }, config.streamIntervalMs);
      timer.unref();
      const stop = () => {
        clearInterval(timer);
        streams.delete(entry);
      };
      entry.end = () => {
        stop();
        call.end();
      };
      streams.add(entry);
      call.on('cancelled', stop);
      if (shuttingDown && config.streams === 'drained') entry.end();
    },
  });
  return {
    start: () =>
      new Promise((resolve, reject) => {
        server.bindAsync(`${config.host}:${config.port}`, ServerCredentials.createInsecure(), (err, port) => {
          if (err) reject(err);
          else resolve({ host: config.host, port });
        });
      }),
    async shutdown() {
      shuttingDown = true;
      if (!config.graceful) {
        server.forceShutdown();
        return;
      }
      if (config.streams === 'drained') for (const s of [...streams]) s.end();
      await new Promise<void>((resolve) => {
        const deadline = setTimeout(() => {
          server.forceShutdown();
          resolve();
        }, config.shutdownTimeoutMs);
        deadline.unref();
        server.tryShutdown(() => {
          clearTimeout(deadline);
          resolve();
        });
      });
    },
  };
}
