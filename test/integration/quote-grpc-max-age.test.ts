import { connect as h2Connect } from 'node:http2';
import { describe, expect, it } from 'vitest';
import { createQuoteGrpcApp } from '../../examples/quote-grpc/index.js';
import { pollUntil } from '../../lib/wait.js';

// The example's MAX_CONNECTION_AGE (grpc-js's grpc.max_connection_age_ms), the setting lint's
// grpc-no-max-connection-age looks for: a connection older than it gets the server's GOAWAY, so a
// client that balances per connection reconnects (and a Service spreads it over new pods).

describe('quote-grpc maximum connection age', () => {
  it('a connection older than maxConnectionAgeMs gets a GOAWAY from the server', async () => {
    const app = createQuoteGrpcApp({
      host: '127.0.0.1',
      port: 0,
      pod: 'quote-grpc-0',
      graceful: true,
      streams: 'drained',
      streamIntervalMs: 20,
      shutdownTimeoutMs: 1000,
      maxConnectionAgeMs: 300,
    });
    const { port } = await app.start();
    const session = h2Connect(`http://127.0.0.1:${port}`);
    session.on('error', () => undefined);
    const goaways: number[] = [];
    session.on('goaway', (code: number) => goaways.push(code));
    try {
      await pollUntil(() => goaways.length > 0, { timeoutMs: 10_000, what: "the server's GOAWAY" });
      expect(goaways[0]).toBe(0);
    } finally {
      session.destroy();
      await app.shutdown();
    }
  });
});
