import { parseArgs } from 'node:util';
import { parseChoice, parseDurationMs, parsePort } from '../../lib/values.js';
import { type QuoteGrpcConfig, STREAM_MODES } from './app.js';

// The gRPC quote app's switches, flag > env > default: `--graceful on|off` (GRACEFUL),
// `--streams drained|cut` (GRPC_STREAMS), PORT, POD_NAME, STREAM_INTERVAL (ms unless a unit is
// given), SHUTDOWN_TIMEOUT (s unless a unit is given), MAX_CONNECTION_AGE (s unless a unit is
// given; unset: connections never age out). A bad value throws (lib/values.ts errors).

export function readQuoteGrpcConfig(argv: string[], env: NodeJS.ProcessEnv = process.env): QuoteGrpcConfig {
  const { values } = parseArgs({
    args: argv,
    options: {
      port: { type: 'string' },
      graceful: { type: 'string' },
      streams: { type: 'string' },
    },
    strict: true,
  });
  const port = values.port ?? env.PORT ?? '50051';
  const graceful = parseChoice('--graceful (GRACEFUL)', values.graceful ?? env.GRACEFUL ?? 'on', [
    'on',
    'off',
  ]);
  return {
    host: env.HOST ?? '127.0.0.1',
    // 0: the kernel chooses (tests).
    port: port === '0' ? 0 : parsePort('--port (PORT)', port),
    pod: env.POD_NAME ?? 'quote-grpc',
    graceful: graceful === 'on',
    streams: parseChoice(
      '--streams (GRPC_STREAMS)',
      values.streams ?? env.GRPC_STREAMS ?? 'drained',
      STREAM_MODES,
    ),
    streamIntervalMs: parseDurationMs('STREAM_INTERVAL', env.STREAM_INTERVAL ?? '50', 'ms'),
    shutdownTimeoutMs: parseDurationMs('SHUTDOWN_TIMEOUT', env.SHUTDOWN_TIMEOUT ?? '20'),
    ...(env.MAX_CONNECTION_AGE !== undefined
      ? { maxConnectionAgeMs: parseDurationMs('MAX_CONNECTION_AGE', env.MAX_CONNECTION_AGE) }
      : {}),
  };
}
