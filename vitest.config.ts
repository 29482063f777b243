import { defineConfig } from 'vitest/config';

// Three projects: unit tests are pure and fast; integration tests start real nats-server,
// redis-server, prometheus and HTTP/WebSocket servers on loopback, so they get longer timeouts
// and run with limited parallelism to fit a 2-core machine.
export default defineConfig({
  test: {
    // The JSON report lets .ci/run print one plain 'N passed, N failed' line for CI's reader.
    reporters: ['default', ['json', { outputFile: '.tmp/vitest-report.json' }]],
    projects: [
      {
        test: {
          name: 'unit',
          include: ['test/unit/**/*.test.ts'],
          sequence: { groupOrder: 0 },
          testTimeout: 20_000,
        },
      },
      {
        test: {
          name: 'integration',
          include: ['test/integration/**/*.test.ts'],
          sequence: { groupOrder: 1 },
          testTimeout: 120_000,
          hookTimeout: 60_000,
          pool: 'forks',
          maxWorkers: 2,
        },
      },
      {
        // Differential: each case runs one client script against an app alone and behind the agent.
        test: {
          name: 'fidelity',
          include: ['test/fidelity/**/*.test.ts'],
          sequence: { groupOrder: 2 },
          testTimeout: 60_000,
          hookTimeout: 60_000,
          pool: 'forks',
          maxWorkers: 2,
        },
      },
    ],
  },
});
