import { chmod, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { findBinary, freePort } from '../../lib/servers.js';
import type { EntryActivity } from './entry-activity.js';
import {
  HAPROXY_BACKEND,
  HAPROXY_SLOT_PREFIX,
  HAPROXY_SLOTS,
  renderHaproxyConfig,
} from './entry-haproxy-config.js';
import { parseShowStat, runtimeCommand } from './entry-haproxy-runtime.js';
import type { EntryBackend } from './entry-managed.js';
import { type EntryProcess, startEntryProcess, versionLine } from './entry-process.js';
import type { BalanceStrategy, EndpointCounts } from './entrypoint.js';
import { EntryApplyError } from './errors.js';

// HAProxy as the rehearsal's entry point: its own process (`-f cfg -db`) on a free loopback port,
// pods put into pre-declared server slots and taken out again through the runtime API
// (`set server … addr`, `state ready`, `state maint`), retries and errors read from `show stat`.

const START_TIMEOUT_MS = 15_000;

const num = (v: string | undefined): number => Number(v) || 0;

/** Requests, WebSockets (101 answers) and failed connects/responses per pod, from its slot's row. */
function countsOf(
  rows: Record<string, string>[],
  slotOf: ReadonlyMap<string, string>,
): Map<string, EndpointCounts> {
  const bySlot = new Map(rows.map((r) => [r.svname, r]));
  return new Map(
    [...slotOf].map(([pod, slot]) => {
      const r = bySlot.get(slot) ?? {};
      const websockets = num(r.hrsp_1xx);
      return [pod, { requests: num(r.stot) - websockets, websockets, failed: num(r.econ) + num(r.eresp) }];
    }),
  );
}

/** Retries and upstream errors from the backend's row of `show stat`. */
function backendActivity(
  be: Record<string, string>,
): Pick<EntryActivity, 'retries' | 'retriedElsewhere' | 'upstreamErrors'> {
  const errors: Record<string, number> = {};
  // econ counts only the connects that failed for good; each retry followed a failed connect
  // too (retry-on conn-failure), so every failed connect is econ + wretr + wredis.
  const connects = num(be.econ) + num(be.wretr) + num(be.wredis);
  if (connects) errors.connect = connects;
  if (num(be.eresp)) errors.response = num(be.eresp);
  return {
    retries: num(be.wretr) + num(be.wredis),
    retriedElsewhere: num(be.wredis),
    upstreamErrors: errors,
  };
}

export function createHaproxyBackend(options: { readonly balance: BalanceStrategy }): EntryBackend & {
  config(): string;
} {
  let dir = '';
  let config = '';
  let proc: EntryProcess | undefined;
  let version = 'HAProxy';
  let nextSlot = 1;
  const slotOf = new Map<string, string>();
  let lastCounts: ReadonlyMap<string, EndpointCounts> = new Map();
  const socket = (): string => join(dir, 'admin.sock');

  async function command(cmd: string): Promise<string> {
    const out = (await runtimeCommand(socket(), cmd)).trim();
    // Success is silent or informational; a refusal names the problem.
    if (/^(No such|Unknown|Require|Invalid|.*\berror\b)/im.test(out))
      throw new EntryApplyError('HAProxy', `${cmd}: ${out}`);
    return out;
  }

  async function stats(): Promise<Record<string, string>[]> {
    return parseShowStat(await runtimeCommand(socket(), 'show stat')).filter(
      (r) => r.pxname === HAPROXY_BACKEND,
    );
  }

  return {
    kind: 'haproxy',
    async start() {
      const binary = findBinary('haproxy', 'DRAINWATCH_HAPROXY_BIN');
      version = await versionLine(binary, '-v').then((l) =>
        l.replace(/^HAProxy version (\S+).*$/, 'HAProxy $1'),
      );
      dir = await mkdtemp(join(tmpdir(), 'drainwatch-haproxy-'));
      await chmod(dir, 0o755);
      const port = await freePort();
      config = renderHaproxyConfig({ dir, port, balance: options.balance });
      await writeFile(join(dir, 'haproxy.cfg'), config);
      proc = await startEntryProcess({
        what: 'haproxy',
        binary,
        args: ['-f', join(dir, 'haproxy.cfg'), '-db'],
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
    async apply(change, ep) {
      const server = `${HAPROXY_BACKEND}/${slotOf.get(ep.pod) ?? ''}`;
      if (change === 'remove') {
        // maint, not drain: a drained server still takes its cookie-pinned users, and the
        // propagation delay is the time until the balancer no longer routes to the pod.
        await command(`set server ${server} state maint`);
        return;
      }
      if (nextSlot > HAPROXY_SLOTS)
        throw new EntryApplyError('HAProxy', `all ${HAPROXY_SLOTS} server slots used`);
      const slot = `${HAPROXY_SLOT_PREFIX}${nextSlot++}`;
      slotOf.set(ep.pod, slot);
      await command(`set server ${HAPROXY_BACKEND}/${slot} addr 127.0.0.1 port ${ep.port}`);
      await command(`set server ${HAPROXY_BACKEND}/${slot} state ready`);
    },
    async activity() {
      const rows = await stats();
      lastCounts = countsOf(rows, slotOf);
      return { version, ...backendActivity(rows.find((r) => r.svname === 'BACKEND') ?? {}) };
    },
    counts() {
      // Stats come over the socket: the figures of the last activity() call.
      return lastCounts;
    },
    config: () => config,
  };
}
