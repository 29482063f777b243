#!/usr/bin/env node
import { createQuoteGrpcApp } from './app.js';
import { readQuoteGrpcConfig } from './config.js';

// `node dist/examples/quote-grpc/main.js [--graceful off] [--streams cut]`
// Exit codes: 0 after a graceful shutdown, 2 for a bad switch, 3 when it cannot start.

let config: ReturnType<typeof readQuoteGrpcConfig>;
try {
  config = readQuoteGrpcConfig(process.argv.slice(2));
} catch (err) {
  process.stderr.write(`quote-grpc: ${(err as Error).message}\n`);
  process.exit(2);
}

const app = createQuoteGrpcApp(config);
try {
  const addr = await app.start();
  process.stdout.write(
    `quote-grpc listening on ${addr.host}:${addr.port} graceful=${config.graceful ? 'on' : 'off'} streams=${config.streams}\n`,
  );
} catch (err) {
  process.stderr.write(`quote-grpc: cannot listen: ${(err as Error).message}\n`);
  process.exit(3);
}

// With graceful shutdown off, SIGTERM keeps Node's default action: the process dies at once, no
// GOAWAY, every stream cut. That is the flaw, on purpose.
if (config.graceful) {
  const onSignal = (): void => {
    void app.shutdown().then(() => process.exit(0));
  };
  process.once('SIGTERM', onSignal);
  process.once('SIGINT', onSignal);
}
