// gRPC (h2c) load for bench/agent.mjs: nginx as a grpc_pass proxy, closed-loop throughput with
// h2load (nghttp2, C), open-loop latency with a grpc-js client. Loopback only, bounded.
import { spawnSync } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import grpc from '@grpc/grpc-js';
import { startNginxWith } from './agent-bench-lib.mjs';
import { ECHO } from './grpc-bench-app.mjs';

/** A 16-byte message in gRPC framing: compressed flag 0, 4-byte big-endian length, payload. */
const MESSAGE = Buffer.from('drainwatch-bench');
const FRAMED = Buffer.concat([Buffer.from([0, 0, 0, 0, MESSAGE.length]), MESSAGE]);

/** nginx (one worker) proxying h2c prior knowledge to the gRPC app with grpc_pass. */
export function startGrpcNginx(upstreamPort) {
  return startNginxWith(
    'nginx-grpc',
    (port) => `  http2_max_requests 1000000;
  upstream app { server 127.0.0.1:${upstreamPort}; keepalive 64; }
  server {
    listen 127.0.0.1:${port} http2;
    location / { grpc_pass grpc://app; }
  }`,
  );
}

/**
 * Closed-loop maximum unary calls/s with h2load: `clients` h2c connections, `streams` concurrent
 * streams each, for `durationS`. Returns { rps, requests, errors, tool, cpuMicros } where cpuMicros
 * is h2load's own CPU time (the generator, kept apart from the targets').
 */
export async function grpcMaxThroughput(port, { clients = 8, streams = 8, durationS = 4 } = {}) {
  const dir = await mkdtemp(join(tmpdir(), 'drainwatch-bench-h2load-'));
  const body = join(dir, 'echo.bin');
  await writeFile(body, FRAMED);
  try {
    const args = [
      '-c',
      String(clients),
      '-m',
      String(streams),
      '-t',
      '1',
      '-D',
      String(durationS),
      '-d',
      body,
      '-H',
      'content-type: application/grpc',
      '-H',
      'te: trailers',
      `http://127.0.0.1:${port}${ECHO.path}`,
    ];
    const r = spawnSync('/usr/bin/time', ['-f', 'CPU %U %S', 'h2load', ...args], {
      encoding: 'utf8',
      timeout: (durationS + 30) * 1000,
    });
    if (r.status !== 0) throw new Error(`h2load failed: ${r.stderr || r.stdout}`);
    const done =
      /requests: \d+ total, \d+ started, (\d+) done, (\d+) succeeded, (\d+) failed, (\d+) errored/.exec(
        r.stdout,
      );
    const status = /status codes: (\d+) 2xx, (\d+) 3xx, (\d+) 4xx, (\d+) 5xx/.exec(r.stdout);
    const cpu = /CPU ([\d.]+) ([\d.]+)/.exec(r.stderr);
    if (!done || !status) throw new Error(`h2load output not understood: ${r.stdout}`);
    const requests = Number(status[1]);
    return {
      rps: requests / durationS,
      requests,
      // Failed or errored streams and non-2xx answers (a gRPC error status rides on a 200).
      errors: Number(done[3]) + Number(done[4]) + Number(status[2]) + Number(status[3]) + Number(status[4]),
      tool: `h2load ${clients} connections × ${streams} streams`,
      generatorCpuMicros: cpu ? (Number(cpu[1]) + Number(cpu[2])) * 1e6 : Number.NaN,
    };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/**
 * Open-loop latency: `rate` unary calls/s for `durationS` (after 1 s at that rate, discarded)
 * from one grpc-js channel, timed with hrtime from the call to its status. Returns p50/p99 in ms.
 */
export async function grpcFixedRateLatency(port, { rate = 1000, durationS = 4 } = {}) {
  const client = new grpc.Client(`127.0.0.1:${port}`, grpc.credentials.createInsecure());
  const samples = [];
  let errors = 0;
  const call = (keep) =>
    new Promise((resolve) => {
      const t0 = process.hrtime.bigint();
      client.makeUnaryRequest(ECHO.path, ECHO.requestSerialize, ECHO.responseDeserialize, MESSAGE, (err) => {
        if (err) errors += 1;
        else if (keep) samples.push(Number(process.hrtime.bigint() - t0) / 1e6);
        resolve();
      });
    });
  try {
    const total = rate * (durationS + 1);
    const start = performance.now();
    const pending = [];
    for (let i = 0; i < total; i += 1) {
      const due = start + (i * 1000) / rate;
      const wait = due - performance.now();
      if (wait > 1) await new Promise((r) => setTimeout(r, wait).unref());
      pending.push(call(i >= rate));
    }
    await Promise.all(pending);
  } finally {
    client.close();
  }
  samples.sort((a, b) => a - b);
  const q = (p) => samples[Math.min(samples.length - 1, Math.floor(p * samples.length))];
  return { p50: q(0.5), p99: q(0.99), latencyErrors: errors };
}
