import { type ChildProcess, spawn } from 'node:child_process';
import { afterEach, describe, expect, it } from 'vitest';
import { createEntrypoint, createRng, type Entrypoint } from '../../cluster/local/index.js';
import { pollUntil } from '../../lib/wait.js';

// The entry point on a stalled machine: while its event loop is blocked, the pod closes an idle
// kept-alive connection (as the agent does when its pod drains, or at its idle timeout) and a
// client request arrives. Pod and client are separate processes, so both go on while this one is
// stalled, as on a loaded machine where the rehearsal's process gets no CPU for a while. When the
// loop runs again, the request is read before the connection's end: it goes out on a connection
// the pod already closed. A real balancer sends it again (nginx `proxy_next_upstream error`)
// instead of answering 502 and blaming the pod.

const POD_KEEPALIVE_MS = 60_000;
const STALL_MS = 900;

// Closes its idle connections 300 ms after a line on stdin.
const POD = `
const http = require('node:http');
const server = http.createServer((req, res) => res.end('pod'));
server.keepAliveTimeout = ${POD_KEEPALIVE_MS};
server.listen(0, '127.0.0.1', () => console.log('port ' + server.address().port));
process.stdin.on('data', () => setTimeout(() => server.closeIdleConnections(), 300));
`;

// One kept-alive client connection: a first request, then, on "go", a second one on it 100 ms
// later (while the test's process is stalled), printing its status.
const CLIENT = `
const http = require('node:http');
const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
const get = () => new Promise((resolve) => {
  const req = http.get(process.argv[1], { agent }, (res) => { res.resume(); res.on('end', () => resolve(res.statusCode + ' ' + (res.headers['x-drainwatch-entry-error'] || ''))); });
  req.on('error', (e) => resolve('error ' + e.code));
});
get().then((s) => console.log('first ' + s));
process.stdin.once('data', () => setTimeout(() => get().then((s) => { console.log('second ' + s); process.exit(0); }), 100));
`;

interface Child {
  readonly proc: ChildProcess;
  out(): string;
}

const children: ChildProcess[] = [];
const entries: Entrypoint[] = [];
afterEach(async () => {
  for (const c of children.splice(0)) c.kill('SIGKILL');
  for (const e of entries.splice(0)) await e.stop();
});

function node(source: string, args: string[] = []): Child {
  const proc = spawn(process.execPath, ['-e', source, ...args], { stdio: ['pipe', 'pipe', 'inherit'] });
  children.push(proc);
  let out = '';
  proc.stdout?.on('data', (c: Buffer) => {
    out += c.toString();
  });
  return { proc, out: () => out };
}

/** Blocks this process's event loop, as a CPU-starved process is blocked. */
function stall(ms: number): void {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    // Busy on purpose: no timer, no I/O of this process runs meanwhile.
  }
}

describe('entry point under a stalled event loop', () => {
  it('neither reuses a connection the pod already closed nor answers 502 for it', async () => {
    const pod = node(POD);
    const podPort = await pollUntil(() => Number(/port (\d+)/.exec(pod.out())?.[1] ?? 0), {
      timeoutMs: 20_000,
      what: 'the pod listening',
    });
    const ep = createEntrypoint({
      balance: 'round-robin',
      propagation: { minMs: 0, maxMs: 0 },
      rng: createRng(1),
    });
    entries.push(ep);
    const { url } = await ep.start();
    ep.addEndpoint('a', podPort, POD_KEEPALIVE_MS);
    await pollUntil(() => ep.routable().length === 1, { timeoutMs: 5000 });

    const client = node(CLIENT, [`${url}/`]);
    await pollUntil(() => /first /.test(client.out()), { timeoutMs: 20_000, what: 'the first answer' });
    expect(client.out()).toMatch(/first 200/);
    // The entry point now holds an idle kept-alive connection to the pod. It stalls; meanwhile
    // the client's second request arrives (at 100 ms) and the pod closes the idle connection
    // (at 300 ms). When the loop runs again, both are waiting for it, the request first.
    client.proc.stdin?.write('go\n');
    pod.proc.stdin?.write('close\n');
    stall(STALL_MS);
    await pollUntil(() => /second /.test(client.out()), { timeoutMs: 20_000, what: 'the second answer' });
    expect(client.out()).toMatch(/second 200 $/m);
    expect(ep.counts().get('a')?.failed ?? 0).toBe(0);
  });
});
