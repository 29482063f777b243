import { describe, expect, it } from 'vitest';
import { decidePortProtocol } from '../../kube/index.js';

// How inject decides whether the agent parses HTTP/1.x on a port, only tunnels it, or stays out.

describe('decidePortProtocol', () => {
  const port = (n: number, extra: Partial<Parameters<typeof decidePortProtocol>[0]> = {}) =>
    decidePortProtocol({ port: n, servicePorts: [], ...extra }).protocol;

  it('an unknown port with no hints is HTTP', () => {
    expect(port(8080)).toBe('http');
  });

  it('well-known ports of protocols that are not HTTP/1.x are tunnelled', () => {
    for (const n of [4222, 6379, 5432, 3306, 27017, 9092, 11211]) expect(port(n), String(n)).toBe('tcp');
  });

  it('Service appProtocol decides before names and numbers', () => {
    const svc = (appProtocol: string) => [{ service: 's', name: 'http', appProtocol }];
    expect(port(8080, { servicePorts: svc('kubernetes.io/wss') })).toBe('tcp');
    expect(port(8080, { servicePorts: svc('https') })).toBe('tcp');
    expect(port(6379, { servicePorts: svc('http') })).toBe('http');
    expect(port(6379, { servicePorts: svc('kubernetes.io/ws') })).toBe('http');
  });

  it('port names: https, tls, redis… are tunnelled; http*, web are parsed', () => {
    expect(port(8443, { name: 'https' })).toBe('tcp');
    expect(port(8080, { name: 'redis-main' })).toBe('tcp');
    expect(port(4222, { name: 'http-metrics' })).toBe('http');
    expect(port(6379, { name: 'web' })).toBe('http');
  });

  it("gRPC and h2c go the HTTP way, to the agent's HTTP/2 relay: appProtocol, names, port 50051", () => {
    const choice = (extra: Partial<Parameters<typeof decidePortProtocol>[0]>, n = 8080) =>
      decidePortProtocol({ port: n, servicePorts: [], ...extra });
    const svc = (appProtocol: string) => [{ service: 's', name: 'api', appProtocol }];
    for (const appProtocol of ['grpc', 'kubernetes.io/h2c', 'h2c', 'http2', 'GRPC'])
      expect(choice({ servicePorts: svc(appProtocol) }), appProtocol).toEqual({
        protocol: 'http',
        http2: true,
        reason: `Service s port api: appProtocol ${appProtocol}`,
      });
    expect(choice({ name: 'grpc-api' })).toMatchObject({ protocol: 'http', http2: true });
    expect(choice({ servicePorts: [{ service: 's', name: 'h2c' }] })).toMatchObject({ http2: true });
    expect(choice({ name: 'http2-internal' })).toMatchObject({ protocol: 'http', http2: true });
    expect(choice({}, 50051)).toEqual({
      protocol: 'http',
      http2: true,
      reason: 'well-known gRPC port 50051',
    });
    // Plain HTTP/1.x says nothing about HTTP/2; the annotation still wins.
    expect(choice({ name: 'http' }).http2).toBeUndefined();
    expect(choice({ name: 'grpc', annotation: 'tcp' })).toEqual({
      protocol: 'tcp',
      reason: 'annotation tcp',
    });
  });

  it('the annotation overrides everything; an unknown value is reported and ignored', () => {
    expect(port(4222, { annotation: 'http' })).toBe('http');
    expect(port(8080, { annotation: 'TCP' })).toBe('tcp');
    expect(port(8080, { annotation: 'skip' })).toBe('skip');
    const bad = decidePortProtocol({ port: 4222, servicePorts: [], annotation: 'udp' });
    expect(bad).toMatchObject({ protocol: 'tcp', invalidAnnotation: 'udp' });
  });
});
