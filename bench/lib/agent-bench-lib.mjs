// Helpers for bench/agent.mjs: spawn the targets, drive load, read memory. Everything runs on
// loopback and stops by itself (bounded durations, children killed at the end).
import { spawn, spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { chmod, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { Agent as HttpAgent, request as httpRequest } from 'node:http';
import { createServer as createNetServer, connect as tcpConnect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import autocannon from 'autocannon';
import WebSocket from 'ws';

const children = new Set();
process.once('exit', () => {
  for (const c of children) c.kill('SIGKILL');
});

/** Spawns a process and resolves when a stdout line matches; returns the child and the match. */
export function spawnUntil(cmd, args, env, pattern, timeoutMs = 15_000) {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    children.add(child);
    child.once('exit', () => children.delete(child));
    let out = '';
    let err = '';
    const timer = setTimeout(() => reject(new Error(`${cmd} did not start: ${err}`)), timeoutMs);
    child.stderr.on('data', (c) => {
      err += c;
    });
    child.stdout.on('data', (c) => {
      out += c;
      const m = pattern.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve({ child, match: m });
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`${cmd} exited ${code}: ${err}`));
    });
  });
}

export function stop(child) {
  if (!child || child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    child.once('exit', resolve);
    child.kill('SIGTERM');
    setTimeout(() => child.kill('SIGKILL'), 5000).unref();
  });
}

