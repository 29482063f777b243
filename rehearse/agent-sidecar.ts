import { type ChildProcess, spawn } from 'node:child_process';
import { request as httpRequest } from 'node:http';
import { fileURLToPath } from 'node:url';
import { loadAgentConfig } from '../agent/index.js';
import { SidecarStartError } from '../cluster/local/errors.js';
import type { AppExit, Sidecar, SidecarLauncher, SidecarSpec } from '../cluster/local/sidecar.js';
import {
  AGENT_EXTRA_ENV,
  AGENT_SETTINGS,
  formatPrestopPolicy,
  type PrestopPolicy,
} from '../contract/index.js';
import { formatHostPort, tryParseHostPort } from '../lib/values.js';
import { pollUntil } from '../lib/wait.js';

// drainwatch's agent as the local pod's sidecar: `drainwatch agent` as a child process, given the
// pod's identity and the app's port, exactly as the injection patch configures it in a cluster.

/** The compiled CLI next to this module (dist/rehearse → dist/cli). */
export const CLI_MAIN = fileURLToPath(new URL('../cli/main.js', import.meta.url));

export interface AgentSidecarOptions {
  readonly natsUrl: string;
  readonly subjectRoot: string;
  readonly prestop: PrestopPolicy;
  /** Extra agent settings (by their AGENT_SETTINGS env names), on top of the caller's environment. */
  readonly env?: Readonly<Record<string, string>>;
  readonly startTimeoutMs?: number;
  /**
   * false: the pod has no preStop hook, so the agent is not asked to drain before the app's SIGTERM
   * (its HTTP/2 GOAWAY would otherwise hide an app that exits without one: rehearse/grpc.ts).
   */
  readonly prestopHook?: boolean;
  readonly onOutput?: (pod: string, line: string) => void;
}

const S = AGENT_SETTINGS;
const LOOPBACK = '127.0.0.1';

// The line `drainwatch agent` prints once it listens (cli/commands/agent.ts), in host:port.
const LISTENING = /drainwatch agent listening traffic=(\S+) admin=(\S+)/;

function listeningPorts(out: string): { traffic: number; admin: number } | undefined {
  const m = LISTENING.exec(out);
  const traffic = m ? tryParseHostPort(m[1]!) : undefined;
  const admin = m ? tryParseHostPort(m[2]!) : undefined;
  return traffic && admin ? { traffic: traffic.port, admin: admin.port } : undefined;
}

function adminCall(port: number, method: string, path: string, body: string | undefined, timeoutMs: number) {
  return new Promise<number>((resolve, reject) => {
    const req = httpRequest(
      {
        host: '127.0.0.1',
        port,
        method,
        path,
        agent: false,
        timeout: timeoutMs,
        headers: body
          ? { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) }
          : {},
      },
      (res) => {
        res.resume();
        res.once('end', () => resolve(res.statusCode ?? 0));
        res.once('error', reject);
      },
    );
    req.once('timeout', () => req.destroy(new Error(`${method} ${path} timed out after ${timeoutMs} ms`)));
    req.once('error', reject);
    req.end(body);
  });
}

export function createAgentLauncher(options: AgentSidecarOptions): SidecarLauncher {
  return {
    name: `agent(prestop ${formatPrestopPolicy(options.prestop)})`,
    async launch(spec: SidecarSpec): Promise<Sidecar> {
      const env = {
        ...process.env,
        ...options.env,
        // Port 0 everywhere: the agent prints the ports it got (LISTENING).
        [S.listen.env]: formatHostPort({ host: LOOPBACK, port: 0 }),
        [S.admin.env]: formatHostPort({ host: LOOPBACK, port: 0 }),
        [S.upstream.env]: formatHostPort({ host: LOOPBACK, port: spec.appPort }),
        [S.natsUrl.env]: options.natsUrl,
        [S.podName.env]: spec.pod.name,
        [S.namespace.env]: spec.pod.namespace,
        [AGENT_EXTRA_ENV.podIp]: LOOPBACK,
        [S.workload.env]: spec.pod.workload,
        [S.prestop.env]: formatPrestopPolicy(options.prestop),
        [S.grace.env]: String(spec.graceMs / 1000),
        [S.subjectRoot.env]: options.subjectRoot,
        // The agent's own DRAINWATCH_PROTOCOL (http parses HTTP/1.x and relays HTTP/2), not the
        // rehearsal's setting of the same name inherited from this process.
        [S.protocol.env]: 'http',
      };
      const child: ChildProcess = spawn(process.execPath, [CLI_MAIN, 'agent'], {
        env,
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      // A crashed rehearsal must not leave agents behind.
      const killOnExit = (): void => {
        child.kill('SIGKILL');
      };
      process.once('exit', killOnExit);
      child.once('exit', () => process.off('exit', killOnExit));
      let out = '';
      const onData = (chunk: Buffer): void => {
        const text = chunk.toString();
        out = (out + text).slice(-4000);
        if (options.onOutput)
          for (const line of text.split('\n')) if (line) options.onOutput(spec.pod.name, line);
      };
      child.stdout?.on('data', onData);
      child.stderr?.on('data', onData);
      let exitedWith: string | undefined;
      const exited = new Promise<void>((resolve) =>
        child.once('exit', (code, signal) => {
          exitedWith = String(signal ?? code);
          resolve();
        }),
      );
      const ports = await pollUntil(
        () => {
          if (exitedWith !== undefined)
            throw new SidecarStartError(
              spec.pod.name,
              `the agent exited (${exitedWith}): ${out.trim().slice(-500)}`,
            );
          return listeningPorts(out);
        },
        {
          timeoutMs: options.startTimeoutMs ?? 60_000,
          intervalMs: 20,
          what: `the agent of ${spec.pod.name} to listen`,
          fatal: (err) => err instanceof SidecarStartError,
        },
      ).catch((err: unknown) => {
        child.kill('SIGKILL');
        throw err instanceof SidecarStartError
          ? err
          : new SidecarStartError(spec.pod.name, (err as Error).message);
      });

      let stopping: Promise<void> | undefined;
      return {
        trafficPort: ports.traffic,
        // The agent's idle client timeout, read with the agent's own rules from the environment it
        // was given: the entry point must close its idle connections before the agent does.
        keepAliveTimeoutMs: loadAgentConfig({}, env).keepAliveTimeoutMs,
        async prestop() {
          if (options.prestopHook === false) return;
          // The kubelet's httpGet preStop hook; it may take up to the whole grace period.
          await adminCall(ports.admin, 'GET', '/prestop', undefined, spec.graceMs + 1000);
        },
        async appExited(exit: AppExit) {
          await adminCall(ports.admin, 'POST', '/lifecycle/app-exited', JSON.stringify(exit), 5000);
        },
        async kill() {
          if (exitedWith !== undefined) return;
          child.kill('SIGKILL');
          await exited;
        },
        stop() {
          stopping ??= (async () => {
            if (exitedWith !== undefined) return;
            child.kill('SIGTERM');
            const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
            timer.unref();
            await exited;
            clearTimeout(timer);
          })();
          return stopping;
        },
      };
    },
  };
}
