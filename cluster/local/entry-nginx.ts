import { readdirSync, readFileSync } from 'node:fs';
import { chmod, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { findBinary, freePort } from '../../lib/servers.js';
import { pollUntil } from '../../lib/wait.js';
import type { EntryBackend } from './entry-managed.js';
import { renderNginxConfig } from './entry-nginx-config.js';
import { parseNginxAccessLog, parseNginxErrorLog } from './entry-nginx-log.js';
import { type EntryProcess, startEntryProcess, versionLine } from './entry-process.js';
import type { BalanceStrategy } from './entrypoint.js';
import { EntryApplyError } from './errors.js';

// nginx as the rehearsal's entry point: its own master process on free loopback ports with a
// prefix directory of its own, the upstream list rewritten and applied with a graceful reload
// (SIGHUP to the master) on each endpoint change, retries and errors read back from its logs.

/** How long a reload may take before the change counts as not applied. */
const RELOAD_TIMEOUT_MS = 15_000;
const START_TIMEOUT_MS = 15_000;

/**
 * The master's worker processes by pid, each with its title: `nginx: worker process`, or
 * `nginx: worker process is shutting down` once it has been told to quit (it closes its listening
 * sockets right after taking that title). Read from /proc (Linux).
 */
function workers(masterPid: number): Map<number, string> {
  const out = new Map<number, string>();
  for (const pid of childrenOf(masterPid)) {
    try {
      out.set(pid, readFileSync(`/proc/${pid}/cmdline`, 'utf8').replace(/\0/g, ' ').trim());
    } catch {
      // gone in between
    }
  }
  return out;
}

/** The master's children: /proc's `children` list when the kernel has it, else a scan of /proc. */
function childrenOf(masterPid: number): number[] {
  try {
    const list = readFileSync(`/proc/${masterPid}/task/${masterPid}/children`, 'utf8').trim();
    return list ? list.split(/\s+/).map(Number) : [];
  } catch {
    const pids: number[] = [];
    for (const name of readdirSync('/proc')) {
      if (!/^\d+$/.test(name)) continue;
      try {
        // The field after the parenthesised command is the state, then the parent's pid.
        const stat = readFileSync(`/proc/${name}/stat`, 'utf8');
        if (Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]) === masterPid)
          pids.push(Number(name));
      } catch {
        // gone in between
      }
    }
    return pids;
  }
}

/** A worker still accepting connections (not one shutting down after a reload). */
const accepting = (title: string | undefined): boolean =>
  title !== undefined && !title.includes('shutting down');

/** The body nginx answers on the control server's /generation; '' when it does not answer. */
function generationServed(controlPort: number): Promise<string> {
  return new Promise((resolve) => {
    const req = request(
      { host: '127.0.0.1', port: controlPort, path: '/generation', agent: false },
      (res) => {
        let body = '';
        res.on('data', (c: Buffer) => {
          body += c.toString();
        });
        res.on('end', () => resolve(body));
        res.on('error', () => resolve(''));
      },
    );
    req.on('error', () => resolve(''));
    req.end();
  });
}

function readText(dir: string, name: string): string {
  try {
    return readFileSync(join(dir, name), 'utf8');
  } catch {
    return '';
  }
}

/**
 * SIGHUP to the master, then waits until a worker serves generation `want` on the control port and
 * no worker of the old generation still accepts: until then a new connection may still land on the
 * old upstream list. Throws EntryApplyError, with the error log's last lines, after RELOAD_TIMEOUT_MS.
 */
async function reload(proc: EntryProcess, dir: string, controlPort: number, want: string): Promise<void> {
  const before = [...workers(proc.pid)].filter(([, t]) => accepting(t)).map(([pid]) => pid);
  proc.signal('SIGHUP');
  const oldAccepting = (): boolean => {
    const now = workers(proc.pid);
    return before.some((pid) => accepting(now.get(pid)));
  };
  try {
    await pollUntil(async () => (await generationServed(controlPort)) === want && !oldAccepting(), {
      timeoutMs: RELOAD_TIMEOUT_MS,
      intervalMs: 10,
      what: `nginx serving configuration generation ${want}`,
    });
  } catch (err) {
    const log = readText(dir, 'error.log').split('\n').slice(-5).join(' ').trim();
    throw new EntryApplyError('nginx', `${(err as Error).message}${log ? `: ${log}` : ''}`);
  }
}

/** nginx's command line: `-e` names the error log used before the config is read (not /var/log). */
function nginxArgs(dir: string): string[] {
  return ['-p', `${dir}/`, '-c', join(dir, 'nginx.conf'), '-e', join(dir, 'error.log'), '-g', 'daemon off;'];
}

export function createNginxBackend(options: { readonly balance: BalanceStrategy }): EntryBackend & {
  /** The configuration nginx runs now (for the docs and tests). */
  config(): string;
} {
  let dir = '';
  let port = 0;
  let controlPort = 0;
  let generation = 0;
  let current = '';
  let proc: EntryProcess | undefined;
  let version = 'nginx';
  const podsByPort = new Map<number, string>();

  const write = async (endpoints: Parameters<typeof renderNginxConfig>[0]['endpoints']): Promise<void> => {
    generation++;
    current = renderNginxConfig({ dir, port, controlPort, generation, balance: options.balance, endpoints });
    await writeFile(join(dir, 'nginx.conf'), current);
  };

  return {
    kind: 'nginx',
    async start() {
      const binary = findBinary('nginx', 'DRAINWATCH_NGINX_BIN');
      version = await versionLine(binary, '-v').then((l) => l.replace(/^nginx version: /, ''));
      dir = await mkdtemp(join(tmpdir(), 'drainwatch-nginx-'));
      // Workers run as `nobody` when the master is root: they must reach their temp paths.
      await chmod(dir, 0o755);
      port = await freePort();
      controlPort = await freePort();
      await write([]);
      proc = await startEntryProcess({
        what: 'nginx',
        binary,
        args: nginxArgs(dir),
        cwd: dir,
        port,
        timeoutMs: START_TIMEOUT_MS,
      });
      return { url: `http://127.0.0.1:${port}`, port };
    },
    async stop() {
      await proc?.stop();
      if (dir) await rm(dir, { recursive: true, force: true });
    },
    async apply(_change, ep, desired) {
      if (!proc) throw new EntryApplyError('nginx', 'not started');
      podsByPort.set(ep.port, ep.pod);
      await write(desired);
      await reload(proc, dir, controlPort, String(generation));
    },
    async activity() {
      const access = await readFile(join(dir, 'access.log'), 'utf8').catch(() => '');
      const figures = parseNginxAccessLog(access, (p) => podsByPort.get(p));
      return {
        version,
        retries: figures.retries,
        retriedElsewhere: figures.retriedElsewhere,
        upstreamErrors: parseNginxErrorLog(readText(dir, 'error.log')),
      };
    },
    counts: () => parseNginxAccessLog(readText(dir, 'access.log'), (p) => podsByPort.get(p)).counts,
    config: () => current,
  };
}
