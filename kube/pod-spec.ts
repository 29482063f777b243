import type { K8sObject } from './manifests.js';

// The slice of the Pod spec that inject and lint read (as plain objects from yaml's toJS()).

export interface LifecycleHandler {
  readonly exec?: { readonly command?: readonly string[] };
  readonly httpGet?: { readonly path?: string; readonly port?: number | string; readonly host?: string };
  readonly tcpSocket?: { readonly port?: number | string };
  readonly sleep?: { readonly seconds?: number };
}

export interface ContainerSpec {
  readonly name: string;
  readonly image?: string;
  readonly ports?: readonly {
    readonly containerPort: number;
    readonly name?: string;
    readonly protocol?: string;
  }[];
  readonly env?: readonly { readonly name: string; readonly value?: string }[];
  readonly lifecycle?: { readonly preStop?: LifecycleHandler; readonly postStart?: LifecycleHandler };
  readonly readinessProbe?: unknown;
  readonly restartPolicy?: string;
}

export interface PodSpec {
  readonly containers?: readonly ContainerSpec[];
  readonly initContainers?: readonly ContainerSpec[];
  readonly terminationGracePeriodSeconds?: number;
}

export function podSpecOf(o: K8sObject): PodSpec | undefined {
  return (o['spec'] as { template?: { spec?: PodSpec } } | undefined)?.template?.spec;
}

/**
 * The delay of a preStop that only sleeps (`sleep N`, `sh -c "sleep N"`, or the `sleep` handler),
 * else undefined: such a preStop's intent is "wait for endpoints to propagate", which the agent's
 * preStop serves.
 */
export function sleepSecondsOf(handler: LifecycleHandler): number | undefined {
  if (handler.sleep?.seconds !== undefined) return handler.sleep.seconds;
  const cmd = handler.exec?.command;
  if (!cmd || cmd.length === 0) return undefined;
  const script =
    /^(\/bin\/|\/usr\/bin\/)?(sh|bash|ash|dash)$/.test(cmd[0]!) && cmd[1] === '-c' && cmd.length === 3
      ? cmd[2]!
      : cmd.join(' ');
  const m = /^\s*(?:\/bin\/|\/usr\/bin\/)?sleep\s+(\d+)(s?)\s*;?\s*$/.exec(script);
  return m ? Number(m[1]) : undefined;
}