export function freePort() {
  return new Promise((resolve) => {
    const srv = createNetServer();
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

export async function waitForPort(port, timeoutMs = 10_000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const ok = await new Promise((resolve) => {
      const s = tcpConnect({ port, host: '127.0.0.1' });
      s.once('connect', () => {
        s.destroy();
        resolve(true);
      });
      s.once('error', () => resolve(false));
    });
    if (ok) return;
    if (Date.now() > deadline) throw new Error(`port ${port} never opened`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/**
 * nginx with one worker in a temp dir named after `name`, listening on a free loopback port: its
 * `http` block holds the settings every bench nginx shares, then `block(port)` (the upstream and the
 * server). Killed with the bench's other children if the bench exits first.
 */
export async function startNginxWith(name, block) {
  const dir = await mkdtemp(join(tmpdir(), `drainwatch-bench-${name}-`));
  await chmod(dir, 0o777);
  const port = await freePort();
  const conf = `daemon off;
worker_processes 1;
pid ${dir}/nginx.pid;
error_log ${dir}/error.log warn;
events { worker_connections 8192; }
http {
  access_log off;
  client_body_temp_path ${dir}/body;
  proxy_temp_path ${dir}/proxy;
  fastcgi_temp_path ${dir}/fastcgi;
  uwsgi_temp_path ${dir}/uwsgi;
  scgi_temp_path ${dir}/scgi;
  keepalive_requests 1000000;
${block(port)}
}
`;
  await writeFile(join(dir, 'nginx.conf'), conf);
  const child = spawn('nginx', ['-p', dir, '-c', join(dir, 'nginx.conf')], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  children.add(child);
  child.once('exit', () => children.delete(child));
  await waitForPort(port);
  return {
    port,
    child,
    async stop() {
      await stop(child);
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/** nginx as a reverse proxy with one worker and a keep-alive upstream pool, in a temp dir. */
export function startNginx(upstreamPort) {
  return startNginxWith(
    'nginx',
    (port) => `  upstream app { server 127.0.0.1:${upstreamPort}; keepalive 512; }
  server {
    listen 127.0.0.1:${port};
    location / {
      proxy_pass http://app;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
    }
  }`,
  );
}

function hasWrk() {
  return spawnSync('wrk', ['--version']).error === undefined;
}

/**
 * Closed-loop maximum throughput: wrk (one thread) when installed, since a C load generator leaves
 * more of a shared machine to the targets; autocannon otherwise.
 */
export async function maxThroughput(url, { connections = 64, durationS = 5 } = {}) {
  if (hasWrk()) {
    const out = await new Promise((resolve, reject) => {
      const child = spawn('wrk', ['-t1', `-c${connections}`, `-d${durationS}s`, url], {
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let text = '';
      child.stdout.on('data', (c) => {
        text += c;
      });
      child.once('exit', (code) => (code === 0 ? resolve(text) : reject(new Error(`wrk exited ${code}`))));
    });
    const rps = Number(/Requests\/sec:\s+([\d.]+)/.exec(out)?.[1] ?? Number.NaN);
    const requests = Number(/(\d+) requests in/.exec(out)?.[1] ?? Number.NaN);
    const errors = Number(/Non-2xx or 3xx responses: (\d+)/.exec(out)?.[1] ?? 0);
    return { rps, requests, errors, tool: 'wrk' };
  }
  const r = await autocannon({ url, connections, duration: durationS });
  return {
    rps: r.requests.average,
    requests: r.requests.total,
    errors: r.errors + r.non2xx,
    tool: 'autocannon',
  };
}

/**
 * Open-loop latency at a fixed rate: requests are started on schedule (checked every millisecond)
 * whether or not earlier ones finished, each timed with hrtime, so sub-millisecond differences are
 * visible.
 */
export async function fixedRateLatency(
  url,
  { rate = 1000, durationS = 5, connections = 32, warmupS = 1 } = {},
) {
  const agent = new HttpAgent({ keepAlive: true, maxSockets: connections });
  const u = new URL(url);
  const samples = [];
  let errors = 0;
  const one = () =>
    new Promise((resolve) => {
      const t0 = process.hrtime.bigint();
      const req = httpRequest({ host: u.hostname, port: u.port, path: u.pathname, agent }, (res) => {
        res.resume();
        res.on('end', () => {
          samples.push(Number(process.hrtime.bigint() - t0) / 1e6);
          resolve();
        });
      });
      req.on('error', () => {
        errors += 1;
        resolve();
      });
      req.end();
    });
  // Warm the pool so connection set-up is not in the numbers.
  await Promise.all(Array.from({ length: connections }, one));
  // Then the same rate for `warmupS`, discarded: the targets are measured right after a
  // max-throughput run, and the seconds in which the app and the proxy collect that run's garbage
  // are not the steady state at this rate that the figure is about.
  const paced = async (seconds) => {
    const total = rate * seconds;
    const start = performance.now();
    const pending = [];
    let sent = 0;
    while (sent < total) {
      const due = Math.floor(((performance.now() - start) / 1000) * rate);
      while (sent < Math.min(due, total)) {
        pending.push(one());
        sent += 1;
      }
      // Paced by a 1 ms timer, as wrk2 or vegeta pace: a client spinning on setImmediate holds one
      // of the two cores the app and the proxy share, and the proxy, one more process on the path,
      // then waits for a core in the tail (its p99 doubled in that harness, the app's did not).
      await new Promise((r) => setTimeout(r, 1));
    }
    await Promise.all(pending);
  };
  if (warmupS > 0) await paced(warmupS);
  samples.length = 0;
  errors = 0;
  await paced(durationS);
  agent.destroy();
  samples.sort((a, b) => a - b);
  const pct = (p) => samples[Math.min(samples.length - 1, Math.floor((p / 100) * samples.length))];
  return { p50: pct(50), p99: pct(99), count: samples.length, errors };
}

const CLK_TCK = Number(spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).stdout.trim()) || 100;

/**
 * CPU time (user + system, µs) the processes have used so far, from /proc/<pid>/stat (utime and
 * stime, fields 14 and 15, in clock ticks). On a shared machine this, divided by the requests
 * served, is the figure that does not depend on what else runs: throughput does.
 */
export function cpuMicros(pids) {
  let ticks = 0;
  for (const pid of pids) {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name may hold spaces: fields are counted after its closing parenthesis.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    ticks += Number(fields[11]) + Number(fields[12]);
  }
  return (ticks * 1e6) / CLK_TCK;
}

/** The pid and its direct children (nginx's master and its workers). */
export function withChildren(pid) {
  let children = '';
  try {
    children = readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8');
  } catch {
    // Kernels without CONFIG_PROC_CHILDREN: the master alone.
  }
  return [
    pid,
    ...children
      .split(' ')
      .filter((s) => s !== '')
      .map(Number),
  ];
}

export function rssMb(pid) {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  return Number(/^VmRSS:\s+(\d+) kB/m.exec(status)?.[1] ?? 0) / 1024;
}

/** Opens n keep-alive connections, each having completed one request; returns a closer. */
export async function openKeepAlive(port, n) {
  const sockets = [];
  await Promise.all(
    Array.from(
      { length: n },
      () =>
        new Promise((resolve, reject) => {
          const s = tcpConnect({ port, host: '127.0.0.1' });
          s.setTimeout(30_000);
          s.once('error', reject);
          s.once('connect', () => {
            s.write('GET / HTTP/1.1\r\nHost: bench\r\nConnection: keep-alive\r\n\r\n');
          });
          s.once('data', () => resolve());
          sockets.push(s);
        }),
    ),
  );
  return () => {
    for (const s of sockets) s.destroy();
  };
}

export async function openWebSockets(port, n) {
  const sockets = [];
  for (let i = 0; i < n; i += 100) {
    await Promise.all(
      Array.from(
        { length: Math.min(100, n - i) },
        () =>
          new Promise((resolve, reject) => {
            const ws = new WebSocket(`ws://127.0.0.1:${port}/ws`);
            ws.once('open', () => {
              ws.send('hello');
              ws.once('message', () => resolve());
            });
            ws.once('error', reject);
            sockets.push(ws);
          }),
      ),
    );
  }
  return () => {
    for (const ws of sockets) ws.terminate();
  };
}
