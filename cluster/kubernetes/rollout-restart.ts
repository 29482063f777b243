import { type AppsV1Api, PatchStrategy, setHeaderOptions } from '@kubernetes/client-node';
import type { WorkloadRef } from '../adapter.js';
import { RolloutPatchError, WorkloadNotFoundError } from './errors.js';
import type { DeploymentObject } from './objects.js';

// `kubectl rollout restart` as the adapter does it: the restartedAt annotation patched into the
// pod template, then the Deployment watched until the rollout is done or has failed.

export const RESTARTED_AT_ANNOTATION = 'kubectl.kubernetes.io/restartedAt';

/**
 * Patches `workload`'s pod template with `restartedAt` (strategic merge); resolves with the
 * Deployment's new metadata.generation. Throws WorkloadNotFoundError on 404, RolloutPatchError on
 * any other failure.
 */
export async function patchRestartedAt(
  apps: AppsV1Api,
  workload: WorkloadRef,
  restartedAt: Date,
): Promise<number> {
  try {
    const patched = await apps.patchNamespacedDeployment(
      {
        name: workload.name,
        namespace: workload.namespace,
        body: {
          spec: {
            template: {
              metadata: { annotations: { [RESTARTED_AT_ANNOTATION]: restartedAt.toISOString() } },
            },
          },
        },
      },
      setHeaderOptions('Content-Type', PatchStrategy.StrategicMergePatch),
    );
    return patched.metadata?.generation ?? 0;
  } catch (err) {
    const code = (err as { code?: number }).code;
    if (code === 404)
      throw new WorkloadNotFoundError(`Deployment ${workload.namespace}/${workload.name} not found`);
    throw new RolloutPatchError(
      `cannot patch Deployment ${workload.namespace}/${workload.name}: ${(err as Error).message}`,
      { cause: err },
    );
  }
}

/**
 * Where the restart that made `generation` stands: `failed` once the Deployment's progress
 * deadline passed, `complete` when kubectl rollout status would say so and every pod of
 * `oldPods` is gone (`podGone`: its drain is over), else undefined (still rolling, or unseen).
 */
export function restartOutcome(
  d: DeploymentObject | undefined,
  generation: number,
  oldPods: ReadonlySet<string>,
  podGone: (name: string) => boolean,
): 'complete' | 'failed' | undefined {
  const s = d?.status;
  if (!d || !s) return undefined;
  if ((s.conditions ?? []).some((c) => c.type === 'Progressing' && c.reason === 'ProgressDeadlineExceeded'))
    return 'failed';
  const desired = d.spec?.replicas ?? 1;
  // kubectl rollout status's test, plus: every old pod is gone (its drain is over).
  const done =
    (s.observedGeneration ?? 0) >= generation &&
    (s.updatedReplicas ?? 0) === desired &&
    (s.replicas ?? 0) === desired &&
    (s.availableReplicas ?? 0) === desired &&
    [...oldPods].every(podGone);
  return done ? 'complete' : undefined;
}
