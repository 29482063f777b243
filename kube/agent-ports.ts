import type { InjectOptions } from './config.js';
import { AgentPortConflictError } from './errors.js';
import { type K8sObject, objectRef } from './manifests.js';
import { type ContainerSpec, podSpecOf } from './pod-spec.js';

// Inject refuses a pod that already uses the agent's ports: the agent could not bind them and the
// injected pod would crash-loop.

/** Where a container shows a port: a containerPort, an env value, or its command/args. */
function portUsedBy(c: ContainerSpec, port: number): string | undefined {
  if ((c.ports ?? []).some((p) => p.containerPort === port)) return 'containerPort';
  // The port as a whole number after start, space, `=` or `:` (`8080`, `:15080`, `--port=15021`).
  const shows = new RegExp(`(?:^|[\\s=:])${port}(?!\\d)`);
  const env = (c.env ?? []).find((v) => v.value !== undefined && shows.test(v.value));
  if (env) return `env ${env.name}=${env.value}`;
  const arg = [...(c.command ?? []), ...(c.args ?? [])].find((a) => shows.test(a));
  if (arg !== undefined) return `${c.command?.includes(arg) ? 'command' : 'args'} ${JSON.stringify(arg)}`;
  return undefined;
}

/**
 * Refuses a workload whose containers (and running sidecars) already use the agent's ports: the
 * injected agent could not bind them and the pod would crash-loop. Throws AgentPortConflictError.
 */
export function checkAgentPorts(workload: K8sObject, o: InjectOptions): void {
  const pod = podSpecOf(workload);
  const containers = [
    ...(pod?.containers ?? []),
    ...(pod?.initContainers ?? []).filter((c) => c.restartPolicy === 'Always'),
  ];
  for (const [port, which, flag] of [
    [o.proxyPort, 'proxy', '--proxy-port'],
    [o.adminPort, 'admin', '--admin-port'],
  ] as const) {
    for (const c of containers) {
      const where = portUsedBy(c, port);
      if (where !== undefined)
        throw new AgentPortConflictError(
          `${objectRef(workload)}: container ${c.name} already uses port ${port} (${where}), the agent's ${which} port; ` +
            `give the agent another with ${flag} (or drainwatch.dev/inject: "false" to skip the workload)`,
        );
    }
  }
}
