import { spawn } from 'node:child_process';
import { createServer, type Server } from 'node:net';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort, type RunningServer, startNatsServer, startRedisServer } from '../../lib/servers.js';

// A dependency that is not there is one plain line and exit 3; an address already taken is a
// usage error, exit 2, for every command. Real processes: the compiled CLI, a real nats-server,
// a port held by this test's own listener, and a closed port (nothing listens on it).
const bin = fileURLToPath(new URL('../../dist/cli/main.js', import.meta.url));

function run(args: readonly string[], env: Record<string, string> = {}) {
  return new Promise<{ code: number | null; out: string; err: string }>((resolve, reject) => {
    const child = spawn(process.execPath, [bin, ...args], {
      env: { ...process.env, NATS_URL: '', REDIS_URL: '', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    child.stdout.on('data', (c: Buffer) => {
      out += c.toString();
    });
    child.stderr.on('data', (c: Buffer) => {
      err += c.toString();
    });
    // Bounded: a command that hangs on a dead dependency is ended and fails the test.
    const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
    timer.unref();
    child.once('error', reject);
    child.once('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, out, err });
    });
  });
}

/** The one line, with no client-library internals in it. */
function expectOnePlainLine(err: string): void {
  expect(err.trim().split('\n'), err).toHaveLength(1);
  expect(err).not.toMatch(/maxRetriesPerRequest|ioredis|at .*\.js:\d+|Error:/);
}

let nats: RunningServer;
let redis: RunningServer;
let holder: Server;
let heldPort: number;
let closedUrl: (scheme: string) => string;

beforeAll(async () => {
  [nats, redis] = await Promise.all([startNatsServer(), startRedisServer()]);
  holder = createServer();
  await new Promise<void>((resolve) => holder.listen(0, '127.0.0.1', resolve));
  heldPort = (holder.address() as { port: number }).port;
  const closed = await freePort();
  closedUrl = (scheme) => `${scheme}://127.0.0.1:${closed}`;
}, 60_000);

afterAll(async () => {
  await new Promise<void>((resolve) => holder?.close(() => resolve()));
  await Promise.all([nats?.stop(), redis?.stop()]);
});

describe('dependency errors: one plain line, exit 3', () => {
  it('report with Redis on a closed port', async () => {
    const r = await run(['report', '--redis-url', closedUrl('redis')]);
    expect(r.code).toBe(3);
    expectOnePlainLine(r.err);
    expect(r.err).toMatch(
      /^drainwatch report: Redis at redis:\/\/127\.0\.0\.1:\d+ is unreachable \(.*ECONNREFUSED/,
    );
    expect(r.err).toContain('gave up after 5s');
  });

  it('collector with NATS on a closed port', async () => {
    const r = await run(['collector', '--listen', '127.0.0.1:0', '--nats-url', closedUrl('nats')]);
    expect(r.code).toBe(3);
    expectOnePlainLine(r.err);
    expect(r.err).toMatch(/NATS at nats:\/\/127\.0\.0\.1:\d+/);
  });

  it('collector with Redis on a closed port (NATS up)', async () => {
    const r = await run([
      'collector',
      '--listen',
      '127.0.0.1:0',
      '--nats-url',
      nats.url,
      '--redis-url',
      closedUrl('redis'),
      '--log-level',
      'silent',
    ]);
    expect(r.code).toBe(3);
    expectOnePlainLine(r.err);
    expect(r.err).toMatch(/Redis at redis:\/\/127\.0\.0\.1:\d+ is unreachable/);
  });

  it('probe publishing to NATS on a closed port', async () => {
    const r = await run(['probe', '--target', 'http://127.0.0.1:1', '--nats-url', closedUrl('nats')]);
    expect(r.code).toBe(3);
    expectOnePlainLine(r.err);
    expect(r.err).toMatch(/NATS at nats:\/\/127\.0\.0\.1:\d+ is unreachable/);
  });

  it('rehearse with NATS on a closed port', async () => {
    const r = await run(['rehearse', '--nats-url', closedUrl('nats'), '--redis-url', closedUrl('redis')]);
    expect(r.code).toBe(3);
    // The start-up step shows before the dependency's deadline.
    expect(r.err).toMatch(/^drainwatch rehearse: connecting to NATS, starting the collector…$/m);
    expect(r.err).toMatch(/NATS at nats:\/\/127\.0\.0\.1:\d+/);
    expect(r.err).not.toMatch(/maxRetriesPerRequest|at .*\.js:\d+/);
  });
});

describe('an address in use is a usage error, exit 2, for every command', () => {
  it('collector', async () => {
    const r = await run([
      'collector',
      '--listen',
      `127.0.0.1:${heldPort}`,
      '--nats-url',
      nats.url,
      '--redis-url',
      redis.url,
      '--log-level',
      'silent',
    ]);
    expect(r.code).toBe(2);
    expectOnePlainLine(r.err);
    expect(r.err).toContain(
      `DRAINWATCH_LISTEN (--listen): cannot listen on 127.0.0.1:${heldPort} (EADDRINUSE)`,
    );
  });

  it('agent', async () => {
    const r = await run([
      'agent',
      '--listen',
      `127.0.0.1:${heldPort}`,
      '--admin',
      '127.0.0.1:0',
      '--nats-url',
      nats.url,
    ]);
    expect(r.code).toBe(2);
    expectOnePlainLine(r.err);
    expect(r.err).toContain(
      `DRAINWATCH_LISTEN (--listen): cannot listen on 127.0.0.1:${heldPort} (EADDRINUSE)`,
    );
  });
});
