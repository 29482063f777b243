import { fileURLToPath } from 'node:url';
import { quoteProtoPath } from '../examples/quote-grpc/index.js';
import { parseScenario, type Scenario } from '../probe/index.js';
import type { ExampleVariant } from './settings.js';

// `rehearse --protocol grpc`: the gRPC quote service (examples/quote-grpc) naive and drained,
// behind the local entry point's per-connection mode, probed by gRPC sessions (docs/grpc.md).

/** The compiled gRPC example next to this module (dist/rehearse → dist/examples). */
export const QUOTE_GRPC_MAIN = fileURLToPath(new URL('../examples/quote-grpc/main.js', import.meta.url));

export interface GrpcVariant {
  readonly env: Readonly<Record<string, string>>;
  readonly app: string;
  /**
   * Whether the pod has a preStop hook. The naive pod has none: a hook is what tells the agent to
   * drain, and its GOAWAY would spare the naive app the very failure it is there to show (an app
   * that exits without GOAWAY). Kubernetes then sends SIGTERM at once, as it does without a hook.
   */
  readonly prestopHook: boolean;
}

export const GRPC_VARIANTS: Record<ExampleVariant, GrpcVariant> = {
  naive: {
    // SIGTERM kills it: no GOAWAY, every stream and call on its connections cut.
    env: { GRACEFUL: 'off', GRPC_STREAMS: 'cut' },
    app: 'quote-grpc: no graceful shutdown (no GOAWAY)',
    prestopHook: false,
  },
  drained: {
    // tryShutdown(): GOAWAY, open calls finish, server streams end OK and clients resume elsewhere.
    env: { GRACEFUL: 'on', GRPC_STREAMS: 'drained' },
    app: 'quote-grpc: graceful shutdown, streams drained',
    // The plain adaptive preStop: the agent says GOAWAY to the connections open at its start and
    // serves those that reconnect to it meanwhile until its wait ends (docs/grpc.md).
    prestopHook: true,
  },
};

/**
 * The probe scenario of the gRPC example: `Get` with the caller's token (identity on every reply),
 * `Stream` resumed from the next sequence number after an end. Throws ScenarioError if the
 * example's proto file is missing (a broken build).
 */
export function grpcExampleScenario(): Scenario {
  return parseScenario({
    grpc: {
      proto: quoteProtoPath(),
      service: 'quote.Quotes',
      unary: { method: 'Get', request: { symbol: 'ACME' }, pod: 'pod' },
      stream: {
        method: 'Stream',
        request: { symbol: 'ACME' },
        sequence: 'seq',
        resume: 'fromSeq',
        pod: 'pod',
      },
    },
  });
}
