import { describe, expect, it } from 'vitest';
import { endpointStateOf, inClusterEndpointsSeam } from '../../cluster/kubernetes/index.js';

describe('endpointStateOf', () => {
  const slice = (endpoints: object[]) => ({ endpoints });
  const ep = (name: string, conditions?: object) => ({
    targetRef: { kind: 'Pod', name },
    ...(conditions ? { conditions } : {}),
  });

  it('treats a nil ready as ready (the EndpointSlice API rule)', () => {
    expect(endpointStateOf('a', [slice([ep('a')])])).toBe('routed');
    expect(endpointStateOf('a', [slice([ep('a', { ready: true })])])).toBe('routed');
  });

  it('needs every slice that lists the pod to stop routing to it', () => {
    const terminating = ep('a', { ready: false, serving: true, terminating: true });
    expect(endpointStateOf('a', [slice([terminating]), slice([ep('a', { ready: true })])])).toBe('routed');
    expect(endpointStateOf('a', [slice([terminating]), slice([ep('a', { ready: false })])])).toBe(
      'terminating',
    );
    expect(endpointStateOf('a', [slice([ep('b')])])).toBe('absent');
  });
});

describe('inClusterEndpointsSeam', () => {
  it('is absent outside a cluster or without the downward-API identity', () => {
    expect(inClusterEndpointsSeam({})).toBeUndefined();
    expect(inClusterEndpointsSeam({ KUBERNETES_SERVICE_HOST: '10.0.0.1', POD_NAME: 'p' })).toBeUndefined();
    expect(
      typeof inClusterEndpointsSeam({
        KUBERNETES_SERVICE_HOST: '10.0.0.1',
        POD_NAME: 'p',
        POD_NAMESPACE: 'n',
      }),
    ).toBe('function');
  });
});
