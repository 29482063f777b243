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
  readonly command?: readonly string[];
  readonly args?: readonly string[];
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
